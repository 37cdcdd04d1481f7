"""A logging filter that keeps secrets out of every log line.

The callback secret is part of a URL (POST_URL, `/hooks/kore/<slug>/<secret>/`, the shape
operators paste into Kore), so it reaches the ASGI server's access log, the HTTP client's
request lines and any warning that names the URL. So do a direct link's `identityHash`
(`/?bot=…&identity=…&identityHash=…`: it never expires, and gets tokens for that user) and
the signed links to attachments (`/attachments/<key:time:signature>`, each works for
ATTACHMENT_LINK_LIFETIME). Bearer tokens and JWTs could reach a log the same way. Every
secret that can reach a log has its pattern here (docs/security.md). The filter rewrites
them in the message, its arguments and a formatted traceback, so the record is safe
whichever handler formats it. Installed from settings.LOGGING; it imports nothing of
Django, so granian can load it before Django runs.
"""

from __future__ import annotations

import logging
import re
from typing import Any

_REDACTIONS = (
    # The path segment after the slug, whatever it holds (a guess is redacted too).
    (re.compile(r"(/hooks/kore/[^/\s?#\"']+/)[^/\s?#\"']+"), r"\1***"),
    # The space may come URL-encoded (a token put in a query string: `Bearer%20…`, `Bearer+…`).
    (re.compile(r"(?i)\b(bearer(?:\s+|%20|\+))[\w.~+/=%-]+"), r"\1***"),
    # A JWT: base64url JSON header ('{"' is 'eyJ'), payload and signature; anywhere, since an
    # escape before it (`%20eyJ…`) leaves no word boundary.
    (re.compile(r"eyJ[\w-]*\.[\w-]*\.[\w-]*"), "***"),
    # A direct link's identity hash, as a query parameter (`identityHash=…`, the `=` maybe
    # URL-encoded) or a JSON or Python field (`"identityHash": "…"`).
    (re.compile(r"(?i)(identityHash(?:=|%3D|[\"']?\s*[:=]\s*[\"']?))[^&\s\"'#,;}]+"), r"\1***"),
    # The path segment after /attachments/: a key and its signature (`:` maybe as %3A).
    (re.compile(r"(/attachments/)[^/\s?#\"']+"), r"\1***"),
)


# Text that any of them could match contains one of these: most lines (every access
# line) are looked at once, not once per pattern.
_SUSPECT = re.compile(r"/hooks/kore/|(?i:bearer)(?:\s|%20|\+)|eyJ|(?i:identityHash)|/attachments/")


def redact(text: str) -> str:
    if _SUSPECT.search(text) is None:
        return text
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def _redacted_arg(value: Any) -> Any:
    if isinstance(value, (int, float)) or value is None:
        return value
    text = value if isinstance(value, str) else str(value)
    safe = redact(text)
    # An object keeps its type unless it carried a secret (then its redacted text stands in).
    return value if safe == text and not isinstance(value, str) else safe


def _message(record: logging.LogRecord) -> str | None:
    try:
        return record.getMessage()
    except (TypeError, ValueError):
        return None  # a broken record: logging reports it itself


class RedactSecrets(logging.Filter):
    """Rewrites secrets in place; never drops a record.

    The arguments are redacted one by one, so that formatters that read them (the
    access line's) still work; when a secret only shows once they are put together
    (`"/hooks/kore/demo/%s", secret`), the record becomes its redacted text.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = _message(record)
        if message is not None and redact(message) != message:
            self._redact_parts(record)
            again = _message(record)
            if again is None or redact(again) != again:
                record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True

    @staticmethod
    def _redact_parts(record: logging.LogRecord) -> None:
        if isinstance(record.args, dict):
            record.args = {key: _redacted_arg(value) for key, value in record.args.items()}
        elif record.args:
            record.args = tuple(_redacted_arg(value) for value in record.args)
        if isinstance(record.msg, str) and not record.args:
            record.msg = redact(record.msg)
        elif not isinstance(record.msg, str):
            record.msg = _redacted_arg(record.msg)
