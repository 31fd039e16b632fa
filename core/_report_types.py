"""The values :mod:`.report` passes around: planes, FOV views and label colours.

A leaf of the report modules: :mod:`._report_views` builds these values,
:mod:`._report_draw` and :mod:`._report_html` draw and print them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

__all__ = ["SlicePlane", "FovView", "label_color", "voxel_axis", "VIEWS"]

#: The three views: name, world axis held fixed, world axes shown across and up.
VIEWS: tuple[tuple[str, int, int, int], ...] = (
    ("sagittal", 0, 1, 2), ("coronal", 1, 0, 2), ("axial", 2, 0, 1),
)
_LETTERS = (("L", "R"), ("P", "A"), ("I", "S"))  # (negative, positive) end of x, y, z
#: Per view, the sign of the world axis shown across that runs to the viewer's right: +x
#: in coronal and axial views (neurological: the patient's left on the left), -y in the
#: sagittal view (anterior on the left: the standard MR display, and that of most viewers).
RIGHTWARD = {"sagittal": -1, "coronal": 1, "axial": 1}


def side_letters(view: str, across: int, up: int) -> dict[str, str]:
    """The anatomical letter at each side of a ``view`` showing world axes ``across``, ``up``."""
    neg, pos = _LETTERS[across]
    left, right = (neg, pos) if RIGHTWARD[view] > 0 else (pos, neg)
    return {"left": left, "right": right, "top": _LETTERS[up][1], "bottom": _LETTERS[up][0]}


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
    world mm of the two shown axes); ``axes`` names them (0=x, 1=y, 2=z);
    ``flip_x``: the across axis is drawn growing to the left.
    """

    view: str
    axes: tuple[int, int]
    a: np.ndarray
    b: np.ndarray
    a_center: np.ndarray
    b_center: np.ndarray
    letters: dict[str, str]
    #: World x of the drawing grows to the left (the sagittal view: anterior on the left).
    flip_x: bool = False


def voxel_axis(axis: int, axcodes: str | None) -> str:
    """``'i (→L)'``: voxel axis ``axis`` of a and the direction it runs (its axis code).

    The edge moves are along a's voxel axes: without the direction, ``i: -1 mm``
    beside a box drawn 1 mm to the right reads as a contradiction (i runs to the left).
    """
    name = "ijk"[axis]
    return f"{name} (→{axcodes[axis]})" if axcodes and len(axcodes) > axis else name


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
