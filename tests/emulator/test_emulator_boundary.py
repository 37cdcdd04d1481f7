"""The emulator is an outside system that can be switched off: the relay never imports it,
it imports nothing of the relay's behaviour, and `seed_demo` is what creates the demo bots."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from django.core.management import call_command

from tests.code_imports import WEBCLIENT, imported_modules
from tests.liveserver import LiveServer
from webclient.emulator.models import EmulatedWebhook
from webclient.models import Bot

EMULATOR = WEBCLIENT / "emulator"
# What the emulator may use of the rest of webclient/: the shared example payloads and the
# encrypted column type its credentials are stored in.
SHARED = {"webclient.examples", "webclient.fields"}


def test_no_module_of_the_relay_imports_or_migrates_against_the_emulator() -> None:
    for path in WEBCLIENT.rglob("*.py"):
        if EMULATOR in path.parents:
            continue
        relative = path.relative_to(WEBCLIENT.parent)
        assert not any(m.startswith("webclient.emulator") for m in imported_modules(path)), relative
        if "migrations" in path.parts:
            assert '"emulator"' not in path.read_text(encoding="utf-8"), relative


def test_the_emulator_imports_nothing_of_the_relay_but_shared_data_and_types() -> None:
    for path in EMULATOR.rglob("*.py"):
        for module in imported_modules(path):
            if module.startswith("webclient") and not module.startswith("webclient.emulator"):
                assert any(module.startswith(allowed) for allowed in SHARED), (path, module)


@pytest.mark.django_db
def test_seed_demo_again_keeps_every_bot_and_restores_a_missing_channel() -> None:
    before = list(Bot.objects.order_by("slug").values_list("slug", "bot_id", "client_id"))
    assert [slug for slug, *_ in before] == [
        "demo",
        "demo-v1-async",
        "demo-v1-sync",
        "demo-v2-async",
    ]
    v1_async = Bot.objects.get(slug="demo-v1-async")
    EmulatedWebhook.objects.filter(bot_id=v1_async.bot_id).delete()
    call_command("seed_demo", verbosity=0)
    assert list(Bot.objects.order_by("slug").values_list("slug", "bot_id", "client_id")) == before
    assert EmulatedWebhook.objects.count() == 4
    restored = EmulatedWebhook.objects.get(bot_id=v1_async.bot_id)
    assert (restored.client_id, restored.client_secret) == (
        v1_async.client_id,
        v1_async.client_secret,
    )
    assert restored.post_url == f"/hooks/kore/demo-v1-async/{v1_async.callback_secret}/"
    assert restored.version == 1
    assert restored.is_async


@pytest.mark.django_db
def test_the_two_hook_instances_of_the_demo_bot_share_its_bot_id() -> None:
    demo, second = Bot.objects.get(slug="demo"), Bot.objects.get(slug="demo-v2-async")
    assert second.bot_id == demo.bot_id
    assert second.hook_instance_id.startswith("ivrInst-")
    assert not demo.hook_instance_id


def test_a_debug_server_on_a_fresh_database_migrates_and_seeds_the_demo_bots_itself(
    tmp_path: Path,
) -> None:
    server = LiveServer(tmp_path / "db.sqlite3", {"KORE_EMULATOR": ""}).start()
    try:
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        for slug in ("demo", "demo-v1-sync", "demo-v1-async", "demo-v2-async"):
            token = httpx.post(f"{server.url}/api/v1/sts", json={"bot": slug, "identity": "ada"})
            assert token.status_code == 200, token.text
            assert token.json()["jwt"]
    finally:
        server.stop()
