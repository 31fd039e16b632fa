"""The two transform types of :mod:`.transforms`: an affine and a displacement field.

Both map RAS points of the output (reference, fixed) space into the input
(moving) space, in millimetres.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

from ._transform_formats import check_affine
from .errors import TransformError
from .grid import Grid

__all__ = ["AffineTransform", "DisplacementField", "Transform", "FIELD_WINDOW_BYTES"]

#: Field vectors (float64) one displacement field keeps read: z slices ahead of the box asked for.
FIELD_WINDOW_BYTES = 64 << 20


@dataclass(frozen=True, eq=False)
class AffineTransform:
    """An affine map of RAS points, output space to input space.

    Parameters
    ----------
    matrix : (4, 4) array_like
        RAS+ millimetre matrix; ``p_in = matrix @ [p_out, 1]``.  Copied, checked
        (finite, last row ``0 0 0 1``, non-singular) and made read-only.
    source : str
        Where it came from (a file name), for messages.

    Raises
    ------
    TransformError
        If the matrix is not a finite, non-singular (4, 4) affine.
    """

    matrix: np.ndarray
    source: str = "<matrix>"

    def __post_init__(self) -> None:
        m = check_affine(self.matrix, self.source)
        m.setflags(write=False)
        object.__setattr__(self, "matrix", m)

    def inverse(self) -> AffineTransform:
        """The inverse map (input space to output space)."""
        return AffineTransform(np.linalg.inv(self.matrix), self.source)

    def map_points(self, points: np.ndarray) -> np.ndarray:
        """Map ``(N, 3)`` RAS points; returns ``(N, 3)`` float64."""
        p = np.asarray(points, dtype=np.float64)
        return p @ self.matrix[:3, :3].T + self.matrix[:3, 3]


@dataclass(frozen=True, eq=False)
class DisplacementField:
    """A dense displacement field: ``p -> p + d(p)`` in RAS millimetres.

    Parameters
    ----------
    grid : Grid
        The field's own voxel grid.
    vectors : array_like, shape (nx, ny, nz, 3)
        RAS displacements in mm.  Anything that slices as
        ``vectors[x0:x1, y0:y1, z0:z1]`` works; fields read from files are
        lazy and read only the boxes asked for.
    source : str
        Where it came from, for messages.

    Notes
    -----
    ``d`` is sampled trilinearly at the field's continuous voxel coordinate
    ``v = inv(grid.affine) @ p``.  As in ITK's ``DisplacementFieldTransform``,
    a point whose coordinate lies outside ``-0.5 <= v < n - 0.5`` on any axis
    gets *zero* displacement (it maps to itself); inside that box and beyond
    the outer voxel centres the edge vectors are used.
    """

    grid: Grid
    vectors: Any = field(repr=False)
    source: str = "<field>"
    # read_box's window of z slices [z0, z1, vectors] (files only), shared by the slab threads
    _window: list[Any] = field(default_factory=list, repr=False)
    _window_lock: Any = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        shape = tuple(getattr(self.vectors, "shape", ()))
        if shape != (*self.grid.shape, 3):
            raise TransformError(
                f"{self.source}: displacement vectors of shape {shape} do not match the field "
                f"grid {self.grid.shape} x 3", param="transform")

    def read_box(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Vectors of voxels ``lo <= ijk < hi``: ``(bx, by, bz, 3)`` float64.

        A field read from a file is read in windows of whole z slices (at least
        the box's, up to :data:`FIELD_WINDOW_BYTES`) kept for the next boxes:
        slabs and tiles ask for overlapping boxes in z order, and a compressed
        field would otherwise be decompressed again for every box.
        """
        if isinstance(self.vectors, np.ndarray):
            return np.asarray(self.vectors[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]], dtype=np.float64)
        nx, ny, nz = self.grid.shape
        z0, z1 = int(lo[2]), int(hi[2])
        with self._window_lock:
            win = self._window
            if not win or not (win[0] <= z0 and z1 <= win[1]):
                depth = max(z1 - z0, FIELD_WINDOW_BYTES // max(1, nx * ny * 24))
                w0 = max(0, min(z0, nz - depth))
                w1 = min(nz, w0 + depth)
                block = np.asarray(self.vectors[:, :, w0:w1], dtype=np.float64)
                win[:] = [w0, w1, block]
            w0, _, block = win
        return block[lo[0]:hi[0], lo[1]:hi[1], z0 - w0:z1 - w0]

    def displacement(self, points: np.ndarray) -> np.ndarray:
        """RAS displacement ``d(p)`` at ``(N, 3)`` RAS points: ``(N, 3)`` float64."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        inv = np.linalg.inv(self.grid.affine)
        v = inv[:3, :3] @ p.T + inv[:3, 3:]  # (3, N) field voxel coordinates
        n = np.asarray(self.grid.shape, dtype=np.float64)[:, None]
        inside = np.all((v >= -0.5) & (v < n - 0.5), axis=0)
        out = np.zeros_like(p)
        if not inside.any():
            return out
        everywhere = bool(inside.all())
        vi = v if everywhere else v[:, inside]
        np.clip(vi, 0.0, n - 1.0, out=vi)
        nmax = np.asarray(self.grid.shape, dtype=np.int64)[:, None] - 1
        i0 = np.minimum(vi.astype(np.int64), np.maximum(nmax - 1, 0))  # vi >= 0: floor
        frac = vi - i0
        i1 = np.minimum(i0 + 1, nmax)
        lo = i0.min(axis=1)
        hi = i1.max(axis=1) + 1
        box = self.read_box(lo, hi)
        # (3, M) component-major copy: one flat gather per corner and component
        flat_box = np.ascontiguousarray(np.moveaxis(box, -1, 0)).reshape(3, -1)
        strides = (box.shape[1] * box.shape[2], box.shape[2], 1)
        idx = [((i0[a] - lo[a]) * strides[a], (i1[a] - lo[a]) * strides[a]) for a in range(3)]
        wts = [(1.0 - frac[a], frac[a]) for a in range(3)]
        acc = np.zeros((3, vi.shape[1]))
        for cx in (0, 1):
            for cy in (0, 1):
                fxy = idx[0][cx] + idx[1][cy]
                wxy = wts[0][cx] * wts[1][cy]
                for cz in (0, 1):
                    acc += (wxy * wts[2][cz]) * np.take(flat_box, fxy + idx[2][cz], axis=1)
        if everywhere:
            return acc.T.copy()
        out[inside] = acc.T
        return out

    def map_points(self, points: np.ndarray) -> np.ndarray:
        """Map ``(N, 3)`` RAS points: ``p + d(p)``."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        return p + self.displacement(p)

    def map_box(self, pre: np.ndarray, post: np.ndarray,
                box: tuple[int, int, int, int, int, int]) -> np.ndarray | None:
        """``post @ (p + d(p))`` for ``p = pre @ ijk`` over an output box, compiled.

        ``(3, nx, ny, nz)`` float64, the values of :meth:`map_points` (same rule,
        within float64 rounding), computed by ``core/_cinterp.c`` without
        coordinate arrays in between; only the field box the output box needs is
        read (bounded by its 8 corners).  None without the compiled kernels.
        """
        from ._native_interp import affine_bounds, all_outside, kernels

        ck = kernels()
        if ck is None:
            return None
        x0, x1, y0, y1, z0, z1 = box
        finv = np.linalg.inv(self.grid.affine)
        n = tuple(int(v) for v in self.grid.shape)
        vmin, vmax = affine_bounds(finv @ pre, box)
        if all_outside(vmin, vmax, n):
            lo = np.zeros(3, dtype=np.int64)
            vectors = np.zeros((1, 1, 1, 3))
        else:
            lo = np.clip(np.floor(vmin).astype(np.int64) - 1, 0, np.asarray(n) - 1)
            hi = np.clip(np.floor(vmax).astype(np.int64) + 3, lo + 1, np.asarray(n))
            vectors = self.read_box(lo, hi)
        out = np.empty((3, x1 - x0, y1 - y0, z1 - z0))
        rows = [[float(v) for v in np.asarray(m)[:3].ravel()] for m in (finv, pre, post)]
        ck.field_coords(vectors, tuple(int(v) for v in lo), n, *rows, (x0, y0, z0), out)
        return out

    def close(self) -> None:
        """Close the field's file, if it was read from one (and drop the window read)."""
        self._window.clear()
        close = getattr(self.vectors, "close", None)
        if close is not None:
            close()


Transform = Union[AffineTransform, DisplacementField]
