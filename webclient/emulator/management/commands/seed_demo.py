"""`manage.py seed_demo`: the demo bots, one per webhook mode, and their emulated channels.

It plays the operator of a demo: it creates each bot's webhook channel on this emulated
platform and the matching bot on the relay, as one would in Kore's Bot Builder and the
relay's admin. It reaches the relay's table through the app registry, so that no module of
the emulator imports the relay. Idempotent: an existing bot is kept as it is (its
credentials too) and only a missing channel is added. Credentials are random per install;
upstream and callback URLs stay relative so that they follow SITE_ROOT at run time.
`make run` and the DEBUG startup run it; a production install never does.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from webclient.emulator.demo_bot import WELCOME
from webclient.emulator.models import EmulatedWebhook


@dataclass(frozen=True)
class DemoBot:
    slug: str
    name: str
    version: int
    mode: str
    # Shares the first bot's id, as a second hook instance of the same bot.
    second_instance: bool = False


DEMO_BOTS = (
    DemoBot("demo", "Demo bot", 2, "sync"),
    DemoBot("demo-v1-sync", "Demo bot (V1 sync)", 1, "sync"),
    DemoBot("demo-v1-async", "Demo bot (V1 async)", 1, "async"),
    DemoBot("demo-v2-async", "Demo bot (V2 async, second hook instance)", 2, "async", True),
)


class Command(BaseCommand):
    help = "Create the demo bots and their channels on the embedded emulator (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        bot_model = apps.get_model("webclient", "Bot")
        created: list[str] = []
        with transaction.atomic():
            first = bot_model.objects.filter(slug=DEMO_BOTS[0].slug).first()
            for demo in DEMO_BOTS:
                bot = bot_model.objects.filter(slug=demo.slug).first()
                if bot is None:
                    shared_id = first.bot_id if first and demo.second_instance else None
                    bot = bot_model.objects.create(**_new_bot(demo, shared_id))
                    created.append(demo.slug)
                first = first or bot
                _ensure_channel(bot)
        if options["verbosity"] >= 1:
            done = f"Created the demo bots {', '.join(created)}." if created else None
            self.stdout.write(done or "The demo bots exist already.")


def _new_bot(demo: DemoBot, shared_bot_id: str | None) -> dict[str, Any]:
    return {
        "slug": demo.slug,
        "name": demo.name,
        "bot_id": shared_bot_id or f"st-{uuid.uuid4()}",
        "client_id": f"cs-{uuid.uuid4()}",
        "client_secret": secrets.token_urlsafe(32),
        "api_version": demo.version,
        "mode": demo.mode,
        "hook_instance_id": f"ivrInst-{uuid.uuid4()}" if demo.second_instance else "",
        "callback_secret": secrets.token_urlsafe(24),
        "identity_mode": "trust_browser",
        # V1 takes no events, so no ON_CONNECT brings the bot's welcome: the widget shows it.
        "theme_welcome_text": WELCOME if demo.version == 1 else "",
    }


def _ensure_channel(bot: Any) -> None:
    is_async = bot.mode == "async"
    EmulatedWebhook.objects.get_or_create(
        bot_id=bot.bot_id,
        instance_id=bot.hook_instance_id,
        defaults={
            "bot_name": bot.name,
            "client_id": bot.client_id,
            "client_secret": bot.client_secret,
            "version": bot.api_version,
            "is_async": is_async,
            "polling": True,
            "post_url": f"/hooks/kore/{bot.slug}/{bot.callback_secret}/" if is_async else "",
        },
    )
