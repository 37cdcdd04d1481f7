"""Kore text formatting → safe HTML (webclient.rendering.text)."""

from __future__ import annotations

import pytest

from webclient.render import render_bot_item, render_user_input
from webclient.rendering.text import format_kore_text, plain_text


def test_it_renders_bold_with_single_asterisks() -> None:
    assert format_kore_text("Your *balance* is low") == "Your <b>balance</b> is low"


def test_it_renders_italic_with_underscores_and_with_kore_single_tildes() -> None:
    assert format_kore_text("_soon_ and ~later~") == "<i>soon</i> and <i>later</i>"


def test_it_renders_strike_through_with_double_tildes() -> None:
    assert format_kore_text("~~$10~~ $8") == "<s>$10</s> $8"


def test_it_leaves_underscores_inside_words_alone() -> None:
    assert format_kore_text("set account_type_code now") == "set account_type_code now"


def test_it_does_not_treat_spaced_asterisks_as_bold() -> None:
    assert format_kore_text("2 * 3 * 4") == "2 * 3 * 4"


def test_it_turns_newlines_into_line_breaks() -> None:
    assert format_kore_text("one\ntwo\r\nthree") == "one<br>two<br>three"


def test_it_renders_markdown_links_that_open_in_a_new_tab() -> None:
    html = format_kore_text("See [fees](https://bank.example/fees?a=1&b=2).")
    assert html == (
        'See <a href="https://bank.example/fees?a=1&amp;b=2" target="_blank" '
        'rel="noopener noreferrer">fees</a>.'
    )


@pytest.mark.parametrize(
    "url", ["mailto:help@bank.example", "tel:+15550100", "http://bank.example"]
)
def test_it_allows_http_https_mailto_and_tel_links(url: str) -> None:
    assert f'href="{url}"' in format_kore_text(f"[contact]({url})")


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,x", "vbscript:x", "ftp://x"],
)
def test_it_shows_only_the_label_of_links_with_forbidden_schemes(url: str) -> None:
    assert format_kore_text(f"[contact]({url})") == "contact"


def test_it_links_bare_urls_without_swallowing_trailing_punctuation() -> None:
    html = format_kore_text("Visit www.kore.ai, or https://kore.ai/docs.")
    assert (
        '<a href="https://www.kore.ai" target="_blank" rel="noopener noreferrer">www.kore.ai</a>,'
        in html
    )
    assert ">https://kore.ai/docs</a>." in html


def test_it_renders_images_only_from_http_urls() -> None:
    assert format_kore_text("![logo](https://cdn.example/logo.png)") == (
        '<img src="https://cdn.example/logo.png" alt="logo" loading="lazy">'
    )
    assert format_kore_text("![logo](data:image/png;base64,AA)") == "logo"


def test_it_renders_bullet_and_numbered_lists() -> None:
    html = format_kore_text("Options:\n* Checking\n* Savings\n1. First\n2. Second")
    assert html == (
        "Options:<ul><li>Checking</li><li>Savings</li></ul><ol><li>First</li><li>Second</li></ol>"
    )


def test_it_renders_kore_headings_indents_rules_and_preformatted_text() -> None:
    html = format_kore_text("#h2 Summary\n>> indented *note*\n---\nrun ```pip install```")
    assert html == (
        "<h2>Summary</h2><blockquote>indented <b>note</b></blockquote><hr>"
        "run <code>pip install</code>"
    )


def test_it_does_not_apply_emphasis_inside_link_urls() -> None:
    html = format_kore_text("[a](https://x.example/a_b_c*d*)")
    assert 'href="https://x.example/a_b_c*d*"' in html


def test_it_escapes_everything_that_is_not_markup() -> None:
    assert (
        format_kore_text("1 < 2 & \"3\" > '0'") == "1 &lt; 2 &amp; &quot;3&quot; &gt; &#x27;0&#x27;"
    )


def test_it_escapes_script_tags_in_text() -> None:
    html = format_kore_text("hi <script>alert(1)</script>")
    assert "<script" not in html
    assert "alert(1)" not in html  # script content is dropped, not shown


def test_it_keeps_harmless_bot_html_and_adds_safe_link_attributes() -> None:
    html = format_kore_text('<b>Hi</b> <a href="https://kore.ai">site</a> <u>x</u>')
    assert html == (
        '<b>Hi</b> <a href="https://kore.ai" target="_blank" rel="noopener noreferrer">site</a>'
        " <u>x</u>"
    )


def test_it_applies_kore_markup_inside_bot_html_too() -> None:
    assert format_kore_text("<p>*hello*</p>") == "<p><b>hello</b></p>"


def test_it_shows_user_typed_html_literally() -> None:
    rendered = render_user_input({"text": "<b>not bold</b> but *bold*"})
    assert rendered.html == '<div class="kc-text">&lt;b&gt;not bold&lt;/b&gt; but <b>bold</b></div>'
    assert rendered.text == "<b>not bold</b> but *bold*"


def test_a_plain_string_renders_as_a_text_message() -> None:
    rendered = render_bot_item("Hello *Jane*")
    assert rendered.kind == "text"
    assert rendered.text == "Hello Jane"
    assert rendered.html == '<div class="kc-text">Hello <b>Jane</b></div>'


def test_a_text_object_renders_like_a_string() -> None:
    assert render_bot_item({"text": "Hi"}) == render_bot_item("Hi")


def test_the_plain_text_fallback_drops_markup_and_keeps_link_targets() -> None:
    assert plain_text("*Hi* _there_, see [docs](https://kore.ai) <b>now</b>") == (
        "Hi there, see docs (https://kore.ai) now"
    )


def test_the_plain_text_fallback_omits_forbidden_link_targets() -> None:
    assert plain_text("[x](javascript:alert(1))") == "x"


def test_it_cuts_absurdly_long_text() -> None:
    rendered = render_bot_item("a" * 1_000_000)
    assert len(rendered.html) < 60_000


def test_it_renders_inline_code_in_backticks_without_formatting_inside() -> None:
    assert format_kore_text("Type `show *all*` now") == "Type <code>show *all*</code> now"


def test_angle_bracket_placeholders_are_shown_as_text_not_dropped() -> None:
    html = format_kore_text("Type `show <name>`, or <name> alone.")
    assert html == "Type <code>show &lt;name&gt;</code>, or &lt;name&gt; alone."


def test_unknown_tags_next_to_allowed_html_stay_visible_as_text() -> None:
    html = format_kore_text("<b>Hi</b> <customer-name> <svg onload=alert(1)>")
    assert html.startswith("<b>Hi</b> &lt;customer-name&gt; &lt;svg onload=alert(1)&gt;")
    assert "<svg" not in html


def test_code_inside_bot_html_is_escaped() -> None:
    assert (
        format_kore_text("<p>run `<b>x</b>`</p>") == "<p>run <code>&lt;b&gt;x&lt;/b&gt;</code></p>"
    )
