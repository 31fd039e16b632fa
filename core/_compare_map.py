"""Nearest-neighbour mapping of image ``b`` onto the voxel centres of image ``a``.

The voxel picked is the one of :func:`core.kernels.nearest_index` (ties go up,
tolerance ``NEAREST_EPS``), the rule the label resampler uses, so ``compare``
samples the voxel that ``labels`` wrote.  Only the rows of ``b`` a slab of
``a`` needs are read.
"""

from __future__ import annotations

import numpy as np

from .grid import Grid, axis_aligned_map, voxel_map
from .kernels import nearest_index
from .source import SourceImage

__all__: list[str] = []


class _Mapper:
    """Values of ``b`` at the voxel centres of ``a`` (0 outside ``b``)."""

    def __init__(self, a: Grid, b: Grid, budget: int) -> None:
        self.a, self.b = a, b
        self.budget = budget
        aligned = axis_aligned_map(b, a)
        self.separable = aligned is not None
        if aligned is not None:
            scale, offset = aligned
            self.scale = scale
            mapped = [nearest_index(scale[ax] * np.arange(a.shape[ax]) + offset[ax], b.shape[ax])
                      for ax in range(3)]
            self.idx = [i for i, _ in mapped]
            self.valid = [inside for _, inside in mapped]
        else:
            self.m = voxel_map(b, a)

    def b_voxels_per_a_voxel(self) -> float:
        """Voxels of ``b`` read per voxel of ``a`` (the block behind a slab).

        Along z at most one slice of ``b`` per slice of ``a`` is needed when
        the block would be too large (see :meth:`_map_separable`).
        """
        if self.separable:
            return float(np.prod(np.maximum(np.abs(self.scale[:2]), 1.0)))
        return 1.0

    def map_slab(self, img_b: SourceImage, volume: int, z0: int, z1: int) -> np.ndarray:
        nx, ny = self.a.shape[0], self.a.shape[1]
        out = np.zeros((nx, ny, z1 - z0), dtype=img_b.value_dtype)
        if self.separable:
            self._map_separable(img_b, volume, z0, z1, out)
        else:
            self._map_general(img_b, volume, z0, z1, out)
        return out

    def _map_separable(self, img_b: SourceImage, volume: int, z0: int, z1: int,
                       out: np.ndarray) -> None:
        ix, iy, iz = self.idx[0], self.idx[1], self.idx[2][z0:z1]
        vx, vy, vz = self.valid[0], self.valid[1], self.valid[2][z0:z1]
        if not (vx.any() and vy.any() and vz.any()):
            return
        bx, by, bz = ix[vx], iy[vy], iz[vz]
        xs = slice(int(bx.min()), int(bx.max()) + 1)
        ys = slice(int(by.min()), int(by.max()) + 1)
        ox, oy, oz = np.flatnonzero(vx), np.flatnonzero(vy), np.flatnonzero(vz)
        z_lo, z_hi = int(bz.min()), int(bz.max()) + 1
        block_bytes = (xs.stop - xs.start) * (ys.stop - ys.start) * (z_hi - z_lo) \
            * img_b.value_dtype.itemsize
        if block_bytes <= self.budget // 2:
            block = img_b.read_slab(z_lo, z_hi, volume=volume, x=xs, y=ys)
            out[np.ix_(ox, oy, oz)] = block[np.ix_(bx - xs.start, by - ys.start, bz - z_lo)]
            return
        # b is much finer along z: read only the slices the gather needs.
        for k_out, k_b in zip(oz.tolist(), bz.tolist(), strict=True):
            row = img_b.read_slab(k_b, k_b + 1, volume=volume, x=xs, y=ys)[..., 0]
            out[:, :, k_out][np.ix_(ox, oy)] = row[np.ix_(bx - xs.start, by - ys.start)]

    def _map_general(self, img_b: SourceImage, volume: int, z0: int, z1: int,
                     out: np.ndarray) -> None:
        nx, ny = self.a.shape[0], self.a.shape[1]
        i, j, k = np.meshgrid(np.arange(nx), np.arange(ny), np.arange(z0, z1), indexing="ij")
        m = self.m
        bshape = self.b.shape
        valid = np.ones(out.shape, dtype=bool)
        coords = []
        for r in range(3):
            idx, inside = nearest_index(m[r, 0] * i + m[r, 1] * j + m[r, 2] * k + m[r, 3], bshape[r])
            coords.append(idx)
            valid &= inside
        del i, j, k
        if not valid.any():
            return
        where = np.flatnonzero(valid)
        bi, bj, bk = (c.ravel()[where] for c in coords)
        del coords
        # Read b in chunks of its last axis so that a rotated slab of a (which
        # may cross all of b's slices) still needs bounded memory.
        row_bytes = max(1, int(bi.max() - bi.min() + 1) * int(bj.max() - bj.min() + 1)
                        * img_b.value_dtype.itemsize * 2)
        step = max(1, self.budget // 4 // row_bytes)
        flat = out.reshape(-1)
        k_lo, k_hi = int(bk.min()), int(bk.max()) + 1
        for c0 in range(k_lo, k_hi, step):
            c1 = min(k_hi, c0 + step)
            sel = np.flatnonzero((bk >= c0) & (bk < c1))
            if sel.size == 0:
                continue
            si, sj, sk = bi[sel], bj[sel], bk[sel]
            xs = slice(int(si.min()), int(si.max()) + 1)
            ys = slice(int(sj.min()), int(sj.max()) + 1)
            block = img_b.read_slab(c0, c1, volume=volume, x=xs, y=ys)
            flat[where[sel]] = block[si - xs.start, sj - ys.start, sk - c0]
