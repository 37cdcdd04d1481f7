"""axe-core in Chromium: no serious or critical accessibility violation in the widget, in
light, dark and right to left: the chat page, a conversation showing every template and the
open form, and the panel embedded on another site."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.widget import fill_and_submit_the_demo_form, open_host
from tests.liveserver import LiveServer

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent.parent / "a11y" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        if os.getenv("CI") == "true":
            pytest.fail("axe-core is missing: under CI=true the accessibility tests must run")
        pytest.skip("axe-core is missing (make test installs it with npm)")
    return AXE.read_text()


@pytest.fixture(scope="module")
def unlimited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server without rate limits: one user sends every template in a row."""
    server = LiveServer(
        tmp_path_factory.mktemp("a11y") / "db.sqlite3", {"RATELIMIT_ENABLED": "false"}
    )
    server.migrate()
    server.start()
    yield server.url
    server.stop(kill=True)


def serious_violations(frame: Any, axe_source: str) -> list[str]:
    frame.evaluate(axe_source)
    found = frame.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations
                .filter(v => v.impact === "serious" || v.impact === "critical")
                .map(v => v.id + ": " + v.nodes.slice(0, 3).map(n => n.target.join(" ")));
        }"""
    )
    return list(found)


def every_template_and_the_form(page: Any) -> None:
    names = page.evaluate(
        """() => new Promise(resolve => {
            document.addEventListener("kore-chat:message", e => {
                const text = e.detail.message.text || "";
                if (text.startsWith("Templates I can show:")) {
                    resolve(text.split(": ")[1].split(". ")[0].split(", "));
                }
            });
            KoreChat.send({text: "show all"});
        })"""
    )
    assert len(names) > 30
    for name in names:
        page.evaluate("name => KoreChat.send({text: 'show ' + name})", name)
    page.evaluate("() => KoreChat.send({text: 'form'})")
    page.locator("form[data-kc-form]").last.wait_for(timeout=60_000)
    page.locator("[data-kc-typing]").wait_for(state="hidden", timeout=60_000)


def test_the_chat_page_with_every_template_and_the_open_form_passes_axe(
    browser: Any, unlimited_server: str, axe_source: str
) -> None:
    context = browser.new_context(viewport={"width": 480, "height": 900})
    page = context.new_page()
    page.goto(unlimited_server + "/")
    page.locator(".kc-role-bot").first.wait_for(timeout=10_000)
    every_template_and_the_form(page)
    found: dict[str, list[str]] = {}
    for lang in ("en", "ar"):
        page.goto(f"{unlimited_server}/?lang={lang}")
        page.locator("form[data-kc-form]").last.wait_for(timeout=10_000)
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            found[f"{lang} {scheme}"] = serious_violations(page, axe_source)
    assert found == {"en light": [], "en dark": [], "ar light": [], "ar dark": []}
    context.close()


def test_the_embedded_panel_passes_axe_in_light_dark_and_right_to_left(
    browser: Any, unlimited_server: str, host_origin: str, axe_source: str
) -> None:
    found: dict[str, list[str]] = {}
    for lang in ("en", "ar"):
        for scheme in ("light", "dark"):
            context = browser.new_context(color_scheme=scheme)
            page = open_host(context, host_origin, unlimited_server, lang=lang)
            page.locator("button[aria-controls='kore-chat-frame']").click()
            page.frame_locator("iframe").locator(".kc-role-bot").first.wait_for(timeout=10_000)
            frame = next(f for f in page.frames if f.url.startswith(unlimited_server))
            found[f"{lang} {scheme} host"] = serious_violations(page, axe_source)
            found[f"{lang} {scheme} panel"] = serious_violations(frame, axe_source)
            context.close()
    assert all(not problems for problems in found.values()), found


def test_a_submitted_forms_summary_on_the_brand_colour_passes_axe(
    browser: Any, unlimited_server: str, axe_source: str
) -> None:
    found: dict[str, list[str]] = {}
    for scheme in ("light", "dark"):
        context = browser.new_context(color_scheme=scheme)
        page = context.new_page()
        page.goto(unlimited_server + "/")
        page.locator(".kc-role-bot").first.wait_for(timeout=10_000)
        page.evaluate("() => KoreChat.send({text: 'form'})")
        fill_and_submit_the_demo_form(page)
        found[scheme] = serious_violations(page, axe_source)
        context.close()
    assert found == {"light": [], "dark": []}
