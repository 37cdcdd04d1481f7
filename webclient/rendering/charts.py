"""Pie, bar and line charts drawn on the server as inline SVG geometry, plus their data table.

No chart library reaches the browser: the partials draw the shapes computed here, and the
same numbers go into a table that is the text alternative. Colours come from a fixed
palette (bot-supplied colours never reach an attribute).
"""

from __future__ import annotations

import math
from typing import Any
from uuid import uuid4

from webclient.rendering.coerce import items, mapping, number, text, values

PALETTE = ("#2563eb", "#f97316", "#16a34a", "#db2777", "#7c3aed", "#0891b2", "#ca8a04", "#64748b")
WIDTH = 320
HEIGHT = 200
PAD_LEFT = 44
# Horizontal bars: category names on the left, the last value label centred on the right edge.
PAD_LEFT_HORIZONTAL = 96
PAD_RIGHT_HORIZONTAL = 22
PAD_RIGHT = 12
PAD_TOP = 12
PAD_BOTTOM = 36
MAX_POINTS = 50
# Beyond this a chart is meaningless and sums could overflow to infinity.
MAX_MAGNITUDE = 1e15


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def _label(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"


def _amount(value: Any) -> float | None:
    result = number(value)
    return result if result is not None and abs(result) < MAX_MAGNITUDE else None


def _color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _base(payload: dict[str, Any], kind: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "uid": uuid4().hex[:10],
        "title": text(payload.get("text")) or text(payload.get("title")) or f"{kind.title()} chart",
        "width": WIDTH,
        "height": HEIGHT,
    }


def pie_chart(payload: dict[str, Any]) -> dict[str, Any]:
    chart = _base(payload, "pie")
    entries = []
    for element in items(payload.get("elements"), MAX_POINTS):
        value = _amount(element.get("value"))
        if value is None or value < 0:
            continue
        title = text(element.get("title"), 200)
        shown = text(element.get("displayValue"), 200) or _label(value)
        entries.append((title, value, shown))
    total = sum(value for _, value, _ in entries)
    cx, cy, radius = HEIGHT / 2, HEIGHT / 2, HEIGHT / 2 - 8
    slices, rows = [], []
    angle = -math.pi / 2
    for index, (title, value, shown) in enumerate(entries):
        share = value / total if total else 0.0
        end = angle + share * 2 * math.pi
        if share >= 0.9999:
            path = (
                f"M{_fmt(cx - radius)} {_fmt(cy)}"
                f"a{_fmt(radius)} {_fmt(radius)} 0 1 0 {_fmt(2 * radius)} 0"
                f"a{_fmt(radius)} {_fmt(radius)} 0 1 0 {_fmt(-2 * radius)} 0Z"
            )
        else:
            x1, y1 = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
            x2, y2 = cx + radius * math.cos(end), cy + radius * math.sin(end)
            large = 1 if share > 0.5 else 0
            path = (
                f"M{_fmt(cx)} {_fmt(cy)}L{_fmt(x1)} {_fmt(y1)}"
                f"A{_fmt(radius)} {_fmt(radius)} 0 {large} 1 {_fmt(x2)} {_fmt(y2)}Z"
            )
        percent = f"{share * 100:.0f}%"
        if share > 0:
            slices.append({"path": path, "color": _color(index), "label": f"{title}: {shown}"})
        rows.append({"color": _color(index), "cells": [title, shown, percent]})
        angle = end
    donut = text(payload.get("pie_type")).lower().startswith("donut")
    chart.update(
        slices=slices,
        donut={"cx": _fmt(cx), "cy": _fmt(cy), "r": _fmt(radius * 0.55)} if donut else None,
        head=["Item", "Value", "Share"],
        rows=rows,
        summary=", ".join(f"{r['cells'][0]} {r['cells'][2]}" for r in rows),
    )
    return chart


def _series(payload: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """Category labels and series (title, numbers, shown values), cut to a drawable size."""
    categories = [text(label, 100) for label in values(payload.get("X_axis"), MAX_POINTS)]
    series = []
    for index, element in enumerate(items(payload.get("elements"), len(PALETTE))):
        numbers = [_amount(v) for v in values(element.get("values"), MAX_POINTS)]
        shown = [text(v, 100) for v in values(element.get("displayValues"), MAX_POINTS)]
        series.append(
            {
                "title": text(element.get("title"), 200) or f"Series {index + 1}",
                "numbers": numbers,
                "shown": [
                    (
                        shown[i]
                        if i < len(shown) and shown[i]
                        else (_label(n) if n is not None else "")
                    )
                    for i, n in enumerate(numbers)
                ],
                "color": _color(index),
            }
        )
    width = max([len(categories)] + [len(s["numbers"]) for s in series] + [0])
    categories += [""] * (width - len(categories))
    return categories, series


def _table(categories: list[str], series: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "head": ["Series", *categories],
        "rows": [
            {
                "color": s["color"],
                "cells": [s["title"], *s["shown"], *[""] * (len(categories) - len(s["shown"]))],
            }
            for s in series
        ],
    }


def _scale(low: float, high: float) -> tuple[float, float, list[float]]:
    """A rounded value range and 5 evenly spaced tick values covering low..high."""
    low, high = min(low, 0.0), max(high, 0.0)
    if high == low:
        high = low + 1
    step = (high - low) / 4
    magnitude = 10 ** math.floor(math.log10(step))
    step = math.ceil(step / magnitude) * magnitude
    low = math.floor(low / step) * step
    ticks = [low + step * i for i in range(5)]
    return low, ticks[-1], ticks


def _frame(horizontal: bool) -> tuple[float, float, float, float]:
    """The plot area (left, top, width, height); horizontal bars need room for category
    names on the left."""
    left, right = (
        (PAD_LEFT_HORIZONTAL, PAD_RIGHT_HORIZONTAL) if horizontal else (PAD_LEFT, PAD_RIGHT)
    )
    return left, PAD_TOP, WIDTH - left - right, HEIGHT - PAD_TOP - PAD_BOTTOM


def _axes(
    categories: list[str], low: float, high: float, ticks: list[float], horizontal: bool = False
) -> dict[str, Any]:
    """Grid lines and labels: values up the side (or along the bottom when horizontal)."""
    left, top, plot_w, plot_h = _frame(horizontal)
    slot = (plot_h if horizontal else plot_w) / max(len(categories), 1)
    grid, labels = [], []
    for t in ticks:
        share = (t - low) / (high - low)
        if horizontal:
            x = _fmt(left + share * plot_w)
            grid.append({"x1": x, "x2": x, "y1": top, "y2": top + plot_h})
            labels.append({"x": x, "y": top + plot_h + 14, "anchor": "middle", "text": _label(t)})
        else:
            y = _fmt(top + plot_h - share * plot_h)
            grid.append({"x1": left, "x2": left + plot_w, "y1": y, "y2": y})
            labels.append({"x": left - 6, "y": y, "anchor": "end", "text": _label(t)})
    for i, name in enumerate(categories):
        middle = slot * (i + 0.5)
        if horizontal:
            labels.append(
                {"x": left - 6, "y": _fmt(top + middle), "anchor": "end", "text": name[:14]}
            )
        else:
            labels.append(
                {
                    "x": _fmt(left + middle),
                    "y": top + plot_h + 16,
                    "anchor": "middle",
                    "text": name[:14],
                }
            )
    return {"grid": grid, "axis_labels": labels}


def _y(value: float, low: float, high: float) -> float:
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    return PAD_TOP + plot_h - (value - low) / (high - low) * plot_h


def _bar(
    band: tuple[float, float],
    values: tuple[float, float],
    scale: tuple[float, float],
    horizontal: bool,
) -> dict[str, str]:
    """One bar from its place on the category axis (start, size as shares of the axis) and
    its value range, drawn upwards or, when horizontal, rightwards."""
    left, top, plot_w, plot_h = _frame(horizontal)
    (start, size), (bottom, tip), (low, high) = band, values, scale
    value_axis = plot_w if horizontal else plot_h
    near = (bottom - low) / (high - low) * value_axis
    far = (tip - low) / (high - low) * value_axis
    length = max(far - near, 0.5)
    if horizontal:
        box = (left + near, top + start * plot_h, length, size * plot_h)
    else:
        box = (left + start * plot_w, top + plot_h - far, size * plot_w, length)
    x, y, w, h = box
    if horizontal:
        h = max(h - 1, 1)
    else:
        w = max(w - 1, 1)
    return {"x": _fmt(x), "y": _fmt(y), "w": _fmt(w), "h": _fmt(h)}


def bar_chart(payload: dict[str, Any]) -> dict[str, Any]:
    chart = _base(payload, "bar")
    categories, series = _series(payload)
    horizontal = text(payload.get("direction")).lower() == "horizontal"
    stacked = payload.get("stacked") is True or text(payload.get("stacked")).lower() == "true"
    totals = [
        sum(max(s["numbers"][i] or 0, 0) for s in series if i < len(s["numbers"]))
        for i in range(len(categories))
    ]
    every = [n for s in series for n in s["numbers"] if n is not None]
    high = max(totals or [0]) if stacked else max(every or [0])
    low, high, ticks = _scale(min(every or [0]), high)
    share = 1 / max(len(categories), 1)
    bars = []
    for i in range(len(categories)):
        base = 0.0
        for j, s in enumerate(series):
            value = s["numbers"][i] if i < len(s["numbers"]) else None
            if value is None:
                continue
            if stacked:
                bottom, top = base, base + max(value, 0)
                base = top
                band = (share * (i + 0.15), share * 0.7)
            else:
                bottom, top = min(value, 0), max(value, 0)
                size = share * 0.8 / max(len(series), 1)
                band = (share * (i + 0.1) + size * j, size)
            bar = _bar(band, (bottom, top), (low, high), horizontal)
            bar.update(color=s["color"], label=f"{s['title']}, {categories[i]}: {s['shown'][i]}")
            bars.append(bar)
    chart.update(bars=bars, legend=series, **_axes(categories, low, high, ticks, horizontal))
    chart.update(_table(categories, series))
    chart["summary"] = ", ".join(s["title"] for s in series)
    chart["orientation"] = "Horizontal bar" if horizontal else "Bar"
    return chart


def line_chart(payload: dict[str, Any]) -> dict[str, Any]:
    chart = _base(payload, "line")
    categories, series = _series(payload)
    every = [n for s in series for n in s["numbers"] if n is not None]
    low, high, ticks = _scale(min(every or [0]), max(every or [0]))
    slot = (WIDTH - PAD_LEFT - PAD_RIGHT) / max(len(categories), 1)
    lines = []
    for s in series:
        points = [
            {
                "x": _fmt(PAD_LEFT + slot * (i + 0.5)),
                "y": _fmt(_y(n, low, high)),
                "label": f"{s['title']}, {categories[i]}: {s['shown'][i]}",
            }
            for i, n in enumerate(s["numbers"])
            if n is not None
        ]
        lines.append(
            {
                "color": s["color"],
                "points": points,
                "polyline": " ".join(f"{p['x']},{p['y']}" for p in points),
            }
        )
    chart.update(lines=lines, legend=series, **_axes(categories, low, high, ticks))
    chart.update(_table(categories, series))
    chart["summary"] = ", ".join(s["title"] for s in series)
    return chart


def chart_context(template_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    build = {"piechart": pie_chart, "barchart": bar_chart, "linechart": line_chart}[template_type]
    return build(mapping(payload))
