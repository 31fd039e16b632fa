"""matplotlib figures of :mod:`.report` (imported only when drawing).

Colours read in print and for colour-blind readers: grey for anatomy, a
diverging map (``RdBu_r``) for signed differences, the Okabe-Ito palette for
categories, and a per-id hash colour for labels (:func:`._report_types.label_color`).
Figures are plain :class:`matplotlib.figure.Figure` objects on the Agg canvas:
no pyplot, no global state.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from ._report_types import FovView, SlicePlane, label_color, voxel_axis

# Okabe-Ito: distinguishable with every common colour-vision deficiency.
ORANGE, SKY, GREEN, YELLOW, BLUE, VERMILLION, PURPLE = (
    "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")
OUTSIDE = "#a8a8a8"  # with a hatch on top: never read as anatomy or as zero difference
#: Categories of the label difference panel, in colour-bar order.
LABEL_CHANGES = (("both 0", "#000000"), ("same", "#6e6e6e"), ("changed", YELLOW),
                 ("lost in b", VERMILLION), ("new in b", SKY), ("lost → new", PURPLE),
                 ("outside b", OUTSIDE))
_PANEL_IN = 2.55  # panel width, inches


def _figure(width: float, height: float, dpi: int) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig: Any, dpi: int) -> bytes:
    """The figure as PNG bytes, at exactly its own layout (no tight cropping)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def _rgb_labels(plane: np.ndarray, inside: np.ndarray | None = None) -> np.ndarray:
    ids, inv = np.unique(plane, return_inverse=True)
    lut = np.array([label_color(int(i)) for i in ids], dtype=np.float64)
    rgb = lut[inv.reshape(plane.shape)]
    if inside is not None:
        rgb[~inside] = _hex(OUTSIDE)
    return rgb


def _hex(colour: str) -> tuple[float, float, float]:
    c = colour.lstrip("#")
    return (int(c[0:2], 16) / 255, int(c[2:4], 16) / 255, int(c[4:6], 16) / 255)


def _extent(p: SlicePlane) -> tuple[float, float, float, float]:
    rows, cols = p.a.shape
    return (0.0, cols * p.pixel_mm[1], 0.0, rows * p.pixel_mm[0])


def _letters(ax: Any, letters: dict[str, str]) -> None:
    # Outside the image: a letter must never hide anatomy.
    style = {"color": "#202020", "fontsize": 9, "fontweight": "bold", "transform": ax.transAxes}
    ax.text(-0.015, 0.5, letters["left"], ha="right", va="center", **style)
    ax.text(1.015, 0.5, letters["right"], ha="left", va="center", **style)
    ax.text(0.5, 1.01, letters["top"], ha="center", va="bottom", **style)
    ax.text(0.5, -0.01, letters["bottom"], ha="center", va="top", **style)


def _window(planes: list[SlicePlane]) -> tuple[float, float]:
    vals = np.concatenate([p.a.ravel().astype(np.float64) for p in planes])
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(vals, [0.5, 99.5]))
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def _edges(p: SlicePlane) -> np.ndarray:
    """B's label boundaries, or where its gradient magnitude is in the top 15%."""
    b = p.b
    if p.labels:
        e = np.zeros(b.shape, dtype=bool)
        e[:-1, :] |= b[:-1, :] != b[1:, :]
        e[:, :-1] |= b[:, :-1] != b[:, 1:]
        return e & p.b_inside
    if min(b.shape) < 2:
        return np.zeros(b.shape, dtype=bool)
    gy, gx = np.gradient(b.astype(np.float64), *p.pixel_mm)
    mag = np.hypot(gx, gy)
    vals = mag[p.b_inside]
    if vals.size == 0 or not np.any(vals > 0):
        return np.zeros(b.shape, dtype=bool)
    return (mag > max(float(np.percentile(vals, 85)), 1e-12)) & p.b_inside


def _label_changes(p: SlicePlane, lost: set[int], new: set[int]) -> np.ndarray:
    cat = np.where((p.a == 0) & (p.b == 0), 0, np.where(p.a == p.b, 1, 2))
    was_lost = np.isin(p.a, list(lost)) if lost else np.zeros(cat.shape, dtype=bool)
    is_new = np.isin(p.b, list(new)) if new else np.zeros(cat.shape, dtype=bool)
    cat = np.where(was_lost, 3, cat)
    cat = np.where(is_new, np.where(was_lost, 5, 4), cat)
    return np.where(p.b_inside, cat, 6)


def draw_slices(planes: list[SlicePlane], *, report: dict[str, Any] | None,
                dpi: int) -> tuple[Any, dict[str, tuple[int, int, int, int]]]:
    """The 3 x 4 slice figure and each panel's image box in PNG pixels."""
    from matplotlib.colors import ListedColormap

    labels = planes[0].labels
    lab = (report or {}).get("labels") or {}
    lost, new = set(lab.get("lost") or []), set(lab.get("new") or [])
    ratios = [p.a.shape[0] * p.pixel_mm[0] / (p.a.shape[1] * p.pixel_mm[1]) for p in planes]
    heights = [_PANEL_IN * min(max(r, 0.25), 2.5) + 0.4 for r in ratios]
    top_in, bottom_in = 0.75, 0.25
    fig = _figure(4 * _PANEL_IN + 1.6, sum(heights) + top_in + bottom_in, dpi)
    h = fig.get_figheight()
    gs = fig.add_gridspec(3, 4, height_ratios=heights, left=0.07, right=0.93,
                          top=1 - top_in / h, bottom=bottom_in / h, wspace=0.16, hspace=0.2)
    lo, hi = _window(planes)
    titles = ["a", "b on a's voxels (" + ("nearest" if labels else "linear") + ")",
              "b's " + ("label boundaries" if labels else "edges") + " on a",
              "label changes" if labels else "b − a"]
    how = ("neurological: left on the left (sagittal: anterior on the left); b sampled at a's voxel centres; "
           "hatched grey: outside b's field of view")
    fig.suptitle(how, fontsize=9, y=1 - 0.12 / h, color="#333333")
    grey = _cmap("gray", OUTSIDE)
    diff_map = _cmap("RdBu_r", OUTSIDE)
    cats = ListedColormap([c for _, c in LABEL_CHANGES])
    axes: dict[str, Any] = {}
    for row, p in enumerate(planes):
        ext = _extent(p)
        common = {"extent": ext, "interpolation": "nearest", "origin": "upper"}
        b_masked = np.where(p.b_inside, p.b.astype(np.float64), np.nan)
        for col, name in enumerate(("a", "b", "edges", "diff")):
            ax = fig.add_subplot(gs[row, col])
            axes[f"{p.view}/{name}"] = ax
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(titles[col], fontsize=10, pad=14)
            if col == 0:
                w = {"sagittal": 0, "coronal": 1, "axial": 2}[p.view]
                ax.set_ylabel(f"{p.view}\n{'xyz'[w]} = {p.center_mm[w]:.1f} mm\n({'ijk'[p.axis]} = {p.index})",
                              fontsize=10, labelpad=12)
            if name == "a":
                ax.imshow(_rgb_labels(p.a) if labels else p.a.astype(np.float64), cmap=grey, vmin=lo,
                          vmax=hi, **common)
            elif name == "b":
                ax.imshow(_rgb_labels(p.b, p.b_inside) if labels else b_masked, cmap=grey, vmin=lo,
                          vmax=hi, **common)
            elif name == "edges":
                ax.imshow(_rgb_labels(p.a) if labels else p.a.astype(np.float64), cmap=grey, vmin=lo,
                          vmax=hi, **common)
                e = _edges(p)
                rgba = np.zeros((*e.shape, 4))
                rgba[e] = (*_hex("#ffffff" if labels else ORANGE), 1.0)
                ax.imshow(rgba, **common)
            else:
                if labels:
                    im = ax.imshow(_label_changes(p, lost, new), cmap=cats, vmin=-0.5,
                                   vmax=len(LABEL_CHANGES) - 0.5, **common)
                    cb = fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02,
                                      ticks=range(len(LABEL_CHANGES)))
                    cb.ax.set_yticklabels([n for n, _ in LABEL_CHANGES], fontsize=7)
                else:
                    d = b_masked - p.a.astype(np.float64)
                    finite = np.abs(d[np.isfinite(d)])
                    lim = float(np.percentile(finite, 99)) if finite.size else 0.0
                    lim = lim if lim > 0 else 1.0
                    im = ax.imshow(d, cmap=diff_map, vmin=-lim, vmax=lim, **common)
                    cb = fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02)
                    cb.ax.tick_params(labelsize=7)
            if name != "a" and not p.b_inside.all():
                ax.contourf(~p.b_inside, levels=[0.5, 1.5], colors="none", hatches=["////"],
                            extent=ext, origin="upper")
            _letters(ax, p.letters)
    fig.canvas.draw()
    height_px = fig.bbox.height
    boxes = {}
    for key, ax in axes.items():
        bb = ax.get_window_extent()
        boxes[key] = (round(bb.x0), round(height_px - bb.y1), round(bb.x1), round(height_px - bb.y0))
    return fig, boxes


def _cmap(name: str, bad: str) -> Any:
    import matplotlib

    return matplotlib.colormaps[name].with_extremes(bad=bad)


def draw_fov(views: list[FovView], report: dict[str, Any], *, dpi: int) -> Any:
    """The FOV boxes of ``a`` and ``b`` to scale in three projections, centre shift arrowed."""
    fov = report["fov"]
    fig = _figure(4 * _PANEL_IN + 1.6, 4.2, dpi)
    shift = np.asarray(fov["center_shift_mm"], dtype=np.float64)
    for k, v in enumerate(views):
        ax = fig.add_subplot(1, 3, k + 1)
        for poly, colour, style, name in ((v.a, BLUE, "-", "a"), (v.b, ORANGE, "--", "b")):
            ax.plot(poly[:, 0], poly[:, 1], style, color=colour, lw=2, label=f"{name} FOV")
        ax.plot(*v.a_center, "+", color=BLUE, ms=10, mew=2)
        ax.plot(*v.b_center, "x", color=ORANGE, ms=8, mew=2)
        pts = np.vstack([v.a, v.b])
        span = float(np.max(pts.max(axis=0) - pts.min(axis=0)))
        d = v.b_center - v.a_center
        if np.hypot(*d) > 1e-9:
            gain = _arrow_gain(float(np.hypot(*d)), span)
            tip = v.a_center + gain * d
            ax.annotate("", xy=tuple(tip), xytext=tuple(v.a_center),
                        arrowprops={"arrowstyle": "->", "color": VERMILLION, "lw": 2})
            if gain > 1:
                ax.text(*tip, f" ×{gain:g}", color=VERMILLION, fontsize=8)
        margin = 0.12 * span
        lo, hi = pts.min(axis=0) - margin, pts.max(axis=0) + margin
        ax.set_xlim(*((hi[0], lo[0]) if v.flip_x else (lo[0], hi[0])))
        ax.set_ylim(lo[1], hi[1])
        ax.set_aspect("equal")
        ax.tick_params(labelsize=7)
        names = "xyz"
        ax.set_xlabel(f"{names[v.axes[0]]} mm ({v.letters['left']} → {v.letters['right']})", fontsize=8)
        ax.set_ylabel(f"{names[v.axes[1]]} mm ({v.letters['bottom']} → {v.letters['top']})", fontsize=8)
        ax.set_title(v.view, fontsize=10)
        if k == 0:
            ax.legend(fontsize=8, loc="upper left", framealpha=0.8)
    codes = report["a"].get("axcodes")
    edges = "   ".join(f"{voxel_axis(e['axis'], codes)}: {e['low_mm']:+.4g} / {e['high_mm']:+.4g}"
                       for e in fov["edges"])
    fig.text(0.5, 0.035, f"FOV centre shift b − a: ({', '.join(f'{s:+.4g}' for s in shift)}) mm, "
             f"length {fov['center_shift']:.4g} mm (arrow, magnified when small)    "
             f"outer edges along a's axes, low / high mm: {edges}", ha="center", fontsize=8)
    fig.subplots_adjust(left=0.06, right=0.98, top=0.9, bottom=0.22, wspace=0.3)
    return fig


def _arrow_gain(length: float, span: float) -> float:
    """A round magnification that makes the arrow at least 12% of the box."""
    want = 0.12 * span / length
    if want <= 1:
        return 1.0
    gain = 1.0
    while gain < want:
        for step in (2.0, 2.5, 2.0):
            gain *= step
            if gain >= want:
                break
    return gain


def draw_labels(lab: dict[str, Any], *, top: int, dpi: int) -> Any:
    """Per-label Dice (lowest first) and volume change, ``top`` labels."""
    rows = sorted(lab["per_label"], key=lambda r: (2.0 if r["dice"] is None else r["dice"], r["label"]))
    shown = rows[:top]
    n = max(len(shown), 1)
    fig = _figure(4 * _PANEL_IN + 1.6, 1.2 + 0.22 * n, dpi)
    y = np.arange(len(shown))
    names = [str(r["label"]) for r in shown]
    lost, new = set(lab.get("lost") or []), set(lab.get("new") or [])
    ax = fig.add_subplot(1, 2, 1)
    dice = [0.0 if r["dice"] is None else r["dice"] for r in shown]
    ax.barh(y, dice, color=[label_color(r["label"]) for r in shown], edgecolor="#333333", lw=0.5)
    for yi, r in zip(y, shown, strict=True):
        tag = " lost" if r["label"] in lost else " new" if r["label"] in new else ""
        text = "—" if r["dice"] is None else f"{r['dice']:.3f}"
        ax.text(1.01, yi, text + tag, va="center", fontsize=7,
                color=VERMILLION if tag else "#222222", transform=ax.get_yaxis_transform())
    ax.set_xlim(0, 1)
    ax.set_yticks(y, names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("Dice (b on a's grid)", fontsize=8)
    more = f", {len(shown)} of {len(rows)}" if len(rows) > len(shown) else ""
    ax.set_title(f"Dice per label, lowest first{more}", fontsize=10)
    ax.tick_params(axis="x", labelsize=7)
    ax2 = fig.add_subplot(1, 2, 2)
    change = [0.0 if r["volume_change"] is None else 100 * r["volume_change"] for r in shown]
    ax2.barh(y, change, color=[VERMILLION if c < 0 else BLUE for c in change])
    ax2.axvline(0, color="#333333", lw=0.8)
    ax2.set_yticks(y, names, fontsize=7)
    ax2.invert_yaxis()
    ax2.set_xlabel("volume change b vs a (%)", fontsize=8)
    ax2.set_title("volume change per label (same labels)", fontsize=10)
    ax2.tick_params(axis="x", labelsize=7)
    fig.subplots_adjust(left=0.06, right=0.98, top=1 - 0.5 / fig.get_figheight(),
                        bottom=0.55 / fig.get_figheight(), wspace=0.25)
    return fig
