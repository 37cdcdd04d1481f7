"""Page context from embedding pages: only allowed keys, short scalars, the bot's own first."""

from __future__ import annotations

from webclient.models import Bot
from webclient.page_context import page_context_clean, upstream_context


def bot(**fields: object) -> Bot:
    return Bot(slug="b", page_context_keys="plan\n page \n", **fields)


def test_only_allowed_keys_with_short_scalar_values_are_kept() -> None:
    kept = page_context_clean(
        bot(),
        {
            "customData": {"plan": "gold", "card": "4111", "page": {"nested": 1}},
            "metaTags": {"page": "x" * 201},
            "userInfo": {"plan": "ignored"},
        },
    )
    assert kept == {"customData": {"plan": "gold"}}


def test_anything_but_an_object_is_no_context() -> None:
    assert page_context_clean(bot(), ["plan"]) == {}
    assert page_context_clean(bot(), {"customData": "plan=gold"}) == {}
    assert page_context_clean(Bot(slug="b"), {"customData": {"plan": "gold"}}) == {}


def test_the_bots_own_values_win_over_the_pages() -> None:
    admin = bot(custom_data={"plan": "admin"}, meta_tags={})
    page = {"customData": {"plan": "page", "page": 2}}
    assert upstream_context(admin, page) == {"customData": {"plan": "admin", "page": 2}}
    assert upstream_context(bot(custom_data={}, meta_tags={}), None) == {}
