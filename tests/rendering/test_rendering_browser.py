"""static/webclient/interactive.js in real Chromium, on server-rendered messages.

The page holds rendered messages the way the widget inserts them, and a stand-in for
window.KoreChat whose send() validates Digital Forms with the real server-side
validation (submission_prepare), so the whole round trip of a rejected then accepted form
is exercised.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.forms.test_forms import BIRTH, EMAIL, EMPLOYMENT, PIN, SUBMIT, TERM
from webclient.examples import demo_form, template_examples
from webclient.forms import FormErrors, submission_prepare
from webclient.render import render_bot_item

TEMPLATE_EXAMPLES = template_examples()
DEMO_FORM = demo_form()

pytestmark = pytest.mark.browser

STATIC = Path(__file__).resolve().parents[2] / "static" / "webclient"
SCRIPT = STATIC / "interactive.js"
KORE_CHAT_STAND_IN = """
window.sent = [];
window.KoreChat = {
  send(body) {
    window.sent.push(body);
    return window.checkWithServer(JSON.stringify(body)).then((answer) => {
      const error = JSON.parse(answer);
      if (error) { throw error; }
      return {};
    });
  },
};
"""


def check_with_server(body_json: str) -> str:
    body = json.loads(body_json)
    if "formData" not in body:
        return "null"
    try:
        submission_prepare(DEMO_FORM, body["formData"]["data"])
    except FormErrors as errors:
        return json.dumps({"code": "invalid_form", "message": str(errors), "fields": errors.fields})
    return "null"


def page_with(browser: Any, *items: Any) -> Any:
    page = browser.new_page()
    page.route("**/*", lambda route: route.abort())  # rendered images point off-host
    page.expose_function("checkWithServer", check_with_server)
    messages = "".join(
        f'<li class="kc-msg" data-kc-id="{n}">{render_bot_item(item).html}</li>'
        for n, item in enumerate(items, start=1)
    )
    page.set_content(f"<!doctype html><html><body><ol>{messages}</ol></body></html>")
    page.add_script_tag(content=KORE_CHAT_STAND_IN)
    page.add_script_tag(path=str(SCRIPT))
    return page


@pytest.fixture
def pages(browser: Any) -> Iterator[list[Any]]:
    opened: list[Any] = []
    yield opened
    for page in opened:
        page.close()


def sent(page: Any) -> list[dict[str, Any]]:
    return page.evaluate("window.sent")


def test_a_postback_button_sends_its_payload_and_title(browser: Any, pages: list[Any]) -> None:
    page = page_with(browser, TEMPLATE_EXAMPLES["button"])
    pages.append(page)
    page.get_by_role("button", name="Transfer funds").click()
    page.wait_for_function("window.sent.length === 1")
    assert sent(page) == [{"postback": {"payload": "TRANSFER_FUNDS", "title": "Transfer funds"}}]


def test_a_quick_reply_is_sent_and_the_replies_disappear(browser: Any, pages: list[Any]) -> None:
    page = page_with(browser, TEMPLATE_EXAMPLES["quick_replies"])
    pages.append(page)
    page.get_by_role("button", name="Savings").click()
    page.wait_for_function("!document.querySelector('[data-kc-once]')")
    assert sent(page) == [{"postback": {"payload": "ACCOUNT_SAVINGS", "title": "Savings"}}]


def test_a_multi_select_sends_the_kore_sdk_selection_text(browser: Any, pages: list[Any]) -> None:
    page = page_with(browser, TEMPLATE_EXAMPLES["multi_select"])
    pages.append(page)
    page.get_by_label("Balance alerts").check()
    page.get_by_label("Login alerts").check()
    page.get_by_role("button", name="Done").click()
    page.wait_for_function("window.sent.length === 1")
    prefix = "Here are the selected items : "
    assert sent(page) == [
        {
            "postback": {
                "payload": prefix + "alert_balance,alert_login",
                "title": prefix + "Balance alerts,Login alerts",
            }
        }
    ]


def test_a_date_is_sent_in_the_format_the_bot_asked_for(browser: Any, pages: list[Any]) -> None:
    page = page_with(browser, TEMPLATE_EXAMPLES["dateTemplate"])
    pages.append(page)
    page.get_by_label("Date").fill("2026-03-14")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_function("window.sent.length === 1")
    assert sent(page) == [{"postback": {"payload": "03-14-2026", "title": "03-14-2026"}}]


def test_a_digital_form_shows_server_errors_then_submits(browser: Any, pages: list[Any]) -> None:
    page = page_with(browser, {"form": DEMO_FORM})
    pages.append(page)
    form = page.locator("form[data-kc-form]")
    form.locator(f"[name='{EMAIL}']").fill("jane@example")  # the browser accepts it; we do not
    form.locator(f"[name='{BIRTH}']").fill("1990-04-01")
    form.get_by_label("Amount (USD)").fill("12000")
    form.locator(f"[name='{EMPLOYMENT}']").select_option("Employed")
    form.locator(f"[name='{PIN}']").fill("4321")
    form.get_by_role("button", name="Submit application").click()

    error = form.locator(f"[data-kc-error-for='{EMAIL}']")
    error.wait_for(state="visible")
    assert error.inner_text() == "Enter a valid email address."
    assert form.locator(f"[name='{EMAIL}']").get_attribute("aria-invalid") == "true"

    form.locator(f"[name='{EMAIL}']").fill("jane@example.com")
    form.get_by_role("button", name="Submit application").click()
    page.wait_for_function("document.querySelector('[data-kc-form]').dataset.kcSubmitted")
    body = sent(page)[-1]["formData"]
    assert body["formId"] == DEMO_FORM["formDef"]["_id"]
    entries = {entry["componentId"]: entry["input"] for entry in body["data"]}
    assert entries[EMAIL] == "jane@example.com"
    assert body["data"][-1] == {"componentId": SUBMIT, "input": "Submit"}
    assert error.inner_text() == ""
    assert page.evaluate("document.querySelector('.kc-form-body').disabled") is True


def test_an_empty_required_field_gets_the_servers_error_inline_not_a_browser_bubble(
    browser: Any, pages: list[Any]
) -> None:
    page = page_with(browser, {"form": DEMO_FORM})
    pages.append(page)
    form = page.locator("form[data-kc-form]")
    assert form.evaluate("f => f.noValidate") is True
    form.locator(f"[name='{EMAIL}']").fill("jane@example.com")
    form.get_by_role("button", name="Submit application").click()

    page.wait_for_function("window.sent.length === 1")
    error = form.locator(f"[data-kc-error-for='{BIRTH}']")
    error.wait_for(state="visible")
    assert error.inner_text()
    birth = form.locator(f"[name='{BIRTH}']")
    assert birth.get_attribute("aria-invalid") == "true"
    assert birth.evaluate("el => el === document.activeElement") is True


def test_the_cancel_button_sends_only_its_own_entry(browser: Any, pages: list[Any]) -> None:
    page = page_with(browser, {"form": DEMO_FORM})
    pages.append(page)
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_function("window.sent.length === 1")
    [body] = sent(page)
    cancel_id = "fct-5a0cf4f1-2b8e-4d55-9d3c-000000000025"
    assert body["formData"]["data"] == [{"componentId": cancel_id, "input": "Cancel"}]


def test_a_slider_shows_its_value_as_it_moves(browser: Any, pages: list[Any]) -> None:
    page = page_with(browser, {"form": DEMO_FORM})
    pages.append(page)
    slider = page.locator(f"input[name='{TERM}']")
    output = page.locator(f"output[for='{slider.get_attribute('id')}']")
    assert output.inner_text() == "24"
    slider.fill("48")
    assert output.inner_text() == "48"
    slider.press("ArrowRight")
    assert output.inner_text() == "54"


def test_submit_and_cancel_sit_on_one_row(browser: Any, pages: list[Any]) -> None:
    page = page_with(browser, {"form": DEMO_FORM})
    pages.append(page)
    page.add_style_tag(path=str(STATIC / "render.css"))
    submit = page.get_by_role("button", name="Submit application").bounding_box()
    cancel = page.get_by_role("button", name="Cancel").bounding_box()
    assert submit["y"] == cancel["y"]
    assert cancel["x"] >= submit["x"] + submit["width"]
