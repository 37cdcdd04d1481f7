"""Every Kore template_type, media kind and error, rendered from the realistic examples
(webclient/examples/) and from malformed payloads."""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.staticfiles import finders
from django.http import Http404
from django.test import RequestFactory

from tests.rendering.test_rendering_hostile import assert_inert
from webclient.examples import demo_form, template_examples
from webclient.gallery import gallery
from webclient.render import Rendered, render_bot_item, render_user_input
from webclient.rendering import templates

TEMPLATE_EXAMPLES = template_examples()
DEMO_FORM = demo_form()
# Where the examples' media are served: this server's own static files.
DEMO_MEDIA = f"{settings.SITE_ROOT}{settings.STATIC_URL}webclient/demo"

PROTOCOL_TEMPLATE_TYPES = [
    "button", "quick_replies", "list", "carousel", "table", "mini_table", "piechart",
    "barchart", "linechart", "dropdown_template", "multi_select", "advanced_multi_select",
    "like_dislike", "feedbackTemplate", "form_template", "listView", "advancedListTemplate",
    "cardTemplate", "tableList", "dateTemplate", "daterange", "clockTemplate",
    "radioOptionTemplate", "live_agent", "wait_for_response", "attachment",
]  # fmt: skip


def render(key: str) -> Rendered:
    return render_bot_item(TEMPLATE_EXAMPLES[key])


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def tags(html: str, element: str, /, **attrs: str | None) -> list[dict[str, str | None]]:
    """The attributes of every <name> whose attributes include `attrs` (None: present)."""
    parser = _Tags()
    parser.feed(html)
    wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
    return [
        a
        for tag, a in parser.found
        if tag == element and all(k in a and (v is None or a[k] == v) for k, v in wanted.items())
    ]


def test_the_examples_cover_every_template_type_of_the_protocol() -> None:
    for template_type in PROTOCOL_TEMPLATE_TYPES:
        assert TEMPLATE_EXAMPLES[template_type]["payload"]["template_type"] == template_type
        assert template_type in templates.BUILDERS or template_type in templates.SILENT_TYPES


def test_every_image_video_and_audio_of_the_examples_is_a_static_file_of_this_server() -> None:
    sources = [
        attrs["src"]
        for key in TEMPLATE_EXAMPLES
        for element in ("img", "video", "audio")
        for attrs in tags(render(key).html, element, src=None)
    ]
    sources += [a["src"] for a in tags(render_bot_item({"form": DEMO_FORM}).html, "img", src=None)]
    assert len(sources) >= 20
    for source in sources:
        assert source and source.startswith(f"{DEMO_MEDIA}/"), source
        assert finders.find(source.removeprefix(f"{settings.SITE_ROOT}{settings.STATIC_URL}"))


@pytest.mark.parametrize("key", sorted(TEMPLATE_EXAMPLES))
def test_every_example_renders_to_inert_html_with_a_text_fallback(key: str, caplog: Any) -> None:
    rendered = render(key)
    assert_inert(rendered.html)
    if key != "wait_for_response":
        assert rendered.html
        assert rendered.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("key", sorted(TEMPLATE_EXAMPLES))
def test_every_aria_reference_points_at_an_element_of_the_same_message(key: str) -> None:
    html = render(key).html
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    for attribute in ("aria-labelledby", "aria-describedby"):
        for value in re.findall(rf'{attribute}="([^"]+)"', html):
            assert set(value.split()) <= ids


def test_a_button_template_renders_postback_buttons_and_a_new_tab_link() -> None:
    rendered = render("button")
    assert rendered.kind == "template"
    assert rendered.text == "What would you like to do?"
    buttons = tags(rendered.html, "button", data_kc_postback=None)
    assert [(b["data-kc-payload"], b["data-kc-title"]) for b in buttons] == [
        ("CHECK_BALANCE", "Check balance"),
        ("TRANSFER_FUNDS", "Transfer funds"),
    ]
    assert all(b["type"] == "button" for b in buttons)
    [link] = tags(rendered.html, "a")
    assert link == {
        "class": "kc-btn kc-btn-link",
        "href": "https://kore.ai",
        "target": "_blank",
        "rel": "noopener noreferrer",
    }


def test_quick_replies_sit_in_a_container_that_disappears_once_used() -> None:
    html = render("quick_replies").html
    assert len(tags(html, "div", data_kc_once=None, role="group")) == 1
    replies = tags(html, "button", data_kc_postback=None)
    assert [r["data-kc-payload"] for r in replies] == [
        "ACCOUNT_CHECKING",
        "ACCOUNT_SAVINGS",
        "ACCOUNT_CARD",
    ]
    assert tags(html, "img", src=f"{DEMO_MEDIA}/card-icon.svg", alt="")


def test_a_list_links_each_row_to_its_default_action_and_keeps_the_list_buttons() -> None:
    html = render("list").html
    assert len(tags(html, "li", **{"class": "kc-list-item"})) == 3
    assert tags(html, "a", href="https://www.example-bank.com/savings", target="_blank")
    assert "<b>4.10% APY</b>" in html
    assert tags(html, "button", data_kc_payload="MORE_ACCOUNTS")


def test_a_carousel_is_a_keyboard_scrollable_region_of_cards() -> None:
    html = render("carousel").html
    assert tags(html, "div", role="region", tabindex="0")
    assert len(tags(html, "article")) == 3
    assert len(tags(html, "button", data_kc_payload="APPLY_TRAVEL")) == 1


def test_a_table_has_a_caption_column_headers_and_alignment_classes() -> None:
    html = render("table").html
    assert "<caption>Recent transactions</caption>" in html
    assert len(tags(html, "th", scope="col")) == 3
    assert len(tags(html, "th", scope="row")) == 3
    assert len(tags(html, "td", **{"class": "kc-align-right"})) == 3


def test_a_mini_table_renders_one_table_per_element() -> None:
    html = render("mini_table").html
    assert len(tags(html, "table")) == 2
    assert ">Savings Accounts</th>" in html


@pytest.mark.parametrize("key", ["piechart", "barchart", "linechart"])
def test_a_chart_is_an_svg_figure_with_a_text_alternative(key: str) -> None:
    html = render(key).html
    assert html.startswith("<figure")
    [svg] = tags(html, "svg", role="img")
    title_id, desc_id = (svg["aria-labelledby"] or "").split()
    assert f'<figcaption id="{title_id}">' in html
    assert f'<desc id="{desc_id}">' in html
    assert "<details" in html and "<table" in html


def test_a_pie_chart_draws_one_slice_per_value_and_lists_shares() -> None:
    html = render("piechart").html
    assert len(tags(html, "path")) == 3
    assert "<td>$ 1,234</td><td>58%</td>" in html


def test_a_bar_chart_draws_one_bar_per_value() -> None:
    html = render("barchart").html
    assert html.count("<title>") == 8
    assert "Travel card, Oct: $515" in html


def test_a_line_chart_draws_one_line_per_series() -> None:
    html = render("linechart").html
    assert len(tags(html, "polyline")) == 2
    assert len(tags(html, "circle")) == 10


def test_a_chart_without_numbers_renders_an_empty_chart() -> None:
    rendered = render_bot_item(
        {
            "type": "template",
            "payload": {"template_type": "barchart", "elements": [{"values": ["n/a"]}]},
        }
    )
    assert "<figure" in rendered.html


def test_a_dropdown_is_a_choice_form_with_a_labelled_select() -> None:
    html = render("dropdown_template").html
    assert tags(html, "form", data_kc_choice="select")
    assert tags(html, "select", name="choice", required=None)
    assert [o["value"] for o in tags(html, "option")] == ["", "AED", "AUD", "CAD", "CHF", "EUR"]


def test_a_multi_select_sends_kore_sdk_selection_text() -> None:
    html = render("multi_select").html
    assert tags(
        html, "form", data_kc_choice="multi", data_kc_prefix="Here are the selected items : "
    )
    boxes = tags(html, "input", type="checkbox", name="choice")
    assert [(b["value"], b["data-kc-title"]) for b in boxes] == [
        ("alert_balance", "Balance alerts"),
        ("alert_purchase", "Large purchase alerts"),
        ("alert_login", "Login alerts"),
    ]
    assert "<legend>" in html


def test_an_advanced_multi_select_groups_options_in_fieldsets() -> None:
    html = render("advanced_multi_select").html
    assert html.count("<fieldset") == 2
    assert len(tags(html, "input", type="checkbox")) == 4


def test_like_dislike_offers_two_labelled_submit_buttons() -> None:
    html = render("like_dislike").html
    assert [b["value"] for b in tags(html, "button", type="submit", name="choice")] == [
        "like",
        "dislike",
    ]


@pytest.mark.parametrize(
    ("key", "values", "titles"),
    [
        ("feedbackTemplate", ["1", "2", "3", "4", "5"], ["1", "2", "3", "4", "5"]),
        ("feedbackTemplate_nps", [str(n) for n in range(11)], [str(n) for n in range(11)]),
        (
            "feedbackTemplate_csat",
            ["Highly Unsatisfied", "Unsatisfied", "Average", "Satisfied", "Highly Satisfied"],
            ["Highly Unsatisfied", "Unsatisfied", "Average", "Satisfied", "Highly Satisfied"],
        ),
        (
            "feedbackTemplate_thumbs",
            ["Extremely Unlikely", "Extremely Likely"],
            ["Extremely Unlikely", "Extremely Likely"],
        ),
    ],
)
def test_feedback_views_send_what_the_kore_sdk_sends(
    key: str, values: list[str], titles: list[str]
) -> None:
    html = render(key).html
    assert tags(html, "form", data_kc_choice="button")
    buttons = tags(html, "button", name="choice")
    assert [b["value"] for b in buttons] == values
    assert [b["data-kc-title"] for b in buttons] == titles
    assert all(b["aria-label"] for b in buttons)


def test_star_feedback_buttons_are_named_for_screen_readers() -> None:
    buttons = tags(render("feedbackTemplate").html, "button", name="choice")
    assert buttons[0]["aria-label"] == "1 star" and buttons[4]["aria-label"] == "5 stars"


def test_an_inline_form_template_renders_its_fields() -> None:
    html = render("form_template").html
    assert tags(html, "form", data_kc_choice="fields")
    assert tags(html, "input", type="password", data_kc_label="Enter PIN", required=None)
    assert ">Ok</button>" in html


def test_a_list_view_shows_elements_values_and_more_data() -> None:
    html = render("listView").html
    assert "$120.40" in html
    assert tags(html, "button", data_kc_payload="AmazonOrder")
    assert "<details" in html and "Swiggy" in html


def test_an_advanced_list_renders_details_buttons_and_an_options_form() -> None:
    html = render("advancedListTemplate").html
    assert tags(html, "a", href="https://webex.example.com/j/123")
    assert tags(html, "button", data_kc_payload="RESCHEDULE_123")
    assert tags(html, "form", data_kc_choice="multi", data_kc_prefix="")
    assert "30 min" in html


def test_a_card_with_a_default_action_is_a_postback() -> None:
    html = render("cardTemplate").html
    assert tags(html, "button", data_kc_payload="FREEZE_CARD", data_kc_title="Freeze my card")
    assert tags(html, "button", data_kc_payload="SHOW_TRANSACTIONS")


def test_a_table_list_renders_sections_with_links_and_values() -> None:
    html = render("tableList").html
    assert "<caption>Major currencies" in html
    assert tags(html, "a", href="https://www.example-bank.com/fx/gbp")
    assert ">0.92</td>" in html


def test_a_date_template_converts_kore_bounds_to_input_limits() -> None:
    rendered = render("dateTemplate")
    assert tags(rendered.html, "form", data_kc_choice="date", data_kc_format="MM-DD-YYYY")
    assert tags(rendered.html, "input", type="date", min="2026-01-05", max="2027-12-31")
    assert "display" not in rendered.html
    assert rendered.text == "Which day suits you?"


def test_a_date_range_has_two_bounded_dates_and_the_kore_delimiter() -> None:
    html = render("daterange").html
    assert tags(
        html,
        "form",
        data_kc_choice="daterange",
        data_kc_format="DD-MM-YYYY",
        data_kc_delimiter="to",
    )
    assert len(tags(html, "input", type="date", min="2024-01-01", max="2026-12-31")) == 2


def test_reversed_or_invalid_date_bounds_are_dropped() -> None:
    payload = {
        "template_type": "daterange",
        "format": "MM-DD-YYYY",
        "startDate": "09-09-2021",
        "endDate": "05-02-2020",
    }
    _, _, html = templates.render_template(payload)
    assert "min=" not in html and "max=" not in html


def test_a_clock_template_asks_for_a_time() -> None:
    assert tags(render("clockTemplate").html, "input", type="time", name="time")


def test_radio_options_send_the_postback_value_and_show_its_title() -> None:
    html = render("radioOptionTemplate").html
    radios = tags(html, "input", type="radio", name="choice")
    assert [(r["value"], r["data-kc-title"]) for r in radios] == [
        ("ACCOUNT_6789", "Everyday Checking"),
        ("ACCOUNT_9876", "High-Yield Savings"),
    ]


def test_live_agent_is_a_status_notice() -> None:
    rendered = render("live_agent")
    assert 'role="status"' in rendered.html
    assert "<b>Maria</b>" in rendered.html


def test_wait_for_response_is_only_a_typing_indicator() -> None:
    assert render("wait_for_response") == Rendered("event", "", "")


def test_an_attachment_template_links_its_files() -> None:
    html = render("attachment").html
    assert tags(
        html,
        "a",
        href="https://www.example-bank.com/statements/2026-10.pdf",
        rel="noopener noreferrer",
    )


@pytest.mark.parametrize(
    ("key", "tag", "text"),
    [
        ("image", "img", "Our new branch"),
        ("video", "video", f"[video] {DEMO_MEDIA}/how-to-deposit.webm"),
        ("audio", "audio", f"[audio] {DEMO_MEDIA}/welcome.wav"),
        ("link", "a", "Fee schedule"),
        ("message_video", "video", "How to deposit a cheque"),
    ],
)
def test_media_messages_render_their_element(key: str, tag: str, text: str) -> None:
    rendered = render(key)
    assert rendered.kind == "media"
    assert rendered.text == text
    assert tags(rendered.html, tag)


def test_a_media_message_with_a_forbidden_url_says_it_cannot_be_shown() -> None:
    rendered = render_bot_item({"type": "image", "payload": {"url": "javascript:alert(1)"}})
    assert "<img" not in rendered.html
    assert "This image can't be displayed." in rendered.html


def test_a_message_with_an_audio_url_renders_an_audio_player() -> None:
    rendered = render_bot_item(
        {"type": "message", "payload": {"text": "Listen", "audioUrl": "https://a.example/x.mp3"}}
    )
    assert tags(rendered.html, "audio", src="https://a.example/x.mp3", controls=None)


def test_an_error_message_is_an_alert() -> None:
    rendered = render("error")
    assert rendered.kind == "error"
    assert 'role="alert"' in rendered.html
    assert "payments service" in rendered.text


def test_an_unknown_template_shows_its_text() -> None:
    rendered = render_bot_item(
        {"type": "template", "payload": {"template_type": "fancy_new", "text": "Hi *there*"}}
    )
    assert rendered.kind == "template"
    assert rendered.text == "Hi there"
    assert "<b>there</b>" in rendered.html


def test_an_unknown_template_without_text_gets_a_readable_fallback() -> None:
    rendered = render_bot_item({"type": "template", "payload": {"template_type": "fancy_new"}})
    assert rendered.kind == "template"
    assert "fancy_new" in rendered.text
    assert "can&#x27;t be displayed" in rendered.html


@pytest.mark.parametrize("template_type", sorted(templates.BUILDERS))
def test_a_template_with_nothing_but_its_type_renders(template_type: str) -> None:
    kind, _, html = templates.render_template({"template_type": template_type})
    assert kind == "template"
    assert html
    assert_inert(html)


def test_a_template_payload_without_the_envelope_is_still_recognised() -> None:
    rendered = render_bot_item(TEMPLATE_EXAMPLES["button"]["payload"])
    assert tags(rendered.html, "button", data_kc_payload="CHECK_BALANCE")


def test_buttons_without_payload_fall_back_to_their_value_or_title() -> None:
    payload = {
        "template_type": "button",
        "buttons": [{"type": "postback", "title": "Yes", "value": "YES"}, {"title": "No"}],
    }
    _, _, html = templates.render_template(payload)
    assert [b["data-kc-payload"] for b in tags(html, "button")] == ["YES", "No"]


def test_a_crashing_renderer_falls_back_and_is_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    def explode(payload: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("boom")

    monkeypatch.setitem(templates.BUILDERS, "button", explode)
    rendered = render("button")
    assert rendered.kind == "text"
    assert "can&#x27;t be displayed" in rendered.html
    assert any(r.levelno == logging.ERROR for r in caplog.records)


def test_a_postback_renders_its_title_as_the_user_message() -> None:
    rendered = render_user_input(
        {"postback": {"payload": "CHECK_BALANCE", "title": "Check balance"}}
    )
    assert rendered == Rendered("text", "Check balance", '<div class="kc-text">Check balance</div>')


def test_a_postback_without_title_shows_its_payload() -> None:
    assert render_user_input({"postback": {"payload": "YES"}}).text == "YES"


def test_a_form_submission_renders_as_a_form_message() -> None:
    rendered = render_user_input({"formData": {"formId": "frm-1", "data": []}})
    assert rendered.kind == "form"
    assert rendered.text == "Form submitted"


@pytest.mark.parametrize("event", ["ON_CONNECT", "SESSION_CLOSURE"])
def test_events_render_with_empty_html(event: str) -> None:
    assert render_user_input({"event": event}) == Rendered("event", event, "")


def test_the_gallery_shows_every_example_when_debug_is_on(settings: Any) -> None:
    settings.DEBUG = True
    request = RequestFactory().get("/gallery/")
    request.user = AnonymousUser()
    response = gallery(request)
    assert response.status_code == 200
    body = response.content.decode()
    for key in TEMPLATE_EXAMPLES:
        assert f">{key}</h2>" in body
    assert 'data-kc-form-id="frm-' in body
    assert "<script>" not in body and " style=" not in body


def test_the_gallery_is_hidden_from_anonymous_users_in_production(settings: Any) -> None:
    settings.DEBUG = False
    request = RequestFactory().get("/gallery/")
    request.user = AnonymousUser()
    with pytest.raises(Http404):
        gallery(request)


def test_the_gallery_is_open_to_staff_in_production(settings: Any) -> None:
    settings.DEBUG = False
    request = RequestFactory().get("/gallery/")
    request.user = User(username="admin", is_staff=True)
    assert gallery(request).status_code == 200


def test_a_horizontal_bar_chart_grows_its_bars_rightwards() -> None:
    html = render_bot_item(TEMPLATE_EXAMPLES["barchart_horizontal"]).html
    rects = re.findall(r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"', html)
    assert len(rects) == 6
    heights = {h for _, _, _, h in rects}
    assert len(heights) == 1  # every bar is one band tall
    widths = [float(w) for _, _, w, _ in rects]
    # "New car": 4,500 saved is wider than "Holiday": 1,200 saved.
    assert widths[2] > widths[0] * 3
    assert "Horizontal bar chart of Saved, Still to save" in html
    assert "Emergency fund" in html
