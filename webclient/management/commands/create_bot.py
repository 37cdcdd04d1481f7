"""`manage.py create_bot`: add (or, with --update, change) a bot from a deploy script.

Every setting comes from a flag or, when the flag is absent, from the environment
(BOT_SLUG, BOT_NAME, BOT_ID, BOT_CLIENT_ID, BOT_API_VERSION, BOT_MODE, BOT_UPSTREAM_URL,
BOT_HOOK_INSTANCE_ID, BOT_IDENTITY_MODE, BOT_JWT_ALGORITHM, BOT_JWE_ALG, BOT_JWE_ENC,
BOT_PREFERRED_CHANNEL, BOT_ALLOWED_ORIGINS — comma-separated).

Secrets are never flag values (they would show in `ps` and shell history): each comes from
an environment variable (BOT_CLIENT_SECRET, BOT_CALLBACK_SECRET, BOT_IDENTITY_SECRET,
BOT_JWT_PRIVATE_KEY — the PEM RSA key of RS256/RS512 apps —, or the variable
--client-secret-env… names) or a file (--client-secret-file…, --jwt-private-key-file, or
BOT_…_FILE). A missing callback secret is generated. Kore's JWE public key (a JWK, JSON) is
not secret; it comes from --jwe-public-key-file or $BOT_JWE_PUBLIC_KEY and turns JWE on.
Nothing printed or logged contains a secret: the POST_URL is shown masked (the admin's bot
page reveals it).

The values go through the admin's own form (webclient.admin.BotForm), so a bot made here
passes exactly the checks an admin's would: key lengths, callback secret shape, origins,
allowed upstream hosts; an update that changes the client secret starts the same rotation.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.forms.models import model_to_dict

from webclient.admin import BotForm
from webclient.admin_bots import post_url_masked
from webclient.models import Bot

audit = logging.getLogger("kore_chat.audit")

# option name -> (environment variable, model field)
PLAIN = {
    "slug": ("BOT_SLUG", "slug"),
    "name": ("BOT_NAME", "name"),
    "bot_id": ("BOT_ID", "bot_id"),
    "client_id": ("BOT_CLIENT_ID", "client_id"),
    "api_version": ("BOT_API_VERSION", "api_version"),
    "mode": ("BOT_MODE", "mode"),
    "upstream_url": ("BOT_UPSTREAM_URL", "upstream_url"),
    "hook_instance_id": ("BOT_HOOK_INSTANCE_ID", "hook_instance_id"),
    "identity_mode": ("BOT_IDENTITY_MODE", "identity_mode"),
    "jwt_algorithm": ("BOT_JWT_ALGORITHM", "jwt_algorithm"),
    "jwe_alg": ("BOT_JWE_ALG", "jwe_alg"),
    "jwe_enc": ("BOT_JWE_ENC", "jwe_enc"),
    "preferred_channel": ("BOT_PREFERRED_CHANNEL", "preferred_channel"),
}
SECRETS = {
    "client_secret": "BOT_CLIENT_SECRET",
    "callback_secret": "BOT_CALLBACK_SECRET",
    "identity_secret": "BOT_IDENTITY_SECRET",
    "jwt_private_key": "BOT_JWT_PRIVATE_KEY",
}
# preferredChannelForResponse given as this sends none.
NO_PREFERRED_CHANNEL = "none"


def secret_from(*, env_name: str | None, file: str | None, default_env: str) -> str:
    """A secret from the named variable, the file, or the default variable (or its _FILE)."""
    if env_name:
        if not os.environ.get(env_name):
            raise CommandError(f"The environment variable {env_name} is empty or unset.")
        return os.environ[env_name].strip()
    path = file or os.environ.get(f"{default_env}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise CommandError(f"Cannot read the secret file {path}: {exc.strerror}") from None
    return os.environ.get(default_env, "").strip()


def _jwe_public_key(path: str | None) -> str:
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise CommandError(f"Cannot read the JWE public key {path}: {exc.strerror}") from None
    return os.environ.get("BOT_JWE_PUBLIC_KEY", "").strip()


class Command(BaseCommand):
    help = "Create or update a bot from flags or the environment (secrets: env or file)."

    def add_arguments(self, parser: CommandParser) -> None:
        for option, (env, _) in PLAIN.items():
            parser.add_argument(f"--{option.replace('_', '-')}", help=f"Default: ${env}.")
        parser.add_argument(
            "--allowed-origin",
            action="append",
            dest="allowed_origins",
            help="An origin that may embed the widget; repeat for more. Default: "
            "$BOT_ALLOWED_ORIGINS (comma-separated).",
        )
        for name, env in SECRETS.items():
            flag = name.replace("_", "-")
            parser.add_argument(
                f"--{flag}-env", metavar="VARIABLE", help=f"Read it from this variable ({env})."
            )
            parser.add_argument(
                f"--{flag}-file", metavar="PATH", help=f"Read it from this file (${env}_FILE)."
            )
        parser.add_argument(
            "--jwe-public-key-file",
            metavar="PATH",
            help="Kore's JWE public key (the JWK it shows, JSON); turns JWE on. Default: "
            "$BOT_JWE_PUBLIC_KEY (the JSON itself).",
        )
        parser.add_argument("--no-jwe", action="store_true", help="Turn JWE off.")
        parser.add_argument(
            "--send-v1-events", action="store_true", help="Send events to a V1 bot anyway."
        )
        parser.add_argument(
            "--anonymous-users-anonymous",
            action="store_true",
            help="Send isAnonymous: true for visitors the server names.",
        )
        parser.add_argument("--disabled", action="store_true", help="Create it switched off.")
        parser.add_argument(
            "--update", action="store_true", help="Change the bot if the slug exists."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        given = {
            field: options[option] or os.environ.get(env, "")
            for option, (env, field) in PLAIN.items()
        }
        given = {field: value for field, value in given.items() if value}
        origins = options["allowed_origins"] or [
            o for o in os.environ.get("BOT_ALLOWED_ORIGINS", "").split(",") if o.strip()
        ]
        slug = given.get("slug")
        if not slug:
            raise CommandError("A slug is needed: --slug or BOT_SLUG.")
        existing = Bot.objects.filter(slug=slug).first()
        if existing is not None and not options["update"]:
            raise CommandError(f"Bot {slug!r} exists; pass --update to change it.")
        # An update starts from the bot as it is, a new bot from the model's defaults.
        data: dict[str, Any] = model_to_dict(existing or Bot())
        for name in ("custom_data", "meta_tags"):
            data[name] = json.dumps(data[name])  # as the admin's form posts them
        for name in SECRETS:
            data[name] = ""  # an existing bot keeps a secret submitted empty
        data.update(given)
        if origins:
            data["allowed_origins"] = "\n".join(o.strip() for o in origins)
        if options["disabled"]:
            data["enabled"] = False
        if data.get("preferred_channel") == NO_PREFERRED_CHANNEL:
            data["preferred_channel"] = ""
        jwk = _jwe_public_key(options["jwe_public_key_file"])
        if jwk:
            data["jwe_public_key"], data["jwe_enabled"] = jwk, True
        if options["no_jwe"]:
            data["jwe_enabled"] = False
        for flag in ("send_v1_events", "anonymous_users_anonymous"):
            if options[flag]:
                data[flag] = True
        for name, env in SECRETS.items():
            data[name] = secret_from(
                env_name=options[f"{name}_env"], file=options[f"{name}_file"], default_env=env
            )
        if existing is None and not data["callback_secret"]:
            data["callback_secret"] = secrets.token_urlsafe(24)
        form = BotForm(data=data, instance=existing)
        if not form.is_valid():
            problems = "; ".join(
                f"{field}: {' '.join(map(str, errors))}" for field, errors in form.errors.items()
            )
            raise CommandError(f"The bot was not saved: {problems}")
        changed = form.changed_data
        bot = form.save()
        action = "changed" if existing else "created"
        audit.info(
            "bot %s %s by manage.py create_bot; fields: %s",
            bot.slug,
            action,
            ", ".join(changed) or "-",
        )
        self.stdout.write(self.style.SUCCESS(f"Bot {bot.slug} {action}."))
        self.stdout.write(f"POST_URL (full value on the bot's admin page): {post_url_masked(bot)}")
