"""`manage.py emulator_channel`: the emulated platform's webhook channel page, on the command
line. `create` a channel, `show` or `list` channels, `set-post-url` and `set` its switches.

It prints what Kore's channel page shows, the client secret included: this is the emulated
platform (a test double), and the operator copies the secret into the relay's bot (admin or
`create_bot`), as with Kore. It is a command of the emulator app, so it exists only when
KORE_EMULATOR is on.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from webclient.emulator import provisioning
from webclient.emulator.models import EmulatedWebhook

# option dest -> model field, for the switches `create` and `set` share.
SWITCHES = {
    "polling": "polling",
    "jwt_algorithm": "jwt_algorithm",
    "enforce_jti": "enforce_jti",
    "jwe": "jwe_enabled",
    "callback_names_user": "callback_names_user",
    "v1_ack": "v1_ack_body",
    "form_placement": "form_placement",
    "sdk_form_links": "sdk_form_links",
}
HS_ALGORITHMS = {EmulatedWebhook.JwtAlgorithm.HS256, EmulatedWebhook.JwtAlgorithm.HS512}


def _json_option(parser: CommandParser) -> None:
    parser.add_argument("--json", action="store_true", help="Print JSON (for scripts).")


def _channel_options(parser: CommandParser) -> None:
    parser.add_argument("--bot-id", required=True, metavar="BOT_ID", help="The bot id (st-…).")
    parser.add_argument(
        "--instance",
        default="",
        metavar="ID",
        help="The hook instance (ivrInst-…); default: the bot's first channel.",
    )


def _switch_options(parser: CommandParser, *, create: bool) -> None:
    yes_no = argparse.BooleanOptionalAction
    if not create:
        parser.add_argument("--name", help="The channel's (bot's) name.")
        parser.add_argument("--version", type=int, choices=[1, 2], help="Webhook V1 or V2.")
        parser.add_argument("--mode", choices=["sync", "async"], help="Sync or async.")
    parser.add_argument(
        "--polling",
        action=yes_no,
        help="V2 sync: answer slow work with a pollId (--no-polling: the request waits).",
    )
    parser.add_argument(
        "--jwt-algorithm",
        choices=list(EmulatedWebhook.JwtAlgorithm.values),
        help="How the app's tokens are signed: HS* with the client secret, RS* with the "
        "customer's key (then give --jwt-public-key-file).",
    )
    parser.add_argument(
        "--jwt-public-key-file",
        metavar="PEM",
        help="RS256/RS512: the PEM public key of the relay's signing key.",
    )
    parser.add_argument(
        "--enforce-jti", action=yes_no, help='"Enforce JTI": refuse tokens without a jti.'
    )
    parser.add_argument(
        "--jwe",
        action=yes_no,
        help="Accept only tokens encrypted to this channel's public key (shown as a JWK).",
    )
    parser.add_argument(
        "--callback-names-user",
        action=yes_no,
        help="V2 async: add to/from to POST_URL bodies (Kore's example has neither).",
    )
    parser.add_argument(
        "--v1-ack",
        choices=list(EmulatedWebhook.AckBody.values),
        help="V1 async acknowledgement body: empty (as Kore documents) or JSON.",
    )
    parser.add_argument(
        "--form-placement",
        choices=list(EmulatedWebhook.FormPlacement.values),
        help="V2 Digital Forms: top-level beside the messages (as Kore documents) or in data.",
    )
    parser.add_argument(
        "--sdk-form-links",
        action=yes_no,
        help='With preferredChannelForResponse "rtm": forms come as formData.formLink.',
    )
    _json_option(parser)


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}") from None


def _apply(webhook: EmulatedWebhook, options: dict[str, Any]) -> list[str]:
    """Set the fields the options name; the names of those given."""
    given: list[str] = []
    for option in ("name", "version", "mode"):
        if options.get(option) is not None:
            given.append(option)
    if options.get("name") is not None:
        webhook.bot_name = options["name"]
    if options.get("version") is not None:
        webhook.version = options["version"]
    if options.get("mode") is not None:
        webhook.is_async = options["mode"] == "async"
    for option, field in SWITCHES.items():
        if options.get(option) is not None:
            setattr(webhook, field, options[option])
            given.append(option)
    if options.get("jwt_algorithm") in HS_ALGORITHMS:
        webhook.jwt_public_key = ""  # the key belongs to an RS app
    if options.get("jwt_public_key_file"):
        webhook.jwt_public_key = _read(options["jwt_public_key_file"])
        given.append("jwt_public_key_file")
    return given


def _yes(value: bool) -> str:
    return "on" if value else "off"


def page_text(page: dict[str, Any]) -> list[str]:
    """The channel page as lines of text."""
    v2 = page["version"] == 2
    mode = page["mode"]
    if mode == "sync" and v2:
        mode += ", with polling" if page["polling"] else ", no polling"
    rows = [
        ("Bot name", page["name"]),
        ("Bot id", page["bot_id"]),
        ("Instance id", page["instance_id"] or "- (the bot's first channel)"),
        ("Client id", page["client_id"]),
        ("Client secret", page["client_secret"]),
    ]
    lines = [f"{label + ':':<16}{value}" for label, value in rows]
    if page["public_jwk"]:
        lines.append("Public key (JWE), under the client secret as on Kore's page:")
        lines.append(json.dumps(page["public_jwk"], indent=2))
    rows = [
        ("Version", f"V{page['version']}"),
        ("Mode", mode),
        ("Webhook URL", f"{page['webhook_url']}  (what the relay calls)"),
        ("Upstream URL", f"{page['upstream_url']}  (a relay on this server leaves it blank)"),
        ("POST_URL", page["post_url"] or "(not set; async channels need it)"),
        (
            "Security",
            f"{page['jwt_algorithm']}"
            + (" with the customer's public key" if page["jwt_public_key"] else "")
            + f"; Enforce JTI {_yes(page['enforce_jti'])}; JWE {_yes(page['jwe'])}",
        ),
        (
            "Variants",
            f"callbacks name the user {_yes(page['callback_names_user'])}; "
            f"V1 acknowledgement {page['v1_ack']}; forms {page['form_placement']}; "
            f"SDK form links {_yes(page['sdk_form_links'])}",
        ),
    ]
    lines += [f"{label + ':':<16}{value}" for label, value in rows]
    return lines


class Command(BaseCommand):
    help = (
        "The emulated Kore platform's webhook channels: create one, show, list, set its "
        "POST_URL and its switches. It prints the client secret, as Kore's channel page "
        "shows it: copy it (with the bot id and client id) into the relay's bot, in the "
        "admin or with create_bot."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        create = actions.add_parser(
            "create", help="Create a channel with a fresh bot id, client id and secret."
        )
        create.add_argument("--name", required=True, help="The bot's name.")
        create.add_argument("--version", type=int, choices=[1, 2], default=2, help="Default 2.")
        create.add_argument(
            "--mode", choices=["sync", "async"], default="sync", help="Default sync."
        )
        create.add_argument(
            "--instance",
            action="store_true",
            help="A further hook instance of the bot --bot-id (own instance id and app).",
        )
        create.add_argument("--bot-id", help="With --instance: the existing bot's id.")
        _switch_options(create, create=True)

        show = actions.add_parser("show", help="Show a channel's page.")
        show.add_argument("bot_id", metavar="BOT_ID")
        show.add_argument("--instance", default="", metavar="ID", help="Its hook instance.")
        _json_option(show)

        listing = actions.add_parser("list", help="List the channels (no secrets).")
        _json_option(listing)

        post_url = actions.add_parser(
            "set-post-url",
            help="Set the async POST_URL: the one the relay's bot page shows (Copy).",
        )
        post_url.add_argument("bot_id", metavar="BOT_ID")
        post_url.add_argument("url", metavar="URL")
        post_url.add_argument("--instance", default="", metavar="ID", help="Its hook instance.")
        _json_option(post_url)

        change = actions.add_parser("set", help="Change a channel's mode and switches.")
        change.add_argument("bot_id", metavar="BOT_ID")
        change.add_argument("--instance", default="", metavar="ID", help="Its hook instance.")
        _switch_options(change, create=False)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            action = options["action"]
            if action == "list":
                self._list(options)
                return
            if action == "create":
                webhook = self._create(options)
            else:
                webhook = provisioning.find_channel(options["bot_id"], options["instance"])
                if action == "set-post-url":
                    webhook.post_url = options["url"]
                    provisioning.channel_save(webhook)
                elif action == "set":
                    if not _apply(webhook, options):
                        raise CommandError("Nothing to change: give at least one option.")
                    provisioning.channel_save(webhook)
        except provisioning.ChannelError as exc:
            raise CommandError(str(exc)) from None
        self._show(webhook, options)

    def _create(self, options: dict[str, Any]) -> EmulatedWebhook:
        if options["instance"] and not options["bot_id"]:
            raise CommandError("--instance makes a further hook instance of --bot-id: give it.")
        if options["bot_id"] and not options["instance"]:
            raise CommandError("A new channel gets a new bot id; --bot-id is only for --instance.")
        webhook = EmulatedWebhook(bot_name=options["name"], version=options["version"])
        webhook.is_async = options["mode"] == "async"
        _apply(webhook, {**options, "name": None, "version": None, "mode": None})
        if not webhook.bot_name.strip():
            raise CommandError("A channel needs a name.")
        provisioning.credentials_issue(webhook, options["bot_id"] or "")
        return provisioning.channel_save(webhook)

    def _show(self, webhook: EmulatedWebhook, options: dict[str, Any]) -> None:
        page = provisioning.channel_page(webhook)
        if options["json"]:
            self.stdout.write(json.dumps(page, indent=2))
        else:
            self.stdout.write("\n".join(page_text(page)))

    def _list(self, options: dict[str, Any]) -> None:
        rows = [
            provisioning.channel_summary(w)
            for w in EmulatedWebhook.objects.order_by("bot_name", "bot_id", "instance_id")
        ]
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        if not rows:
            self.stdout.write("No emulated channel yet: `emulator_channel create --name …`.")
            return
        for row in rows:
            instance = f"/hookInstance/{row['instance_id']}" if row["instance_id"] else ""
            self.stdout.write(
                f"{row['bot_id']}{instance}  V{row['version']} {row['mode']}  {row['name']}"
            )
