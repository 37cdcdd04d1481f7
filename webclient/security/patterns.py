"""Regular expressions written by a bot, run against user input in linear time.

A Digital Form may carry validation patterns (`/^[A-Z]{3}-\\d{4}$/i`). Python's `re`
backtracks: `(a|a)*`, `(a+)+$` or `(.*a){20}` take exponential or high-polynomial time on a
short input, and hold the GIL while they do. Bot patterns therefore run on RE2 (google-re2),
whose matching time is linear in the input whatever the pattern. A pattern RE2 cannot
compile (backreferences, lookarounds, or a program over its memory budget) is not enforced
on the server, is never handed to a backtracking engine, and is logged once per form for
the bot's administrator (the pattern and the form id, never the user's input).
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from typing import Any

import re2

log = logging.getLogger(__name__)

MAX_PATTERN = 300
# RE2 refuses to compile a program bigger than this (bytes): `(a{1,100}){1,100}` and the
# like, whose automaton would be large, are not enforced rather than slow.
MAX_PROGRAM_MEMORY = 1 << 20
# At most this many inputs characters are matched.
MAX_SUBJECT = 1000
# A JavaScript-style literal: /pattern/flags.
_DELIMITED = re.compile(r"/(.*)/([a-z]*)", re.DOTALL)

_reported: set[tuple[str, str]] = set()
_reported_lock = threading.Lock()
_MAX_REPORTED = 10_000


def _options(ignore_case: bool) -> Any:
    options = re2.Options()
    options.case_sensitive = not ignore_case
    options.max_mem = MAX_PROGRAM_MEMORY
    # RE2 would print every refused pattern on stderr itself; we log it once instead.
    options.log_errors = False
    return options


@functools.lru_cache(maxsize=512)
def _compile(pattern: str, ignore_case: bool) -> tuple[Any | None, str]:
    """The compiled pattern, or None and why not."""
    try:
        return re2.compile(pattern, _options(ignore_case)), ""
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        return None, str(reason)


def _report_once(where: str, pattern: str, reason: str) -> None:
    with _reported_lock:
        if (where, pattern) in _reported:
            return
        if len(_reported) >= _MAX_REPORTED:
            _reported.clear()
        _reported.add((where, pattern))
    log.warning(
        "%s: validation pattern %r is not enforced on the server (%s); "
        "rewrite it without backreferences or lookarounds",
        where,
        pattern[:MAX_PATTERN],
        reason,
    )


def bot_pattern(value: str, *, where: str) -> Any | None:
    """`value` (a bare pattern or a /pattern/flags literal) compiled for linear-time
    matching, or None when it is not enforced (empty, too long, or beyond RE2).

    `where` names the bot or form for the administrator's log line.
    """
    pattern, ignore_case = value, False
    delimited = _DELIMITED.fullmatch(value)
    if delimited:
        pattern, ignore_case = delimited.group(1), "i" in delimited.group(2)
    if not pattern:
        return None
    if len(pattern) > MAX_PATTERN:
        _report_once(where, pattern, f"longer than {MAX_PATTERN} characters")
        return None
    compiled, reason = _compile(pattern, ignore_case)
    if compiled is None:
        _report_once(where, pattern, reason)
    return compiled


def pattern_allows(value: str, subject: str, *, where: str) -> bool:
    """Whether `subject` matches the whole of the bot's pattern; True when not enforced."""
    compiled = bot_pattern(value, where=where)
    return compiled is None or compiled.fullmatch(subject[:MAX_SUBJECT]) is not None
