"""A corpus of hostile and malformed bot payloads: nothing executable may survive rendering,
and nothing may raise or stall."""

from __future__ import annotations

import copy
import time
from html.parser import HTMLParser
from typing import Any

import pytest

from webclient.examples import demo_form, template_examples
from webclient.forms import summary_preview
from webclient.render import Rendered, render_bot_item, render_user_input
from webclient.rendering import templates

TEMPLATE_EXAMPLES = template_examples()
DEMO_FORM = demo_form()

DANGEROUS_TAGS = {
    "script", "iframe", "object", "embed", "style", "base", "meta", "link", "frame",
    "frameset", "applet", "foreignobject", "animate", "set",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "xlink:href", "poster", "srcset", "background", "data"}
SAFE_SCHEMES = ("http://", "https://", "mailto:", "tel:")


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def assert_inert(html: str) -> None:
    """No script-capable tag, no event handler, no style, no non-allow-listed URL."""
    collector = _Collector()
    collector.feed(html)
    collector.close()
    for tag, attrs in collector.tags:
        assert tag not in DANGEROUS_TAGS, f"<{tag}> survived in {html[:300]!r}"
        for name, value in attrs:
            assert not name.startswith("on"), f"{name}= on <{tag}>"
            assert name != "style", f"style= on <{tag}>"
            assert name not in ("action", "formaction"), f"{name}= on <{tag}>"
            if name in URL_ATTRIBUTES:
                url = "".join((value or "").split()).lower()
                assert url.startswith(SAFE_SCHEMES), f'{name}="{value}" on <{tag}>'


HOSTILE_STRINGS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "<a href='&#106;avascript:alert(1)'>x</a>",
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "<svg onload=alert(1)><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    '<svg><foreignObject><iframe src="javascript:alert(1)"></iframe></foreignObject></svg>',
    '<p style="background:url(javascript:alert(1))">x</p>',
    '<div style="width: expression(alert(1))">x</div>',
    '<iframe src="https://evil.example"></iframe>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '"><script>alert(1)</script>',
    "<base href='javascript:'>",
    "<form action=javascript:alert(1)><button formaction=javascript:alert(1)>x</button></form>",
    "<object data=javascript:alert(1)></object><embed src=javascript:alert(1)>",
    "<meta http-equiv=refresh content='0;url=javascript:alert(1)'>",
    '<x onclick="alert(1)">x</x>',
    'www.evil.example"onmouseover="alert(1)',
    "http://a.example/<script>alert(1)</script>",
    "*<img src=x onerror=alert(1)>* _[a](javascript:alert(1))_",
    "<!--<img src=x onerror=alert(1)>-->",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
]
JAVASCRIPT = "javascript:alert(1)"
SCRIPT = "<script>alert(1)</script>"


def _template(payload: dict[str, Any]) -> dict[str, Any]:
    return {"type": "template", "payload": payload}


HOSTILE_ITEMS: list[Any] = [
    _template(
        {
            "template_type": "button",
            "text": SCRIPT,
            "buttons": [
                {"type": "web_url", "title": SCRIPT, "url": JAVASCRIPT},
                {
                    "type": "postback",
                    "title": '"><img src=x onerror=alert(1)>',
                    "payload": '" onclick="x',
                },
                {"type": "phone_number", "title": "call", "payload": "javascript:alert(1)"},
            ],
        }
    ),
    _template(
        {
            "template_type": "quick_replies",
            "text": "<img src=x onerror=alert(1)>",
            "quick_replies": [
                {"title": "x", "payload": "y", "image_url": "data:image/png;base64,AA"}
            ],
        }
    ),
    _template(
        {
            "template_type": "carousel",
            "elements": [
                {
                    "title": SCRIPT,
                    "image_url": JAVASCRIPT,
                    "subtitle": "[x](javascript:alert(1))",
                    "default_action": {"type": "web_url", "url": JAVASCRIPT},
                    "buttons": [{"type": "web_url", "title": "x", "url": "data:text/html,x"}],
                }
            ],
        }
    ),
    _template(
        {
            "template_type": "list",
            "elements": [
                {"title": "x", "default_action": {"type": "web_url", "url": " javascript:x"}}
            ],
        }
    ),
    _template(
        {
            "template_type": "table",
            "text": SCRIPT,
            "columns": [[SCRIPT, '" onmouseover="x']],
            "elements": [{"Values": [SCRIPT, "<img src=x onerror=alert(1)>"]}],
        }
    ),
    _template(
        {
            "template_type": "piechart",
            "text": "</title><script>alert(1)</script>",
            "elements": [
                {"title": "</desc><script>alert(1)</script>", "value": "5", "displayValue": SCRIPT}
            ],
        }
    ),
    _template(
        {
            "template_type": "barchart",
            "X_axis": [SCRIPT],
            "elements": [
                {"title": "<svg onload=alert(1)>", "values": [1], "displayValues": [SCRIPT]}
            ],
        }
    ),
    _template(
        {
            "template_type": "feedbackTemplate",
            "view": "NPS",
            "text": SCRIPT,
            "numbersArrays": [
                {
                    "value": '"><script>alert(1)</script>',
                    "color": "red;background:url(javascript:x)",
                }
            ],
        }
    ),
    _template(
        {
            "template_type": "cardTemplate",
            "cards": [
                {
                    "cardHeading": {
                        "title": SCRIPT,
                        "icon": JAVASCRIPT,
                        "headerStyles": {"background": "url(javascript:alert(1))"},
                    },
                    "cardContentStyles": {"width": "expression(alert(1))"},
                    "buttons": [
                        {
                            "title": "x",
                            "type": "postback",
                            "payload": "p",
                            "buttonStyles": {"color": "red"},
                        }
                    ],
                }
            ],
        }
    ),
    _template(
        {
            "template_type": "advancedListTemplate",
            "listItems": [
                {
                    "title": SCRIPT,
                    "icon": "data:image/png;base64,AA",
                    "textInformation": [{"title": "x", "url": JAVASCRIPT}],
                    "descriptionStyles": {"font-size": "expression(alert(1))"},
                }
            ],
        }
    ),
    _template(
        {
            "template_type": "tableList",
            "elements": [
                {
                    "rowItems": [
                        {
                            "title": {"type": "url", "url": {"link": JAVASCRIPT, "title": SCRIPT}},
                            "value": {"type": "url", "url": {"link": "vbscript:x", "title": "v"}},
                            "bgcolor": "url(javascript:alert(1))",
                        }
                    ]
                }
            ],
        }
    ),
    _template(
        {"template_type": "attachment", "elements": [{"fileName": SCRIPT, "fileUrl": JAVASCRIPT}]}
    ),
    _template({"template_type": "dateTemplate", "startDate": '"><script>', "format": '"><script>'}),
    _template({"template_type": SCRIPT, "text": SCRIPT}),
    _template({"template_type": SCRIPT}),
    {"type": "image", "payload": {"url": JAVASCRIPT, "text": SCRIPT}},
    {"type": "video", "payload": {"url": "data:video/mp4;base64,AA"}},
    {"type": "audio", "payload": {"url": "vbscript:x"}},
    {"type": "link", "payload": {"url": JAVASCRIPT, "title": SCRIPT}},
    {"type": "message", "payload": {"text": SCRIPT, "videoUrl": JAVASCRIPT}},
    {"type": "error", "payload": {"text": SCRIPT, "color": "red;background:url(javascript:x)"}},
    {"text": {"text": SCRIPT}},
]


def _hostile_form() -> dict[str, Any]:
    form = copy.deepcopy(DEMO_FORM)
    components = form["formDef"]["components"]
    form["formDef"]["displayName"] = SCRIPT
    components[0]["metaData"]["displayName"] = "<img src=x onerror=alert(1)>[x](javascript:x)"
    components[1]["components"][0]["metaData"].update(
        placeholder='"><script>alert(1)</script>', toolTip=SCRIPT, displayName=SCRIPT
    )
    components[1]["components"][0]["_id"] = '"><script>alert(1)</script>'
    components.append(
        {
            "_id": "fct-evil",
            "type": "radio",
            "metaData": {
                "displayName": "r",
                "values": [{"value": '" onfocus="alert(1)', "selected": True}],
            },
        }
    )
    components.append(
        {
            "_id": "fct-go",
            "type": "button",
            "metaData": {"buttonAction": "goToUrl", "url": JAVASCRIPT},
        }
    )
    form["formInitialization"]["valueMap"]["full_name"] = '"><svg onload=alert(1)>'
    return form


@pytest.mark.parametrize("value", HOSTILE_STRINGS)
def test_it_neutralises_hostile_text(value: str) -> None:
    rendered = render_bot_item(value)
    assert_inert(rendered.html)
    assert "<script" not in rendered.html.lower()


@pytest.mark.parametrize("value", HOSTILE_STRINGS)
def test_it_shows_hostile_user_text_literally(value: str) -> None:
    rendered = render_user_input({"text": value})
    assert_inert(rendered.html)
    assert "<script" not in rendered.html.lower()


@pytest.mark.parametrize("item", HOSTILE_ITEMS, ids=lambda item: str(item)[:60])
def test_it_neutralises_hostile_templates(item: Any) -> None:
    payload = item.get("payload", {})
    if item.get("type") == "template":
        # Called directly so that the top-level fallback cannot hide a crash.
        _, _, html = templates.render_template(payload)
        assert_inert(html)
    rendered = render_bot_item(item)
    assert_inert(rendered.html)
    assert "<script" not in rendered.html.lower()


def test_it_neutralises_a_hostile_digital_form() -> None:
    form = _hostile_form()
    rendered = render_bot_item({"form": form})
    assert rendered.kind == "form"
    assert_inert(rendered.html)
    assert "<script" not in rendered.html.lower()
    submitted = summary_preview(form, [{"componentId": "fct-evil", "input": SCRIPT}])
    assert_inert(submitted)
    assert "<script" not in submitted.lower()


def test_it_neutralises_a_hostile_postback_title() -> None:
    rendered = render_user_input({"postback": {"payload": "x", "title": SCRIPT}})
    assert_inert(rendered.html)
    assert "&lt;script&gt;" in rendered.html


JUNK: list[Any] = [
    None, 42, 3.14, float("nan"), float("inf"), True, [], [None], [[[]]], {}, {"type": 5},
    {"type": "template"}, {"type": "template", "payload": "str"},
    {"type": "template", "payload": {"template_type": ["x"]}},
    {"type": "template", "payload": {"template_type": None, "text": 5}},
    {"type": "image"}, {"type": "image", "payload": []}, {"type": "error", "payload": None},
    {"form": None}, {"form": {}}, {"form": {"formDef": []}}, {"formDef": {"components": "x"}},
    {"text": None}, {"text": 10**400}, object(), b"bytes",
]  # fmt: skip


# Ids the same in every process (pytest-xdist compares them): no memory address of an object().
@pytest.mark.parametrize("item", JUNK, ids=lambda item: repr(item)[:40].split(" at 0x")[0])
def test_it_renders_junk_as_a_readable_fallback_without_raising(item: Any) -> None:
    rendered = render_bot_item(item)
    assert rendered.kind in {"text", "template", "form", "media", "event", "error"}
    assert isinstance(rendered.text, str)
    assert isinstance(rendered.html, str)
    assert_inert(rendered.html)


JUNK_VALUES: list[Any] = [
    None,
    5,
    -1.5,
    "text",
    "",
    [],
    {},
    [None, 1, "x", [], {}],
    {"a": {"b": []}},
    True,
]


@pytest.mark.parametrize("key", sorted(k for k in TEMPLATE_EXAMPLES if k in templates.BUILDERS))
def test_every_template_tolerates_fields_of_the_wrong_type(key: str) -> None:
    example = TEMPLATE_EXAMPLES[key]["payload"]
    for field in example:
        if field == "template_type":
            continue
        for junk in JUNK_VALUES:
            payload = {**example, field: junk}
            _, _, html = templates.render_template(payload)
            assert_inert(html)
    _, _, html = templates.render_template({"template_type": key})
    assert_inert(html)


@pytest.mark.parametrize("key", sorted(k for k in TEMPLATE_EXAMPLES if k in templates.BUILDERS))
def test_every_template_tolerates_junk_inside_its_lists(key: str) -> None:
    example = TEMPLATE_EXAMPLES[key]["payload"]
    for field, value in example.items():
        if isinstance(value, list):
            payload = {
                **example,
                field: [*value, None, 7, "x", [], {"title": {"x": 1}, "value": [1]}],
            }
            _, _, html = templates.render_template(payload)
            assert_inert(html)


def _nested(depth: int, make: Any) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = make(value)
    return value


def rendered_within(item: Any, *, seconds: float) -> Rendered:
    started = time.perf_counter()
    rendered = render_bot_item(item)
    elapsed = time.perf_counter() - started
    assert elapsed < seconds, f"took {elapsed:.2f}s"
    return rendered


@pytest.mark.parametrize(
    "item",
    [
        _nested(1000, lambda inner: {"text": inner}),
        _nested(1000, lambda inner: [inner]),
        _nested(
            1000,
            lambda inner: {
                "type": "template",
                "payload": {"template_type": "list", "elements": [inner]},
            },
        ),
        {
            "type": "template",
            "payload": {"template_type": "list", "elements": _nested(1000, lambda i: [i])},
        },
        {
            "type": "template",
            "payload": {
                "template_type": "piechart",
                "elements": [_nested(1000, lambda i: {"value": i})],
            },
        },
        {
            "form": {
                "formDef": {
                    "_id": "frm-deep",
                    "components": [
                        _nested(
                            1000,
                            lambda inner: {
                                "_id": "fct-s",
                                "type": "section",
                                "metaData": {"displayName": "s"},
                                "components": [inner] if isinstance(inner, dict) else [],
                            },
                        )
                    ],
                }
            }
        },
    ],
    ids=[
        "text-chain",
        "list-chain",
        "template-chain",
        "nested-elements",
        "nested-value",
        "form-sections",
    ],
)
def test_it_survives_1000_levels_of_nesting(item: Any) -> None:
    rendered = rendered_within(item, seconds=1.0)
    assert_inert(rendered.html)
    assert rendered.html


MEGABYTE = 1_000_000


@pytest.mark.parametrize(
    "item",
    [
        "a" * MEGABYTE,
        "*" * MEGABYTE,
        "[" * MEGABYTE,
        "_a" * (MEGABYTE // 2),
        "http://" * (MEGABYTE // 7),
        "<b>" * (MEGABYTE // 3),
        "\n" * MEGABYTE,
        "* item\n" * (MEGABYTE // 7),
        {
            "type": "template",
            "payload": {
                "template_type": "button",
                "text": "x" * MEGABYTE,
                "buttons": [
                    {"type": "postback", "title": "t" * MEGABYTE, "payload": "p" * MEGABYTE}
                ],
            },
        },
        {
            "type": "template",
            "payload": {
                "template_type": "barchart",
                "X_axis": ["x"] * MEGABYTE,
                "elements": [{"values": [1] * MEGABYTE}] * 100,
            },
        },
        {
            "type": "template",
            "payload": {"template_type": "table", "elements": [{"Values": ["v"] * 1000}] * 10_000},
        },
    ],
    ids=[
        "plain",
        "stars",
        "brackets",
        "underscores",
        "urls",
        "tags",
        "newlines",
        "bullets",
        "button",
        "chart",
        "table",
    ],
)
def test_it_renders_megabyte_payloads_quickly_and_bounded(item: Any) -> None:
    rendered = rendered_within(item, seconds=2.0)
    assert len(rendered.html) < 2 * MEGABYTE
    assert_inert(rendered.html)


def test_it_renders_a_megabyte_form_label_without_raising() -> None:
    form = copy.deepcopy(DEMO_FORM)
    form["formDef"]["components"][0]["metaData"]["displayName"] = "<i>" * (MEGABYTE // 3)
    rendered = render_bot_item({"form": form})
    assert rendered.kind == "form"
    assert_inert(rendered.html)


@pytest.fixture(autouse=True)
def no_crash_hidden_by_the_fallback(caplog: pytest.LogCaptureFixture) -> Any:
    """The never-raise guard must not be what makes these tests pass."""
    yield
    crashes = [r for r in caplog.records if r.name.startswith("webclient.rendering")]
    assert not crashes, crashes[0].getMessage() if crashes else ""
