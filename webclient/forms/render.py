"""A Digital Form as HTML ready to fill in, and the read-only summary of a submission."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import uuid4

from django.template.loader import render_to_string

from webclient.forms.definition import MASK, Component, FormDefinition, as_text, parse_form
from webclient.forms.validation import is_cancel
from webclient.rendering.coerce import flag


def _rows(components: list[Component]) -> list[Component]:
    """Consecutive buttons become one `actions` row (Submit and Cancel side by side)."""
    rows: list[Component] = []
    for component in components:
        component = replace(component, children=_rows(component.children))
        if component.type == "button" and not component.hidden:
            if not (rows and rows[-1].type == "actions"):
                rows.append(Component(id="", name="", type="actions", label=""))
            rows[-1].children.append(component)
        else:
            rows.append(component)
    return rows


def render_form(form: Any) -> tuple[str, str]:
    """(plain text, html) of a Digital Form ready to fill in."""
    definition = parse_form(form)
    uid = uuid4().hex[:8]
    for index, component in enumerate(definition.walk()):
        component.dom_id = f"kc-{uid}-{index}"
    has_submit = definition.button("submit") is not None
    html = render_to_string(
        "webclient/forms/form.html",
        {
            "form": definition,
            "rows": _rows(definition.components),
            "uid": uid,
            "has_submit": has_submit,
        },
    )
    return f"Form: {definition.title}", html


def display_value(component: Component, value: Any) -> str:
    """A submitted value as the summary shows it; a secret (password, PIN) only masked."""
    if component.secret:
        return MASK if as_text(value) else ""
    if isinstance(value, bool) or component.type == "toggle":
        return "Yes" if flag(value) else "No"
    labels = {c["value"]: c["label"] for c in component.choices}
    chosen = value if isinstance(value, list) else [value]
    return ", ".join(labels.get(as_text(v), as_text(v)) for v in chosen if as_text(v))


def summary_html(form: FormDefinition, inputs: dict[str, Any]) -> str:
    """Read-only rendering of what was sent (or of the cancel)."""
    rows = [
        {
            "label": c.label or c.name,
            "value": display_value(c, c.prefill if c.disabled else inputs.get(c.id)),
        }
        for c in form.fields
        if not c.hidden
    ]
    return render_to_string(
        "webclient/forms/submitted.html",
        {"title": form.title, "rows": rows, "cancelled": is_cancel(form, inputs)},
    )
