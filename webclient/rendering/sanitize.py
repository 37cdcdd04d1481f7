"""The two gates everything bot-supplied passes: URL allow-listing and HTML sanitising.

Bots are not trusted: a compromised or careless bot must not be able to run script in the
widget, so only http(s)/mailto/tel links and http(s) media reach the page, and any HTML a
bot sends goes through nh3 (ammonia) with a small allow-list and no style attributes.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import nh3

LINK_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
MEDIA_SCHEMES = frozenset({"http", "https"})
MAX_URL_LENGTH = 2048
_SUSPICIOUS = re.compile(r"[\x00-\x20\x7f\\]")

# What a bot may format its text with; no style, no event handlers, no forms or frames.
ALLOWED_TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "s", "del", "u", "br", "p", "div", "span",
        "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "code",
        "blockquote", "hr", "img", "table", "thead", "tbody", "tr", "th", "td", "caption",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "th": {"scope", "colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
}
# Dropped together with their content: their text is never meant to be read.
DROPPED_WITH_CONTENT = frozenset({"script", "style", "template", "noscript", "iframe", "object"})


def _allowed(value: str, schemes: frozenset[str]) -> str | None:
    url = value.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        return None
    # Browsers ignore control characters and whitespace inside a scheme ("java\tscript:"),
    # so any of them makes the URL suspicious rather than something to repair.
    if _SUSPICIOUS.search(url):
        return None
    if url.lower().startswith("www."):
        url = "https://" + url
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        return None
    if scheme in MEDIA_SCHEMES and not parts.netloc:
        return None
    return url


def safe_link(value: object) -> str | None:
    """The URL when it may be an href (http, https, mailto, tel), else None."""
    return _allowed(value, LINK_SCHEMES) if isinstance(value, str) else None


def safe_media(value: object) -> str | None:
    """The URL when it may be an img/video/audio src (http, https), else None."""
    return _allowed(value, MEDIA_SCHEMES) if isinstance(value, str) else None


_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(DROPPED_WITH_CONTENT),
    attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
    url_schemes=set(LINK_SCHEMES),
    url_relative="deny",
    link_rel="noopener noreferrer",
    set_tag_attribute_values={"a": {"target": "_blank"}},
)
_TEXT_ONLY = nh3.Cleaner(tags=set(), clean_content_tags=set(DROPPED_WITH_CONTENT))


def clean_html(html: str) -> str:
    """Bot-supplied HTML reduced to harmless formatting; links open in a new tab."""
    return _CLEANER.clean(html)


def strip_tags(html: str) -> str:
    """The text of an HTML fragment, still entity-escaped."""
    return _TEXT_ONLY.clean(html)
