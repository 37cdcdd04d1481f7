"""What the embed's panel shows when the page may not show the chat, and the focus ring
derived from the theme."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from webclient.models import Bot
from webclient.theming import (
    DARK_BACKGROUNDS,
    LIGHT_BACKGROUNDS,
    contrast_ratio,
    focus_colors,
    theme_css,
    theme_of,
)

pytestmark = pytest.mark.django_db
SHOP = "https://shop.example"


def embedded(bot: str, parent: str = SHOP, **extra: str) -> Any:
    return Client().get("/", {"bot": bot, "embed": "1", "parent": parent, **extra})


def frame_ancestors(answer: Any) -> str:
    policy = dict(
        part.strip().split(" ", 1) for part in answer["Content-Security-Policy"].split(";")
    )
    return str(policy["frame-ancestors"])


@pytest.fixture
def live_bot(demo: Bot) -> Bot:
    """The demo bot with a real upstream, so loopback pages get no special treatment."""
    demo.upstream_url = "https://bots.kore.ai/chatbot/v2/webhook/st-1"
    demo.allowed_origins = "https://allowed.example"
    demo.save()
    return demo


def test_a_page_the_bot_does_not_allow_gets_the_reason_in_a_frame_any_page_may_show(
    live_bot: Bot, settings: Any
) -> None:
    settings.DEBUG = True
    answer = embedded("demo")
    html = answer.content.decode()
    assert answer.status_code == 200
    assert frame_ancestors(answer) == "*"
    assert "X-Frame-Options" not in answer
    assert (
        "This site (https://shop.example) is not allowed to show bot &quot;demo&quot;: add "
        "https://shop.example under the bot&#x27;s Allowed origins in the admin." in html
    )
    assert 'data-code="origin_not_allowed"' in html
    assert "data-kc-chat" not in html


def test_visitors_of_a_live_relay_read_only_that_the_chat_is_unavailable(
    live_bot: Bot, settings: Any
) -> None:
    settings.DEBUG = False
    html = embedded("demo").content.decode()
    assert "The chat is unavailable right now." in html
    assert 'role="alert">This site' not in html
    # The reason still reaches the page's console (refused.js posts it to embed.js).
    assert 'data-reason="This site (https://shop.example) is not allowed' in html
    owner = embedded("demo", debug="1").content.decode()
    assert 'role="alert">This site (https://shop.example) is not allowed' in owner


def test_an_unknown_or_disabled_bot_is_named_as_such(live_bot: Bot, settings: Any) -> None:
    settings.DEBUG = True
    assert (
        "There is no bot &quot;nosuch&quot; on this server" in embedded("nosuch").content.decode()
    )
    live_bot.enabled = False
    live_bot.save()
    html = embedded("demo").content.decode()
    assert "Bot &quot;demo&quot; is disabled" in html


def test_an_allowed_page_gets_the_chat_framed_by_its_origins_only(live_bot: Bot) -> None:
    answer = embedded("demo", parent="https://allowed.example")
    assert "data-kc-chat" in answer.content.decode()
    assert frame_ancestors(answer) == "'self' https://allowed.example"


def test_the_focus_ring_keeps_the_brand_hue_and_3_to_1_on_every_background() -> None:
    for r in range(0, 256, 51):
        for g in range(0, 256, 51):
            for b in range(0, 256, 51):
                brand = f"#{r:02x}{g:02x}{b:02x}"
                light, dark = focus_colors(brand)
                assert min(contrast_ratio(light, bg) for bg in LIGHT_BACKGROUNDS) >= 3, brand
                assert min(contrast_ratio(dark, bg) for bg in DARK_BACKGROUNDS) >= 3, brand


def test_the_theme_stylesheet_carries_the_focus_ring(demo: Bot) -> None:
    demo.theme_color = "#ffd400"
    css = theme_css(theme_of(demo))
    assert "--kc-focus: light-dark(#997f00, #ffd400);" in css
