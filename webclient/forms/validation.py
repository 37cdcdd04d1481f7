"""Server-side validation of a Digital Form submission.

Validation rules are sparsely documented by Kore; this is the tolerant reading we chose:
- `metaData.required`, and the component type itself (email, number, phoneNumber, url,
  date, and a value among `values` for radio/dropdown/checkbox).
- `metaData.validations`: `{"validationType": "simple"|"advanced", "rules": [rule…],
  "combinator": "and"|"or" (advanced only), "errorMsg": "…"}`; a single rule may also sit
  directly in `validations`. A rule is `{"operator", "value", "errorMsg"?}` where operator
  is one of minLength, maxLength, regex, equals, notEquals, contains, notContains,
  greaterThan, greaterThanOrEqual (alias min), lessThan, lessThanOrEqual (alias max),
  between (value `[low, high]`). Comparisons are numeric for number/rangeSlider, by date
  for date (ISO), otherwise numeric when both sides are numbers, else text. Advanced rules
  may compare with another field: `{"valueType": "field", "field": "<name or _id>"}`.
- `metaData.minLength`/`maxLength`/`min`/`max` are honoured as simple rules.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from webclient.forms.definition import (
    MAX_INPUT,
    NUMERIC_TYPES,
    Component,
    FormDefinition,
    Rule,
    as_text,
)
from webclient.rendering.coerce import number, text, values
from webclient.rendering.sanitize import safe_link
from webclient.security.patterns import MAX_PATTERN, pattern_allows

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"\+?[0-9 ()\-.]{6,20}")


class FormErrors(Exception):
    """A submission that does not pass validation; `fields` maps componentId → message."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields
        super().__init__("Please correct the highlighted fields.")


def _is_empty(value: Any) -> bool:
    if isinstance(value, list):
        return not any(as_text(v) for v in value)
    if isinstance(value, bool):
        return False
    return as_text(value) == ""


def _parse_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(as_text(value)[:10]) if len(as_text(value)) == 10 else None
    except ValueError:
        return None


def _type_error(component: Component, value: Any) -> str | None:
    raw = as_text(value)
    if len(raw) > MAX_INPUT:
        return "This value is too long."
    kind = component.type
    if kind == "email" and not _EMAIL.fullmatch(raw):
        return "Enter a valid email address."
    if kind in NUMERIC_TYPES and number(raw) is None:
        return "Enter a number."
    if kind == "phoneNumber" and not (
        _PHONE.fullmatch(raw) and sum(ch.isdigit() for ch in raw) >= 6
    ):
        return "Enter a valid phone number."
    if kind == "url" and not (safe_link(raw) and raw.lower().startswith(("http://", "https://"))):
        return "Enter a valid web address starting with http:// or https://."
    if kind == "date" and _parse_date(raw) is None:
        return "Enter a valid date (YYYY-MM-DD)."
    if kind in ("radio", "dropdown", "checkbox") and component.choices:
        allowed = {c["value"] for c in component.choices}
        chosen = value if isinstance(value, list) else [raw]
        if any(as_text(v) not in allowed for v in chosen if as_text(v)):
            return "Choose one of the options."
    if (
        kind in ("toggle", "checkbox")
        and not component.choices
        and raw not in ("true", "false", "")
    ):
        return "This value is not valid."
    return None


def _comparable(component: Component, value: Any) -> float | date | str | None:
    if component.type == "date":
        return _parse_date(value)
    if component.type in NUMERIC_TYPES:
        return number(as_text(value))
    as_number = number(as_text(value))
    return as_number if as_number is not None else as_text(value)


def _compare(component: Component, left: Any, right: Any) -> int | None:
    """-1/0/1 comparing two values the component's way; None when incomparable."""
    a, b = _comparable(component, left), _comparable(component, right)
    if a is None or b is None:
        return None
    if isinstance(a, float) != isinstance(b, float) or isinstance(a, date) != isinstance(b, date):
        a, b = as_text(left), as_text(right)
    return (a > b) - (a < b)  # type: ignore[operator]


def _holds(
    rule: Rule, component: Component, value: Any, inputs: dict[str, Any], form: FormDefinition
) -> bool:
    """Whether one rule holds; a rule we cannot evaluate does not block the user."""
    target = rule.value
    if rule.other_field:
        other = next((c for c in form.fields if rule.other_field in (c.id, c.name)), None)
        if other is None:
            return True
        target = inputs.get(other.id, other.prefill)
    raw = as_text(value)
    op = rule.operator
    if op in ("minlength", "maxlength"):
        bound = number(target)
        if bound is None:
            return True
        return len(raw) >= bound if op == "minlength" else len(raw) <= bound
    if op in ("regex", "pattern", "matches"):
        # Bot-authored: linear time (RE2), or not enforced at all.
        return pattern_allows(text(target, MAX_PATTERN + 1), raw, where=f"form {form.id}")
    if op in ("contains", "notcontains"):
        found = as_text(target).lower() in raw.lower()
        return found if op == "contains" else not found
    if op == "between":
        bounds = values(target, 2)
        if len(bounds) != 2:
            return True
        low, high = _compare(component, value, bounds[0]), _compare(component, value, bounds[1])
        return low is None or high is None or (low >= 0 and high <= 0)
    order = _compare(component, value, target)
    if order is None:
        return op not in ("equals", "eq", "equalto")
    checks = {
        "equals": order == 0,
        "eq": order == 0,
        "equalto": order == 0,
        "notequals": order != 0,
        "ne": order != 0,
        "greaterthan": order > 0,
        "gt": order > 0,
        "after": order > 0,
        "greaterthanorequal": order >= 0,
        "gte": order >= 0,
        "min": order >= 0,
        "lessthan": order < 0,
        "lt": order < 0,
        "before": order < 0,
        "lessthanorequal": order <= 0,
        "lte": order <= 0,
        "max": order <= 0,
    }
    return checks.get(op, True)


def _default_message(rule: Rule) -> str:
    target = as_text(rule.value) if not rule.other_field else "the other field"
    return {
        "minlength": f"Enter at least {target} characters.",
        "maxlength": f"Enter at most {target} characters.",
        "regex": "This value is not in the expected format.",
        "pattern": "This value is not in the expected format.",
        "matches": "This value is not in the expected format.",
        "contains": f"This value must contain “{target}”.",
        "notcontains": f"This value must not contain “{target}”.",
        "equals": f"This value must be {target}.",
        "notequals": f"This value must not be {target}.",
        "greaterthan": f"This value must be greater than {target}.",
        "after": f"This date must be after {target}.",
        "greaterthanorequal": f"This value must be at least {target}.",
        "min": f"This value must be at least {target}.",
        "lessthan": f"This value must be less than {target}.",
        "before": f"This date must be before {target}.",
        "lessthanorequal": f"This value must be at most {target}.",
        "max": f"This value must be at most {target}.",
        "between": "This value is out of the allowed range.",
    }.get(rule.operator, "This value is not valid.")


def _field_error(
    component: Component, value: Any, inputs: dict[str, Any], form: FormDefinition
) -> str | None:
    if isinstance(value, dict) or (isinstance(value, list) and component.type != "checkbox"):
        return "This value is not valid."
    if _is_empty(value) or (component.type == "toggle" and value is False and component.required):
        return "This field is required." if component.required else None
    error = _type_error(component, value)
    if error:
        return error
    failed = [r for r in component.rules if not _holds(r, component, value, inputs, form)]
    if component.any_rule and len(failed) < len(component.rules):
        return None
    if not failed:
        return None
    return failed[0].message or component.message or _default_message(failed[0])


def is_cancel(form: FormDefinition, inputs: dict[str, Any]) -> bool:
    cancel = form.button("cancel")
    return cancel is not None and cancel.id in inputs


def validate(form: FormDefinition, inputs: dict[str, Any]) -> None:
    """Raise FormErrors unless `inputs` are an acceptable submission (or a cancel) of `form`."""
    if is_cancel(form, inputs):
        return
    errors: dict[str, str] = {}
    for component in form.fields:
        if component.hidden or component.disabled:
            continue
        error = _field_error(component, inputs.get(component.id), inputs, form)
        if error:
            errors[component.id] = error
    if errors:
        raise FormErrors(errors)
