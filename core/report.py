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
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._report_planes import as_point, orientation, plane_coords, read_a_plane, sample, to_display
from .budget import parse_memory
from .compare import compare_images, failed_checks
from .errors import DependencyError, OptionError, OutputError
from .grid import Grid, voxel_map
from .io import SourceImage, open_image
from .kernels import nearest_index

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
        RGB in ``0..1``: the hue from the id times the golden ratio (far
        apart for consecutive ids), saturation and lightness from a hash of
        the id, within a readable range.
    """
    label = int(label)
    if label == 0:
        return (0.0, 0.0, 0.0)
    # Knuth's multiplicative hash (golden ratio) for the hue: consecutive ids,
    # the usual neighbours in an atlas, land far apart on the colour wheel.
    hue = (label * 0.6180339887498949) % 1.0
    h = hashlib.blake2b(str(label).encode(), digest_size=8).digest()
    sat = 0.55 + 0.35 * h[4] / 255
    light = 0.42 + 0.22 * h[5] / 255
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
    point = as_point(center)
    budget = min(parse_memory(max_memory), _SLAB_CAP)
    with _opened(a) as img_a, _opened(b) as img_b:
        voxel_of, sign_of = orientation(img_a.grid)
        shape = np.asarray(img_a.grid.shape)
        mid = shape // 2
        if point is not None:
            ijk = np.linalg.solve(img_a.grid.affine[:3, :3], point - img_a.grid.affine[:3, 3])
            mid = np.array([nearest_index(ijk[a:a + 1], int(shape[a]))[0][0] for a in range(3)])
        raw = []
        for view, fixed, _across, _up in VIEWS:
            axis = voxel_of[fixed]
            index = int(mid[axis])
            raw.append((view, axis, index, read_a_plane(img_a, axis, index, budget)))
        if labels is None:
            labels = img_a.is_integer and img_b.is_integer and len(
                np.unique(np.concatenate([p.ravel() for *_, p in raw]))) <= _AUTO_LABELS
        m = voxel_map(img_b.grid, img_a.grid)
        planes = []
        for (view, _fixed, across, up), (_, axis, index, plane_a) in zip(VIEWS, raw, strict=True):
            coords = plane_coords(img_a.grid, axis, index, m)
            plane_b, inside = sample(img_b, coords, nearest=bool(labels), budget=budget)
            p, q = (ax for ax in range(3) if ax != axis)
            # voxel order (p, q) -> display (rows = up axis, cols = across axis)
            order = (p, q)
            disp = [to_display(x, order, voxel_of[across], sign_of[across], voxel_of[up],
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
    from ._report_html import render_html

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
    _write_atomic(out_html, render_html(report, uris, planes).encode("utf-8"))


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

