"""Tokens are verified from bots cached in memory, and a changed bot is never served stale."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection, models
from django.test.utils import CaptureQueriesContext

from webclient import botcache, sts
from webclient.errors import ApplicationError
from webclient.models import Bot

pytestmark = pytest.mark.django_db

OTHER_SECRET = "rotated-in-another-process-" + "y" * 30


def update_elsewhere(bot: Bot, **fields: object) -> None:
    """A change this process hears nothing of (another process made it): a plain queryset
    update, without BotQuerySet's notification."""
    models.QuerySet.update(Bot.objects.filter(pk=bot.pk), **fields)


def token_for(bot: Bot, identity: str = "alice") -> str:
    return sts.token_issue(bot=bot, identity=identity, anonymous=False, proof="browser").jwt


def test_a_second_verification_reads_no_database(demo: Bot) -> None:
    token = token_for(demo)
    sts.token_verify(token)
    with CaptureQueriesContext(connection) as queries:
        principal = sts.token_verify(token)
    assert principal.identity == "alice"
    assert len(queries) == 0


def test_verifying_without_the_database_needs_the_bot_cached_first(demo: Bot) -> None:
    token = token_for(demo)
    assert sts.token_verify_cached(token) is None
    sts.token_verify(token)
    cached = sts.token_verify_cached(token)
    assert cached is not None
    assert cached.bot.pk == demo.pk


def test_a_bot_disabled_in_this_process_refuses_its_tokens_at_once(demo: Bot) -> None:
    token = token_for(demo)
    sts.token_verify(token)
    demo.enabled = False
    demo.save()
    assert sts.token_verify_cached(token) is None
    with pytest.raises(ApplicationError):
        sts.token_verify(token)


def announce_elsewhere() -> None:
    cache.set(botcache.GENERATION_KEY, cache.get(botcache.GENERATION_KEY, 0) + 1)


def test_a_change_another_process_announces_drops_the_cached_bot(
    demo: Bot, settings: object
) -> None:
    settings.BOT_CHANGE_CHECK_SECONDS = 0  # type: ignore[attr-defined]
    token = token_for(demo)
    sts.token_verify(token)
    update_elsewhere(demo, enabled=False)
    announce_elsewhere()
    with pytest.raises(ApplicationError):
        sts.token_verify(token)


def test_the_shared_generation_is_read_at_most_once_per_check_interval(
    demo: Bot, settings: object
) -> None:
    settings.BOT_CHANGE_CHECK_SECONDS = 3600  # type: ignore[attr-defined]
    token = token_for(demo)
    sts.token_verify(token)
    update_elsewhere(demo, enabled=False)
    announce_elsewhere()
    # Not read again within the interval: the cached bot still serves (a poll pays no
    # cache round trip).
    assert sts.token_verify_cached(token) is not None
    # Once the interval has passed (here: made shorter than the time already gone by).
    settings.BOT_CHANGE_CHECK_SECONDS = 0  # type: ignore[attr-defined]
    assert sts.token_verify_cached(token) is None
    with pytest.raises(ApplicationError):
        sts.token_verify(token)


def test_a_cached_bot_is_read_again_once_it_is_too_old(demo: Bot, settings: object) -> None:
    token = token_for(demo)
    sts.token_verify(token)
    update_elsewhere(demo, enabled=False)
    sts.token_verify(token)  # still within BOT_CACHE_SECONDS
    settings.BOT_CACHE_SECONDS = -1  # type: ignore[attr-defined]
    with pytest.raises(ApplicationError):
        sts.token_verify(token)


def test_a_token_signed_with_a_secret_rotated_elsewhere_is_accepted(demo: Bot) -> None:
    sts.token_verify(token_for(demo))  # cached with the old secret
    update_elsewhere(demo, client_secret=OTHER_SECRET)
    demo.client_secret = OTHER_SECRET
    token = token_for(demo, "bob")
    assert sts.token_verify_cached(token) is None  # the cached secret cannot tell
    assert sts.token_verify(token).identity == "bob"


def test_callers_get_a_copy_never_the_cached_bot(demo: Bot) -> None:
    token = token_for(demo)
    first = sts.token_verify(token).bot
    first.name = "changed by a caller"
    assert sts.token_verify(token).bot.name != "changed by a caller"


def test_a_queryset_update_in_this_process_drops_the_cached_bot_at_once(demo: Bot) -> None:
    token = token_for(demo)
    sts.token_verify(token)
    Bot.objects.filter(pk=demo.pk).update(enabled=False)  # as the admin's bulk actions do
    with pytest.raises(ApplicationError):
        sts.token_verify(token)
