"""Realistic payloads a Kore bot sends: one per template_type, and the demo Digital Form.

The emulator's demo bot answers `show <template_type>` and `form` with these; the rendering
gallery and tests render them.
"""

from __future__ import annotations

from typing import Any

TEMPLATE_EXAMPLES: dict[str, dict[str, Any]] = {
    "button": {
        "type": "template",
        "payload": {
            "template_type": "button",
            "text": "What would you like to do?",
            "buttons": [
                {"type": "postback", "title": "Check balance", "payload": "CHECK_BALANCE"},
                {"type": "web_url", "title": "Open website", "url": "https://kore.ai"},
            ],
        },
    },
}

DEMO_FORM: dict[str, Any] = {}
