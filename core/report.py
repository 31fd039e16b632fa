"""See what resampling changed: slice figures and a self-contained HTML report.

:func:`slice_planes` cuts three orthogonal planes through the centre of
``a``'s field of view and samples ``b`` at the same voxel centres of ``a``
(nearest neighbour for labels, trilinear otherwise), reading only the boxes
of ``b`` those points need, slab by slab: only 2D planes are ever in memory.
The planes come back in the neurological display convention (the patient's
left on the viewer's left) whatever the storage order of either file.

:func:`write_png` draws the planes; :func:`write_report` adds the field of
view boxes, per-label Dice and volume charts and the :func:`compare_images`
tables, in one HTML file with its images embedded (no network, no script).
Drawing needs matplotlib (the ``report`` extra), imported only when drawing.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .budget import parse_memory
from .compare import _nearest, compare_images, failed_checks
from .errors import DependencyError, OptionError, OutputError
from .grid import Grid, voxel_map
from .io import SourceImage, open_image

__all__ = ["SlicePlane", "FovView", "slice_planes", "fov_views", "label_color", "write_png",
           "write_report", "VIEWS"]

#: The three views: name, world axis held fixed, world axes shown across and up.
VIEWS: tuple[tuple[str, int, int, int], ...] = (
    ("sagittal", 0, 1, 2), ("coronal", 1, 0, 2), ("axial", 2, 0, 1),
)
_LETTERS = (("L", "R"), ("P", "A"), ("I", "S"))  # (negative, positive) end of x, y, z
_SLAB_CAP = 64 << 20  # larger reads only get slower (see core.compare)
#: With ``labels=None`` and no report: integer images whose planes hold at most
#: this many distinct values are drawn as labels.
_AUTO_LABELS = 256

ImageLike = str | os.PathLike[str] | SourceImage


@dataclass(frozen=True)
class SlicePlane:
    """One plane of ``a`` and ``b`` sampled at the same voxel centres of ``a``.

    Arrays are in display order: row 0 is the top of the picture, column 0
    its left; the letters name the anatomical direction at each side.

    Attributes
    ----------
    view : {'sagittal', 'coronal', 'axial'}
    a : (rows, cols) ndarray
        ``a``'s values (its value dtype).
    b : (rows, cols) ndarray
        ``b`` at the same points: ``b``'s value dtype (nearest) or float64 (linear).
    b_inside : (rows, cols) ndarray of bool
        Points inside ``b``'s field of view (``b`` is 0 elsewhere).
    letters : dict
        ``{'left': 'L', 'right': 'R', 'top': 'S', 'bottom': 'I'}`` and so on.
    pixel_mm : (float, float)
        Height and width of one pixel in mm (``a``'s spacing on those axes).
    axis, index : int
        The voxel axis of ``a`` held fixed and its index.
    center_mm : (3,) tuple of float
        World position of the plane's centre voxel.
    """

    view: str
    a: np.ndarray
    b: np.ndarray
    b_inside: np.ndarray
    letters: dict[str, str]
    pixel_mm: tuple[float, float]
    axis: int
    index: int
    center_mm: tuple[float, float, float]
    labels: bool


@dataclass(frozen=True)
class FovView:
    """The FOV boxes of ``a`` and ``b`` projected on one world plane (mm).

    ``a`` and ``b`` are closed polygons ``(k, 2)`` (x across, y up, in
    world mm of the two shown axes); ``axes`` names them (0=x, 1=y, 2=z).
    """

    view: str
    axes: tuple[int, int]
    a: np.ndarray
    b: np.ndarray
    a_center: np.ndarray
    b_center: np.ndarray
    letters: dict[str, str]


def label_color(label: int) -> tuple[float, float, float]:
    """A colour for ``label``, the same in every report (a hash of the id).

    Parameters
    ----------
    label : int
        Any integer id; 0 (background) is black.

    Returns
    -------
    (3,) tuple of float
        RGB in ``0..1``: a hue from the id's hash at a fixed, readable
        saturation and lightness.
    """
    label = int(label)
    if label == 0:
        return (0.0, 0.0, 0.0)
    h = hashlib.blake2b(str(label).encode(), digest_size=8).digest()
    hue = int.from_bytes(h[:4], "little") / 2**32
    sat = 0.55 + 0.35 * h[4] / 255
    light = 0.45 + 0.2 * h[5] / 255
    return _hls_to_rgb(hue, light, sat)


def _hls_to_rgb(h: float, lum: float, s: float) -> tuple[float, float, float]:
    import colorsys

    r, g, b = colorsys.hls_to_rgb(h, lum, s)
    return (round(r, 6), round(g, 6), round(b, 6))


# --------------------------------------------------------------------------
# planes
# --------------------------------------------------------------------------
@contextlib.contextmanager
def _opened(img: ImageLike) -> Iterator[SourceImage]:
    if isinstance(img, SourceImage):
        yield img
        return
    with open_image(img) as opened:
        yield opened


def _orientation(grid: Grid) -> tuple[list[int], list[int]]:
    """For each world axis, the closest voxel axis of ``grid`` and its sign."""
    import nibabel.orientations as nio

    ornt = nio.io_orientation(grid.affine)
    voxel_of, sign_of = [0, 0, 0], [1, 1, 1]
    for vox, (world, flip) in enumerate(ornt):
        voxel_of[int(world)], sign_of[int(world)] = vox, int(flip)
    return voxel_of, sign_of


def slice_planes(
    a: ImageLike,
    b: ImageLike,
    *,
    labels: bool | None = None,
    center: Sequence[float] | None = None,
    max_memory: str | int | None = None,
) -> list[SlicePlane]:
    """Three orthogonal planes through ``a``'s FOV centre, ``b`` sampled on them.

    Parameters
    ----------
    a, b : str, PathLike or SourceImage
        The reference image and the image compared with it (first volume of
        4D images).
    labels : bool or None
        Sample ``b`` by nearest neighbour (labels) or trilinearly.  ``None``:
        labels when both hold unscaled integers and ``a``'s planes hold at
        most 256 distinct values.
    center : (3,) sequence of float or None
        World point (mm) the planes pass through (the voxel of ``a`` nearest
        to it); default ``a``'s FOV centre.
    max_memory : str or int or None
        Budget for each box read from ``b`` (never above 64 MiB).

    Returns
    -------
    list of SlicePlane
        Sagittal, coronal, axial.  Each holds the voxel plane of ``a`` closest
        to that world plane (index ``n // 2`` of the voxel axis closest to the
        fixed world axis, or nearest to ``center``), displayed neurologically: left on the left and
        anterior on the right (sagittal), superior (or anterior, axial) up.

    Raises
    ------
    OptionError
        For a bad ``labels`` or ``max_memory``.
    InputError, HeaderError
        When either file cannot be read.

    Notes
    -----
    Points of ``a`` are mapped to ``b``'s voxel coordinates with
    ``inv(B) @ A``; those beyond ``b``'s outer voxel edges are outside
    (``b_inside`` False, value 0).  Nearest neighbour rounds half up, as
    :func:`~niresample_cli.core.compare.compare_images`; linear interpolation
    replicates the edge voxels within the half-voxel border.  ``b`` is read
    box by box along its last axis, each box bounded by ``max_memory``.
    """
    if labels not in (None, True, False):
        raise OptionError(f"labels: expected None, True or False, got {labels!r}", param="labels")
    point = _as_point(center)
    budget = min(parse_memory(max_memory), _SLAB_CAP)
    with _opened(a) as img_a, _opened(b) as img_b:
        voxel_of, sign_of = _orientation(img_a.grid)
        shape = np.asarray(img_a.grid.shape)
        mid = shape // 2
        if point is not None:
            ijk = np.linalg.solve(img_a.grid.affine[:3, :3], point - img_a.grid.affine[:3, 3])
            mid = np.clip(_nearest(ijk), 0, shape - 1)
        raw = []
        for view, fixed, _across, _up in VIEWS:
            axis = voxel_of[fixed]
            index = int(mid[axis])
            raw.append((view, axis, index, _read_a_plane(img_a, axis, index, budget)))
        if labels is None:
            labels = img_a.is_integer and img_b.is_integer and len(
                np.unique(np.concatenate([p.ravel() for *_, p in raw]))) <= _AUTO_LABELS
        m = voxel_map(img_b.grid, img_a.grid)
        planes = []
        for (view, _fixed, across, up), (_, axis, index, plane_a) in zip(VIEWS, raw, strict=True):
            coords = _plane_coords(img_a.grid, axis, index, m)
            plane_b, inside = _sample(img_b, coords, nearest=bool(labels), budget=budget)
            p, q = (ax for ax in range(3) if ax != axis)
            # voxel order (p, q) -> display (rows = up axis, cols = across axis)
            order = (p, q)
            disp = [_to_display(x, order, voxel_of[across], sign_of[across], voxel_of[up],
                                sign_of[up]) for x in (plane_a, plane_b, inside)]
            sp = img_a.grid.spacing
            world = img_a.grid.to_world(mid.astype(np.float64))
            planes.append(SlicePlane(
                view=view, a=disp[0], b=disp[1], b_inside=disp[2].astype(bool),
                letters={"left": _LETTERS[across][0], "right": _LETTERS[across][1],
                         "top": _LETTERS[up][1], "bottom": _LETTERS[up][0]},
                pixel_mm=(float(sp[voxel_of[up]]), float(sp[voxel_of[across]])),
                axis=axis, index=index,
                center_mm=(float(world[0]), float(world[1]), float(world[2])),
                labels=bool(labels),
            ))
        return planes


def _as_point(center: object) -> np.ndarray | None:
    if center is None:
        return None
    try:
        point = np.asarray(center, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise OptionError(f"center: expected three numbers (mm), got {center!r}", param="center") from err
    if point.shape != (3,) or not np.all(np.isfinite(point)):
        raise OptionError(f"center: expected three finite numbers (mm), got {center!r}", param="center")
    return point


def _read_a_plane(img: SourceImage, axis: int, index: int, budget: int) -> np.ndarray:
    """Voxel plane ``index`` of ``axis`` in voxel order of the other two axes."""
    nz = img.grid.shape[2]
    if axis == 2:
        return img.read_slab(index, index + 1)[:, :, 0]
    # Read in slabs whose whole slices fit the budget: a proxy may read whole
    # rows or slices underneath before it keeps the one plane.
    slice_bytes = img.grid.shape[0] * img.grid.shape[1] * img.dtype.itemsize
    h = int(max(1, min(nz, budget // max(slice_bytes, 1))))
    one, every = slice(index, index + 1), slice(None)
    xs, ys = (one, every) if axis == 0 else (every, one)
    parts = [img.read_slab(z0, min(nz, z0 + h), x=xs, y=ys) for z0 in range(0, nz, h)]
    block = np.concatenate(parts, axis=2)
    return block[0] if axis == 0 else block[:, 0, :]


def _plane_coords(a: Grid, axis: int, index: int, m: np.ndarray) -> np.ndarray:
    """(3, n_p, n_q) voxel coordinates in ``b`` of the plane's voxel centres."""
    p, q = (ax for ax in range(3) if ax != axis)
    ip = np.arange(a.shape[p], dtype=np.float64)[:, None]
    iq = np.arange(a.shape[q], dtype=np.float64)[None, :]
    return np.stack([m[r, axis] * index + m[r, p] * ip + m[r, q] * iq + m[r, 3] for r in range(3)])


def _sample(img: SourceImage, coords: np.ndarray, *, nearest: bool,
            budget: int) -> tuple[np.ndarray, np.ndarray]:
    """``img`` at ``coords`` (nearest or trilinear), reading one bounded box at a time."""
    shape = np.asarray(img.grid.shape)
    flat = coords.reshape(3, -1)
    inside = np.all((flat >= -0.5 - 1e-6) & (flat <= shape[:, None] - 0.5 + 1e-6), axis=0)
    out = np.zeros(flat.shape[1], dtype=img.value_dtype if nearest else np.float64)
    where = np.flatnonzero(inside)
    if where.size:
        pts = flat[:, where]
        corners: list[tuple[np.ndarray, np.ndarray | None]] = []
        if nearest:
            corners.append((np.clip(_nearest(pts), 0, shape[:, None] - 1), None))
        else:
            base = np.floor(pts)
            t = pts - base
            for off in np.ndindex(2, 2, 2):
                o = np.asarray(off)[:, None]
                idx = np.clip(base.astype(np.int64) + o, 0, shape[:, None] - 1)
                corners.append((idx, np.prod(np.where(o == 1, t, 1.0 - t), axis=0)))
        _gather(img, corners, out, where, budget)
    return out.reshape(coords.shape[1:]), inside.reshape(coords.shape[1:])


def _gather(img: SourceImage, corners: list[tuple[np.ndarray, np.ndarray | None]],
            out: np.ndarray, where: np.ndarray, budget: int) -> None:
    allidx = np.concatenate([idx for idx, _ in corners], axis=1)
    lo, hi = allidx.min(axis=1), allidx.max(axis=1) + 1
    box_slice = int((hi[0] - lo[0]) * (hi[1] - lo[1])) * img.value_dtype.itemsize
    step = int(max(1, budget // 2 // max(box_slice, 1)))
    for c0 in range(int(lo[2]), int(hi[2]), step):
        c1 = min(int(hi[2]), c0 + step)
        picks = [(idx, w, np.flatnonzero((idx[2] >= c0) & (idx[2] < c1))) for idx, w in corners]
        used = [idx[:, sel] for idx, _, sel in picks if sel.size]
        if not used:
            continue
        both = np.concatenate(used, axis=1)
        x0, y0 = int(both[0].min()), int(both[1].min())
        xs, ys = slice(x0, int(both[0].max()) + 1), slice(y0, int(both[1].max()) + 1)
        block = img.read_slab(c0, c1, x=xs, y=ys)
        for idx, w, sel in picks:
            if not sel.size:
                continue
            vals = block[idx[0, sel] - x0, idx[1, sel] - y0, idx[2, sel] - c0]
            if w is None:
                out[where[sel]] = vals
            else:
                out[where[sel]] += w[sel] * vals


def _to_display(x: np.ndarray, order: tuple[int, int], across: int, across_sign: int,
                up: int, up_sign: int) -> np.ndarray:
    """A plane in voxel order ``order`` as rows (top = +up) by columns (left = -across)."""
    d = x if order.index(up) == 0 else x.T
    if across_sign < 0:
        d = d[:, ::-1]
    if up_sign > 0:
        d = d[::-1, :]
    return np.ascontiguousarray(d)


# --------------------------------------------------------------------------
# field of view
# --------------------------------------------------------------------------
def fov_views(report: dict[str, Any]) -> list[FovView]:
    """The FOV boxes of ``a`` and ``b`` from a :func:`compare_images` report, in 2D.

    Parameters
    ----------
    report : dict
        A :func:`compare_images` result (its ``a``/``b`` shape, spacing,
        origin and direction).

    Returns
    -------
    list of FovView
        Sagittal (y across, z up), coronal and axial (x across) projections
        of the outer-voxel-edge boxes, in world mm; x increases to the right
        (neurological), anterior to the right on the sagittal view.
    """
    boxes = {}
    for side in ("a", "b"):
        g = report[side]
        affine = np.eye(4)
        affine[:3, :3] = np.asarray(g["direction"]) * np.asarray(g["spacing"])
        affine[:3, 3] = g["origin"]
        grid = Grid(tuple(g["shape"][:3]), affine)
        boxes[side] = (grid.fov_corners(), grid.fov_center)
    views = []
    for view, _fixed, across, up in VIEWS:
        ax = (across, up)
        views.append(FovView(
            view=view, axes=ax,
            a=_hull(boxes["a"][0][:, ax]), b=_hull(boxes["b"][0][:, ax]),
            a_center=boxes["a"][1][list(ax)], b_center=boxes["b"][1][list(ax)],
            letters={"left": _LETTERS[across][0], "right": _LETTERS[across][1],
                     "top": _LETTERS[up][1], "bottom": _LETTERS[up][0]},
        ))
    return views


def _hull(points: np.ndarray) -> np.ndarray:
    """Closed convex hull (Andrew's monotone chain) of 2D points."""
    pts = sorted({(round(float(x), 9), round(float(y), 9)) for x, y in points})
    if len(pts) < 3:
        return np.asarray(pts + pts[:1])

    def half(seq: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
        h: list[tuple[float, float]] = []
        for p in seq:
            while len(h) >= 2 and ((h[-1][0] - h[-2][0]) * (p[1] - h[-2][1])
                                   - (h[-1][1] - h[-2][1]) * (p[0] - h[-2][0])) <= 0:
                h.pop()
            h.append(p)
        return h

    lower, upper = half(pts), half(pts[::-1])
    ring = lower[:-1] + upper[:-1]
    return np.asarray(ring + ring[:1])


# --------------------------------------------------------------------------
# outputs
# --------------------------------------------------------------------------
def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as err:
        raise DependencyError("report: needs matplotlib; pip install 'niresample[report]'",
                              param="report") from err
    matplotlib.use("Agg", force=True)
    return matplotlib


def _label_mode(report: dict[str, Any] | None, labels: bool | None) -> bool | None:
    if labels is not None or report is None:
        return labels
    lab = report.get("labels") or {}
    return "per_label" in lab


def write_png(
    a: ImageLike,
    b: ImageLike,
    out_png: str | os.PathLike[str],
    *,
    report: dict[str, Any] | None = None,
    labels: bool | None = None,
    center: Sequence[float] | None = None,
    dpi: int = 100,
    max_memory: str | int | None = None,
) -> dict[str, tuple[int, int, int, int]]:
    """Write the slice figure alone (A, B, B's edges on A, B − A per view) as a PNG.

    Parameters
    ----------
    a, b : str, PathLike or SourceImage
        As for :func:`slice_planes`.
    out_png : str or PathLike
        Written atomically.
    report : dict or None
        A :func:`compare_images` result: decides labels, and names the lost
        and new labels to highlight.
    labels : bool or None
        Overrides the report's (or :func:`slice_planes`'s) choice.
    center : (3,) sequence of float or None
        As for :func:`slice_planes`.
    dpi : int
        Pixels per inch of the figure (12 x 9.6 inches).
    max_memory : str or int or None
        As for :func:`slice_planes`.

    Returns
    -------
    dict
        ``'<view>/<panel>'`` (panels ``a``, ``b``, ``edges``, ``diff``) to the
        panel's image box ``(left, top, right, bottom)`` in PNG pixels.

    Raises
    ------
    DependencyError
        Without matplotlib.
    OutputError
        When the file cannot be written.
    """
    _matplotlib()
    from ._report_draw import draw_slices, figure_png

    planes = slice_planes(a, b, labels=_label_mode(report, labels), center=center,
                          max_memory=max_memory)
    fig, boxes = draw_slices(planes, report=report, dpi=dpi)
    _write_atomic(out_png, figure_png(fig, dpi))
    return boxes


def write_report(
    a: ImageLike,
    b: ImageLike,
    out_html: str | os.PathLike[str],
    *,
    report: dict[str, Any] | None = None,
    labels: bool | None = None,
    fail_on: Sequence[str] | None = None,
    fov_tolerance: float = 0.01,
    top_labels: int = 20,
    center: Sequence[float] | None = None,
    dpi: int = 100,
    max_memory: str | int | None = None,
) -> None:
    """Write one self-contained HTML report of what changed from ``a`` to ``b``.

    Parameters
    ----------
    a, b : str, PathLike or SourceImage
        The reference image and the image compared with it.
    out_html : str or PathLike
        Written atomically (a temporary file beside it, then renamed).
    report : dict or None
        A :func:`compare_images` result, with ``checks`` as the CLI adds them;
        computed here (one streamed pass) when None.
    labels : bool or None
        Passed to :func:`compare_images` when ``report`` is None, and to the
        slices.
    fail_on : sequence of str or None
        ``--fail-on`` conditions to state a verdict for, when ``report`` has
        no ``checks`` (see :func:`failed_checks`).
    fov_tolerance : float
        In mm, for ``fail_on``.
    top_labels : int
        Labels shown in the Dice and volume charts (lowest Dice first).
    center : (3,) sequence of float or None
        World point the slices pass through (default ``a``'s FOV centre).
    dpi : int
        Resolution of the embedded PNG figures.
    max_memory : str or int or None
        Memory budget for the comparison and each box read from ``b``.

    Raises
    ------
    DependencyError
        Without matplotlib.
    OptionError
        For a bad ``top_labels``, ``fail_on`` or ``fov_tolerance``.
    OutputError
        When the file cannot be written.

    Notes
    -----
    Images are PNGs embedded as base64 ``data:`` URIs; styling is inline CSS;
    there is no script and nothing is fetched.  Every text from the files
    (paths, reasons) is HTML-escaped.
    """
    if isinstance(top_labels, bool) or not isinstance(top_labels, int) or top_labels < 1:
        raise OptionError(f"top_labels: expected a positive integer, got {top_labels!r}",
                          param="top_labels")
    _matplotlib()
    from ._report_draw import draw_fov, draw_labels, draw_slices, figure_png

    if report is None:
        report = compare_images(_path(a), _path(b), labels=labels, max_memory=max_memory)
    if "checks" not in report and fail_on:
        failed = failed_checks(report, fail_on=list(fail_on), fov_tolerance=fov_tolerance)
        report = {**report, "checks": {"fail_on": list(fail_on), "fov_tolerance_mm": fov_tolerance,
                                       "failed": failed}}
    planes = slice_planes(a, b, labels=_label_mode(report, labels), center=center,
                          max_memory=max_memory)
    figures = {"slices": figure_png(draw_slices(planes, report=report, dpi=dpi)[0], dpi),
               "fov": figure_png(draw_fov(fov_views(report), report, dpi=dpi), dpi)}
    lab = report.get("labels")
    if lab and lab.get("per_label"):
        figures["labels"] = figure_png(draw_labels(lab, top=top_labels, dpi=dpi), dpi)
    uris = {k: "data:image/png;base64," + base64.b64encode(v).decode("ascii") for k, v in figures.items()}
    _write_atomic(out_html, _render_html(report, uris, planes).encode("utf-8"))


def _path(img: ImageLike) -> str | os.PathLike[str]:
    return img.path if isinstance(img, SourceImage) else img


def _write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    p = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    except OSError as err:
        raise OutputError(f"{p}: cannot be written ({err.strerror or err})") from err
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, p)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(f"{p}: cannot be written ({err.strerror or err})") from err


def _escape(x: object) -> str:
    return html.escape(str(x), quote=True)


# --------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1280px;
color:#1a1a1a;background:#fff;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
code{font:12px ui-monospace,monospace;background:#f3f3f3;padding:1px 4px;border-radius:3px}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}
th,td{padding:3px 10px;text-align:right;border-bottom:1px solid #eee;font-variant-numeric:tabular-nums}
th:first-child,td:first-child{text-align:left}th{background:#f6f6f6}
td.diff{color:#b35806;font-weight:600}img{max-width:100%;height:auto;display:block;margin:6px 0}
.pass,.fail{padding:8px 12px;border-radius:4px;font-weight:600;margin:10px 0}
.pass{background:#e8f1fa;border-left:6px solid #0072B2}
.fail{background:#fbeee6;border-left:6px solid #D55E00}
.ids{font:12px ui-monospace,monospace}.note{color:#555;font-size:12px}
"""


def _num(x: object, digits: int = 6) -> str:
    if x is None:
        return "—"
    if isinstance(x, (bool, np.bool_)):
        return str(x)
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        v = float(x)
        return "0" if abs(v) < 5e-12 else f"{v:.{digits}g}"
    return str(x)


def _vec(v: Sequence[float], digits: int = 6) -> str:
    return ", ".join(_num(float(x), digits) for x in v)


def _table(head: Sequence[str], rows: Sequence[Sequence[object]], *, flag_diff: bool = False) -> str:
    out = ["<table><tr>" + "".join(f"<th>{_escape(h)}</th>" for h in head) + "</tr>"]
    for row in rows:
        cells = [str(c) for c in row]
        differs = flag_diff and len(cells) >= 3 and cells[1] != cells[2]
        out.append("<tr>" + "".join(
            f'<td{" class=diff" if differs and i else ""}>{_escape(c)}</td>' for i, c in enumerate(cells)
        ) + "</tr>")
    return "".join(out) + "</table>"


def _verdict(report: dict[str, Any]) -> str:
    checks = report.get("checks") or {}
    conditions = checks.get("fail_on") or []
    if not conditions:
        return ""
    failed = checks.get("failed") or []
    if not failed:
        return f'<div class="pass">checks passed: none of {_escape(", ".join(conditions))} holds</div>'
    items = "".join(f"<li>{_escape(r)}</li>" for r in failed)
    return f'<div class="fail">checks failed ({len(failed)} of {len(conditions)})<ul>{items}</ul></div>'


def _grid_rows(report: dict[str, Any]) -> list[list[str]]:
    a, b = report["a"], report["b"]
    rows = [["path", a["path"], b["path"]], ["format", a["format"], b["format"]]]
    for key, name in (("shape", "shape"), ("spacing", "spacing mm"), ("origin", "origin mm"),
                      ("fov_mm", "FOV mm"), ("fov_center", "FOV centre mm")):
        fmt = (lambda v: " × ".join(str(x) for x in v)) if key == "shape" else _vec
        rows.append([name, fmt(a[key]), fmt(b[key])])
    axes = [g["axcodes"] + (f" ({g['obliquity_deg']:.3g}° oblique)" if g["obliquity_deg"] > 1e-3 else "")
            for g in (a, b)]
    rows.append(["axes", *axes])
    rows.append(["dtype", *(g["dtype"] + (f" ×{_num(g['slope'])}+{_num(g['inter'])}" if g["scaled"] else "")
                            for g in (a, b))])
    rows.append(["volumes", str(a["volumes"]), str(b["volumes"])])
    return rows


def _stats_rows(report: dict[str, Any]) -> list[list[str]]:
    sa, sb = report["stats"]["a"], report["stats"]["b"]
    pairs: list[tuple[str, Any, Any]] = [(k, sa[k], sb[k]) for k in ("min", "max", "mean", "std")]
    pairs += [(f"p{q}", sa["percentiles"][q], sb["percentiles"].get(q)) for q in sa["percentiles"]]
    pairs += [("mean ≠ 0", sa["nonzero_mean"], sb["nonzero_mean"]),
              ("voxels ≠ 0", sa["nonzero_voxels"], sb["nonzero_voxels"]),
              ("NaN/inf voxels", sa["nonfinite_voxels"], sb["nonfinite_voxels"])]
    return [[n, _num(x), _num(y), "—" if x is None or y is None else _num(y - x, 4)] for n, x, y in pairs]


def _fov_section(report: dict[str, Any]) -> str:
    fov = report["fov"]
    if fov["same_grid"]:
        return "<p><b>same grid</b>: identical shape and affine</p>"
    text = (f"<p>FOV centre shift (b − a): <b>{_num(fov['center_shift'], 4)} mm</b> = "
            f"({_vec(fov['center_shift_mm'], 4)}) mm, ({_vec(fov['center_shift_vox'], 4)}) voxels of a")
    if not fov["same_direction"]:
        text += f"; grids rotated by {_num(fov['rotation_deg'], 3)}°"
    rows = [["ijk"[e["axis"]], _num(e["low_mm"], 4), _num(e["high_mm"], 4), _num(e["low_vox"], 4),
             _num(e["high_vox"], 4)] for e in fov["edges"]]
    return text + "</p>" + _table(["a axis", "low edge mm", "high edge mm", "low vox", "high vox"], rows)


def _label_section(lab: dict[str, Any], uri: str | None) -> str:
    if "skipped" in lab:
        return f"<h2>Labels</h2><p>not compared ({_escape(lab['skipped'])})</p>"
    worst = lab["dice_worst"]
    parts = ["<h2>Labels</h2>",
             f"<p>{lab['a_labels']} labels in a, {lab['b_labels']} in b · Dice mean "
             f"{_num(lab['dice_mean'], 4)}"
             + (f" · worst {_num(worst['dice'], 4)} (label {worst['label']})" if worst else "") + "</p>"]
    for name, key in (("lost (in a, not in b)", "lost"), ("new (in b, not in a)", "new")):
        ids = ", ".join(str(i) for i in lab[key]) or "none"
        parts.append(f'<p>{name}: <span class="ids" id="{key}-labels">{_escape(ids)}</span></p>')
    if uri:
        parts.append(f'<img src="{uri}" alt="Dice and volume change per label">')
    rows = sorted(lab["per_label"], key=lambda r: (2.0 if r["dice"] is None else r["dice"], r["label"]))
    body = [[str(r["label"]), str(r["a_voxels"]), str(r["b_voxels"]), _num(r["a_mm3"]), _num(r["b_mm3"]),
             "—" if r["volume_change"] is None else f"{100 * r['volume_change']:+.2f}%",
             _num(r["dice"], 4)] for r in rows]
    parts.append(_table(["label", "a voxels", "b voxels", "a mm³", "b mm³", "volume Δ", "Dice"], body))
    return "".join(parts)


def _render_html(report: dict[str, Any], uris: dict[str, str], planes: list[SlicePlane]) -> str:
    a, b = report["a"], report["b"]
    where = "; ".join(f"{p.view}: {'ijk'[p.axis]} = {p.index} (centre {_vec(p.center_mm, 5)} mm)"
                      for p in planes)
    lab = report.get("labels")
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>niresample compare: {_escape(Path(b['path']).name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>What changed from a to b</h1><p><b>a</b> <code>{_escape(a['path'])}</code><br>"
        f"<b>b</b> <code>{_escape(b['path'])}</code></p>",
        _verdict(report),
        "<h2>Slices</h2>",
        f'<p class="note">Planes of a through its FOV centre ({_escape(where)}); b is sampled at the same '
        "voxel centres of a. Neurological convention: the patient's left is on the left.</p>",
        f'<img src="{uris["slices"]}" alt="a and b in three orthogonal planes">',
        "<h2>Field of view</h2>",
        f'<img src="{uris["fov"]}" alt="the FOV boxes of a and b">',
        _fov_section(report),
        "<h2>Grids</h2>", _table(["", "a", "b"], _grid_rows(report), flag_diff=True),
        "<h2>Values</h2>", _table(["", "a", "b", "b − a"], _stats_rows(report)),
    ]
    if lab:
        parts.append(_label_section(lab, uris.get("labels")))
    parts.append('<p class="note">made by niresample; self-contained: no script, nothing fetched.</p>'
                 "</body></html>\n")
    return "\n".join(parts)
