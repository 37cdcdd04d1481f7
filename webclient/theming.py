"""A bot's widget look: the admin's theme fields as CSS custom properties.

The chat page's Content-Security-Policy allows no inline style, so the theme is a small
stylesheet of its own (`/theme/<slug>.css`), linked by the chat page. Text on the brand
colour is black or white, whichever contrasts more: one of them always reaches 4.58:1,
above WCAG AA's 4.5:1, whatever colour the admin picks.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from django.http import HttpRequest, HttpResponse

from webclient import selectors
from webclient.models import Bot
from webclient.rendering.sanitize import safe_media

DEFAULT_COLOR = "#1f5fbf"
DEFAULT_TITLE = "Chat"


@dataclass(frozen=True)
class Theme:
    title: str
    color: str
    contrast: str
    avatar_url: str
    initial: str
    position: str
    welcome: str
    scheme: str


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def luminance(color: str) -> float:
    """WCAG relative luminance of #rrggbb."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def text_on(color: str) -> str:
    """Black or white, whichever is more readable on `color`."""
    white, black = "#ffffff", "#000000"
    return white if contrast_ratio(color, white) >= contrast_ratio(color, black) else black


def theme_of(bot: Bot | None) -> Theme:
    color = (bot.theme_color if bot else "") or DEFAULT_COLOR
    title = (bot.theme_title or bot.name) if bot else DEFAULT_TITLE
    return Theme(
        title=title,
        color=color.lower(),
        contrast=text_on(color),
        avatar_url=(safe_media(bot.theme_avatar_url) or "") if bot else "",
        initial=title[:1].upper(),
        position=bot.theme_launcher_position if bot else Bot.LauncherPosition.RIGHT,
        welcome=bot.theme_welcome_text if bot else "",
        scheme=bot.theme_color_scheme if bot else Bot.ColorScheme.AUTO,
    )


def _css_url(url: str) -> str:
    # Percent-encode everything that could end the url("…") token or the declaration.
    return 'url("' + quote(url, safe=":/?#[]@!$&*+,;=%-._~") + '")'


def theme_css(theme: Theme) -> str:
    lines = [f"--kc-brand: {theme.color};", f"--kc-brand-contrast: {theme.contrast};"]
    if theme.avatar_url:
        lines.append(f"--kc-avatar-image: {_css_url(theme.avatar_url)};")
        lines.append('--kc-avatar-text: "";')
    return "html[data-kc-theme] {\n  " + "\n  ".join(lines) + "\n}\n"


def theme_stylesheet(request: HttpRequest, slug: str) -> HttpResponse:
    """GET /theme/<slug>.css: the bot's colours (the defaults for an unknown bot)."""
    bot = selectors.bot_find(slug=slug)
    response = HttpResponse(theme_css(theme_of(bot)), content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    return response
