"""Draw the README benchmark figure from a benchmark run's JSON result.

Usage::

    python bench/bench_resample.py --cases a,b,mni --json docs/benchmarks.json
    python scripts/plot_benchmarks.py docs/benchmarks.json docs/benchmarks.png

One group of horizontal bars per case (the ``case`` of each row), one bar per
method, wall seconds on a log axis; each peer's bar is labelled with how many
times niresample's time it took.  The machine and date of the run are in the title.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

COLOURS = {"niresample": "#1b7837"}
PEER_COLOURS = ["#2166ac", "#b2182b", "#8c6bb1", "#e08214", "#666666"]


def _cases(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """``{case: {method: seconds}}`` in the order the rows came."""
    out: dict[str, dict[str, float]] = {}
    for row in rows:
        out.setdefault(str(row["case"]), {})[str(row["method"])] = float(row["seconds"])
    return out


def plot(result: dict[str, Any], path: Path) -> Path:
    """Write the figure of ``result`` (the JSON of ``bench_resample.py --json``) to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = _cases(result["rows"])
    methods: list[str] = []
    for times in cases.values():
        methods += [m for m in times if m not in methods]
    methods.sort(key=lambda m: m != "niresample")
    colours = dict(COLOURS)
    for i, m in enumerate(m for m in methods if m not in colours):
        colours[m] = PEER_COLOURS[i % len(PEER_COLOURS)]

    n_bars = sum(len(times) for times in cases.values())
    fig, ax = plt.subplots(figsize=(10, 1.4 + 0.28 * n_bars + 0.25 * len(cases)))
    longest = max(t for times in cases.values() for t in times.values())
    labelled: set[str] = set()
    for ci, times in enumerate(cases.values()):
        ours = times.get("niresample")
        present = [m for m in methods if m in times]
        bar = 0.8 / len(present)
        for mi, method in enumerate(present):
            y = ci - 0.4 + bar * (mi + 0.5)
            t = times[method]
            ax.barh(y, t, height=bar * 0.9, color=colours[method],
                    label=None if method in labelled else method)
            labelled.add(method)
            note = f"{t:.2f} s"
            if ours and method != "niresample":
                note += f"  ({t / ours:.1f}x niresample)"
            ax.text(t * 1.05, y, note, va="center", fontsize=8)
    ax.set_xscale("log")
    shortest = min(t for times in cases.values() for t in times.values())
    ax.set_xlim(shortest * 0.5, longest * 6)
    ax.set_yticks(range(len(cases)))
    ax.set_yticklabels([c.replace(", ", ",\n", 1) for c in cases], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("wall time, seconds (log scale; shorter is faster)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    ax.set_title(f"niresample vs peers, same input and output grid\n{result.get('machine', '?')}, "
                 f"{result.get('date', '?')}", fontsize=10)
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("result", nargs="?", default="docs/benchmarks.json")
    p.add_argument("output", nargs="?", default="docs/benchmarks.png")
    args = p.parse_args()
    result = json.loads(Path(args.result).read_text())
    print(plot(result, Path(args.output)))


if __name__ == "__main__":
    main()
