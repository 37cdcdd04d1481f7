"""The widget in a real browser (docs/performance.md), in headless Chromium.

5. Idle widget cost: requests per minute an open, idle widget makes, counted over a window
   (default 120 s) with one tab, then with three tabs of the same widget. Baseline: 60 a
   minute for polling once a second (Kore's Web SDK in webhook mode). Formula, for a
   shorter window: 60 / (wait + round trip) per poller, wait being the widget's ?wait=.
6. Page weight: the JavaScript and CSS each page loads, gzipped (level 9, as whitenoise
   stores them): the widget's chat page against kore-web-sdk's bundle page (tests/sdk,
   after `npm ci --prefix tests/sdk --no-audit --no-fund`).

Usage: .venv/bin/python bench/widget_bench.py [--seconds 120] [--tabs 3]
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, check, save, server
from tests.browser import CHROMIUM_ARGS, chromium_path

SDK_DIR = ROOT / "tests" / "sdk"
SDK_BUNDLE = SDK_DIR / "node_modules" / "kore-web-sdk" / "dist" / "umd"


def gz(data: bytes) -> int:
    return len(gzip.compress(data, 9))


def page_weight(browser: Any, url: str, route: Any = None) -> dict[str, Any]:
    """JS and CSS the page loads: bytes and gzipped bytes, per file."""
    page = browser.new_page()
    if route is not None:
        page.route("**/*", route)
    files: dict[str, dict[str, int]] = {}

    def seen(response: Any) -> None:
        kind = response.request.resource_type
        if kind in ("script", "stylesheet") and response.ok:
            body = response.body()
            files[response.url.rsplit("/", 1)[-1]] = {"bytes": len(body), "gzip": gz(body)}

    page.on("response", seen)
    page.goto(url)
    page.wait_for_load_state("load")
    page.wait_for_timeout(2000)  # what the page loads later (never idle: it long-polls)
    page.close()
    return {
        "files": files,
        "bytes": sum(f["bytes"] for f in files.values()),
        "gzip": sum(f["gzip"] for f in files.values()),
    }


def sdk_route(base: str) -> Any:
    """Serve tests/sdk's page and Kore's bundle (and what it loads) on the server's origin."""

    def route(route: Any) -> None:
        url = route.request.url
        if not url.startswith(f"{base}/sdk/"):
            route.continue_()
            return
        name = url.split("/sdk/", 1)[1].split("?")[0] or "index.html"
        for folder in (SDK_DIR, SDK_BUNDLE):
            path = folder / name
            if path.is_file():
                kind = "text/html" if name.endswith(".html") else "text/javascript"
                kind = "text/css" if name.endswith(".css") else kind
                route.fulfill(status=200, body=path.read_bytes(), content_type=kind)
                return
        route.fulfill(status=404, body=b"")

    return route


def idle_requests(browser: Any, url: str, tabs: int, seconds: float) -> dict[str, Any]:
    """Requests to the message API per minute and per open widget, once the widget is idle.

    Two readings of the same window: requests counted in it (coarse: a poll lasts ~25 s), and
    60 / the mean interval between one tab's consecutive requests, summed over the tabs.
    """
    context = browser.new_context()
    polls: list[tuple[int, float, str]] = []
    pages = []
    for tab in range(tabs):
        page = context.new_page()
        page.on(
            "request",
            lambda request, tab=tab: (
                polls.append((tab, time.monotonic(), request.url))
                if "/api/v1/" in request.url
                else None
            ),
        )
        page.goto(url)
        page.wait_for_selector(".kc-role-bot", timeout=30_000)  # the welcome: settled
        pages.append(page)
    pages[0].wait_for_timeout(3000)
    start = time.monotonic()
    pages[0].wait_for_timeout(seconds * 1000)
    end = time.monotonic()
    check(bool(pages[0].query_selector(".kc-role-bot")), "the widget did not load")
    context.close()
    counted = [(tab, at, u) for tab, at, u in polls if start <= at <= end]
    rate = 0.0
    for tab in range(tabs):
        times = [at for t, at, _ in polls if t == tab and start - 3 <= at <= end]
        intervals = [b - a for a, b in itertools.pairwise(times)]
        rate += 60 / (sum(intervals) / len(intervals)) if intervals else 0.0
    per_minute = len(counted) / seconds * 60
    return {
        "tabs": tabs,
        "seconds": seconds,
        "requests": len(counted),
        "per_minute": per_minute,
        "per_minute_per_widget": per_minute / tabs,
        "per_minute_per_widget_from_intervals": rate / tabs,
        "urls": sorted({u.split("?")[0] for _, _, u in counted}),
    }


def main(seconds: float, tab_counts: list[int]) -> dict[str, Any]:
    path = chromium_path()
    check(path is not None, "Chromium is missing (scripts/ensure-chromium)")
    check(SDK_BUNDLE.is_dir(), "kore-web-sdk is missing: npm ci --prefix tests/sdk")
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory() as tmp,
        server(Path(tmp) / "widget.sqlite3") as srv,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        widget = page_weight(browser, f"{srv.url}/?bot=demo")
        sdk = page_weight(browser, f"{srv.url}/sdk/index.html", sdk_route(srv.url))
        idle = [idle_requests(browser, f"{srv.url}/?bot=demo", n, seconds) for n in tab_counts]
        browser.close()
    return {"page_weight": {"widget": widget, "kore_web_sdk": sdk}, "idle": idle}


def report(found: dict[str, Any]) -> None:
    widget, sdk = found["page_weight"]["widget"], found["page_weight"]["kore_web_sdk"]
    print("Goal 5: idle widget, requests per minute per open widget (target <= 2.5; 60 at 1 s)")
    for row in found["idle"]:
        print(
            f"  {row['tabs']} tab(s): {row['per_minute_per_widget']:.2f} per minute per widget, "
            f"{row['per_minute_per_widget_from_intervals']:.2f} from the intervals "
            f"({row['requests']} requests in {row['seconds']:.0f} s; "
            f"x{60 / max(row['per_minute_per_widget'], 0.01):.0f} fewer than 1 s polling)"
        )
    print("Goal 6: page weight, gzipped JS + CSS")
    print(f"  widget:        {widget['gzip'] / 1024:7.1f} KB ({widget['bytes'] / 1024:.1f} KB raw)")
    print(f"  kore-web-sdk:  {sdk['gzip'] / 1024:7.1f} KB ({sdk['bytes'] / 1024:.1f} KB raw)")
    print(f"  ratio: the SDK is x{sdk['gzip'] / widget['gzip']:.0f} the widget")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--tabs", default="1,3")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "widget.json"))
    arguments = parser.parse_args()
    found = main(arguments.seconds, [int(n) for n in arguments.tabs.split(",")])
    save(found, arguments.out)
    report(found)
