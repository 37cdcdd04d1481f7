"""Seed the demo bots, one per webhook mode, and their channels on the embedded emulator.

Credentials are random per install; upstream and callback URLs stay relative so that they
follow SITE_ROOT at run time.
"""

from __future__ import annotations

import secrets
import uuid

from django.db import migrations

DEMO_BOTS = [
    # slug, name, api version, mode, shares the first bot's id as a second hook instance
    ("demo", "Demo bot", 2, "sync", False),
    ("demo-v1-sync", "Demo bot (V1 sync)", 1, "sync", False),
    ("demo-v1-async", "Demo bot (V1 async)", 1, "async", False),
    ("demo-v2-async", "Demo bot (V2 async, second hook instance)", 2, "async", True),
]


def seed(apps, schema_editor):
    Bot = apps.get_model("webclient", "Bot")
    EmulatedWebhook = apps.get_model("emulator", "EmulatedWebhook")
    first_bot_id = f"st-{uuid.uuid4()}"
    for slug, name, version, mode, second_instance in DEMO_BOTS:
        bot_id = first_bot_id if slug == "demo" or second_instance else f"st-{uuid.uuid4()}"
        instance_id = f"ivrInst-{uuid.uuid4()}" if second_instance else ""
        client_id = f"cs-{uuid.uuid4()}"
        client_secret = secrets.token_urlsafe(32)
        callback_secret = secrets.token_urlsafe(24)
        Bot.objects.create(
            slug=slug,
            name=name,
            bot_id=bot_id,
            client_id=client_id,
            client_secret=client_secret,
            api_version=version,
            mode=mode,
            hook_instance_id=instance_id,
            callback_secret=callback_secret,
            identity_mode="trust_browser",
        )
        EmulatedWebhook.objects.create(
            bot_id=bot_id,
            instance_id=instance_id,
            bot_name=name,
            client_id=client_id,
            client_secret=client_secret,
            version=version,
            is_async=mode == "async",
            polling=True,
            post_url=f"/hooks/kore/{slug}/{callback_secret}/" if mode == "async" else "",
        )


def unseed(apps, schema_editor):
    slugs = [slug for slug, *_ in DEMO_BOTS]
    Bot = apps.get_model("webclient", "Bot")
    EmulatedWebhook = apps.get_model("emulator", "EmulatedWebhook")
    bot_ids = list(Bot.objects.filter(slug__in=slugs).values_list("bot_id", flat=True))
    EmulatedWebhook.objects.filter(bot_id__in=bot_ids).delete()
    Bot.objects.filter(slug__in=slugs).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("webclient", "0001_initial"),
        ("emulator", "0001_initial"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
