"""The three planes and FOV views of a report: :func:`slice_planes`, :func:`fov_views`.

The planes come back in the neurological display convention (the patient's
left on the viewer's left) whatever the storage order of either file; the
sampling itself lives in :mod:`._report_planes`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ._report_planes import as_point, orientation, plane_coords, read_a_plane, sample, to_display
from ._report_types import RIGHTWARD, VIEWS, FovView, SlicePlane, side_letters
from .budget import parse_memory
from .errors import OptionError
from .grid import Grid, voxel_map
from .io import SourceImage, open_image
from .kernels import nearest_index

__all__ = ["slice_planes", "fov_views", "ImageLike"]

_SLAB_CAP = 64 << 20  # larger reads only get slower (see core.compare)
#: With ``labels=None`` and no report: integer images whose planes hold at most
#: this many distinct values are drawn as labels.
_AUTO_LABELS = 256

ImageLike = str | os.PathLike[str] | SourceImage


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
        fixed world axis, or nearest to ``center``), displayed neurologically: left on the left,
        anterior on the left of the sagittal view, superior (or anterior, axial) up.

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
            disp = [to_display(x, order, voxel_of[across], sign_of[across] * RIGHTWARD[view],
                               voxel_of[up], sign_of[up]) for x in (plane_a, plane_b, inside)]
            sp = img_a.grid.spacing
            world = img_a.grid.to_world(mid.astype(np.float64))
            planes.append(SlicePlane(
                view=view, a=disp[0], b=disp[1], b_inside=disp[2].astype(bool),
                letters=side_letters(view, across, up),
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
        (neurological), anterior to the left on the sagittal view (``flip_x``).
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
            letters=side_letters(view, across, up), flip_x=RIGHTWARD[view] < 0,
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
