"""Kore Digital Forms, in one place: the definition (`definition`), server-side validation
(`validation`), the fillable HTML and the read-only summary (`render`).

The services need one call, `submission_prepare`: it reads the form once and turns a
submission into what is stored and forwarded. Wrapping the forwarded `FormData` into a V1
or V2 request body is the payload builder's job (`webclient.kore.payloads`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from webclient.forms.definition import (
    MASK,
    FormData,
    FormEntry,
    form_id,
    inputs_by_component,
    parse_form,
)
from webclient.forms.render import render_form, summary_html
from webclient.forms.validation import FormErrors, is_cancel, validate

__all__ = [
    "FormData",
    "FormEntry",
    "FormErrors",
    "Submission",
    "form_id",
    "render_form",
    "shown_data",
    "submission_prepare",
    "summary_preview",
]


@dataclass(frozen=True)
class Submission:
    """An accepted submission: what goes upstream, and what the transcript shows."""

    form_data: FormData
    cancelled: bool
    text: str
    html: str
    # componentIds whose values are secrets: forwarded, but masked wherever shown.
    secret_ids: list[str]


def submission_prepare(form: Any, entries: Sequence[FormEntry]) -> Submission:
    """Validate `entries` against `form` and build what is stored; raise FormErrors.

    Only the form's own components are forwarded, in form order; hidden and disabled ones
    carry their prefill; the submit (or cancel) button entry is ensured. A cancel forwards
    only the cancel entry. Secret values (password, PIN) are forwarded but never displayed.
    """
    definition = parse_form(form)
    inputs = inputs_by_component(entries)
    validate(definition, inputs)
    cancelled = is_cancel(definition, inputs)
    forwarded: list[FormEntry] = []
    if not cancelled:
        for component in definition.fields:
            if component.hidden or component.disabled:
                value = component.prefill if component.prefill is not None else ""
            else:
                value = inputs.get(component.id, "")
            forwarded.append({"componentId": component.id, "input": value})
    button = definition.button("cancel" if cancelled else "submit")
    if button is not None:
        forwarded.append({"componentId": button.id, "input": inputs.get(button.id) or button.label})
    return Submission(
        form_data={"formId": definition.id, "data": forwarded},
        cancelled=cancelled,
        text="Form cancelled" if cancelled else "Form submitted",
        html=summary_html(definition, inputs),
        secret_ids=[component.id for component in definition.fields if component.secret],
    )


def shown_data(data: Any) -> Any:
    """A stored user message's `data` as it may be shown (API, transcripts, exports): the
    inputs named in its `secretFields` masked. Anything else is returned as it is."""
    if not isinstance(data, dict) or not data.get("secretFields"):
        return data
    secret = set(data["secretFields"])
    form_data = data.get("formData") or {}
    entries = [
        {**entry, "input": MASK} if entry.get("componentId") in secret else entry
        for entry in form_data.get("data", [])
    ]
    return {**data, "formData": {**form_data, "data": entries}}


def summary_preview(form: Any, entries: Sequence[FormEntry]) -> str:
    """The read-only summary of `entries`, not validated: a sample in the gallery."""
    return summary_html(parse_form(form), inputs_by_component(entries))
