"""The rendering gallery: every example template and the demo form, rendered as stored.

For developers and staff only (DEBUG, or a staff user); anyone else gets a 404 so the page
does not advertise itself.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe

from webclient import forms
from webclient.examples import demo_form, template_examples
from webclient.render import Rendered, render_bot_item, render_user_input

SAMPLE_SUBMISSION: list[forms.FormEntry] = [
    {"componentId": "fct-5a0cf4f1-2b8e-4d55-9d3c-000000000003", "input": "Jane Doe"},
    {"componentId": "fct-5a0cf4f1-2b8e-4d55-9d3c-000000000004", "input": "jane@example.com"},
    {"componentId": "fct-5a0cf4f1-2b8e-4d55-9d3c-000000000010", "input": "12000"},
    {"componentId": "fct-5a0cf4f1-2b8e-4d55-9d3c-000000000012", "input": "Car"},
    {"componentId": "fct-5a0cf4f1-2b8e-4d55-9d3c-000000000018", "input": "4321"},
    {"componentId": "fct-5a0cf4f1-2b8e-4d55-9d3c-000000000024", "input": "Submit"},
]


def _entry(name: str, role: str, rendered: Rendered | None, html: str) -> dict[str, Any]:
    # The HTML is safe by construction: it is exactly what the API serves to the widget.
    return {"name": name, "role": role, "rendered": rendered, "html": mark_safe(html)}  # noqa: S308


def gallery(request: HttpRequest) -> HttpResponse:
    if not (settings.DEBUG or getattr(request.user, "is_staff", False)):
        raise Http404
    form = demo_form()
    samples: list[tuple[str, object]] = [*template_examples().items(), ("form", {"form": form})]
    entries = []
    for name, payload in samples:
        rendered = render_bot_item(payload)
        entries.append(_entry(name, "bot", rendered, rendered.html))
    summary = forms.summary_preview(form, SAMPLE_SUBMISSION)
    entries.append(_entry("form (submitted, system message)", "system", None, summary))
    user = render_user_input({"text": "I'd like a *loan* <b>please</b>"})
    entries.append(_entry("user text", "user", user, user.html))
    return render(request, "webclient/gallery.html", {"entries": entries})
