"""A bot's widget look: the admin's theme fields as CSS custom properties.

The chat page's Content-Security-Policy allows no inline style, so the theme is a small
stylesheet of its own (`/theme/<slug>.css`), linked by the chat page. Text on the brand
colour is black or white, whichever contrasts more: one of them always reaches 4.58:1,
above WCAG AA's 4.5:1, whatever colour the admin picks. The focus ring is the brand
colour too, darkened (light scheme) or lightened (dark scheme) until it stands out 3:1 from
the chat's backgrounds.
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


# The backgrounds a focus ring is drawn on (chat.css: page, surfaces, bot bubbles), per
# colour scheme, and the contrast WCAG asks of a focus indicator against them (2.4.13, 3:1).
LIGHT_BACKGROUNDS = ("#f3f4f6", "#ffffff", "#eef1f5")
DARK_BACKGROUNDS = ("#121417", "#1b1e23", "#23272e", "#2c313a")
FOCUS_CONTRAST = 3.0


def _mix(color: str, toward: str, share: float) -> str:
    """`color` moved `share` (0..1) of the way toward `toward`, as #rrggbb."""
    a = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(toward[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * share):02x}" for x, y in zip(a, b, strict=True))


def focus_color(brand: str, backgrounds: tuple[str, ...], toward: str) -> str:
    """The brand colour, darkened or lightened (toward black or white) just enough to
    stand out 3:1 from every one of `backgrounds`: the focus ring keeps the theme's hue."""
    for step in range(21):
        candidate = _mix(brand, toward, step / 20)
        if min(contrast_ratio(candidate, bg) for bg in backgrounds) >= FOCUS_CONTRAST:
            return candidate
    return toward


def focus_colors(brand: str) -> tuple[str, str]:
    """The focus ring's colour in the light and the dark scheme."""
    return (
        focus_color(brand, LIGHT_BACKGROUNDS, "#000000"),
        focus_color(brand, DARK_BACKGROUNDS, "#ffffff"),
    )


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
    light, dark = focus_colors(theme.color)
    lines = [
        f"--kc-brand: {theme.color};",
        f"--kc-brand-contrast: {theme.contrast};",
        f"--kc-focus: light-dark({light}, {dark});",
    ]
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
