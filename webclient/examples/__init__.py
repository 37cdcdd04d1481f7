"""Realistic payloads a Kore bot sends, kept as data: one JSON file per template_type, and
the demo Digital Form.

`templates/<name>.json` holds one bot message; the file is named after its template_type.
Extra names (`feedbackTemplate_nps`…) are variants; `image`, `video`, `audio`, `link`,
`message_video`, `text` and `error` are non-template messages. Shapes follow Kore's Web SDK
template documentation (Koredotcom/web-kore-sdk, docs/templates/*) and the Digital Forms
`formDef` layout. The emulator's demo bot, the rendering gallery, the render benchmark and
the tests all read them here.

Media the examples show ship with this server (static/webclient/demo/), so the demo never
asks an outside host for anything: a string `static:<path>` in a file becomes the absolute
URL of that static file under SITE_ROOT when loaded.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from django.conf import settings
from django.templatetags.static import static

HERE = Path(__file__).resolve().parent
STATIC_PREFIX = "static:"


@cache
def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def _template_paths() -> tuple[Path, ...]:
    return tuple(sorted((HERE / "templates").glob("*.json"), key=lambda p: p.stem.lower()))


def _resolved(value: Any, site_root: str) -> Any:
    """A fresh copy of `value` with every `static:<path>` made an absolute URL."""
    if isinstance(value, dict):
        return {key: _resolved(item, site_root) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolved(item, site_root) for item in value]
    if isinstance(value, str) and value.startswith(STATIC_PREFIX):
        return urljoin(site_root, static(value.removeprefix(STATIC_PREFIX)))
    return value


def _site_root() -> str:
    return str(settings.SITE_ROOT).rstrip("/") + "/"


def template_names() -> list[str]:
    """The examples' names, in name order."""
    return [path.stem for path in _template_paths()]


def template_examples() -> dict[str, dict[str, Any]]:
    """Every example message by name, in name order (a fresh copy on each call)."""
    site_root = _site_root()
    return {path.stem: _resolved(_read(path), site_root) for path in _template_paths()}


def template_example(name: str) -> dict[str, Any] | None:
    """One example message by name, or None when there is none."""
    path = HERE / "templates" / f"{name}.json"
    if path not in _template_paths():
        return None
    resolved: dict[str, Any] = _resolved(_read(path), _site_root())
    return resolved


def demo_form() -> dict[str, Any]:
    """The demo Digital Form (`formDef` and `formInitialization`), a fresh copy."""
    resolved: dict[str, Any] = _resolved(_read(HERE / "demo_form.json"), _site_root())
    return resolved
