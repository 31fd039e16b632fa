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

This module writes the outputs; the planes and FOV views are built in
:mod:`._report_views` and the values they hold are defined in
:mod:`._report_types` (all re-exported here).
"""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._report_types import VIEWS, FovView, SlicePlane, label_color
from ._report_views import ImageLike, fov_views, slice_planes
from .compare import compare_images, failed_checks
from .errors import DependencyError, OptionError, OutputError
from .io import SourceImage

__all__ = ["SlicePlane", "FovView", "slice_planes", "fov_views", "label_color", "write_png",
           "write_report", "require_matplotlib", "VIEWS"]


# --------------------------------------------------------------------------
# outputs
# --------------------------------------------------------------------------
def require_matplotlib(*, param: str = "report") -> None:
    """Fail early, before any work, when the drawing library is missing.

    Parameters
    ----------
    param : str
        The parameter that asked for a drawing, named by the error.

    Raises
    ------
    DependencyError
        Without matplotlib: ``"<param>: needs matplotlib; pip install 'niresample[report]'"``.
    """
    _matplotlib(param)


def _matplotlib(param: str = "report") -> Any:
    try:
        import matplotlib
    except ImportError as err:
        raise DependencyError(f"{param}: needs matplotlib; pip install 'niresample[report]'",
                              param=param) from err
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

