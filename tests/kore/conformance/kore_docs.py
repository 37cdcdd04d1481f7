"""Kore's documented examples (fixtures/*.json) and the checks the conformance tests make with
them: a request validator built from Kore's request tables, and a shape comparison (keys and
value types) between an answer and a documented example. No tests here."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"

TYPE_NAMES = {
    str: "string",
    bool: "boolean",
    int: "number",
    float: "number",
    dict: "object",
    list: "array",
    type(None): "null",
}


@cache
def fixture(name: str) -> dict[str, Any]:
    """One fixture file: {source, kind, body, notes, …}."""
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return loaded


def names(*kinds: str) -> list[str]:
    """The fixtures of these kinds, by file name (sorted, for stable test ids)."""
    return sorted(
        path.stem for path in FIXTURES.glob("*.json") if fixture(path.stem)["kind"] in kinds
    )


def body(name: str) -> Any:
    """A fresh copy of a fixture's body (tests may change it)."""
    return json.loads(json.dumps(fixture(name)["body"]))


def type_name(value: Any) -> str:
    return TYPE_NAMES.get(type(value), type(value).__name__)


# Requests: Kore's request tables


def _tables() -> dict[str, Any]:
    tables: dict[str, Any] = fixture("request_tables")["body"]
    return tables


def _lookup(body: dict[str, Any], path: str) -> tuple[bool, bool, Any]:
    """(parent present, value present, value) of a dotted path."""
    node: Any = body
    parts = path.split(".")
    for part in parts[:-1]:
        if not isinstance(node, dict) or part not in node:
            return False, False, None
        node = node[part]
    if not isinstance(node, dict):
        return False, False, None
    return True, parts[-1] in node, node.get(parts[-1])


def _unknown(where: str, value: Any, allowed: list[str]) -> list[str]:
    if not isinstance(value, dict):
        return []
    return [f"{where}{key!r} is not documented" for key in value if key not in allowed]


def _attachment_problems(attachments: Any) -> list[str]:
    allowed = _tables()["attachment_keys"]
    if not isinstance(attachments, list):
        return []  # the type check reports it
    problems = []
    for index, attachment in enumerate(attachments):
        where = f"message.attachments[{index}]"
        if not isinstance(attachment, dict):
            problems.append(
                f"{where} is a {type_name(attachment)}, Kore documents objects "
                '({"url"} or {"fileName","fileType","fileId"})'
            )
            continue
        problems += _unknown(f"{where}: key ", attachment, allowed)
        if not isinstance(attachment.get("url"), str) and not isinstance(
            attachment.get("fileId"), str
        ):
            problems.append(f"{where} has neither a url nor a fileId")
    return problems


def _form_data_problems(where: str, value: Any) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where} is a {type_name(value)}, not an object"]
    problems = []
    if not isinstance(value.get("formId"), str):
        problems.append(f"{where}.formId is missing")
    data = value.get("data")
    if not isinstance(data, list) or not all(
        isinstance(entry, dict) and isinstance(entry.get("componentId"), str) for entry in data
    ):
        problems.append(f"{where}.data is not a list of {{componentId, input}}")
    return problems


def _tag_problems(body: dict[str, Any], version: int) -> list[str]:
    holder = body.get("metaTags") if version == 2 else body
    if not isinstance(holder, dict):
        return []
    problems = []
    for name in ("userLevelTags", "sessionLevelTags", "messageLevelTags"):
        tags = holder.get(name)
        if tags is None:
            continue
        if not isinstance(tags, list) or not all(
            isinstance(tag, dict) and set(tag) <= set(_tables()["tag_keys"]) for tag in tags
        ):
            problems.append(f"{name} is not a list of {{name, value}} objects")
    return problems


def _v1_message_problems(message: dict[str, Any]) -> list[str]:
    problems = _unknown("message: key ", message, _tables()["v1"]["message_keys"])
    if "formData" in message:
        problems += _form_data_problems("message.formData", message["formData"])
    return problems


def _v2_message_problems(message: dict[str, Any]) -> list[str]:
    table = _tables()["v2"]
    problems = _unknown("message: key ", message, table["message_keys"])
    kind, val = message.get("type"), message.get("val")
    if kind == "text" and not isinstance(val, str):
        problems.append(f"message.val is a {type_name(val)}; type text takes a String")
    if kind in ("template", "formData") and not isinstance(val, dict):
        problems.append(f"message.val is a {type_name(val)}; type {kind} takes an Object")
    if kind == "formData":
        problems += _form_data_problems("message.val", val)
    if kind == "event" and val not in table["event_values"]:
        problems.append(f"message.val {val!r} is not a documented event")
    if "attachments" in message:
        if kind != "text":
            problems.append("with attachments, message.type must be text")
        if not isinstance(val, str) or not val.strip():
            problems.append("with attachments, message.val must not be blank")
    return problems


def request_problems(body: Any, version: int) -> list[str]:
    """Why a request body breaks Kore's V1 or V2 request table (empty: it does not)."""
    if not isinstance(body, dict):
        return ["the body is not a JSON object"]
    tables = _tables()
    table = tables[f"v{version}"]
    problems = _unknown("top-level key ", body, table["top_level_keys"])
    message = body.get("message")
    form_submission = version == 1 and isinstance(message, dict) and "formData" in message
    for parameter in table["parameters"]:
        path = parameter["path"]
        parent, present, value = _lookup(body, path)
        if not present:
            exempt = form_submission and path == "message.text"
            if parameter["required"] and (parent or "." not in path) and not exempt:
                problems.append(f"{path} is required")
            continue
        if type_name(value) not in parameter["type"]:
            problems.append(f"{path} is a {type_name(value)}, documented as {parameter['type']}")
        elif (
            path in ("session.new", "message.type", "mergeIdentity")
            and value not in parameter["values"]
        ):
            problems.append(f"{path} {value!r} is not one of {parameter['values']}")
    sender = body.get("from")
    problems += _unknown("from: key ", sender, tables["from_keys"])
    if isinstance(sender, dict):
        problems += _unknown(
            "from.userInfo: key ", sender.get("userInfo"), tables["user_info_keys"]
        )
    if isinstance(message, dict):
        problems += _v1_message_problems(message) if version == 1 else _v2_message_problems(message)
        if "attachments" in message:
            problems += _attachment_problems(message["attachments"])
    problems += _tag_problems(body, version)
    return problems


def assert_valid_request(body: Any, version: int) -> None:
    problems = request_problems(body, version)
    assert not problems, f"V{version} table: " + "; ".join(problems)


# Answers: keys and value types against a documented example


def shape_problems(
    actual: Any,
    documented: Any,
    where: str = "",
    types: dict[str, list[str]] | None = None,
    open_keys: bool = False,
    optional: frozenset[str] = frozenset(),
) -> list[str]:
    """How `actual` differs from `documented` in its keys (none missing, none added unless
    `open_keys`) and value types, recursively through objects and lists of like objects. `types`
    widens a key's documented type where the doc says so (V1 `text`: string, object or
    array); top-level keys in `optional` may be left out."""
    widened = types or {}
    name = where.rsplit(".", 1)[-1]
    allowed = widened.get(name, [type_name(documented)])
    if type_name(actual) not in allowed:
        return [f"{where or 'the body'} is a {type_name(actual)}, documented as {allowed}"]
    if isinstance(documented, dict) and isinstance(actual, dict):
        problems = [
            f"{where}.{key} is missing"
            for key in documented
            if key not in actual and not (where == "" and key in optional)
        ]
        if not open_keys:
            problems += [
                f"{where}.{key} is not documented" for key in actual if key not in documented
            ]
        for key in documented:
            if key in actual:
                problems += shape_problems(
                    actual[key], documented[key], f"{where}.{key}", types, open_keys
                )
        return problems
    if isinstance(documented, list) and isinstance(actual, list) and documented:
        # Items are compared when the documented ones share one shape (V2 `data`, `errors`).
        template = documented[0]
        if isinstance(template, dict) and not any(
            shape_problems(item, template) for item in documented
        ):
            return [
                problem
                for index, item in enumerate(actual)
                for problem in shape_problems(item, template, f"{where}[{index}]", types, open_keys)
            ]
    return []


def documented_shape_problems(actual: Any, name: str) -> list[str]:
    """shape_problems against one fixture, with the widenings the fixture records."""
    documented = fixture(name)
    return shape_problems(
        actual,
        documented["body"],
        types=documented.get("documented_types"),
        open_keys=documented.get("open_keys", False),
        optional=frozenset(documented.get("optional_keys", ())),
    )


def assert_documented_shape(actual: Any, name: str) -> None:
    problems = documented_shape_problems(actual, name)
    assert not problems, f"against {name}.json: " + "; ".join(problems)


# Digital Forms: the envelope as documented, and the parts of a form definition that every
# form has (the doc's other formDef fields, refId, streamId, branding, description, are
# bookkeeping of its own example form and are not asked for).
FORM_DEF_KEYS = ("_id", "name", "displayName", "type", "components")
COMPONENT_KEYS = ("_id", "name", "type", "metaData")


def form_problems(form: Any) -> list[str]:
    """How a `form` differs from Kore's {"formDef", "formInitialization"} (empty: it does not)."""
    if not isinstance(form, dict):
        return [f"the form is a {type_name(form)}, not an object"]
    documented = fixture("form_response")["body"]["form"]
    problems = [f"form.{key} is not documented" for key in form if key not in documented]
    form_def = form.get("formDef")
    if not isinstance(form_def, dict):
        return [*problems, "form.formDef is missing"]
    problems += [f"form.formDef.{key} is missing" for key in FORM_DEF_KEYS if key not in form_def]
    for component in form_def.get("components") or []:
        missing = [key for key in COMPONENT_KEYS if key not in component]
        if missing:
            problems.append(f"component {component.get('_id')!r} lacks {missing}")
    if "formInitialization" in form and not isinstance(
        form["formInitialization"].get("valueMap"), dict
    ):
        problems.append("form.formInitialization.valueMap is not an object")
    return problems
