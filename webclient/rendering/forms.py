"""Kore Digital Forms: render `formDef` as a real HTML form, validate a submission on the
server, and build the `formData` Kore expects.

`form` everywhere is the stored `{"formDef": …, "formInitialization": {"valueMap": …}}`
(a `{"form": {…}}` wrapper is accepted too). `formId` is `formDef._id`, a `componentId`
is a component's `_id`; inputs are named by componentId in the HTML.

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
Submitted inputs: strings; a checkbox group sends a list of values, a toggle or a single
checkbox a boolean. Hidden components keep their prefill; disabled ones are not editable
and are not validated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import uuid4

from django.template.loader import render_to_string

from webclient.rendering.coerce import flag, items, mapping, number, text, values
from webclient.rendering.sanitize import safe_link
from webclient.rendering.text import format_kore_text
from webclient.security.patterns import MAX_PATTERN, pattern_allows

INPUT_TYPES = {
    "textField": "text",
    "number": "number",
    "email": "email",
    "phoneNumber": "tel",
    "url": "url",
    "password": "password",
    "date": "date",
}
CHOICE_TYPES = frozenset({"radio", "dropdown", "checkbox"})
VALUE_TYPES = frozenset(
    {*INPUT_TYPES, "textArea", "address", "toggle", "rangeSlider", "radio", "dropdown", "checkbox"}
)
NUMERIC_TYPES = frozenset({"number", "rangeSlider"})
MAX_DEPTH = 6
MAX_COMPONENTS = 200
MAX_INPUT = 10_000
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"\+?[0-9 ()\-.]{6,20}")


class FormErrors(Exception):
    """A submission that does not pass validation; `fields` maps componentId → message."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields
        super().__init__("Please correct the highlighted fields.")


@dataclass
class Rule:
    operator: str
    value: Any
    other_field: str
    message: str


@dataclass
class Component:
    id: str
    name: str
    type: str
    label: str
    placeholder: str = ""
    tooltip: str = ""
    required: bool = False
    disabled: bool = False
    hidden: bool = False
    choices: list[dict[str, Any]] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    any_rule: bool = False
    message: str = ""
    prefill: Any = None
    action: str = ""
    url: str | None = None
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Component] = field(default_factory=list)
    dom_id: str = ""

    @property
    def input_type(self) -> str:
        return INPUT_TYPES.get(self.type, "text")

    @property
    def text_value(self) -> str:
        return _as_text(self.prefill)

    @property
    def checked(self) -> bool:
        return flag(self.prefill)

    @property
    def is_group(self) -> bool:
        return self.type in ("radio", "checkbox") and bool(self.choices)

    @property
    def label_html(self) -> str:
        return format_kore_text(self.label)

    @property
    def described_by(self) -> str:
        ids = [f"{self.dom_id}-hint"] if self.tooltip else []
        return " ".join([*ids, f"{self.dom_id}-error"])


@dataclass
class FormDefinition:
    id: str
    title: str
    components: list[Component]

    def walk(self) -> list[Component]:
        found: list[Component] = []

        def visit(nodes: list[Component]) -> None:
            for node in nodes:
                found.append(node)
                visit(node.children)

        visit(self.components)
        return found

    @property
    def fields(self) -> list[Component]:
        return [c for c in self.walk() if c.type in VALUE_TYPES]

    def button(self, action: str) -> Component | None:
        return next((c for c in self.walk() if c.type == "button" and c.action == action), None)


def unwrap(form: Any) -> dict[str, Any]:
    """The {formDef, formInitialization} dict from either accepted shape."""
    outer = mapping(form)
    return mapping(outer.get("form")) if "form" in outer else outer


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(_as_text(v) for v in value[:100])
    return text(value, MAX_INPUT).strip()


def _rule(raw: dict[str, Any]) -> Rule | None:
    operator = re.sub(r"[\s_-]", "", text(raw.get("operator") or raw.get("type"))).lower()
    if not operator:
        return None
    other = text(raw.get("field")) if text(raw.get("valueType")).lower() == "field" else ""
    message = text(raw.get("errorMsg") or raw.get("message"), 300)
    return Rule(operator, raw.get("value"), other, message)


def _rules(meta: dict[str, Any]) -> tuple[list[Rule], bool, str]:
    validations = mapping(meta.get("validations"))
    raw_rules = items(validations.get("rules"), 20)
    if not raw_rules and ("operator" in validations or "type" in validations):
        raw_rules = [validations]
    rules = [r for r in (_rule(raw) for raw in raw_rules) if r]
    for key in ("minLength", "maxLength", "min", "max"):
        if meta.get(key) is not None:
            rules.append(Rule(key.lower(), meta.get(key), "", ""))
    advanced = text(validations.get("validationType")).lower() == "advanced"
    any_rule = advanced and text(validations.get("combinator")).lower() == "or"
    return rules, any_rule, text(validations.get("errorMsg") or validations.get("message"), 300)


def _choices(meta: dict[str, Any]) -> list[dict[str, Any]]:
    result = []
    for raw in values(meta.get("values"), 100):
        entry = raw if isinstance(raw, dict) else {"value": raw}
        value = text(entry.get("value"), 500)
        if value:
            label = text(entry.get("label") or entry.get("displayName"), 500) or value
            result.append({"value": value, "label": label, "selected": flag(entry.get("selected"))})
    return result


def _component(raw: dict[str, Any], value_map: dict[str, Any], depth: int) -> Component | None:
    meta = mapping(raw.get("metaData"))
    kind = text(raw.get("type") or meta.get("type"), 50)
    component_id = text(raw.get("_id") or raw.get("id"), 100)
    if not kind or not component_id:
        return None
    name = text(raw.get("name") or meta.get("name") or meta.get("key"), 200)
    label = text(meta.get("displayName") or raw.get("displayName") or name, 1000)
    rules, any_rule, message = _rules(meta)
    choices = _choices(meta)
    prefill = None
    for key in (name, text(meta.get("key")), component_id):
        if key and key in value_map:
            prefill = value_map[key]
            break
    if prefill is None and choices:
        selected = [c["value"] for c in choices if c["selected"]]
        prefill = selected if kind == "checkbox" else (selected[0] if selected else None)
    if prefill is None:
        prefill = meta.get("value", meta.get("defaultValue"))
    if isinstance(prefill, str | list) and choices:
        chosen = set(prefill if isinstance(prefill, list) else [prefill])
        for choice in choices:
            choice["selected"] = choice["value"] in chosen
    visible = meta.get("isVisible", raw.get("isVisible", True))
    component = Component(
        id=component_id,
        name=name,
        type=kind,
        label=label,
        placeholder=text(meta.get("placeholder"), 300),
        tooltip=text(meta.get("toolTip") or meta.get("tooltip"), 500),
        required=flag(meta.get("required")),
        disabled=flag(meta.get("disabled")) or flag(meta.get("readOnly")),
        hidden=visible is False or text(visible).lower() == "false",
        choices=choices,
        rules=rules,
        any_rule=any_rule,
        message=message,
        prefill=prefill,
        action=text(meta.get("buttonAction") or raw.get("buttonAction"), 20).lower(),
        url=safe_link(meta.get("url") or meta.get("redirectUrl")),
    )
    component.attrs = _html_attributes(component, meta)
    if depth < MAX_DEPTH:
        component.children = [
            child
            for child in (
                _component(entry, value_map, depth + 1) for entry in items(raw.get("components"))
            )
            if child
        ]
    return component


def _html_attributes(component: Component, meta: dict[str, Any]) -> dict[str, str]:
    """Browser-side constraints, a first line only: the server checks again."""
    attrs: dict[str, str] = {}
    for rule in component.rules:
        bound = number(rule.value)
        if rule.other_field or bound is None:
            continue
        if rule.operator == "minlength":
            attrs["minlength"] = str(int(bound))
        elif rule.operator == "maxlength":
            attrs["maxlength"] = str(int(bound))
        elif component.type in NUMERIC_TYPES and rule.operator in ("min", "greaterthanorequal"):
            attrs["min"] = f"{bound:g}"
        elif component.type in NUMERIC_TYPES and rule.operator in ("max", "lessthanorequal"):
            attrs["max"] = f"{bound:g}"
    if component.type == "rangeSlider":
        attrs.setdefault("min", f"{number(meta.get('minValue')) or 0:g}")
        attrs.setdefault("max", f"{number(meta.get('maxValue')) or 100:g}")
        attrs["step"] = f"{number(meta.get('step')) or 1:g}"
    elif component.type == "number":
        attrs["step"] = "any"
    return attrs


def parse_form(form: Any) -> FormDefinition:
    body = unwrap(form)
    definition = mapping(body.get("formDef"))
    value_map = mapping(mapping(body.get("formInitialization")).get("valueMap"))
    components = [
        c
        for c in (
            _component(raw, value_map, 0)
            for raw in items(definition.get("components"), MAX_COMPONENTS)
        )
        if c
    ]
    title = text(definition.get("displayName") or definition.get("name"), 300) or "Form"
    return FormDefinition(text(definition.get("_id"), 100), title, components)


# ---- rendering -------------------------------------------------------------------------


def render_form(form: Any) -> tuple[str, str]:
    """(plain text, html) of a Digital Form ready to fill in."""
    definition = parse_form(form)
    uid = uuid4().hex[:8]
    for index, component in enumerate(definition.walk()):
        component.dom_id = f"kc-{uid}-{index}"
    has_submit = definition.button("submit") is not None
    html = render_to_string(
        "webclient/render/form.html",
        {"form": definition, "uid": uid, "has_submit": has_submit},
    )
    return f"Form: {definition.title}", html


# ---- validation ------------------------------------------------------------------------


def _inputs(data: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for entry in items(data, MAX_COMPONENTS * 2):
        component_id = text(entry.get("componentId"), 100)
        if component_id:
            result[component_id] = entry.get("input")
    return result


def _is_empty(value: Any) -> bool:
    if isinstance(value, list):
        return not any(_as_text(v) for v in value)
    if isinstance(value, bool):
        return False
    return _as_text(value) == ""


def _parse_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(_as_text(value)[:10]) if len(_as_text(value)) == 10 else None
    except ValueError:
        return None


def _type_error(component: Component, value: Any) -> str | None:
    raw = _as_text(value)
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
        if any(_as_text(v) not in allowed for v in chosen if _as_text(v)):
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
        return number(_as_text(value))
    as_number = number(_as_text(value))
    return as_number if as_number is not None else _as_text(value)


def _compare(component: Component, left: Any, right: Any) -> int | None:
    """-1/0/1 comparing two values the component's way; None when incomparable."""
    a, b = _comparable(component, left), _comparable(component, right)
    if a is None or b is None:
        return None
    if isinstance(a, float) != isinstance(b, float) or isinstance(a, date) != isinstance(b, date):
        a, b = _as_text(left), _as_text(right)
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
    raw = _as_text(value)
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
        found = _as_text(target).lower() in raw.lower()
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
    target = _as_text(rule.value) if not rule.other_field else "the other field"
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


def _cancelled(form: FormDefinition, inputs: dict[str, Any]) -> bool:
    cancel = form.button("cancel")
    return cancel is not None and cancel.id in inputs


def form_id(form: Any) -> str:
    return parse_form(form).id


def form_is_cancel(form: dict[str, Any], data: list[dict[str, Any]]) -> bool:
    return _cancelled(parse_form(form), _inputs(data))


def form_validate(form: dict[str, Any], data: list[dict[str, Any]]) -> None:
    """Raise FormErrors unless `data` is an acceptable submission (or a cancel) of `form`."""
    definition = parse_form(form)
    inputs = _inputs(data)
    if _cancelled(definition, inputs):
        return
    errors: dict[str, str] = {}
    for component in definition.fields:
        if component.hidden or component.disabled:
            continue
        error = _field_error(component, inputs.get(component.id), inputs, definition)
        if error:
            errors[component.id] = error
    if errors:
        raise FormErrors(errors)


# ---- after submission ------------------------------------------------------------------


def form_data_body(
    form: dict[str, Any], data: list[dict[str, Any]], *, api_version: int
) -> dict[str, Any]:
    """The upstream `message` for a submission: V1 `{"formData": …}`, V2 `{"type": "formData",
    "val": …}`. Only the form's own components are forwarded, in form order; hidden and
    disabled fields carry their prefill; the submit (or cancel) button entry is ensured."""
    definition = parse_form(form)
    inputs = _inputs(data)
    entries: list[dict[str, Any]] = []
    cancelled = _cancelled(definition, inputs)
    if not cancelled:
        for component in definition.fields:
            if component.hidden or component.disabled:
                value = component.prefill if component.prefill is not None else ""
            else:
                value = inputs.get(component.id, "")
            entries.append({"componentId": component.id, "input": value})
    button = definition.button("cancel" if cancelled else "submit")
    if button is not None:
        entries.append({"componentId": button.id, "input": inputs.get(button.id) or button.label})
    val = {"formId": definition.id, "data": entries, "meta": {}}
    return {"formData": val} if api_version == 1 else {"type": "formData", "val": val}


def _display(component: Component, value: Any) -> str:
    if component.type == "password":
        return "••••••" if _as_text(value) else ""
    if isinstance(value, bool) or component.type == "toggle":
        return "Yes" if flag(value) else "No"
    labels = {c["value"]: c["label"] for c in component.choices}
    chosen = value if isinstance(value, list) else [value]
    return ", ".join(labels.get(_as_text(v), _as_text(v)) for v in chosen if _as_text(v))


def form_submitted_html(form: dict[str, Any], data: list[dict[str, Any]]) -> str:
    """Read-only rendering of what was sent (or of the cancel)."""
    definition = parse_form(form)
    inputs = _inputs(data)
    rows = [
        {
            "label": c.label or c.name,
            "value": _display(c, c.prefill if c.disabled else inputs.get(c.id)),
        }
        for c in definition.fields
        if not c.hidden
    ]
    return render_to_string(
        "webclient/render/form_submitted.html",
        {"title": definition.title, "rows": rows, "cancelled": _cancelled(definition, inputs)},
    )
