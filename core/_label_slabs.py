"""The label slab function: nearest, majority and Gaussian output slabs.

:class:`LabelSlabs` is what :mod:`core.labels` hands to the stream: a picklable
``(volume, z0, z1) -> slab`` function.  The per-axis index vectors use the one
nearest-index rule of :func:`core.kernels.nearest_index`; the numpy and torch
kernels live in :mod:`core._labels_numpy` and :mod:`core._labels_torch`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._coord_map import CoordMap
from ._labels_numpy import (
    BLOCK,
    dense_codes,
    free_sentinel,
    gather,
    gather_points,
    majority_codes,
    smooth_labels_blocks,
)
from ._native_interp import kernels, nearest_box
from .errors import OptionError
from .grid import Grid, axis_aligned_map, voxel_map
from .io import open_image
from .kernels import NEAREST_EPS, nearest_index
from .source import SourceHandle, SourceImage

__all__ = ["LabelSlabs", "gaussian_weights", "check_fill"]

#: Gaussian taps are integers summing to 2**17 per axis: three passes stay below 2**53.
_WEIGHT_BITS = 17
#: Gaussian kernels reach ``truncate * sigma`` voxels (scipy's default rule).
_TRUNCATE = 4.0


#: Kernels up to this radius are built tap by tap (then folded); longer ones from erf.
_EXACT_RADIUS = 1 << 20


def gaussian_weights(sigma_voxels: float, n: int | None = None) -> np.ndarray:
    """Integer Gaussian taps ``(2r + 1,)`` summing to about ``2**17``.

    ``r = int(4 * sigma + 0.5)`` as in :func:`scipy.ndimage.gaussian_filter`.
    Integer taps keep every smoothed value exact in float64.

    Parameters
    ----------
    sigma_voxels : float
        Sigma in voxels (finite, >= 0).
    n : int, optional
        The axis length.  A kernel wider than the axis is clamped to radius ``n - 1``
        with each tail's taps added to the edge tap: under edge replication every tap
        beyond ``n - 1`` reads the edge voxel, so the result is exactly the full
        kernel's, at a cost bounded by the image instead of by sigma.

    Raises
    ------
    OptionError
        A sigma that is not finite (param ``sigma``).
    """
    s = float(sigma_voxels)
    if not np.isfinite(s):
        raise OptionError(f"sigma: too large ({sigma_voxels!r} output voxels)", param="sigma")
    r = int(_TRUNCATE * s + 0.5)
    if r == 0 or s <= 0:
        return np.array([float(1 << _WEIGHT_BITS)])
    keep = r if n is None else min(r, max(int(n) - 1, 0))
    if r <= _EXACT_RADIUS:
        x = np.arange(-r, r + 1, dtype=np.float64)
        g = np.exp(-0.5 * (x / s) ** 2)
        taps = np.round(g / g.sum() * (1 << _WEIGHT_BITS))
        if keep == r:
            return taps
        out = taps[r - keep:r + keep + 1].copy()
        out[0] += taps[:r - keep].sum()
        out[-1] += taps[r + keep + 1:].sum()
        return out
    # Too long to build (sigma in the hundreds of thousands of voxels and more): the
    # sampled Gaussian's sums from its integral (midpoint rule, exact to far below one
    # tap at such widths).
    import math

    def mass(a: float) -> float:  # sum of exp(-x^2 / 2 s^2) over integers 0 < x <= a
        return s * math.sqrt(math.pi / 2) * math.erf((a + 0.5) / (s * math.sqrt(2))) - 0.5

    total = 2 * mass(float(r)) + 1
    x = np.arange(-keep, keep + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / s) ** 2) / total
    tail = (mass(float(r)) - mass(float(keep))) / total
    g[0] += tail
    g[-1] += tail
    return np.round(g * (1 << _WEIGHT_BITS))


def check_fill(fill: float, dtype: np.dtype) -> Any:
    """``fill`` as a scalar of the label ``dtype``; OptionError when it does not fit.

    Raises
    ------
    OptionError
        A non-whole ``fill`` for integer labels, or one outside the dtype's range.
    """
    dt = np.dtype(dtype)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        if not float(fill).is_integer() or not info.min <= int(fill) <= info.max:
            raise OptionError(f"fill: {fill!r} does not fit the labels' {dt.name} values "
                              f"(whole numbers {info.min}..{info.max})", param="fill")
        return dt.type(int(fill))
    if dt.kind == "f":
        v = dt.type(fill)
        if not np.isfinite(v):
            raise OptionError(f"fill: {fill!r} does not fit the labels' {dt.name} values",
                              param="fill")
        return v
    return dt.type(fill)


# -- the slab function ---------------------------------------------------------
def _nn_axis(scale: float, offset: float, n_out: int, n_in: int) -> np.ndarray:
    """Nearest input index per output index along one axis; -1 outside the FOV."""
    idx, inside = nearest_index(scale * np.arange(n_out, dtype=np.float64) + offset, n_in)
    return np.where(inside, idx, -1)


def _footprint_axis(scale: float, offset: float, n_out: int, n_in: int,
                    nn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Input index window ``(n_out, w)`` and its validity for the majority vote.

    The window holds the input voxel centres ``x`` with ``c - s/2 <= x < c + s/2``
    (``c`` the output centre in input voxels, ``s`` the scale); an axis without any
    such centre (upsampling) uses the nearest-neighbour index alone.
    """
    c = scale * np.arange(n_out, dtype=np.float64) + offset
    half = abs(scale) / 2.0
    # the nearest rule's tolerance: a centre on the lower box edge (to float noise) is in,
    # one on the upper edge is out, as ties go up
    lo = np.ceil(c - half - NEAREST_EPS).astype(np.int64)
    hi = np.ceil(c + half - NEAREST_EPS).astype(np.int64)
    lo = np.clip(lo, 0, n_in)
    hi = np.clip(hi, 0, n_in)
    empty = hi <= lo
    lo = np.where(empty, np.maximum(nn, 0), lo)
    hi = np.where(empty, np.maximum(nn, 0) + 1, hi)
    w = int(np.max(hi - lo))
    idx = lo[:, None] + np.arange(w)[None, :]
    valid = idx < hi[:, None]
    return np.minimum(idx, n_in - 1), valid


class LabelSlabs:
    """Picklable slab function computing label output slabs (the stream contract).

    ``LabelSlabs(...)(volume, z0, z1)`` returns output slab ``[z0, z1)`` of one
    volume as an ``(nx', ny', z1 - z0)`` array of the input's stored dtype.  It
    stores the input *path* (or an in-memory :class:`SourceImage`) and opens the
    image lazily in each process; the result never depends on the slab height.

    Parameters
    ----------
    source : SourceImage or path
        The label image (stored values are used, scaling is kept aside).
    grid : Grid
        Output grid.
    method : {'nearest', 'majority', 'gaussian'}
    sigma_voxels : (3,) float, optional
        Gaussian sigma in output voxels (gaussian only).
    device : {'numpy', 'cpu', 'cuda'}
        A resolved device (:func:`niresample_cli.core.device.resolve_device`).
    fill : int or float
        The label of output voxels outside the input's field of view (must fit the
        input's dtype: :func:`check_fill`).
    source_grid : Grid, optional
        The input grid seen through an affine transform chain
        (:func:`core._coord_map.effective_grid`); default ``source.grid``.
    coord_map : CoordMap, optional
        A chain with displacement fields (:class:`core._coord_map.CoordMap`):
        nearest labels are gathered through it.
    """

    def __init__(self, source: SourceImage | str | os.PathLike[str], grid: Grid, *,
                 method: str = "nearest", sigma_voxels: Sequence[float] | None = None,
                 device: str = "numpy", fill: float = 0, source_grid: Grid | None = None,
                 coord_map: CoordMap | None = None) -> None:
        if not isinstance(source, SourceImage):
            source = open_image(source)
        self.fill_value = check_fill(fill, source.dtype)
        self._handle = SourceHandle(source)
        src_grid = source_grid or source.grid
        self.coord_map = coord_map
        self.in_shape = tuple(int(v) for v in src_grid.shape)
        self.grid = grid
        self.method = method
        self.device = device
        self.sigma_voxels = tuple(float(s) for s in sigma_voxels) if sigma_voxels is not None \
            else (0.0, 0.0, 0.0)
        # clamped to each output axis (exact: the slabs replicate their edges)
        self.weights = [gaussian_weights(s, grid.shape[a]) for a, s in enumerate(self.sigma_voxels)]
        self.radius = tuple((len(w) - 1) // 2 for w in self.weights)
        sep = axis_aligned_map(src_grid, grid) if coord_map is None else None
        self.separable = sep is not None
        if sep is not None:
            scale, offset = sep
            self.scale = scale
            self.offset = offset
            self.nn = [_nn_axis(float(scale[a]), float(offset[a]), grid.shape[a], self.in_shape[a])
                       for a in range(3)]
        else:
            self.map = voxel_map(src_grid, grid)
            if method == "majority" and coord_map is not None:
                raise OptionError(
                    "method: 'majority' cannot follow a displacement field (its footprints are "
                    "not boxes); use 'nearest' or 'gaussian'", param="method")
            if method == "majority":
                raise OptionError(
                    "method: 'majority' needs a target grid with the input's axes "
                    "(a like reference that is rotated relative to the input is not supported; "
                    "use 'nearest' or 'gaussian')",
                    param="method",
                )
        if method == "majority":
            assert sep is not None
            self.windows = [_footprint_axis(float(sep[0][a]), float(sep[1][a]), grid.shape[a],
                                            self.in_shape[a], self.nn[a]) for a in range(3)]

    # -- pickling: drop open file handles ------------------------------------
    @property
    def source(self) -> SourceImage:
        return self._handle.source

    def for_grid(self, grid: Grid) -> LabelSlabs:
        """The same label resampling onto another grid (a sample of the output: core._size_sample)."""
        return LabelSlabs(self.source, grid, method=self.method,
                          sigma_voxels=self.sigma_voxels, device=self.device)

    def close(self) -> None:
        """Close the input when it can be reopened (pickled copies reopen it lazily)."""
        self._handle.close()

    # -- memory ----------------------------------------------------------------
    def bytes_per_slice(self, itemsize: int) -> float:
        """Working bytes per output slice (input rows, output, intermediates)."""
        nx, ny, nz = self.grid.shape
        out = nx * ny * itemsize
        if self.separable:
            zin = max(1.0, abs(float(self.scale[2])))
            xin = self.in_shape[0] * self.in_shape[1] * itemsize
            rows = xin * zin
        else:
            rows = self.in_shape[0] * self.in_shape[1] * itemsize * 2.0
        if self.method == "nearest":
            return rows + 2.5 * out + (0 if self.separable else nx * ny * 40)
        if self.method == "majority":
            w = int(np.prod([self.windows[a][0].shape[1] for a in range(3)]))
            return rows * 3 + nx * ny * w * (4 + 4 + 8 + 1) + 2 * out
        # gaussian: input rows and their codes; per output voxel the NN codes, the
        # result codes, the id lookup and the output (itemsize + up to 4 B each)
        return rows * 3 + nx * ny * (2 * itemsize + 16)

    def fixed_bytes(self, itemsize: int) -> float:
        """Working bytes independent of the slab height (halo slices, blocks)."""
        nx, ny, _ = self.grid.shape
        if self.method != "gaussian":
            return 0.0
        halo = 2 * self.radius[2] * (nx * ny * itemsize + self.bytes_per_slice(itemsize) / 3)
        b = [BLOCK + 2 * r for r in self.radius]
        block = float(np.prod(b)) * (itemsize + 4 + 8 * 4)
        return halo + block

    # -- computation -------------------------------------------------------------
    def __call__(self, volume: int, z0: int, z1: int) -> np.ndarray:
        if self.method == "nearest":
            return self.nearest(volume, np.arange(z0, z1))
        if self.method == "majority":
            return self._majority(volume, z0, z1)
        return self._gaussian(volume, z0, z1)

    def nearest(self, volume: int, zs: np.ndarray) -> np.ndarray:
        """Nearest-neighbour labels at output z indices ``zs`` (any order, repeats allowed)."""
        if self.separable:
            return self._nearest_separable(volume, zs)
        return self._nearest_general(volume, zs)

    def _read_rows(self, volume: int, z_lo: int, z_hi: int, x: slice = slice(None),
                   y: slice = slice(None)) -> np.ndarray:
        return self.source.read_slab(z_lo, z_hi, volume=volume, x=x, y=y, scaled=False)

    def fill(self, volume: int, z0: int, z1: int, out: np.ndarray) -> None:
        """Compute slab ``[z0, z1)`` straight into ``out`` (an F-ordered view), saving a copy."""
        if self.method == "nearest" and self.separable and self.device == "numpy":
            self._nearest_separable(volume, np.arange(z0, z1), out=out)
        else:
            out[...] = self(volume, z0, z1)

    def _nearest_separable(self, volume: int, zs: np.ndarray,
                           out: np.ndarray | None = None) -> np.ndarray:
        src = self.source
        ix, iy = self.nn[0], self.nn[1]
        iz = self.nn[2][zs]
        nx, ny = self.grid.shape[0], self.grid.shape[1]
        valid_z = iz >= 0
        if not valid_z.any():
            if out is None:
                return np.full((nx, ny, len(zs)), self.fill_value, dtype=src.dtype, order="F")
            out[...] = self.fill_value
            return out
        z_lo, z_hi = int(iz[valid_z].min()), int(iz[valid_z].max()) + 1
        rows = self._read_rows(volume, z_lo, z_hi)
        idx = [np.maximum(ix, 0), np.maximum(iy, 0), np.where(valid_z, iz - z_lo, 0)]
        out = gather(rows, idx, self.device, out=out)
        if (ix < 0).any() or (iy < 0).any() or not valid_z.all():
            out[ix < 0] = self.fill_value
            out[:, iy < 0] = self.fill_value
            out[:, :, ~valid_z] = self.fill_value
        return out

    def _nearest_general(self, volume: int, zs: np.ndarray) -> np.ndarray:
        src = self.source
        nx, ny = self.grid.shape[0], self.grid.shape[1]
        n_in = np.asarray(self.in_shape)
        out = np.full((nx, ny, len(zs)), self.fill_value, dtype=src.dtype, order="F")
        m = self.map
        # Chunk along z so that coordinates (3 x float64 per voxel) stay small.
        step = max(1, (32 << 20) // max(1, nx * ny * 40))
        i, j = np.meshgrid(np.arange(nx, dtype=np.float64), np.arange(ny, dtype=np.float64),
                           indexing="ij")
        ck = kernels()
        for c0 in range(0, len(zs), step):
            zc = zs[c0:c0 + step]
            if ck is not None and np.all(np.diff(zc) == 1):
                zbox = (0, nx, 0, ny, int(zc[0]), int(zc[0]) + len(zc))
                out[:, :, c0:c0 + len(zc)] = nearest_box(
                    ck, lambda lo, hi: self._read_rows(volume, int(lo[2]), int(hi[2]),
                                                       x=slice(int(lo[0]), int(hi[0])),
                                                       y=slice(int(lo[1]), int(hi[1]))),
                    zbox, self.in_shape, self.fill_value, src.dtype,
                    coords=None if self.coord_map is None else self.coord_map.box(*zbox),
                    matrix=self.map)
                continue
            inside = np.ones((nx, ny, len(zc)), dtype=bool)
            idx = []
            field = None
            if self.coord_map is not None:
                z_lo = int(zc.min())
                field = self.coord_map.box(0, nx, 0, ny, z_lo, int(zc.max()) + 1)[..., zc - z_lo]
            for a in range(3):
                if field is not None:
                    x = field[a]
                else:
                    x = (m[a, 0] * i)[:, :, None] + (m[a, 1] * j)[:, :, None] \
                        + (m[a, 2] * zc.astype(np.float64))[None, None, :] + m[a, 3]
                ia, ins = nearest_index(x, int(n_in[a]))
                inside &= ins
                idx.append(ia)
            if not inside.any():
                continue
            lo = [int(idx[a][inside].min()) for a in range(3)]
            hi = [int(idx[a][inside].max()) + 1 for a in range(3)]
            box = self._read_rows(volume, lo[2], hi[2], x=slice(lo[0], hi[0]), y=slice(lo[1], hi[1]))
            vals = gather_points(box, [np.where(inside, idx[a] - lo[a], 0) for a in range(3)])
            out[:, :, c0:c0 + len(zc)] = np.where(inside, vals, self.fill_value)
        return out

    def _majority(self, volume: int, z0: int, z1: int) -> np.ndarray:
        src = self.source
        (wx, vx), (wy, vy), (wz, vz) = self.windows
        wz, vz = wz[z0:z1], vz[z0:z1]
        nn = [np.maximum(self.nn[0], 0), np.maximum(self.nn[1], 0), np.maximum(self.nn[2][z0:z1], 0)]
        z_lo = int(min(wz.min(), nn[2].min()))
        z_hi = int(max(wz.max(), nn[2].max())) + 1
        rows = self._read_rows(volume, z_lo, z_hi)
        win = [wx, wy, wz - z_lo]
        shape = (len(wx), len(wy), z1 - z0)
        sentinel = free_sentinel(rows) if self.device == "numpy" else None
        if rows.size and rows.min() == rows.max():
            out = np.full(shape, rows.flat[0], dtype=src.dtype, order="F")
        elif sentinel is not None:
            # Vote on the ids themselves; an id the slab lacks marks the padding taps.
            nn_vals = gather(rows, [nn[0], nn[1], nn[2] - z_lo], "numpy")
            out = np.asfortranarray(majority_codes(rows, win, [vx, vy, vz], nn_vals, sentinel))
        else:
            values, inv = np.unique(rows, return_inverse=True)
            codes = inv.reshape(rows.shape).astype(np.int32)
            nn_codes = gather(codes, [nn[0], nn[1], nn[2] - z_lo], "numpy")
            if self.device == "numpy":
                mode = majority_codes(codes, win, [vx, vy, vz], nn_codes, len(values))
            else:
                from . import _labels_torch as lt

                mode = lt.majority(codes, win, [vx, vy, vz], nn_codes, len(values),
                                   device=self.device)
            out = np.asfortranarray(values[mode])
        outside = [self.nn[0] < 0, self.nn[1] < 0, self.nn[2][z0:z1] < 0]
        if any(o.any() for o in outside):  # beyond the input's field of view: the fill
            out[outside[0]] = self.fill_value
            out[:, outside[1]] = self.fill_value
            out[:, :, outside[2]] = self.fill_value
        return out

    def _gaussian(self, volume: int, z0: int, z1: int) -> np.ndarray:
        nz = self.grid.shape[2]
        rz = self.radius[2]
        zs = np.clip(np.arange(z0 - rz, z1 + rz), 0, nz - 1)
        coded = self._nearest_codes(volume, zs)
        if coded is None:
            values, codes = dense_codes(self.nearest(volume, zs))
        else:
            values, codes = coded
        if self.device == "numpy":
            res = smooth_labels_blocks(codes, self.weights, z_halo=rz, codes=True)
        else:
            from . import _labels_torch as lt

            res = lt.smooth_labels(codes, self.weights, z_halo=rz, device=self.device, codes=True)
        table = np.empty(len(values) + 1, dtype=values.dtype)  # code k -> values[k - 1]
        table[1:] = values
        table[0] = values[0]
        return table.take(res.T).T if res.flags.f_contiguous else np.asfortranarray(table[res])

    def _nearest_codes(self, volume: int, zs: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Nearest-neighbour *codes* gathered from the input rows' codes (relabelling
        the input, not the larger output); None when some voxel lies outside the input."""
        if not self.separable:
            return None
        ix, iy, iz = self.nn[0], self.nn[1], self.nn[2][zs]
        if (ix < 0).any() or (iy < 0).any() or (iz < 0).any():
            return None
        z_lo = int(iz.min())
        rows = self._read_rows(volume, z_lo, int(iz.max()) + 1)
        values, codes_in = dense_codes(rows)
        return values, gather(codes_in, [ix, iy, iz - z_lo], "numpy")
