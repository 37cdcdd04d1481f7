"""How much rendering a typical bot reply costs, against a baseline measured in the same run.

Run: .venv/bin/python bench/render_bench.py [iterations]
Prints the median (and 95th percentile) microseconds per message for each case, and the
ratio to the baseline: Django's `linebreaks(escape(text))` of the same 3-line text, i.e.
the cheapest rendering that is still safe. The budget is 1 ms for a typical reply.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kore_chat.settings")

import django

django.setup()

from django.utils.html import escape, linebreaks  # noqa: E402

from webclient.examples import demo_form, template_examples  # noqa: E402
from webclient.render import render_bot_item  # noqa: E402

BUDGET_US = 1000.0
FORMATTED_TEXT = (
    "Your balance is *$1,240.50* as of _today_.\n"
    "Pending card payments: ~~$0~~ $42.\n"
    "See [your statement](https://www.example-bank.com/statement) or visit www.example-bank.com."
)
TYPICAL = {"3-line formatted text", "button template", "quick_replies template"}


def measure(work: Callable[[], Any], iterations: int) -> list[float]:
    for _ in range(min(200, iterations)):
        work()  # warm caches (template loader, regexes)
    samples = []
    for _ in range(iterations):
        started = time.perf_counter_ns()
        work()
        samples.append((time.perf_counter_ns() - started) / 1000)
    return samples


def main() -> int:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    examples, form = template_examples(), demo_form()
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("baseline: linebreaks(escape())", lambda: linebreaks(escape(FORMATTED_TEXT))),
        ("3-line formatted text", lambda: render_bot_item(FORMATTED_TEXT)),
        ("button template", lambda: render_bot_item(examples["button"])),
        ("quick_replies template", lambda: render_bot_item(examples["quick_replies"])),
        ("carousel template", lambda: render_bot_item(examples["carousel"])),
        ("barchart template", lambda: render_bot_item(examples["barchart"])),
        ("demo Digital Form", lambda: render_bot_item({"form": form})),
    ]
    baseline = 0.0
    over_budget = []
    print(f"{'case':32} {'median µs':>10} {'p95 µs':>10} {'x baseline':>11}")
    for name, work in cases:
        samples = measure(work, iterations)
        median = statistics.median(samples)
        p95 = statistics.quantiles(samples, n=20)[-1]
        baseline = baseline or median
        print(f"{name:32} {median:10.1f} {p95:10.1f} {median / baseline:11.1f}")
        if name in TYPICAL and median > BUDGET_US:
            over_budget.append(name)
    if over_budget:
        print(f"over the {BUDGET_US:.0f} µs budget: {', '.join(over_budget)}")
        return 1
    print(f"typical replies are within the {BUDGET_US:.0f} µs budget")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
