"""Kore text formatting to safe HTML: the one formatter every message and template uses.

The markup is the one Kore's Web SDK understands (its `helpers.checkMarkdowns`):
`*bold*`, `_italic_`, `~italic~` (Kore's older italic), `~~strike~~` (ours: Kore has no
strike-through markup, so we take the common double tilde), `[text](url)`, `![alt](url)`,
bare http/https/www URLs, ```` ```pre``` ````, `` `inline code` ``, lines starting with
`#h1`…`#h6` (headings), `>>` (indent), `---`/`___` (rule), `* ` or `- ` (bullets), `1. `
(numbered list), and newlines. Plain text is escaped first, so only markup we produce
becomes HTML. Text that contains HTML tags (bots may send HTML, and Kore's SDK renders
it) is formatted the same way and then sanitised by nh3 instead. Angle-bracket text that
is not a tag the sanitiser knows (a placeholder such as `<name>`) is text: it is shown as
typed, never dropped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from django.utils.safestring import SafeString, mark_safe

from webclient.rendering.sanitize import (
    ALLOWED_TAGS,
    DROPPED_WITH_CONTENT,
    clean_html,
    safe_link,
    safe_media,
    strip_tags,
)

# One message never needs more; longer input (a bot bug or an attack) is cut, not rendered.
MAX_TEXT = 50_000

_HTML_TAG = re.compile(r"</?([A-Za-z][^\s/<>]*)[^<>]*>")
# Tags the sanitiser knows: kept (allowed) or removed with their content (dropped).
_KNOWN_TAGS = ALLOWED_TAGS | DROPPED_WITH_CONTENT
_HEADING = re.compile(r"#[hH]([1-6])\s?(.*)")
_BULLET = re.compile(r"(?:\*|-|•)\s+(.*)")
_NUMBERED = re.compile(r"\d{1,3}[.)]\s+(.*)")
_RULE = re.compile(r"(?:---|___)\s*$")

_PRE = re.compile(r"```(.+?)```|'''(.+?)'''")
_CODE = re.compile(r"`([^`\n]+)`")
_IMAGE = re.compile(r"!\[([^\[\]\n]*)\]\(([^()\s]+)\)")
_LINK = re.compile(r"\[([^\[\]\n]+)\]\s?\(([^()\s]+(?:\([^()\s]*\)[^()\s]*)*)\)")
# In escaped text a URL ends at whitespace or at an escaped quote or angle bracket.
_BARE_URL = re.compile(r"\b(?:https?://|www\.)(?:(?!&lt;|&gt;|&quot;|&#x27;)\S)+", re.IGNORECASE)
_TRAILING_PUNCTUATION = ".,;:!?)"
_BOLD = re.compile(r"\*(?=\S)([^*\n]*?\S)\*")
_STRIKE = re.compile(r"~~(?=\S)([^~\n]*?\S)~~")
_TILDE_ITALIC = re.compile(r"~(?=\S)([^~\n]*?\S)~")
# Underscores inside words (snake_case, file_names) are not markup.
_UNDERSCORE_ITALIC = re.compile(r"(?<![\w])_(?=\S)([^_\n]*?\S)_(?![\w])")
_PLACEHOLDER = re.compile("\x00(\\d+)\x00")


def _cut(value: str) -> str:
    return value[:MAX_TEXT].replace("\x00", "")


class _Inline:
    """Inline markup of one line; links and code are parked as placeholders so that the
    emphasis rules never rewrite a URL or code."""

    def __init__(self, escaped_input: bool) -> None:
        # Escaped input (plain text) needs URLs unescaped before checking and re-escaped
        # after; raw input (HTML mode) is sanitised as a whole afterwards.
        self.escaped_input = escaped_input
        self.parked: list[str] = []

    def park(self, fragment: str) -> str:
        self.parked.append(fragment)
        return f"\x00{len(self.parked) - 1}\x00"

    def url(self, raw: str, check: Callable[[object], str | None]) -> str | None:
        url = check(html.unescape(raw) if self.escaped_input else raw)
        return html.escape(url) if url else None

    def image(self, match: re.Match[str]) -> str:
        src = self.url(match.group(2), safe_media)
        if src is None:
            return match.group(1)
        return self.park(f'<img src="{src}" alt="{match.group(1)}" loading="lazy">')

    def link(self, match: re.Match[str]) -> str:
        href = self.url(match.group(2), safe_link)
        label = self.emphasis(match.group(1))
        if href is None:
            return label
        return self.park(f'<a href="{href}" target="_blank" rel="noopener noreferrer">{label}</a>')

    def bare_url(self, match: re.Match[str]) -> str:
        text = match.group(0)
        kept = text.rstrip(_TRAILING_PUNCTUATION)
        tail = text[len(kept) :]
        href = self.url(kept, safe_link)
        if href is None:
            return text
        anchor = f'<a href="{href}" target="_blank" rel="noopener noreferrer">{kept}</a>'
        return self.park(anchor) + tail

    def pre(self, match: re.Match[str]) -> str:
        return self.park(f"<code>{match.group(1) or match.group(2)}</code>")

    def code(self, match: re.Match[str]) -> str:
        body = match.group(1) if self.escaped_input else html.escape(match.group(1))
        return self.park(f"<code>{body}</code>")

    @staticmethod
    def emphasis(text: str) -> str:
        text = _BOLD.sub(r"<b>\1</b>", text)
        text = _STRIKE.sub(r"<s>\1</s>", text)
        text = _TILDE_ITALIC.sub(r"<i>\1</i>", text)
        return _UNDERSCORE_ITALIC.sub(r"<i>\1</i>", text)

    def render(self, line: str) -> str:
        line = _PRE.sub(self.pre, line)
        line = _CODE.sub(self.code, line)
        line = _IMAGE.sub(self.image, line)
        line = _LINK.sub(self.link, line)
        if self.escaped_input:
            line = _BARE_URL.sub(self.bare_url, line)
        line = self.emphasis(line)
        return _PLACEHOLDER.sub(lambda m: self.parked[int(m.group(1))], line)


def _blocks(lines: list[str], inline: _Inline) -> str:
    out: list[str] = []
    flow: list[str] = []  # consecutive plain lines, joined by <br>
    list_tag = ""

    def close_list() -> None:
        nonlocal list_tag
        if list_tag:
            out.append(f"</{list_tag}>")
            list_tag = ""

    def flush_flow() -> None:
        if flow:
            out.append("<br>".join(flow))
            flow.clear()

    for raw in lines:
        line = raw.strip()
        bullet = _BULLET.fullmatch(line)
        numbered = None if bullet else _NUMBERED.fullmatch(line)
        if bullet or numbered:
            flush_flow()
            tag = "ul" if bullet else "ol"
            if list_tag != tag:
                close_list()
                out.append(f"<{tag}>")
                list_tag = tag
            item = (bullet or numbered).group(1)  # type: ignore[union-attr]
            out.append(f"<li>{inline.render(item)}</li>")
            continue
        close_list()
        heading = _HEADING.fullmatch(line)
        if heading:
            flush_flow()
            level = heading.group(1)
            out.append(f"<h{level}>{inline.render(heading.group(2))}</h{level}>")
        elif _RULE.match(line):
            flush_flow()
            out.append("<hr>")
        elif line.startswith((">>", "&gt;&gt;")):
            flush_flow()
            body = line[2:] if line.startswith(">>") else line[8:]
            out.append(f"<blockquote>{inline.render(body.strip())}</blockquote>")
        else:
            flow.append(inline.render(raw.rstrip()))
    close_list()
    flush_flow()
    return "".join(out)


def _is_known_tag(match: re.Match[str]) -> bool:
    return match.group(1).lower() in _KNOWN_TAGS


def looks_like_html(text: str) -> bool:
    """Whether the text holds a tag the sanitiser acts on (not just `<name>`-like text)."""
    return any(_is_known_tag(match) for match in _HTML_TAG.finditer(text))


def _escape_unknown_tags(text: str) -> str:
    return _HTML_TAG.sub(
        lambda m: m.group(0) if _is_known_tag(m) else html.escape(m.group(0)), text
    )


def format_kore_text(value: object, *, allow_html: bool = True) -> SafeString:
    """Safe HTML for one piece of Kore-formatted text (no wrapping element).

    `allow_html=False` (what users type) shows any tags literally instead of sanitising
    them into formatting."""
    if not isinstance(value, str) or not value:
        return mark_safe("")
    text = _cut(value)
    if allow_html and looks_like_html(text):
        lines = re.split(r"\r?\n", _escape_unknown_tags(text))
        body = _blocks(lines, _Inline(escaped_input=False))
        return mark_safe(clean_html(body))  # noqa: S308 - sanitised by nh3 just above
    body = _blocks(re.split(r"\r?\n", html.escape(text)), _Inline(escaped_input=True))
    return mark_safe(body)  # noqa: S308 - built from escaped text and our own tags only


def _plain_link(match: re.Match[str]) -> str:
    url = safe_link(match.group(2))
    return f"{match.group(1)} ({url})" if url else match.group(1)


def plain_text(value: object) -> str:
    """A readable plain-text version of Kore-formatted text, for the `text` fallback."""
    if not isinstance(value, str):
        return ""
    text = _cut(value)
    if looks_like_html(text):
        text = html.unescape(strip_tags(text))
    text = _IMAGE.sub(lambda m: m.group(1), text)
    text = _LINK.sub(_plain_link, text)
    text = _BOLD.sub(r"\1", text)
    text = _STRIKE.sub(r"\1", text)
    text = _TILDE_ITALIC.sub(r"\1", text)
    text = _UNDERSCORE_ITALIC.sub(r"\1", text)
    return re.sub(r"(?m)^#[hH][1-6]\s?", "", text).strip()
