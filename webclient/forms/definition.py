"""A Kore Digital Form's definition: `formDef` read into components, tolerantly.

`form` everywhere is the stored `{"formDef": …, "formInitialization": {"valueMap": …}}`
(a `{"form": {…}}` wrapper is accepted too). `formId` is `formDef._id`, a `componentId`
is a component's `_id`; inputs are named by componentId in the HTML.

Submitted inputs: strings; a checkbox group sends a list of values, a toggle or a single
checkbox a boolean. Hidden components keep their prefill; disabled ones are not editable
and are not validated. A secret (type password or pin, or `metaData.isMasked`/`masked`) is
a password input and is shown only masked once submitted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, TypedDict

from webclient.rendering.coerce import flag, items, mapping, number, text, values
from webclient.rendering.sanitize import safe_link
from webclient.rendering.text import format_kore_text


class FormEntry(TypedDict):
    """One submitted value, as the browser sends it and as it goes upstream."""

    componentId: str
    input: Any


class FormData(TypedDict):
    """A submission as stored on the user's message: what the payload builder forwards."""

    formId: str
    data: list[FormEntry]


INPUT_TYPES = {
    "textField": "text",
    "number": "number",
    "email": "email",
    "phoneNumber": "tel",
    "url": "url",
    "password": "password",
    "pin": "password",
    "date": "date",
}
# Never shown in clear once submitted: the summary and the transcript mask them.
SECRET_TYPES = frozenset({"password", "pin"})
MASK = "••••••"
CHOICE_TYPES = frozenset({"radio", "dropdown", "checkbox"})
VALUE_TYPES = frozenset(
    {*INPUT_TYPES, "textArea", "address", "toggle", "rangeSlider", "radio", "dropdown", "checkbox"}
)
NUMERIC_TYPES = frozenset({"number", "rangeSlider"})
MAX_DEPTH = 6
MAX_COMPONENTS = 200
MAX_INPUT = 10_000


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
    secret: bool = False
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
        return "password" if self.secret else INPUT_TYPES.get(self.type, "text")

    @property
    def text_value(self) -> str:
        return as_text(self.prefill)

    @property
    def range_value(self) -> str:
        """A slider's starting value: its prefill, else the browser's default (the middle,
        on a step), so that the value shown next to it is the one that is sent."""
        if self.text_value:
            return self.text_value
        low, high = number(self.attrs.get("min")) or 0.0, number(self.attrs.get("max")) or 0.0
        step = number(self.attrs.get("step")) or 1.0
        middle = low + round((high - low) / 2 / step) * step if high > low else low
        return f"{middle:g}"

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


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(as_text(v) for v in value[:100])
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
        secret=kind in SECRET_TYPES or flag(meta.get("isMasked")) or flag(meta.get("masked")),
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


def form_id(form: Any) -> str:
    return parse_form(form).id


def inputs_by_component(data: Any) -> dict[str, Any]:
    """componentId → input of a submission; entries without a componentId are ignored."""
    result: dict[str, Any] = {}
    for entry in items(data, MAX_COMPONENTS * 2):
        component_id = text(entry.get("componentId"), 100)
        if component_id:
            result[component_id] = entry.get("input")
    return result
