"""Kore message templates: template_type → a context builder and its Django partial.

Each builder reads the payload tolerantly (webclient.rendering.coerce), checks every URL
(webclient.rendering.sanitize) and formats text through the one formatter
(webclient.rendering.text); the partial `templates/webclient/render/<template_type>.html`
then only lays out clean values, autoescaped. The HTML data attributes the partials emit
are the contract with static/webclient/interactive.js (see that file's header).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from webclient.rendering import charts
from webclient.rendering.coerce import flag, items, mapping, text, values
from webclient.rendering.sanitize import safe_link, safe_media
from webclient.rendering.text import format_kore_text, plain_text

Context = dict[str, Any]
Builder = Callable[[Context], Context]

# What Kore's Web SDK sends for a multi-select "Done" (checkBoxesTemplate/advancedMultiSelect).
MULTI_SELECT_PREFIX = "Here are the selected items : "
KORE_DATE_FORMATS = {"DD-MM-YYYY": (0, 1, 2), "MM-DD-YYYY": (1, 0, 2), "YYYY-MM-DD": (2, 1, 0)}
CSAT_FACES = ("😠", "🙁", "😐", "🙂", "😍")


def fmt(value: Any) -> SafeString:
    return format_kore_text(text(value))


def button(raw: Any) -> Context | None:
    """A Kore button as {kind: postback|link|text, title, payload|url}; None if empty."""
    entry = mapping(raw)
    title = text(entry.get("title"), 200)
    kind = text(entry.get("type")).lower()
    if kind in ("web_url", "url", "data-url"):
        url = safe_link(entry.get("url"))
        if not (title or url):
            return None
        return {"kind": "link" if url else "text", "title": title or url, "url": url}
    if kind == "phone_number":
        url = safe_link("tel:" + text(entry.get("payload")).replace(" ", ""))
        return {"kind": "link" if url else "text", "title": title, "url": url}
    payload = text(entry.get("payload")) or text(entry.get("value")) or title
    if not payload:
        return None
    return {"kind": "postback", "title": title or payload, "payload": payload}


def buttons(raw: Any) -> list[Context]:
    return [b for b in (button(entry) for entry in items(raw, 20)) if b]


def default_action(raw: Any, title: str) -> Context | None:
    """The action of a clickable list row or card: a link, a postback, or nothing."""
    action = mapping(raw)
    if not action:
        return None
    if text(action.get("type")).lower() in ("web_url", "url") or "url" in action:
        url = safe_link(action.get("url"))
        return {"kind": "link", "url": url, "title": title} if url else None
    payload = text(action.get("payload")) or text(action.get("value")) or text(action.get("title"))
    return {"kind": "postback", "payload": payload, "title": title or payload} if payload else None


def element(raw: Context) -> Context:
    """A list/carousel/listView element."""
    title = text(raw.get("title"), 500)
    return {
        "title": title,
        "subtitle": fmt(raw.get("subtitle") or raw.get("description")),
        "value": text(raw.get("value"), 200),
        "image": safe_media(raw.get("image_url") or raw.get("imageUrl")),
        "action": default_action(raw.get("default_action"), title),
        "buttons": buttons(raw.get("buttons")),
    }


def align(value: Any) -> str:
    kind = text(value).lower()
    return kind if kind in ("left", "center", "right") else ""


def cell(raw: Any) -> str:
    """A table cell: a value, or Kore's [value, align] / [value, "text"|"button", …] list."""
    if isinstance(raw, list):
        return text(raw[0], 500) if raw else ""
    return text(raw, 500)


# ---- one builder per template_type -----------------------------------------------------


def build_button(p: Context) -> Context:
    return {"text": fmt(p.get("text")), "buttons": buttons(p.get("buttons"))}


def build_quick_replies(p: Context) -> Context:
    replies = []
    for entry in items(p.get("quick_replies"), 20):
        title = text(entry.get("title"), 200)
        payload = text(entry.get("payload")) or text(entry.get("value")) or title
        if payload:
            replies.append(
                {
                    "title": title or payload,
                    "payload": payload,
                    "image": safe_media(entry.get("image_url")),
                }
            )
    return {"text": fmt(p.get("text")), "replies": replies}


def build_list(p: Context) -> Context:
    return {
        "text": fmt(p.get("text") or p.get("heading")),
        "elements": [element(e) for e in items(p.get("elements"))],
        "buttons": buttons(p.get("buttons")),
    }


def build_carousel(p: Context) -> Context:
    return {"text": fmt(p.get("text")), "elements": [element(e) for e in items(p.get("elements"))]}


def build_table(p: Context) -> Context:
    columns = [
        {"title": cell(c), "align": align(c[1]) if isinstance(c, list) and len(c) > 1 else ""}
        for c in values(p.get("columns"), 20)
    ]
    rows = []
    for entry in items(p.get("elements"), 200):
        row = values(entry.get("Values") or entry.get("values"), 20)
        rows.append(
            [
                {"value": cell(v), "align": columns[i]["align"] if i < len(columns) else ""}
                for i, v in enumerate(row)
            ]
        )
    return {"caption": text(p.get("text")), "columns": columns, "rows": rows}


def build_mini_table(p: Context) -> Context:
    tables = []
    for entry in items(p.get("elements"), 20):
        head = [
            {"value": cell(c), "align": align(c[1]) if isinstance(c, list) and len(c) > 1 else ""}
            for c in values(entry.get("primary"), 10)
        ]
        rows = [[cell(v) for v in values(r, 10)] for r in values(entry.get("additional"), 50)]
        tables.append({"head": head, "rows": rows})
    return {"caption": text(p.get("text")), "tables": tables}


def build_chart(template_type: str) -> Builder:
    def build(p: Context) -> Context:
        return {"chart": charts.chart_context(template_type, p)}

    return build


def options(raw: Any, limit: int = 100) -> list[Context]:
    """{value, title} choices; a choice without value uses its title."""
    result = []
    for entry in items(raw, limit):
        title = text(entry.get("title"), 300)
        value = text(entry.get("value")) or title
        if value:
            result.append(
                {
                    "value": value,
                    "title": title or value,
                    "description": text(entry.get("description"), 300),
                    "image": safe_media(entry.get("image_url")),
                }
            )
    return result


def build_dropdown(p: Context) -> Context:
    return {
        "heading": fmt(p.get("heading") or p.get("text")),
        "label": text(p.get("label"), 200) or "Choose an option",
        "placeholder": text(p.get("placeholder"), 200) or "Select",
        "options": options(p.get("elements")),
        "submit": text(p.get("submitButtonText"), 100) or "Submit",
    }


def done_label(p: Context) -> str:
    first = buttons(p.get("buttons"))
    return first[0]["title"] if first else "Done"


def build_multi_select(p: Context) -> Context:
    return {
        "heading": fmt(p.get("heading") or p.get("text")) or mark_safe("Choose one or more"),
        "options": options(p.get("elements")),
        "prefix": MULTI_SELECT_PREFIX,
        "submit": done_label(p),
    }


def build_advanced_multi_select(p: Context) -> Context:
    groups = [
        {"title": text(g.get("collectionTitle"), 200), "options": options(g.get("collection"))}
        for g in items(p.get("elements"), 20)
    ]
    return {
        "heading": fmt(p.get("heading") or p.get("text")),
        "description": fmt(p.get("description")),
        "groups": [g for g in groups if g["options"]],
        "prefix": MULTI_SELECT_PREFIX,
        "submit": done_label(p),
    }


def build_like_dislike(p: Context) -> Context:
    return {"text": fmt(p.get("text")) or mark_safe("Was this helpful?")}


def feedback_choices(p: Context, view: str) -> list[Context]:
    """The buttons of a feedback view, each sending what Kore's SDK sends for it."""
    if view == "star":
        stars = sorted(
            {
                n
                for n in (text(e.get("value")) for e in items(p.get("starArrays"), 10))
                if n.isdigit()
            },
            key=int,
        ) or [str(n) for n in range(1, 6)]
        return [
            {"value": n, "title": n, "symbol": "★", "label": f"{n} star{'s' if n != '1' else ''}"}
            for n in stars
        ]
    if view in ("csat", "emojis"):
        faces = items(p.get("smileyArrays"), 10)
        return [
            {
                "value": text(e.get("value")) or text(e.get("reviewText")),
                "title": text(e.get("reviewText")) or text(e.get("value")),
                "symbol": CSAT_FACES[min(i, len(CSAT_FACES) - 1)],
                "label": text(e.get("reviewText")) or text(e.get("value")),
            }
            for i, e in enumerate(faces)
        ]
    if view == "nps":
        numbers = [text(e.get("value")) for e in items(p.get("numbersArrays"), 11)]
        numbers = [n for n in numbers if n] or [str(n) for n in range(11)]
        return [{"value": n, "title": n, "symbol": n, "label": n} for n in numbers]
    thumbs = items(p.get("thumpsUpDownArrays") or p.get("thumbsUpDownArrays"), 2)
    result = []
    for i, e in enumerate(thumbs):
        review = text(e.get("reviewText")) or text(e.get("value"))
        negative = "unlikely" in review.lower() or (i == 0 and "likely" not in review.lower())
        result.append(
            {
                "value": text(e.get("value")) or review,
                "title": review,
                "symbol": "👎" if negative else "👍",
                "label": review,
            }
        )
    return result or [
        {"value": "Extremely Likely", "title": "Extremely Likely", "symbol": "👍", "label": "Yes"},
        {
            "value": "Extremely Unlikely",
            "title": "Extremely Unlikely",
            "symbol": "👎",
            "label": "No",
        },
    ]


def build_feedback(p: Context) -> Context:
    view = text(p.get("view")).lower() or "star"
    if view not in ("star", "csat", "emojis", "nps", "thumbsupdown"):
        view = "star"
    return {
        "text": fmt(p.get("text")) or mark_safe("How did we do?"),
        "view": view,
        "choices": [c for c in feedback_choices(p, view) if c["value"]],
    }


FORM_TEMPLATE_INPUTS = ("text", "password", "email", "number", "tel", "url", "date")


def build_form_template(p: Context) -> Context:
    fields = []
    for i, entry in enumerate(items(p.get("formFields"), 10)):
        kind = text(entry.get("type")).lower()
        fields.append(
            {
                "name": f"field{i}",
                "type": kind if kind in FORM_TEMPLATE_INPUTS else "text",
                "label": text(entry.get("label"), 200) or "Your answer",
                "placeholder": text(entry.get("placeholder"), 200),
                "submit": text(mapping(entry.get("fieldButton")).get("title"), 100),
            }
        )
    submit = next((f["submit"] for f in fields if f["submit"]), "") or "Submit"
    return {"heading": fmt(p.get("heading") or p.get("text")), "fields": fields, "submit": submit}


def build_list_view(p: Context) -> Context:
    more = [
        {"name": text(name, 100), "elements": [element(e) for e in items(entries)]}
        for name, entries in list(mapping(p.get("moreData")).items())[:10]
        if isinstance(name, str)
    ]
    return {
        "heading": text(p.get("heading"), 300),
        "text": fmt(p.get("text")),
        "elements": [element(e) for e in items(p.get("elements"))],
        "more": [m for m in more if m["elements"]] if flag(p.get("seeMore")) or more else [],
        "buttons": buttons(p.get("buttons")),
    }


def advanced_item(raw: Context) -> Context:
    title = text(raw.get("title"), 300)
    option_entries = items(raw.get("optionsData"), 50)
    choice_kind = (
        "single" if any(text(o.get("type")) == "radio" for o in option_entries) else "multi"
    )
    choices = [
        {"value": text(o.get("value")) or text(o.get("label")), "title": text(o.get("label"), 300)}
        for o in option_entries
    ]
    item_buttons = buttons(raw.get("buttons"))
    header_buttons, header_texts = [], []
    for header in items(raw.get("headerOptions"), 5):
        kind = text(header.get("type")).lower()
        if kind == "text":
            header_texts.append(text(header.get("value"), 100))
        elif kind == "dropdown":
            header_buttons += buttons(header.get("dropdownOptions"))
        elif kind == "button" or text(header.get("contenttype")) == "button":
            header_buttons += buttons([header])
    return {
        "title": title,
        "description": fmt(raw.get("description")),
        "icon": safe_media(raw.get("icon")),
        "action": default_action(raw.get("default_action"), title),
        "details": [
            {"title": text(t.get("title"), 300), "url": safe_link(t.get("url"))}
            for t in items(raw.get("textInformation"), 20)
        ],
        "header_texts": [t for t in header_texts if t],
        "header_buttons": header_buttons,
        "choices": [c for c in choices if c["value"]],
        "choice_kind": choice_kind,
        "choice_submit": next(
            (b["title"] for b in item_buttons if b["kind"] == "postback"), "Confirm"
        ),
        # With options, the buttons are the options form's confirm/cancel, not postbacks.
        "buttons": [] if choices else item_buttons,
    }


def build_advanced_list(p: Context) -> Context:
    return {
        "title": text(p.get("title"), 300),
        "description": fmt(p.get("description")),
        "items": [advanced_item(i) for i in items(p.get("listItems"))],
        "buttons": buttons(p.get("buttons")),
    }


def build_card(p: Context) -> Context:
    cards = []
    for raw in items(p.get("cards"), 20):
        heading = mapping(raw.get("cardHeading"))
        title = text(heading.get("title"), 300)
        action = default_action(raw.get("default_action"), title)
        if action and action["kind"] == "postback":
            # The card's own action names the message the user appears to send.
            action["title"] = text(mapping(raw.get("default_action")).get("title")) or title
        cards.append(
            {
                "title": title,
                "description": fmt(heading.get("description")),
                "icon": safe_media(heading.get("icon")),
                "lines": [
                    {"title": text(d.get("title"), 300), "icon": safe_media(d.get("icon"))}
                    for d in items(raw.get("cardDescription"), 20)
                ],
                "buttons": buttons(raw.get("buttons")),
                "action": action,
            }
        )
    return {"text": fmt(p.get("text")), "cards": cards}


def table_list_part(raw: Any) -> Context:
    """A tableList title or value: {type: text|url, text: str|{title,subtitle}, url: {link,…}}."""
    part = mapping(raw)
    kind = text(part.get("type")).lower()
    body = mapping(part.get(kind)) if kind in ("text", "url") else {}
    plain = text(part.get("text")) if isinstance(part.get("text"), str) else ""
    return {
        "title": text(body.get("title"), 300) or plain,
        "subtitle": text(body.get("subtitle"), 300),
        "url": safe_link(body.get("link")) if kind == "url" else None,
        "image": safe_media(mapping(part.get("image")).get("image_src")),
    }


def build_table_list(p: Context) -> Context:
    sections = []
    for raw in items(p.get("elements"), 20):
        rows = [
            {"title": table_list_part(r.get("title")), "value": table_list_part(r.get("value"))}
            for r in items(raw.get("rowItems"))
        ]
        sections.append(
            {
                "title": text(raw.get("sectionHeader"), 300),
                "description": text(raw.get("sectionHeaderDesc"), 300),
                "rows": rows,
            }
        )
    return {
        "title": text(p.get("title"), 300),
        "description": text(p.get("description"), 300),
        "sections": sections,
    }


def kore_date_to_iso(value: Any, kore_format: str) -> str:
    """Kore's "MM-DD-YYYY"-style date as ISO for an <input type=date> bound, else ""."""
    order = KORE_DATE_FORMATS.get(kore_format, KORE_DATE_FORMATS["DD-MM-YYYY"])
    parts = re.split(r"[-/.]", text(value, 20))
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        return ""
    day, month, year = (int(parts[i]) for i in order)
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return ""


def picker_text(p: Context) -> SafeString:
    """The message shown above a picker; Kore's samples put a literal "display" in `text`."""
    words = text(p.get("text_message")) or text(p.get("text"))
    return format_kore_text(words if words != "display" else "")


def date_context(p: Context) -> Context:
    kore_format = text(p.get("format")).upper()
    if kore_format not in KORE_DATE_FORMATS:
        kore_format = "DD-MM-YYYY"
    low = kore_date_to_iso(p.get("startDate"), kore_format)
    high = kore_date_to_iso(p.get("endDate"), kore_format)
    if low and high and low > high:
        low, high = "", ""  # Kore's own sample has them reversed; no bound beats a wrong one
    return {
        "title": text(p.get("title"), 300),
        "text": picker_text(p),
        "format": kore_format,
        "min": low,
        "max": high,
    }


def build_date(p: Context) -> Context:
    return date_context(p)


def build_daterange(p: Context) -> Context:
    return {**date_context(p), "delimiter": text(p.get("delimiter"), 20) or "to"}


def build_clock(p: Context) -> Context:
    return {"title": text(p.get("title"), 300), "text": picker_text(p)}


def build_radio_options(p: Context) -> Context:
    choices = []
    for entry in items(p.get("radioOptions")):
        postback = mapping(entry.get("postback"))
        title = text(entry.get("title"), 300)
        value = text(postback.get("value")) or text(entry.get("value")) or title
        if value:
            choices.append(
                {
                    "value": value,
                    "title": text(postback.get("title")) or title or value,
                    "label": title or value,
                    "detail": text(entry.get("value"), 300),
                }
            )
    return {"heading": fmt(p.get("heading") or p.get("text")), "choices": choices}


def build_live_agent(p: Context) -> Context:
    return {"text": fmt(p.get("text")) or mark_safe("You are now chatting with an agent.")}


def build_attachment(p: Context) -> Context:
    files = []
    for entry in items(p.get("elements"), 20):
        url = safe_link(entry.get("fileUrl") or entry.get("url"))
        name = text(entry.get("fileName") or entry.get("title"), 300)
        if url or name:
            files.append({"name": name or url, "url": url})
    return {"text": fmt(p.get("text")), "files": files}


def form_link_title(p: Context) -> str:
    form = mapping(p.get("formData"))
    name = text(form.get("formName") or form.get("formTitle") or form.get("name"), 100)
    return f"Open the form: {name}" if name else "Open the form"


def build_form_link(p: Context) -> Context:
    """A Digital Form as the SDK channel sends it (`iframe`, `formData.formLink`): a link
    button that opens the platform's hosted form in a new tab; never a frame of it."""
    url = safe_link(mapping(p.get("formData")).get("formLink"))
    title = form_link_title(p)
    button = {"kind": "link" if url else "text", "title": title, "url": url}
    return {"text": fmt(p.get("text")), "buttons": [button]}


BUILDERS: dict[str, Builder] = {
    "button": build_button,
    "quick_replies": build_quick_replies,
    "list": build_list,
    "carousel": build_carousel,
    "table": build_table,
    "mini_table": build_mini_table,
    "piechart": build_chart("piechart"),
    "barchart": build_chart("barchart"),
    "linechart": build_chart("linechart"),
    "dropdown_template": build_dropdown,
    "multi_select": build_multi_select,
    "advanced_multi_select": build_advanced_multi_select,
    "like_dislike": build_like_dislike,
    "feedbackTemplate": build_feedback,
    "form_template": build_form_template,
    "listView": build_list_view,
    "advancedListTemplate": build_advanced_list,
    "cardTemplate": build_card,
    "tableList": build_table_list,
    "dateTemplate": build_date,
    "daterange": build_daterange,
    "clockTemplate": build_clock,
    "radioOptionTemplate": build_radio_options,
    "live_agent": build_live_agent,
    "attachment": build_attachment,
    "iframe": build_form_link,
}
# Only a typing indicator: nothing to show in the transcript.
SILENT_TYPES = frozenset({"wait_for_response"})


def template_plain_text(payload: Context) -> str:
    """The payload's own words for the `text` fallback (screen readers, notifications)."""
    if "formData" in payload and text(payload.get("template_type")) == "iframe":
        return form_link_title(payload)
    for key in ("text_message", "text", "heading", "title", "description"):
        value = payload.get(key)
        # Kore's samples put the literal "display" in `text` of picker templates.
        if isinstance(value, str) and value.strip() and value != "display":
            return plain_text(value)
    titles = [
        text(entry.get("title"), 100)
        for key in ("elements", "cards", "listItems", "radioOptions", "quick_replies")
        for entry in items(payload.get(key), 5)
    ]
    titles += [
        text(mapping(card.get("cardHeading")).get("title"), 100)
        for card in items(payload.get("cards"), 5)
    ]
    return ", ".join(t for t in titles if t)


def unsupported_html(payload: Context, template_type: str) -> tuple[str, str]:
    words = template_plain_text(payload)
    if words:
        html = render_to_string(
            "webclient/render/text.html", {"text": fmt(payload.get("text") or words)}
        )
        return words, html
    label = f"“{template_type[:60]}”" if template_type else "unknown"
    fallback = f"This message ({label} content) can't be displayed here."
    return fallback, f'<p class="kc-text kc-unsupported">{escape(fallback)}</p>'


def render_template(payload: Context) -> tuple[str, str, str]:
    """(kind, plain text, html) for one template payload."""
    template_type = text(payload.get("template_type"), 100)
    if template_type in SILENT_TYPES:
        return "event", "", ""
    build = BUILDERS.get(template_type)
    if build is None:
        words, html = unsupported_html(payload, template_type)
        return "template", words, html
    context = build(payload)
    html = render_to_string(f"webclient/render/{template_type}.html", context)
    return "template", template_plain_text(payload) or template_type, html
