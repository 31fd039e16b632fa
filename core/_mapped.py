"""The general slab function: rotated or permuted target grids, displacement fields.

For each output slab (cut in tiles whose source box fits a budget) the source
coordinates of its voxels are computed (from ``voxel_map``, or through a
:class:`core._coord_map.CoordMap` for chains with displacement fields), only
their bounding box (plus the spline and anti-aliasing margins) is read, and
:func:`scipy.ndimage.map_coordinates` (``mode='nearest'``) interpolates them;
order 0 is an exact index gather by :func:`core.kernels.nearest_index`.

With the compiled kernels (:mod:`._native_interp`, ``core/_cinterp.c``) the
same tiles run without coordinate arrays for affine maps (box bounds from the
tile's 8 corners), and the input is smoothed and pre-filtered once for all
tiles when it fits one tile's box; the code above is their fallback (no
compiler, ``NIRESAMPLE_PURE_PYTHON=1``, NaN or inf in a box at orders >= 2).

Output voxels whose centre maps beyond the input's field of view (voxel
coordinates -0.5 .. n - 0.5) get ``fill``; inside that half-voxel border the
edge is replicated.  Anti-aliasing: when the map shrinks an input axis (local
Jacobian, :func:`core._coord_map.aa_sigma`) the tile's input box is smoothed
with a Gaussian of that width first; for an affine map the Jacobian is the
matrix, for a displacement field it is taken at each tile's centre.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

from ._coord_map import CoordMap, aa_sigma, outside_fov
from ._native_interp import (
    affine_bounds,
    all_outside,
    box_bounds,
    interp_tile,
    kernels,
    spline_coefficients,
)
from ._separable import _ClipCount, _fill_nonfinite
from .cast import OutputType, cast_values, work_dtype
from .grid import Grid, voxel_map
from .kernels import SPLINE_PAD, nearest_index, prefilter_margin
from .source import SourceHandle, SourceImage

__all__ = ["MappedSlabs"]


class MappedSlabs(_ClipCount):
    """Slab function of the general (rotated or permuted grids) path.

    For each output slab the source voxel coordinates are computed from
    ``voxel_map``; only their bounding box (plus the spline margin) is read.
    """

    def __init__(
        self, source: SourceImage, target: Grid, *, order: int, out: OutputType,
        source_grid: Grid | None = None, coord_map: CoordMap | None = None,
        fill: float = 0.0, anti_aliasing: bool = False,
    ) -> None:
        self._handle = SourceHandle(source)
        self.target = target
        self.order = order
        self.out = out
        self.n_in = tuple(source.grid.shape)
        # source_grid: the input grid seen through an affine chain (core._coord_map.effective_grid)
        self.matrix = voxel_map(source_grid or source.grid, target)
        self.coord_map = coord_map
        if coord_map is not None:
            self.matrix[:3, :3] = coord_map.linear()  # for planning tiles only
        self.fill = float(fill)
        self.anti_aliasing = bool(anti_aliasing) and order >= 1
        self.sigma = aa_sigma(self.matrix[:3, :3]) if self.anti_aliasing and coord_map is None \
            else np.zeros(3)
        self.margin = prefilter_margin(order) + (SPLINE_PAD if order >= 2 else 0)
        self.raw = order == 0 and out.dtype == source.dtype and (
            (out.slope, out.inter) == (source.slope, source.inter)
        )
        self.work = work_dtype(source, out)
        self._clipped: list[int] = []  # list.append is atomic: slabs run on threads
        self._whole: tuple[int, np.ndarray | None] | None = None  # (volume, array): _whole_input
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_whole"], state["_lock"] = None, None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def source(self) -> SourceImage:
        return self._handle.source

    def for_grid(self, target: Grid) -> MappedSlabs:
        """The same resampling onto another grid (a sample of the output: core._size_sample)."""
        fn = MappedSlabs(self.source, target, order=self.order, out=self.out)
        fn.box_voxels = self.box_voxels
        return fn

    #: Source voxels one tile may read (set from the memory budget by plan_resample).
    box_voxels: int = 16 << 20

    def memory(self) -> tuple[float, float]:
        """``(bytes per output slice, fixed bytes)``: coordinates, values and the
        output per slice; the fixed part is one tile's source box (and its work
        copy), bounded by :attr:`box_voxels` whatever the rotation."""
        isz = self.work.itemsize
        area = float(self.target.shape[0] * self.target.shape[1])
        per_slice = area * (3 * 8 + 2 * isz + 2 * self.out.dtype.itemsize)
        fixed = 3.0 * isz * self.box_voxels
        return per_slice, fixed

    def _box(self, tx: int, ty: int, h: int) -> float:
        """Source voxels read for an output tile of tx x ty x h voxels."""
        lin = np.abs(self.matrix[:3, :3])
        reach = 2 * ((self.order + 1) / 2.0 + self.margin) + 2
        return float(np.prod([
            min(n, lin[a, 0] * (tx - 1) + lin[a, 1] * (ty - 1) + lin[a, 2] * (h - 1) + reach
                + 2 * math.ceil(4.0 * self.sigma[a]))
            for a, n in enumerate(self.n_in)
        ]))

    def _tiles(self, h: int) -> list[tuple[int, int, int, int]]:
        """Output tiles (x0, x1, y0, y1) of a slab whose source boxes fit box_voxels:
        a slab through a rotated grid can touch most of the input, a tile cannot."""
        nx, ny, _ = self.target.shape
        tx, ty = nx, ny
        while self._box(tx, ty, h) > self.box_voxels and (tx > 8 or ty > 8):
            if tx >= ty:
                tx = max(8, (tx + 1) // 2)
            else:
                ty = max(8, (ty + 1) // 2)
        return [(x0, min(nx, x0 + tx), y0, min(ny, y0 + ty))
                for y0 in range(0, ny, ty) for x0 in range(0, nx, tx)]

    def __call__(self, volume: int, z0: int, z1: int) -> np.ndarray:
        nx, ny, _ = self.target.shape
        tiles = self._tiles(z1 - z0)
        if len(tiles) == 1:
            return self._tile(volume, 0, nx, 0, ny, z0, z1)
        out = np.empty((nx, ny, z1 - z0), dtype=self.out.dtype, order="F")
        for x0, x1, y0, y1 in tiles:
            out[x0:x1, y0:y1] = self._tile(volume, x0, x1, y0, y1, z0, z1)
        return out

    def _coords(self, x0: int, x1: int, y0: int, y1: int, z0: int, z1: int) -> np.ndarray:
        if self.coord_map is not None:
            return self.coord_map.box(x0, x1, y0, y1, z0, z1)
        m = self.matrix
        i = np.arange(x0, x1, dtype=np.float64)[:, None, None]
        j = np.arange(y0, y1, dtype=np.float64)[None, :, None]
        k = np.arange(z0, z1, dtype=np.float64)[None, None, :]
        return np.stack([
            np.broadcast_to(m[a, 0] * i + m[a, 1] * j + m[a, 2] * k + m[a, 3], (x1 - x0, y1 - y0, z1 - z0))
            for a in range(3)
        ])

    def _filled(self, shape: tuple[int, int, int]) -> np.ndarray:
        raw, _ = cast_values(np.full(shape, self.fill, dtype=self.work), self.out)
        return np.asfortranarray(raw)

    def _tile(self, volume: int, x0: int, x1: int, y0: int, y1: int, z0: int, z1: int) -> np.ndarray:
        ck = kernels()
        if ck is not None:
            done = self._tile_native(ck, volume, x0, x1, y0, y1, z0, z1)
            if done is not None:
                return done
        coords = self._coords(x0, x1, y0, y1, z0, z1)
        outside = outside_fov(coords, self.n_in)
        if outside.all():
            return self._filled((x1 - x0, y1 - y0, z1 - z0))
        sigma = self.sigma
        if self.anti_aliasing and self.coord_map is not None:
            sigma = aa_sigma(self.coord_map.jacobian(((x0 + x1 - 1) / 2, (y0 + y1 - 1) / 2,
                                                      (z0 + z1 - 1) / 2)))
        reach = (self.order + 1) / 2.0 + self.margin
        any_out = bool(outside.any())
        pts = coords[:, ~outside] if any_out else coords.reshape(3, -1)
        lo, hi = box_bounds(pts.min(axis=1), pts.max(axis=1), self.n_in,
                            reach + np.ceil(4.0 * np.asarray(sigma, dtype=np.float64)))
        del pts
        big = float(np.prod(hi - lo)) > 4 * self.box_voxels
        if big and self.coord_map is not None and (x1 - x0) * (y1 - y0) * (z1 - z0) > 512:
            return self._split(volume, x0, x1, y0, y1, z0, z1)  # a field stretched this tile
        src = self.source
        block = src.read_slab(
            int(lo[2]), int(hi[2]), volume=volume, scaled=not self.raw,
            x=slice(int(lo[0]), int(hi[0])), y=slice(int(lo[1]), int(hi[1])),
        )
        coords -= lo[:, None, None, None]
        if self.order == 0:
            idx = [nearest_index(coords[a], block.shape[a])[0] for a in range(3)]
            values = block[idx[0], idx[1], idx[2]]
            if self.raw and not any_out:
                return np.asfortranarray(values)
            values = values.astype(self.work, copy=False)
            if self.raw:  # the fill may not be a stored value: cast like any other value
                values[outside] = self.fill
                raw, _ = cast_values(np.asfortranarray(values), self.out)
                return raw
        else:
            from scipy.ndimage import binary_dilation, map_coordinates

            work = block.astype(self.work, copy=False)
            if np.any(sigma > 0):
                from scipy.ndimage import gaussian_filter

                work = gaussian_filter(work, tuple(float(s) for s in sigma), mode="nearest")
            finite = np.isfinite(work) if self.order >= 2 else None
            touched = None
            if finite is not None and not finite.all():
                # as in the separable path: NaN/inf stay local instead of spreading
                # through the pre-filter; a voxel is touched when a tap reaches one
                r = (self.order + 1) // 2
                reach_bad = binary_dilation(~finite, structure=np.ones((2 * r + 1,) * 3, bool))
                touched = map_coordinates(reach_bad.astype(np.float32), coords, order=0,
                                          mode="nearest") > 0
                # (z, y, x) order, as in the separable path: same neighbour choices
                work = _fill_nonfinite(work.T, finite.T, slab_axis=0).T
            values = map_coordinates(
                work, coords, order=self.order, mode="nearest",
                prefilter=self.order >= 2, output=self.work,
            )
            if touched is not None:
                values[touched] = np.nan
        if any_out:
            values[outside] = self.fill
        raw, clipped = cast_values(np.asfortranarray(values), self.out)
        if clipped:
            self._clipped.append(clipped)
        return raw

    def _tile_native(self, ck: object, volume: int, x0: int, x1: int, y0: int, y1: int,
                     z0: int, z1: int) -> np.ndarray | None:
        """:meth:`_tile` through the compiled kernel (core/_cinterp.c): the same values.

        Affine maps need no coordinate arrays (the box comes from the tile's 8
        corners); a field's coordinates come from :meth:`CoordMap.box`.  None
        when the numpy code must run (order >= 2 on a box with NaN or inf, a
        fill the output type clips at order 0).
        """
        shape = (x1 - x0, y1 - y0, z1 - z0)
        coords = None
        if self.coord_map is None:
            cmin, cmax = affine_bounds(self.matrix, (x0, x1, y0, y1, z0, z1))
        else:
            coords = self._coords(x0, x1, y0, y1, z0, z1)
            cmin, cmax = coords.min(axis=(1, 2, 3)), coords.max(axis=(1, 2, 3))
        if all_outside(cmin, cmax, self.n_in):
            return self._filled(shape)
        sigma = self.sigma
        if self.anti_aliasing and self.coord_map is not None:
            sigma = aa_sigma(self.coord_map.jacobian(((x0 + x1 - 1) / 2, (y0 + y1 - 1) / 2,
                                                      (z0 + z1 - 1) / 2)))
        kw: dict[str, Any] = {"in_shape": self.n_in, "coords": coords, "origin": (x0, y0, z0),
                              "matrix": self.matrix if coords is None else None}
        whole = self._whole_input(volume, sigma)
        if whole is not None:
            values = interp_tile(ck, whole, shape, self.order, fill=self.fill, dtype=self.work,
                                 lo=np.zeros(3), prefiltered=True, **kw)
            assert values is not None  # pre-filtered: finite
            return self._cast(values)
        reach = (self.order + 1) / 2.0 + self.margin + np.ceil(4.0 * np.asarray(sigma))
        lo, hi = box_bounds(cmin, cmax, self.n_in, reach)
        if coords is not None and float(np.prod(hi - lo)) > 4 * self.box_voxels \
                and shape[0] * shape[1] * shape[2] > 512:
            return self._split(volume, x0, x1, y0, y1, z0, z1)  # a field stretched this tile
        if self.order == 0 and self.raw:
            fill_raw, clipped = cast_values(np.full(1, self.fill, dtype=self.work), self.out)
            if clipped:
                return None
        block = self.source.read_slab(
            int(lo[2]), int(hi[2]), volume=volume, scaled=not self.raw,
            x=slice(int(lo[0]), int(hi[0])), y=slice(int(lo[1]), int(hi[1])),
        )
        kw["lo"] = lo
        if self.order == 0 and self.raw:
            return interp_tile(ck, block, shape, 0, fill=fill_raw[0], dtype=block.dtype, **kw)
        work = block.astype(self.work, copy=False)
        if self.order >= 1 and np.any(sigma > 0):
            from scipy.ndimage import gaussian_filter

            work = gaussian_filter(work, tuple(float(s) for s in sigma), mode="nearest")
        values = interp_tile(ck, work, shape, self.order, fill=self.fill, dtype=self.work, **kw)
        return None if values is None else self._cast(values)

    def _cast(self, values: np.ndarray) -> np.ndarray:
        raw, clipped = cast_values(values, self.out)
        if clipped:
            self._clipped.append(clipped)
        return raw

    def _whole_input(self, volume: int, sigma: np.ndarray) -> np.ndarray | None:
        """The whole input as the compiled kernel reads it (orders >= 1).

        Smoothed by ``sigma`` (anti-aliasing) and, for orders >= 2, padded and
        pre-filtered once per volume and shared by every tile and slab thread,
        instead of once per tile on overlapping boxes: only when it fits one
        tile's box (:attr:`box_voxels`), so memory stays within the plan, and the
        output has at least an eighth of its voxels; through a field, for tiles
        without anti-aliasing.  None otherwise, or
        when the input holds NaN or inf (orders >= 2: the tiles keep the numpy rule).
        """
        if self.order == 0 or (self.coord_map is not None and np.any(sigma > 0)):
            return None
        pad = 2 * SPLINE_PAD if self.order >= 2 else 0
        whole = math.prod(n + pad for n in self.n_in)
        if whole > self.box_voxels or 8 * math.prod(self.target.shape) < whole:
            return None  # too big for the plan, or an output too small to need most of it
        with self._lock:
            if self._whole is None or self._whole[0] != volume:
                self._whole = (volume, self._prepare_whole(volume, sigma))
            return self._whole[1]

    def _prepare_whole(self, volume: int, sigma: np.ndarray) -> np.ndarray | None:
        work = self.source.read_slab(0, self.n_in[2], volume=volume).astype(self.work, copy=False)
        if np.any(sigma > 0):
            from scipy.ndimage import gaussian_filter

            work = gaussian_filter(work, tuple(float(s) for s in sigma), mode="nearest")
        if self.order == 1:
            return work
        if not np.isfinite(work).all():
            return None
        ck = kernels()
        assert ck is not None  # only the compiled path asks for the whole input
        return spline_coefficients(ck, work, self.order)

    def _split(self, volume: int, x0: int, x1: int, y0: int, y1: int, z0: int, z1: int) -> np.ndarray:
        """The tile in two halves along its longest axis (each reads a smaller box)."""
        lo, hi = [x0, y0, z0], [x1, y1, z1]
        a = int(np.argmax([x1 - x0, y1 - y0, z1 - z0]))
        mid = (lo[a] + hi[a]) // 2
        out = np.empty((x1 - x0, y1 - y0, z1 - z0), dtype=self.out.dtype, order="F")
        for s0, s1 in ((lo[a], mid), (mid, hi[a])):
            b = [x0, x1, y0, y1, z0, z1]
            b[2 * a], b[2 * a + 1] = s0, s1
            sl = [slice(None)] * 3
            sl[a] = slice(s0 - lo[a], s1 - lo[a])
            out[tuple(sl)] = self._tile(volume, *b)
        return out
