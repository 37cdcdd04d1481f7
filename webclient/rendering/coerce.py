"""Tolerant reading of bot payloads: every accessor returns the expected type or an empty one.

Payloads come from bots we do not control; a field of the wrong type, a missing key or a
list of a million items must degrade the rendering, never raise or stall it.
"""

from __future__ import annotations

import math
from typing import Any

MAX_STRING = 5_000
MAX_ITEMS = 100


def text(value: Any, limit: int = MAX_STRING) -> str:
    """A string for str and numbers (bool excluded), else ""."""
    if isinstance(value, str):
        return value[:limit]
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value) if abs(value) < 10**30 else ""
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:g}"
    return ""


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def items(value: Any, limit: int = MAX_ITEMS) -> list[dict[str, Any]]:
    """The dict entries of a list (other entries skipped), at most `limit` of them."""
    if not isinstance(value, list):
        return []
    return [entry for entry in value[:limit] if isinstance(entry, dict)]


def values(value: Any, limit: int = MAX_ITEMS) -> list[Any]:
    return value[:limit] if isinstance(value, list) else []


def number(value: Any) -> float | None:
    """A finite float from a number or a numeric string ("1,234.5" included), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str) and len(value) < 64:
        try:
            result = float(value.replace(",", "").strip())
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) else None


def flag(value: Any) -> bool:
    """Kore writes booleans as true/false, "true"/"yes" or 1."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "on")
    return value is True or (isinstance(value, int) and value == 1)
