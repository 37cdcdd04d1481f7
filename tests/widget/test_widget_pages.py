"""The chat page, its theme stylesheet and its languages, served by Django."""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from webclient.models import Bot
from webclient.theming import contrast_ratio, text_on

ROOT = Path(__file__).resolve().parent.parent.parent
pytestmark = pytest.mark.django_db


def test_text_on_any_brand_colour_meets_wcag_aa() -> None:
    for r in range(0, 256, 17):
        for g in range(0, 256, 17):
            for b in range(0, 256, 17):
                colour = f"#{r:02x}{g:02x}{b:02x}"
                assert contrast_ratio(colour, text_on(colour)) >= 4.5, colour


def test_the_theme_stylesheet_carries_the_bots_colours_and_avatar(demo: Bot) -> None:
    demo.theme_color = "#FFD400"
    demo.theme_avatar_url = "https://cdn.example.com/bot.png"
    demo.save()
    answer = Client().get("/theme/demo.css")
    assert answer["Content-Type"].startswith("text/css")
    css = answer.content.decode()
    assert "--kc-brand: #ffd400;" in css
    assert "--kc-brand-contrast: #000000;" in css
    assert '--kc-avatar-image: url("https://cdn.example.com/bot.png");' in css


def test_an_avatar_url_cannot_break_out_of_the_theme_stylesheet(demo: Bot) -> None:
    demo.theme_avatar_url = 'https://x.example/a");}html{background:url("https://evil.example/'
    demo.save()
    css = Client().get("/theme/demo.css").content.decode()
    assert css.count('"') == 4  # the url("…") quotes and the empty avatar text
    assert "}html{" not in css


def test_the_admin_refuses_a_colour_that_is_not_rrggbb_and_an_avatar_that_is_not_http(
    demo: Bot, settings: Any
) -> None:
    settings.KORE_ALLOW_LOOPBACK_UPSTREAM = True
    demo.theme_color = "red;x:y"
    with pytest.raises(ValidationError) as refused:
        demo.full_clean()
    assert "theme_color" in refused.value.message_dict
    demo.theme_color = "#112233"
    demo.theme_avatar_url = "ftp://example.com/a.png"
    with pytest.raises(ValidationError) as refused:
        demo.full_clean()
    assert "theme_avatar_url" in refused.value.message_dict


def test_the_chat_page_shows_the_bots_title_welcome_and_colour_scheme(demo: Bot) -> None:
    demo.theme_title = "Acme help"
    demo.theme_welcome_text = "We answer in minutes <b>really</b>."
    demo.theme_color_scheme = Bot.ColorScheme.DARK
    demo.save()
    html = Client().get("/?bot=demo").content.decode()
    assert '<h1 class="kc-title">Acme help</h1>' in html
    assert "We answer in minutes &lt;b&gt;really&lt;/b&gt;." in html
    assert 'data-kc-scheme="dark"' in html
    assert re.search(r'href="/theme/demo\.css\?v=\d+"', html)


@pytest.mark.parametrize(
    ("query", "accept", "lang", "direction"),
    [
        ("?lang=ar", "", "ar", "rtl"),
        ("?lang=ar-EG", "en", "ar", "rtl"),
        ("", "ar,en;q=0.5", "ar", "rtl"),
        ("?lang=xx", "ar", "ar", "rtl"),
        ("?lang=en", "ar", "en", "ltr"),
        ("", "", "en", "ltr"),
    ],
)
def test_the_language_comes_from_lang_then_accept_language(
    demo: Bot, query: str, accept: str, lang: str, direction: str
) -> None:
    html = Client().get("/" + query, HTTP_ACCEPT_LANGUAGE=accept).content.decode()
    assert f'<html lang="{lang}" dir="{direction}"' in html
    assert f'src="/jsi18n/{lang}.js"' in html


def test_the_arabic_page_and_catalog_are_translated(demo: Bot) -> None:
    html = Client().get("/?lang=ar").content.decode()
    assert 'aria-label="محادثة جديدة"' in html
    catalog = Client().get("/jsi18n/ar.js")
    assert catalog["Content-Type"].startswith("text/javascript")
    assert "\\u0645\\u062a\\u0635\\u0644" in catalog.content.decode()  # "Online": متصل


def every_source_string() -> set[str]:
    template = (ROOT / "templates/webclient/chat.html").read_text()
    script = "".join(
        (ROOT / "static/webclient" / name).read_text() for name in ("chat.js", "interactive.js")
    )
    return set(re.findall(r"{% translate [\'\"](.+?)[\'\"] %}", template)) | set(
        re.findall(r'\b_\("((?:[^"\\]|\\.)*)"\)', script)
    )


def test_every_widget_string_has_an_arabic_translation() -> None:
    translated: set[str] = set()
    for domain in ("django", "djangojs"):
        po = (ROOT / f"webclient/locale/ar/LC_MESSAGES/{domain}.po").read_text()
        for source, target in re.findall(r'msgid "(.+)"\nmsgstr "(.*)"', po):
            if target:
                translated.add(source)
    assert every_source_string() - translated == set()


def test_every_plural_widget_string_has_all_six_arabic_forms() -> None:
    script = (ROOT / "static/webclient/chat.js").read_text()
    plurals = re.findall(r'\bngettext\("((?:[^"\\]|\\.)*)", "((?:[^"\\]|\\.)*)"', script)
    assert plurals
    po = (ROOT / "webclient/locale/ar/LC_MESSAGES/djangojs.po").read_text()
    for one, many in plurals:
        entry = re.search(
            rf'msgid "{re.escape(one)}"\nmsgid_plural "{re.escape(many)}"\n'
            r'((?:msgstr\[\d\] ".+"\n)+)',
            po,
        )
        assert entry is not None, one
        assert len(entry.group(1).splitlines()) == 6, one


def test_an_embedded_page_never_takes_the_identity_from_its_url(demo: Bot) -> None:
    html = Client().get("/?embed=1&identity=alice&identityHash=abc").content.decode()
    assert "alice" not in html
    assert "data-embed" in html
    direct = Client().get("/?identity=alice&identityHash=abc").content.decode()
    assert 'data-identity="alice"' in direct


def test_demo_bots_may_be_embedded_from_loopback_only_in_debug(demo: Bot, settings: Any) -> None:
    settings.DEBUG = False
    assert "127.0.0.1" not in Client().get("/?bot=demo")["Content-Security-Policy"]
    settings.DEBUG = True
    answer = Client().get("/?bot=demo&embed=1")
    assert (
        "frame-ancestors 'self' http://127.0.0.1:* http://localhost:*"
        in (answer["Content-Security-Policy"])
    )
    assert 'data-parent-origins="http://127.0.0.1:* http://localhost:*"' in answer.content.decode()
    demo.upstream_url = "https://bots.kore.ai"
    demo.save()
    assert "127.0.0.1" not in Client().get("/?bot=demo")["Content-Security-Policy"]


def test_a_logged_in_user_gets_an_opaque_per_user_storage_key(
    demo: Bot, django_user_model: Any
) -> None:
    client = Client()
    assert 'data-session-key=""' in client.get("/").content.decode()
    user = django_user_model.objects.create_user("ann", password="pw")
    client.force_login(user)
    key = re.search(r'data-session-key="([0-9a-f]+)"', client.get("/").content.decode())
    assert key and str(user.pk) != key.group(1) and len(key.group(1)) == 24


def test_everything_the_widget_loads_stays_under_30_kb_gzipped(demo: Bot) -> None:
    """chat page: chat.css, render.css, theme, catalog, chat.js, interactive.js; host: embed.js."""
    static = ROOT / "static" / "webclient"
    files = [static / name for name in ("chat.css", "render.css", "chat.js", "interactive.js")]
    sizes = [len(gzip.compress(path.read_bytes(), 9)) for path in files]
    sizes.append(len(gzip.compress((static / "embed.js").read_bytes(), 9)))
    for url in ("/jsi18n/ar.js", "/theme/demo.css"):
        sizes.append(len(gzip.compress(Client().get(url).content, 9)))
    assert sum(sizes) <= 30 * 1024
