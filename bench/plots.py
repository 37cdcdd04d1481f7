"""Plots for docs/performance.md from the JSON the benchmarks wrote in bench/results/.

Usage: .venv/bin/python bench/plots.py [--results bench/results] [--docs docs]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parent.parent


def load(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def cdf(ax: Any, samples: list[float], label: str) -> None:
    ordered = sorted(s * 1000 for s in samples)
    ax.plot(ordered, [(n + 1) / len(ordered) for n in range(len(ordered))], label=label)


def latency_cdf(latency: dict[str, Any], out: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.6))
    cdf(ax, latency["long_poll_samples"], "long-poll (this project)")
    cdf(ax, latency["websocket_samples"], "WebSocket (Django Channels)")
    ax.set_xscale("log")
    ax.set_xlabel("stored → in the client's hands (ms, log scale)")
    ax.set_ylabel("fraction of messages")
    ax.axvline(3, color="grey", linestyle=":", linewidth=1)
    ax.axvline(10, color="grey", linestyle=":", linewidth=1)
    ax.set_title("Delivery latency, same server, same run")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def healthz_during_burst(runs: dict[str, dict[str, Any]], out: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for label, held in runs.items():
        rows = held["healthz_burst"]
        ax.plot([r[0] for r in rows], [r[1] * 1000 for r in rows], marker=".", label=label)
    ax.axhline(200, color="red", linestyle=":", linewidth=1, label="target 200 ms")
    ax.set_yscale("log")
    ax.set_xlabel("seconds since the burst of 10,000 polls began")
    ax.set_ylabel("/healthz answer time (ms, log)")
    ax.set_title("A health check during the burst")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def throughput(runs: list[dict[str, Any]], out: Path) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    for run in runs:
        levels = run["levels"]
        x = [level["conversations"] for level in levels]
        label = run.get("label") or run["database"]
        left.plot(x, [level["per_second"] for level in levels], marker="o", label=label)
        right.plot(x, [level["round_trip"]["p50"] for level in levels], marker="o", label=label)
    left.set_xscale("log")
    left.set_ylim(bottom=0)
    left.set_xlabel("concurrent conversations")
    left.set_ylabel("messages answered per second")
    left.set_title("Throughput, end to end")
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("concurrent conversations")
    right.set_ylabel("round trip p50 (ms, log)")
    right.set_title("Send → bot's answer delivered")
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def memory(found: dict[str, Any], out: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, label in (("polls", "held long-polls"), ("connections", "idle connections")):
        rows = found[name]
        ax.plot([r["held"] for r in rows], [r["rss_mb"] for r in rows], marker="o", label=label)
    ax.set_xlabel("open at once, on one worker")
    ax.set_ylabel("server memory, RSS (MB)")
    ax.set_title("Memory against held polls")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(results: Path, docs: Path) -> None:
    latency = load(results / "longpoll.json")
    if latency and "latency" in latency:
        latency_cdf(latency["latency"], docs / "perf-latency-cdf.png")
    held = {
        label: data["held"]
        for label, data in (
            ("before (main)", load(results / "before" / "longpoll.json")),
            ("after", load(results / "longpoll.json")),
        )
        if data and "held" in data
    }
    if held:
        healthz_during_burst(held, docs / "perf-healthz-burst.png")
    found = load(results / "memory.json")
    if found:
        memory(found, docs / "perf-memory.png")
    runs = [load(p) for p in sorted(results.glob("throughput-*.json"))]
    for run in runs:
        run["label"] = f"{run['label']} (after)"
    runs += [load(p) for p in sorted((results / "before").glob("throughput-*.json"))]
    if runs:
        throughput(runs, docs / "perf-throughput.png")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--results", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--docs", default=str(ROOT / "docs"))
    arguments = parser.parse_args()
    main(Path(arguments.results), Path(arguments.docs))
