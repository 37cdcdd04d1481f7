"""Management commands for scripted deploys and operations: create_bot, check_upstream,
purge_conversations."""

from __future__ import annotations

import logging
import secrets
import uuid
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from webclient.emulator.models import EmulatedWebhook
from webclient.models import Bot, Conversation, Message

CLIENT_SECRET = "a-client-secret-of-at-least-32-bytes-0123456789"
NEW_SECRET = "another-client-secret-of-32-bytes-or-more-98765"


def run(*args: str, **options: Any) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def create(*extra: str) -> str:
    return run(
        "create_bot",
        "--slug=acme",
        "--name=Acme support",
        "--bot-id=st-acme",
        "--client-id=cs-acme",
        "--client-secret-env=ACME_SECRET",
        "--allowed-origin=https://www.acme.example",
        "--upstream-url=https://bots.kore.ai",
        *extra,
    )


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_SECRET", CLIENT_SECRET)


@pytest.mark.django_db
def test_create_bot_from_flags_reads_the_secret_from_the_environment_and_never_prints_it(
    secret_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        output = create()
    bot = Bot.objects.get(slug="acme")
    assert (bot.name, bot.bot_id, bot.client_id) == ("Acme support", "st-acme", "cs-acme")
    assert bot.client_secret == CLIENT_SECRET
    assert bot.origins == ["https://www.acme.example"]
    assert len(bot.callback_secret) >= 16  # generated
    assert "/hooks/kore/acme/••••••••/" in output
    for secret in (CLIENT_SECRET, bot.callback_secret):
        assert secret not in output
        assert secret not in caplog.text
    assert "bot acme created by manage.py create_bot" in caplog.text


@pytest.mark.django_db
def test_create_bot_from_the_environment_with_secrets_in_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret_file = tmp_path / "client-secret"
    secret_file.write_text(CLIENT_SECRET + "\n")
    callback_secret = secrets.token_urlsafe(24)
    (tmp_path / "callback-secret").write_text(callback_secret)
    for name, value in {
        "BOT_SLUG": "envbot",
        "BOT_NAME": "From the environment",
        "BOT_ID": "st-env",
        "BOT_CLIENT_ID": "cs-env",
        "BOT_API_VERSION": "1",
        "BOT_MODE": "async",
        "BOT_UPSTREAM_URL": "https://platform.kore.ai",
        "BOT_CLIENT_SECRET_FILE": str(secret_file),
        "BOT_CALLBACK_SECRET_FILE": str(tmp_path / "callback-secret"),
        "BOT_ALLOWED_ORIGINS": "https://a.example, https://b.example",
    }.items():
        monkeypatch.setenv(name, value)
    run("create_bot")
    bot = Bot.objects.get(slug="envbot")
    assert (bot.api_version, bot.mode) == (1, "async")
    assert bot.client_secret == CLIENT_SECRET  # the file's trailing newline is not part of it
    assert bot.callback_secret == callback_secret
    assert bot.origins == ["https://a.example", "https://b.example"]


@pytest.mark.django_db
def test_create_bot_refuses_what_the_admin_refuses_and_stores_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACME_SECRET", "too-short")
    with pytest.raises(CommandError, match="client_secret: At least 32 bytes"):
        create()
    monkeypatch.setenv("ACME_SECRET", CLIENT_SECRET)
    with pytest.raises(CommandError, match="allowed_origins: Not an origin"):
        create("--allowed-origin=https://acme.example/path")
    with pytest.raises(CommandError, match="upstream_url"):
        create("--upstream-url=https://internal.example")
    assert not Bot.objects.filter(slug="acme").exists()


@pytest.mark.django_db
def test_create_bot_refuses_a_missing_secret_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACME_SECRET", raising=False)
    with pytest.raises(CommandError, match="ACME_SECRET is empty or unset"):
        create()


@pytest.mark.django_db
def test_create_bot_changes_an_existing_bot_only_with_update(
    secret_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    create()
    with pytest.raises(CommandError, match="exists; pass --update"):
        create()
    callback_secret = Bot.objects.get(slug="acme").callback_secret
    monkeypatch.setenv("ACME_SECRET", NEW_SECRET)
    run("create_bot", "--slug=acme", "--name=Acme", "--update", "--client-secret-env=ACME_SECRET")
    bot = Bot.objects.get(slug="acme")
    assert bot.name == "Acme"
    assert bot.bot_id == "st-acme"  # what was not given stays
    assert bot.callback_secret == callback_secret
    # A new client secret is a rotation, as in the admin: the old one keeps working a while.
    assert (bot.client_secret, bot.previous_client_secret) == (NEW_SECRET, CLIENT_SECRET)


# check_upstream and the admin action, against the emulator of a real (threaded) server.
# Transactional (the server's thread sees the data); serialized_rollback restores the seeded
# rows afterwards, as tests/api/test_errors.py expects of every transactional test.
transactional = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def upstream_bot(live_server: Any, settings: Any, request: pytest.FixtureRequest) -> Bot:
    settings.KORE_ALLOW_LOOPBACK_UPSTREAM = True
    version = getattr(request, "param", 2)
    bot_id = f"st-{uuid.uuid4()}"
    EmulatedWebhook.objects.create(
        bot_id=bot_id,
        bot_name="Checked",
        client_id="cs-checked",
        client_secret=CLIENT_SECRET,
        version=version,
    )
    return Bot.objects.create(
        slug="checked",
        name="Checked",
        upstream_url=f"{live_server.url}/emulator",
        bot_id=bot_id,
        client_id="cs-checked",
        client_secret=CLIENT_SECRET,
        api_version=version,
        callback_secret=secrets.token_urlsafe(24),
    )


@pytest.mark.parametrize("upstream_bot", [1, 2], indirect=True, ids=["v1", "v2"])
@transactional
def test_check_upstream_reports_a_working_connection(upstream_bot: Bot) -> None:
    output = run("check_upstream", "checked")
    assert "Connected: the platform accepted the bot's token" in output
    assert "HTTP 400" in output
    assert upstream_bot.bot_id in output
    assert not Conversation.objects.exists()  # nothing reached a dialog


@transactional
def test_check_upstream_says_what_it_did_without_the_http_clients_own_lines(
    upstream_bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO"):
        output = run("check_upstream", "checked")
    assert "Connected" in output
    assert [r.getMessage() for r in caplog.records if r.name.startswith("httpx")] == []
    assert logging.getLogger("httpx").level == logging.NOTSET  # as it was


@transactional
def test_the_bot_page_shows_check_connection_first_with_the_last_result(
    upstream_bot: Bot, superuser_client: Client
) -> None:
    page_url = f"/admin/webclient/bot/{upstream_bot.pk}/change/"
    before = superuser_client.get(page_url).content.decode()
    assert "Not checked yet." in before
    run("check_upstream", "checked")
    page = superuser_client.get(page_url).content.decode()
    check = page.index("data-kc-check=")
    assert check < page.index('name="slug"')  # above the first field of the form
    result = page[check:].split("</output>")[0]
    assert "Last check, " in result and "Connected: the platform accepted" in result
    assert "kc-ok" in result


@transactional
def test_check_upstream_fails_on_a_wrong_secret(upstream_bot: Bot) -> None:
    Bot.objects.filter(pk=upstream_bot.pk).update(client_secret=NEW_SECRET)
    with pytest.raises(CommandError, match="refused the token"):
        run("check_upstream", "checked")


@transactional
def test_check_upstream_fails_on_an_unknown_bot_id(upstream_bot: Bot) -> None:
    Bot.objects.filter(pk=upstream_bot.pk).update(bot_id="st-nobody")
    with pytest.raises(CommandError, match="does not know this bot id"):
        run("check_upstream", "checked")


@pytest.mark.django_db
def test_check_upstream_needs_an_existing_bot() -> None:
    with pytest.raises(CommandError, match="no bot 'nope'"):
        run("check_upstream", "nope")


@transactional
def test_the_admin_checks_the_connection_of_selected_bots(
    upstream_bot: Bot, superuser_client: Client
) -> None:
    answer = superuser_client.post(
        "/admin/webclient/bot/",
        {"action": "check_connection", "_selected_action": [upstream_bot.pk]},
        follow=True,
    )
    shown = [str(m) for m in answer.context["messages"]]
    assert any(m.startswith("checked: Connected: the platform accepted") for m in shown), shown
    direct = superuser_client.post(f"/admin/webclient/bot/{upstream_bot.pk}/check/")
    assert direct.json()["ok"] is True
    assert direct.json()["status"] == 400


@transactional
def test_the_admin_reveals_the_post_url_only_on_a_post(
    upstream_bot: Bot, superuser_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    page = superuser_client.get(f"/admin/webclient/bot/{upstream_bot.pk}/change/")
    assert upstream_bot.callback_secret not in page.content.decode()
    reveal = f"/admin/webclient/bot/{upstream_bot.pk}/post-url/"
    assert superuser_client.get(reveal).status_code == 405
    with caplog.at_level(logging.INFO, logger="kore_chat.audit"):
        answer = superuser_client.post(reveal)
    assert answer.json()["url"].endswith(f"/hooks/kore/checked/{upstream_bot.callback_secret}/")
    assert "POST_URL revealed to root" in caplog.text
    assert Client().post(reveal).status_code == 302  # to the login page


# purge_conversations


def idle(identity: str, days: int, bot: Bot, status: str = "sent") -> Conversation:
    conversation = Conversation.objects.create(bot=bot, identity=identity)
    Message.objects.create(conversation=conversation, role="user", text="hi", status=status)
    Conversation.objects.filter(pk=conversation.pk).update(
        last_activity_at=timezone.now() - timedelta(days=days)
    )
    return conversation


@pytest.fixture
def ages(demo: Bot) -> dict[str, Conversation]:
    return {
        "old": idle("old", 40, demo),
        "recent": idle("recent", 3, demo),
        "old-but-waiting": idle("old-but-waiting", 40, demo, status="accepted"),
    }


def remaining() -> set[str]:
    return set(Conversation.objects.values_list("identity", flat=True))


def test_purge_deletes_conversations_idle_for_longer_than_asked(
    ages: dict[str, Conversation],
) -> None:
    output = run("purge_conversations", "--older-than=30d")
    assert "Deleted 1 conversation(s) and 1 message(s)" in output
    assert remaining() == {"recent", "old-but-waiting"}
    assert not Message.objects.filter(conversation=ages["old"]).exists()


def test_purge_dry_run_deletes_nothing(ages: dict[str, Conversation]) -> None:
    output = run("purge_conversations", "--older-than=48h", "--dry-run")
    assert "Would delete 2 conversation(s)" in output
    assert remaining() == set(ages)


def test_purge_uses_the_retention_setting_and_is_off_by_default(
    ages: dict[str, Conversation], settings: Any
) -> None:
    settings.RETENTION_DAYS = 0
    with pytest.raises(CommandError, match="Retention is off"):
        run("purge_conversations")
    assert remaining() == set(ages)
    settings.RETENTION_DAYS = 2
    run("purge_conversations")
    assert remaining() == {"old-but-waiting"}


@pytest.mark.parametrize("bad", ["0d", "30x", "-3", "soon"])
def test_purge_refuses_a_bad_duration(ages: dict[str, Conversation], bad: str) -> None:
    with pytest.raises(CommandError, match="not a duration"):
        run("purge_conversations", f"--older-than={bad}")
    assert remaining() == set(ages)
