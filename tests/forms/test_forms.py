"""Digital Forms: rendering, server-side validation, the formData sent upstream and the
read-only summary (webclient.forms), on the demo form (webclient/examples/)."""

from __future__ import annotations

import copy
import logging
import multiprocessing
import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.rendering.test_rendering_hostile import assert_inert
from tests.rendering.test_rendering_templates import tags
from webclient.examples import demo_form
from webclient.forms import FormEntry, FormErrors, submission_prepare
from webclient.render import render_bot_item

DEMO_FORM = demo_form()

FORM_ID = DEMO_FORM["formDef"]["_id"]


def fct(n: int) -> str:
    return f"fct-5a0cf4f1-2b8e-4d55-9d3c-{n:012d}"


FULL_NAME, EMAIL, PHONE, BIRTH, ADDRESS, WEBSITE = (fct(n) for n in (3, 4, 5, 6, 7, 8))
AMOUNT, TERM, PURPOSE, EMPLOYMENT, INCOME, RENT, NOTES = (fct(n) for n in range(10, 17))
PROMO, PIN, CONTACT, NEWSLETTER, BRANCH, CAMPAIGN = (fct(n) for n in range(17, 23))
SUBMIT, CANCEL = fct(24), fct(25)


def valid() -> dict[str, Any]:
    return {
        FULL_NAME: "Jane Doe",
        EMAIL: "jane@example.com",
        PHONE: "+1 555 0100",
        BIRTH: "1990-04-01",
        ADDRESS: "1 Main St, Springfield",
        WEBSITE: "",
        AMOUNT: "12000",
        TERM: "24",
        PURPOSE: "Car",
        EMPLOYMENT: "Employed",
        INCOME: "5000",
        RENT: "1500",
        NOTES: "",
        PROMO: "",
        PIN: "4321",
        CONTACT: ["Email", "SMS"],
        NEWSLETTER: False,
    }


def data(values: dict[str, Any], *, button: str = SUBMIT, label: str = "Submit") -> list[FormEntry]:
    return [FormEntry(componentId=k, input=v) for k, v in values.items()] + [
        {"componentId": button, "input": label}
    ]


def errors_for(**changes: Any) -> dict[str, str]:
    values = valid()
    values.update({globals()[k.upper()]: v for k, v in changes.items()})
    with pytest.raises(FormErrors) as caught:
        submission_prepare(DEMO_FORM, data(values))
    return caught.value.fields


# ---- rendering -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def form_html() -> str:
    rendered = render_bot_item({"form": DEMO_FORM})
    assert rendered.kind == "form"
    assert rendered.text == "Form: Personal loan application"
    return rendered.html


def test_the_form_carries_its_form_id_and_is_labelled_by_its_title(form_html: str) -> None:
    [form] = tags(form_html, "form", data_kc_form=None)
    assert form["data-kc-form-id"] == FORM_ID
    assert f'id="{form["aria-labelledby"]}">Personal loan application</h3>' in form_html


def test_the_v2_data_item_shape_renders_the_same_form() -> None:
    rendered = render_bot_item(DEMO_FORM)
    assert rendered.kind == "form"
    assert f'data-kc-form-id="{FORM_ID}"' in rendered.html


@pytest.mark.parametrize(
    ("component_id", "tag", "attrs"),
    [
        (
            FULL_NAME,
            "input",
            {
                "type": "text",
                "required": None,
                "minlength": "2",
                "maxlength": "80",
                "value": "Jane Doe",
            },
        ),
        (EMAIL, "input", {"type": "email", "required": None, "placeholder": "jane@example.com"}),
        (PHONE, "input", {"type": "tel"}),
        (WEBSITE, "input", {"type": "url"}),
        (BIRTH, "input", {"type": "date", "required": None}),
        (AMOUNT, "input", {"type": "number", "step": "any"}),
        (TERM, "input", {"type": "range", "min": "6", "max": "60", "step": "6", "value": "24"}),
        (PIN, "input", {"type": "password", "minlength": "4", "autocomplete": "off"}),
        (NEWSLETTER, "input", {"type": "checkbox", "role": "switch", "data-kc-toggle": None}),
        (BRANCH, "input", {"type": "text", "disabled": None, "value": "NYC-042"}),
        (CAMPAIGN, "input", {"type": "hidden", "value": "autumn-2026"}),
        (ADDRESS, "textarea", {"autocomplete": "street-address"}),
        (NOTES, "textarea", {}),
        (EMPLOYMENT, "select", {"required": None}),
    ],
)
def test_each_component_type_renders_its_control(
    form_html: str, component_id: str, tag: str, attrs: dict[str, str | None]
) -> None:
    assert tags(form_html, tag, name=component_id, **attrs)


def test_every_visible_control_has_a_label_and_an_error_slot(form_html: str) -> None:
    for control in (
        tags(form_html, "input") + tags(form_html, "textarea") + tags(form_html, "select")
    ):
        if control.get("type") in ("hidden", "radio") or "data-kc-multi" in control:
            continue
        assert f'for="{control["id"]}"' in form_html
        assert f'data-kc-error-for="{control["name"]}"' in form_html
        assert f"{control['id']}-error" in (control["aria-describedby"] or "")


def test_radio_and_checkbox_groups_are_fieldsets_with_preselected_values(form_html: str) -> None:
    assert tags(form_html, "input", type="radio", name=PURPOSE, value="Car", checked=None)
    assert tags(
        form_html,
        "input",
        type="checkbox",
        name=CONTACT,
        value="Email",
        checked=None,
        data_kc_multi=None,
    )
    assert not tags(form_html, "input", name=CONTACT, value="SMS", checked=None)
    assert "<legend>Purpose" in form_html


def test_sections_become_fieldsets_with_legends(form_html: str) -> None:
    assert "<legend>Applicant</legend>" in form_html
    assert "<legend>Loan</legend>" in form_html


def test_tooltips_labels_and_notes_are_shown(form_html: str) -> None:
    assert "As printed on your ID" in form_html
    assert "Tell us a little about yourself" in form_html
    assert tags(
        form_html, "a", href="https://www.example-bank.com/privacy", rel="noopener noreferrer"
    )


def test_submit_and_cancel_buttons_carry_their_component_ids(form_html: str) -> None:
    assert tags(
        form_html, "button", type="submit", data_kc_form_submit=None, data_kc_component_id=SUBMIT
    )
    assert tags(
        form_html,
        "button",
        type="submit",
        formnovalidate=None,
        data_kc_form_cancel=None,
        data_kc_component_id=CANCEL,
    )


def test_the_rendered_form_is_inert_and_has_unique_ids(form_html: str) -> None:
    assert_inert(form_html)
    ids = re.findall(r'\bid="([^"]+)"', form_html)
    assert len(ids) == len(set(ids))


def test_a_form_without_submit_button_gets_one() -> None:
    form = {
        "formDef": {
            "_id": "frm-x",
            "components": [{"_id": "fct-a", "type": "textField", "metaData": {"displayName": "A"}}],
        }
    }
    html = render_bot_item({"form": form}).html
    assert tags(html, "button", data_kc_form_submit=None, data_kc_component_id="")


def one_component_form(component_type: str, **meta: Any) -> dict[str, Any]:
    return {
        "formDef": {
            "_id": "frm-1",
            "components": [
                {
                    "_id": "fct-1",
                    "type": component_type,
                    "metaData": {"displayName": "The field", **meta},
                },
                {"_id": "fct-ok", "type": "button", "metaData": {"buttonAction": "submit"}},
            ],
        }
    }


def test_a_slider_shows_its_value_in_an_output_tied_to_it(form_html: str) -> None:
    [slider] = tags(form_html, "input", type="range", name=TERM)
    [output] = tags(form_html, "output", **{"for": slider["id"]})
    assert output["id"] == f"{slider['id']}-value"
    assert f"data-kc-range-output>{slider['value']}</output>" in form_html
    assert slider["value"] == "24"


def test_a_slider_without_a_value_starts_in_the_middle_on_a_step() -> None:
    form = one_component_form("rangeSlider", minValue=0, maxValue=10, step=3)
    html = render_bot_item({"form": form}).html
    [slider] = tags(html, "input", type="range", name="fct-1")
    assert slider["value"] == "6"
    assert "data-kc-range-output>6</output>" in html


def test_submit_and_cancel_sit_in_one_actions_row(form_html: str) -> None:
    rows = re.findall(r'<div class="kc-form-actions">(.*?)</div>', form_html, re.DOTALL)
    assert len(rows) == 1
    assert f'data-kc-component-id="{SUBMIT}"' in rows[0]
    assert f'data-kc-component-id="{CANCEL}"' in rows[0]


@pytest.mark.parametrize(
    ("component_type", "meta"),
    [("password", {}), ("pin", {}), ("textField", {"isMasked": True})],
)
def test_a_secret_field_is_a_password_input_and_masked_in_the_summary(
    component_type: str, meta: dict[str, Any]
) -> None:
    form = one_component_form(component_type, **meta)
    assert tags(render_bot_item({"form": form}).html, "input", name="fct-1", type="password")
    submission = submission_prepare(form, [FormEntry(componentId="fct-1", input="9876")])
    assert "9876" not in submission.html
    assert "9876" not in submission.text
    assert "<dt>The field</dt><dd>••••••</dd>" in submission.html
    assert submission.form_data["data"][0] == {"componentId": "fct-1", "input": "9876"}


# ---- validation ------------------------------------------------------------------------


def test_a_valid_submission_passes() -> None:
    submission_prepare(DEMO_FORM, data(valid()))


def test_the_wrapped_form_shape_is_accepted_too() -> None:
    submission_prepare({"form": DEMO_FORM}, data(valid()))


def test_missing_required_fields_are_reported_per_component() -> None:
    values = valid()
    for component in (FULL_NAME, EMAIL, BIRTH, AMOUNT, PURPOSE, EMPLOYMENT, PIN):
        values[component] = ""
    with pytest.raises(FormErrors) as caught:
        submission_prepare(DEMO_FORM, data(values))
    assert caught.value.fields == {
        component: "This field is required."
        for component in (FULL_NAME, EMAIL, BIRTH, AMOUNT, PURPOSE, EMPLOYMENT, PIN)
    }
    assert str(caught.value) == "Please correct the highlighted fields."


def test_an_absent_required_field_counts_as_missing() -> None:
    values = valid()
    del values[EMAIL]
    with pytest.raises(FormErrors) as caught:
        submission_prepare(DEMO_FORM, data(values))
    assert caught.value.fields == {EMAIL: "This field is required."}


@pytest.mark.parametrize("bad", ["jane", "jane@", "@example.com", "jane doe@example.com"])
def test_it_rejects_malformed_email(bad: str) -> None:
    assert errors_for(email=bad) == {EMAIL: "Enter a valid email address."}


@pytest.mark.parametrize("bad", ["twelve", "12k", "1e400"])
def test_it_rejects_non_numbers(bad: str) -> None:
    assert errors_for(amount=bad) == {AMOUNT: "Enter a number."}


@pytest.mark.parametrize("bad", ["call me", "12", "+1 555 01OO"])
def test_it_rejects_malformed_phone_numbers(bad: str) -> None:
    assert errors_for(phone=bad) == {PHONE: "Enter a valid phone number."}


@pytest.mark.parametrize("bad", ["example.com", "javascript:alert(1)", "ftp://example.com"])
def test_it_rejects_non_web_urls(bad: str) -> None:
    assert errors_for(website=bad) == {
        WEBSITE: "Enter a valid web address starting with http:// or https://."
    }


@pytest.mark.parametrize("bad", ["01/04/1990", "1990-13-01", "yesterday"])
def test_it_rejects_invalid_dates(bad: str) -> None:
    assert errors_for(birth=bad) == {BIRTH: "Enter a valid date (YYYY-MM-DD)."}


def test_it_enforces_min_and_max_length() -> None:
    assert errors_for(full_name="J") == {FULL_NAME: "Enter at least 2 characters."}
    assert errors_for(full_name="J" * 81) == {FULL_NAME: "Enter at most 80 characters."}
    assert errors_for(pin="123") == {PIN: "Enter at least 4 characters."}


def test_it_enforces_a_regex_with_the_bot_message() -> None:
    assert errors_for(promo="abc-12") == {PROMO: "Promo codes look like ABC-1234."}
    submission_prepare(DEMO_FORM, data({**valid(), PROMO: "ABC-1234"}))


@pytest.mark.parametrize(
    ("amount", "ok"), [("999", False), ("1000", True), ("50000", True), ("50000.01", False)]
)
def test_it_enforces_a_numeric_range(amount: str, ok: bool) -> None:
    if ok:
        submission_prepare(DEMO_FORM, data({**valid(), AMOUNT: amount}))
    else:
        assert errors_for(amount=amount) == {AMOUNT: "We lend between $1,000 and $50,000."}


@pytest.mark.parametrize(
    ("birth", "ok"), [("2007-12-31", True), ("2008-01-01", False), ("2010-06-15", False)]
)
def test_it_enforces_a_date_range(birth: str, ok: bool) -> None:
    if ok:
        submission_prepare(DEMO_FORM, data({**valid(), BIRTH: birth}))
    else:
        assert errors_for(birth=birth) == {BIRTH: "You must be at least 18 years old."}


def test_an_advanced_rule_compares_with_another_field() -> None:
    assert errors_for(income="1000", rent="1500") == {
        INCOME: "Income must be higher than your rent."
    }


def test_an_advanced_rule_with_a_constant_uses_the_default_message() -> None:
    assert errors_for(income="0", rent="") == {INCOME: "This value must be greater than 0."}


def test_it_enforces_not_contains() -> None:
    assert errors_for(notes="see http://spam.example") == {NOTES: "Please don't paste links here."}


def test_it_rejects_values_outside_the_offered_choices() -> None:
    assert errors_for(purpose="Yacht") == {PURPOSE: "Choose one of the options."}
    assert errors_for(contact=["Email", "Pigeon"]) == {CONTACT: "Choose one of the options."}
    assert errors_for(employment="CEO") == {EMPLOYMENT: "Choose one of the options."}


def test_it_rejects_structured_input_where_text_is_expected() -> None:
    assert errors_for(full_name={"a": 1}) == {FULL_NAME: "This value is not valid."}
    assert errors_for(full_name=["Jane"]) == {FULL_NAME: "This value is not valid."}


def test_several_errors_are_reported_together() -> None:
    assert errors_for(email="x", amount="5", phone="no") == {
        EMAIL: "Enter a valid email address.",
        AMOUNT: "We lend between $1,000 and $50,000.",
        PHONE: "Enter a valid phone number.",
    }


def test_disabled_and_hidden_components_are_not_validated() -> None:
    submission_prepare(DEMO_FORM, data({**valid(), BRANCH: "<anything>", CAMPAIGN: "x" * 20_000}))


def test_unknown_component_ids_are_ignored() -> None:
    submission_prepare(
        DEMO_FORM,
        [*data(valid()), {"componentId": "fct-unknown", "input": "x"}, "junk", {"input": 1}],  # type: ignore[list-item,typeddict-item]
    )


def test_a_cancel_skips_validation() -> None:
    submission_prepare(DEMO_FORM, [{"componentId": CANCEL, "input": "Cancel"}])


def with_promo_pattern(pattern: str) -> dict[str, Any]:
    form = copy.deepcopy(DEMO_FORM)
    form["formDef"]["components"][3]["metaData"]["validations"]["rules"][0]["value"] = pattern
    return form


def finishes_within(seconds: float, work: Callable[[], object]) -> bool:
    """Whether `work` ends in time, run in a forked child: a backtracking regex cannot be
    interrupted in-process."""
    child = multiprocessing.get_context("fork").Process(target=work)
    child.start()
    child.join(seconds)
    if child.is_alive():
        child.kill()
        child.join()
        return False
    return child.exitcode == 0


CATASTROPHIC = ["(a|a)*", "^(a+)+$", "(.*a){20}", "^(\\w+\\s?)*$", "(a|aa)+b", "/^((ab)*|a)*c$/i"]


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_a_catastrophic_bot_pattern_is_enforced_in_linear_time(pattern: str) -> None:
    form = with_promo_pattern(pattern)
    long_input = "a" * 900 + "!"

    def validate() -> None:
        with pytest.raises(FormErrors):
            submission_prepare(form, data({**valid(), PROMO: long_input}))

    assert finishes_within(1.0, validate)
    with pytest.raises(FormErrors) as caught:
        submission_prepare(form, data({**valid(), PROMO: long_input}))
    assert caught.value.fields == {PROMO: "Promo codes look like ABC-1234."}


def test_a_pattern_the_linear_engine_cannot_run_is_skipped_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pattern = "^(ab+)\\1(?=x)$"
    form = with_promo_pattern(pattern)
    secret_input = "abbab-private-user-text"
    plain = data({**valid(), PROMO: "x"})
    with caplog.at_level(logging.WARNING, logger="webclient.security.patterns"):
        for _ in range(3):
            assert finishes_within(1.0, lambda: submission_prepare(form, plain))
            submission_prepare(form, data({**valid(), PROMO: secret_input}))
    reports = [r for r in caplog.records if r.name == "webclient.security.patterns"]
    assert len(reports) == 1
    assert FORM_ID in reports[0].getMessage()
    assert repr(pattern) in reports[0].getMessage()
    assert secret_input not in caplog.text


def test_a_javascript_style_delimited_pattern_is_understood() -> None:
    form = copy.deepcopy(DEMO_FORM)
    form["formDef"]["components"][3]["metaData"]["validations"]["rules"][0]["value"] = (
        "/^abc-[0-9]{4}$/i"
    )
    submission_prepare(form, data({**valid(), PROMO: "ABC-1234"}))


def test_a_required_toggle_must_be_switched_on() -> None:
    form = {
        "formDef": {
            "_id": "frm-t",
            "components": [
                {
                    "_id": "fct-t",
                    "type": "toggle",
                    "metaData": {"displayName": "Agree", "required": True},
                }
            ],
        }
    }
    with pytest.raises(FormErrors) as caught:
        submission_prepare(form, [{"componentId": "fct-t", "input": False}])
    assert caught.value.fields == {"fct-t": "This field is required."}
    submission_prepare(form, [{"componentId": "fct-t", "input": True}])


def test_validation_of_a_junk_form_accepts_an_empty_submission() -> None:
    submission_prepare({"formDef": "junk"}, [])
    submission_prepare({}, [{"componentId": None}])  # type: ignore[typeddict-item]


# ---- what goes upstream ----------------------------------------------------------------


def test_the_forwarded_data_carries_form_order_prefills_and_the_submit_entry() -> None:
    val = submission_prepare(DEMO_FORM, data(valid())).form_data
    assert val["formId"] == FORM_ID
    entries = {e["componentId"]: e["input"] for e in val["data"]}
    assert entries[FULL_NAME] == "Jane Doe"
    assert entries[CONTACT] == ["Email", "SMS"]
    assert entries[BRANCH] == "NYC-042"
    assert entries[CAMPAIGN] == "autumn-2026"
    assert val["data"][-1] == {"componentId": SUBMIT, "input": "Submit"}
    assert [e["componentId"] for e in val["data"]].count(SUBMIT) == 1


def test_the_submit_entry_is_added_when_the_browser_left_it_out() -> None:
    entries = [FormEntry(componentId=k, input=v) for k, v in valid().items()]
    val = submission_prepare(DEMO_FORM, entries).form_data
    assert val["data"][-1] == {"componentId": SUBMIT, "input": "Submit application"}


def test_unknown_components_are_not_forwarded() -> None:
    submission = submission_prepare(
        DEMO_FORM, [*data(valid()), {"componentId": "fct-evil", "input": "x"}]
    )
    assert "fct-evil" not in {e["componentId"] for e in submission.form_data["data"]}


def test_a_cancel_forwards_only_the_cancel_entry() -> None:
    submission = submission_prepare(DEMO_FORM, [{"componentId": CANCEL, "input": "Cancel"}])
    assert submission.form_data["data"] == [{"componentId": CANCEL, "input": "Cancel"}]
    assert submission.cancelled
    assert submission.text == "Form cancelled"


# ---- after submission ------------------------------------------------------------------


def test_the_submitted_summary_shows_labels_and_values_but_masks_passwords() -> None:
    html = submission_prepare(DEMO_FORM, data(valid())).html
    assert "Form submitted: Personal loan application" in html
    assert "<dt>Full name</dt><dd>Jane Doe</dd>" in html
    assert "<dt>Contact me by</dt><dd>Email, SMS</dd>" in html
    assert "<dt>Send me the monthly newsletter</dt><dd>No</dd>" in html
    assert "<dt>Branch</dt><dd>NYC-042</dd>" in html
    assert "4321" not in html
    assert "Campaign" not in html


def test_the_submitted_summary_of_a_cancel_says_so() -> None:
    html = submission_prepare(DEMO_FORM, [{"componentId": CANCEL, "input": "Cancel"}]).html
    assert "Form cancelled: Personal loan application" in html
    assert "<dl>" not in html


def test_the_submitted_summary_escapes_what_the_user_typed() -> None:
    html = submission_prepare(
        DEMO_FORM, data({**valid(), FULL_NAME: "<img src=x onerror=alert(1)>"})
    ).html
    assert_inert(html)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
