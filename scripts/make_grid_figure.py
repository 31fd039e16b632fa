"""Draw docs/grid_convention.png: input and output voxels for each --anchor.

    python scripts/make_grid_figure.py [--out docs/grid_convention.png]

The positions come from niresample's own Grid.with_spacing, so the picture
shows what the code does: 6 input voxels of 1 mm resampled to 1.4 mm
(6 * 1 / 1.4 = 4.29, rounded to 4 voxels), along one axis.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

N_IN, S_IN, S_OUT = 6, 1.0, 1.4
ROWS = [
    ("input  (6 × 1 mm)", None),
    ("--anchor center (default)\nFOV centre kept", "center"),
    ("--anchor origin\nfirst voxel centre kept (ITK, scripts)", "origin"),
    ("--anchor corner\nfirst outer edge kept", "corner"),
]


def _positions(anchor: str | None) -> tuple[np.ndarray, float]:
    """Voxel centres (mm, along x) and spacing for a row."""
    from niresample_cli.core.grid import Grid

    grid = Grid((N_IN, 1, 1), np.diag([S_IN, 1.0, 1.0, 1.0]))
    if anchor is not None:
        grid = grid.with_spacing((S_OUT, None, None), anchor=anchor)  # type: ignore[arg-type]
    n = grid.shape[0]
    centres = grid.to_world(np.stack([np.arange(n), np.zeros(n), np.zeros(n)], axis=1))[:, 0]
    return centres, float(grid.spacing[0])


def draw(out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    fig, ax = plt.subplots(figsize=(9, 4.2), dpi=120)
    lo, hi = -0.5 * S_IN, (N_IN - 0.5) * S_IN
    colors = ["#555555", "#1f77b4", "#d62728", "#2ca02c"]
    for row, ((label, anchor), color) in enumerate(zip(ROWS, colors, strict=True)):
        y = -row * 1.2
        centres, s = _positions(anchor)
        for c in centres:
            ax.add_patch(Rectangle((c - s / 2, y - 0.35), s, 0.7, facecolor=color, alpha=0.15,
                                   edgecolor=color, linewidth=1.5))
        ax.plot(centres, np.full_like(centres, y), "o", color=color, markersize=5)
        ax.text(lo - 0.35, y, label, ha="right", va="center", fontsize=9, color=color)
        left, right = centres[0] - s / 2, centres[-1] + s / 2
        if anchor is not None:
            shift_c = (left + right) / 2 - (lo + hi) / 2
            ax.text(hi + 0.35, y, f"edges {left - lo:+.2f} / {right - hi:+.2f} mm\n"
                    f"centre {shift_c:+.2f} mm", va="center", fontsize=8, color=color)
    for x in (lo, hi):
        ax.axvline(x, color="#555555", linestyle="--", linewidth=0.8)
    ax.axvline((lo + hi) / 2, color="#555555", linestyle=":", linewidth=0.8)
    ax.set_xlim(lo - 4.2, hi + 2.6)
    ax.set_ylim(-len(ROWS) * 1.2 + 0.6, 0.8)
    ax.set_yticks([])
    ax.set_xticks(np.arange(-0.5, hi + 0.01, 0.5))
    ax.tick_params(axis="x", labelsize=7)
    ax.spines["bottom"].set_bounds(lo - 0.5, hi + 0.5)
    ax.set_xlabel("world x (mm): boxes are voxels (outer edges), dots their centres; "
                  "dashed: input FOV, dotted: its centre", fontsize=8)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"{N_IN} voxels of {S_IN:g} mm resampled to {S_OUT:g} mm "
                 f"({N_IN * S_IN / S_OUT:.2f} → 4 voxels)", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, metadata={"Software": None})
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "grid_convention.png")
    args = parser.parse_args(argv)
    print(f"wrote {draw(args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
