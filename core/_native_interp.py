"""Python side of the compiled gather kernels (``core/_cinterp.c``).

The general path (:mod:`._mapped`), labels ``nearest`` through maps
(:mod:`._label_slabs`) and displacement fields (:mod:`._transform_types`) call
these; each keeps its numpy/scipy code for when :func:`kernels` returns None
(no compiler at install time, ``NIRESAMPLE_PURE_PYTHON=1``).

The kernels compute an affine tile's input coordinates on the fly (no
coordinate arrays) and interpolate straight from the tile's input box with
scipy's ``map_coordinates(mode='nearest')`` rule (orders 1-5; for orders >= 2
the compiled pre-filter of the box padded as scipy pads it), or pick
the nearest voxel with :func:`core.kernels.nearest_index`'s rule (order 0, a
byte copy: any dtype is exact).  They release the GIL: the stream's slab
threads run them in parallel.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from ._native import load
from .kernels import SPLINE_PAD, spline_poles

__all__ = ["kernels", "affine_bounds", "all_outside", "box_bounds", "interp_tile", "nearest_box",
           "spline_coefficients"]


def kernels() -> ModuleType | None:
    """The compiled ``_cinterp`` module with its gather kernels, or None."""
    mod = load("_cinterp")
    return mod if mod is not None and hasattr(mod, "interp") else None


def affine_bounds(matrix: np.ndarray, box: tuple[int, int, int, int, int, int]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Min and max input coordinate per axis over an output box (half-open), from its 8 corners."""
    x0, x1, y0, y1, z0, z1 = box
    corners = np.array([[x, y, z, 1.0] for x in (x0, x1 - 1) for y in (y0, y1 - 1)
                        for z in (z0, z1 - 1)], dtype=np.float64)
    c = corners @ np.asarray(matrix, dtype=np.float64)[:3].T
    return c.min(axis=0), c.max(axis=0)


def all_outside(cmin: np.ndarray, cmax: np.ndarray, shape: tuple[int, ...]) -> bool:
    """True when the bounds lie wholly beyond the field of view on some axis (margin 1e-6)."""
    return any(cmax[a] < -0.5 - 1e-6 or cmin[a] >= shape[a] - 0.5 + 1e-6 for a in range(3))


def box_bounds(cmin: np.ndarray, cmax: np.ndarray, shape: tuple[int, ...],
               reach: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """The input box ``lo <= ijk < hi`` covering coordinates ``cmin .. cmax`` plus ``reach``.

    The same rule as the general path's numpy code: clipped to the input, never empty.
    """
    r = np.broadcast_to(np.asarray(reach, dtype=np.float64), (3,))
    lo = np.empty(3, dtype=np.int64)
    hi = np.empty(3, dtype=np.int64)
    for a, n in enumerate(shape):
        lo[a] = min(max(math.floor(float(cmin[a]) - r[a]), 0), n - 1)
        hi[a] = max(min(math.ceil(float(cmax[a]) + r[a]) + 1, n), lo[a] + 1)
    return lo, hi


def spline_coefficients(ck: Any, values: np.ndarray, order: int) -> np.ndarray:
    """B-spline coefficients of ``values`` as ``map_coordinates(mode='nearest')`` computes them.

    scipy pads its input by ``SPLINE_PAD`` edge copies and pre-filters it with
    ``spline_filter(mode='nearest')``; the compiled ``prefilter`` does the same
    filter in place (within float64 rounding, about 3x faster).  Returns the padded
    float64 array.
    """
    padded = np.pad(np.asarray(values, dtype=np.float64), SPLINE_PAD, mode="edge")
    ck.prefilter(padded, list(spline_poles(order)))
    return padded


def interp_tile(
    ck: Any, block: np.ndarray, shape: tuple[int, int, int], order: int, *,
    lo: np.ndarray, in_shape: tuple[int, ...], fill: Any, dtype: np.dtype,
    matrix: np.ndarray | None = None, origin: tuple[int, int, int] = (0, 0, 0),
    coords: np.ndarray | None = None, prefiltered: bool = False,
) -> np.ndarray | None:
    """One output tile of ``shape`` from the input box ``block`` (its first voxel at ``lo``).

    Parameters
    ----------
    ck : module
        :func:`kernels`.
    block : ndarray
        The input box: any dtype for order 0 (``dtype`` must be the same), otherwise
        float32/float64 values, not yet pre-filtered.
    order : int
        0 to 5.
    lo, in_shape
        The box origin in the input and the input's shape (its field of view).
    fill
        The value of points outside the field of view.
    dtype : dtype
        Of the result (Fortran order).
    matrix, origin : optional
        The (3, 4) output-to-input voxel map and the output index of the tile's first
        voxel; or ``coords``, ``(3, *shape)`` float64 input coordinates.
    prefiltered : bool
        Orders >= 2: ``block`` is already padded by ``SPLINE_PAD`` and pre-filtered.

    Returns
    -------
    ndarray or None
        None for orders >= 2 when the box holds NaN or inf (the numpy path keeps
        non-finite values local; the caller falls back to it).
    """
    dst = np.empty(shape, dtype=dtype, order="F")
    pad = 0.0
    src = block
    if order == 0:
        fill_arg: Any = np.asarray(fill).astype(dtype).tobytes()
    else:
        fill_arg = float(fill)
        if order >= 2 and prefiltered:
            pad = float(SPLINE_PAD)
        elif order >= 2:
            if not np.isfinite(block).all():
                return None
            src = spline_coefficients(ck, block, order)
            pad = float(SPLINE_PAD)
    mat = None if matrix is None else [float(v) for v in np.asarray(matrix)[:3].ravel()]
    ck.interp(src, dst, int(order), mat, coords, tuple(int(v) for v in origin),
              tuple(float(v) for v in lo), tuple(float(n) for n in in_shape), pad, fill_arg)
    return dst



def nearest_box(
    ck: Any, read: Callable[[np.ndarray, np.ndarray], np.ndarray],
    box: tuple[int, int, int, int, int, int], in_shape: tuple[int, ...], fill: Any,
    dtype: np.dtype, *, coords: np.ndarray | None, matrix: np.ndarray,
) -> np.ndarray:
    """Nearest labels of an output box (labels ``nearest`` through a map), compiled.

    ``read(lo, hi)`` returns the raw input box ``lo <= ijk < hi``; ``coords`` are the
    box's input coordinates (a field), or None to take them from ``matrix``.  Points
    beyond the field of view get ``fill``.  Labels are copied as bytes: exact.
    """
    x0, x1, y0, y1, z0, z1 = box
    shape = (x1 - x0, y1 - y0, z1 - z0)
    if coords is not None:
        cmin, cmax = coords.min(axis=(1, 2, 3)), coords.max(axis=(1, 2, 3))
    else:
        cmin, cmax = affine_bounds(matrix, box)
    if all_outside(cmin, cmax, in_shape):
        return np.full(shape, fill, dtype=dtype, order="F")
    lo, hi = box_bounds(cmin, cmax, in_shape, 1.0)
    rows = read(lo, hi)
    values = interp_tile(ck, rows, shape, 0, lo=lo, in_shape=in_shape, fill=fill,
                         dtype=rows.dtype, coords=coords,
                         matrix=None if coords is not None else matrix, origin=(x0, y0, z0))
    assert values is not None  # order 0 always runs
    return values
