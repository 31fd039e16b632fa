"""Sampling for :func:`.report.slice_planes`: planes of ``a``, ``b`` read box by box.

Only 2D planes (and their coordinates) are ever held: ``a``'s plane is read in
slabs, and ``b`` is read in boxes around the points that need it, small where
the plane is oblique to ``b`` and few where it is dense.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .errors import OptionError
from .grid import Grid
from .kernels import nearest_index
from .source import SourceImage


def orientation(grid: Grid) -> tuple[list[int], list[int]]:
    """For each world axis, the closest voxel axis of ``grid`` and its sign."""
    import nibabel.orientations as nio

    ornt = nio.io_orientation(grid.affine)
    voxel_of, sign_of = [0, 0, 0], [1, 1, 1]
    for vox, (world, flip) in enumerate(ornt):
        voxel_of[int(world)], sign_of[int(world)] = vox, int(flip)
    return voxel_of, sign_of


def as_point(center: object) -> np.ndarray | None:
    if center is None:
        return None
    try:
        point = np.asarray(center, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise OptionError(f"center: expected three numbers (mm), got {center!r}", param="center") from err
    if point.shape != (3,) or not np.all(np.isfinite(point)):
        raise OptionError(f"center: expected three finite numbers (mm), got {center!r}", param="center")
    return point


def read_a_plane(img: SourceImage, axis: int, index: int, budget: int) -> np.ndarray:
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


def plane_coords(a: Grid, axis: int, index: int, m: np.ndarray) -> np.ndarray:
    """(3, n_p, n_q) voxel coordinates in ``b`` of the plane's voxel centres."""
    p, q = (ax for ax in range(3) if ax != axis)
    ip = np.arange(a.shape[p], dtype=np.float64)[:, None]
    iq = np.arange(a.shape[q], dtype=np.float64)[None, :]
    return np.stack([m[r, axis] * index + m[r, p] * ip + m[r, q] * iq + m[r, 3] for r in range(3)])


def sample(img: SourceImage, coords: np.ndarray, *, nearest: bool,
            budget: int) -> tuple[np.ndarray, np.ndarray]:
    """``img`` at ``coords`` (nearest or trilinear), reading one bounded box at a time."""
    shape = np.asarray(img.grid.shape)
    flat = coords.reshape(3, -1)
    # the one nearest rule of the kernels (labels and compare pick the same voxel)
    nearest_axes = [nearest_index(flat[a], int(shape[a])) for a in range(3)]
    inside = nearest_axes[0][1] & nearest_axes[1][1] & nearest_axes[2][1]
    out = np.zeros(flat.shape[1], dtype=img.value_dtype if nearest else np.float64)
    where = np.flatnonzero(inside)
    if where.size:
        pts = flat[:, where]
        corners: list[tuple[np.ndarray, np.ndarray | None]] = []
        if nearest:
            corners.append((np.stack([nearest_axes[a][0][where] for a in range(3)]), None))
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
    """Fill ``out[where]`` from ``img`` at the corner indices, one bounded box at a time."""
    idx = np.concatenate([c for c, _ in corners], axis=1)
    point = np.tile(np.arange(where.size), len(corners))
    weight = None if corners[0][1] is None else np.concatenate([w for _, w in corners if w is not None])
    for sel in _boxes(idx, img.value_dtype.itemsize, budget):
        i, j, k = idx[:, sel]
        x0, y0, z0 = int(i.min()), int(j.min()), int(k.min())
        block = img.read_slab(z0, int(k.max()) + 1, x=slice(x0, int(i.max()) + 1),
                              y=slice(y0, int(j.max()) + 1))
        vals = block[i - x0, j - y0, k - z0]
        if weight is None:
            out[where[point[sel]]] = vals
        else:
            np.add.at(out, where[point[sel]], weight[sel] * vals)


def _boxes(idx: np.ndarray, itemsize: int, budget: int) -> Iterator[np.ndarray]:
    """Groups of the voxel indices ``idx`` (3, n) whose bounding boxes are small.

    Tiles of ``b`` start as large as half the budget allows; a tile whose box
    holds far more voxels than points (a plane oblique to ``b`` crosses its
    tiles diagonally) is split again, down to 8 voxels: the reads stay near
    the sheet of voxels the plane needs, in few calls when it is dense.
    """
    tile = 512
    while tile > 16 and tile * tile * itemsize > budget // 2:
        tile //= 2
    depth = int(max(1, budget // 2 // (tile * tile * itemsize)))
    stack = [(np.arange(idx.shape[1]), tile, depth)]
    while stack:
        sel, tile, depth = stack.pop()
        keys = np.stack([idx[2, sel] // depth, idx[0, sel] // tile, idx[1, sel] // tile])
        _, group = np.unique(keys, axis=1, return_inverse=True)
        group = group.ravel()
        order = np.argsort(group, kind="stable")
        for part in np.split(sel[order], np.flatnonzero(np.diff(group[order])) + 1):
            sub = idx[:, part]
            volume = float(np.prod(sub.max(axis=1) - sub.min(axis=1) + 1))
            if tile > 8 and volume > 64.0 * part.size + 4096:
                stack.append((part, tile // 2, max(1, min(depth, tile // 2))))
            else:
                yield part


def to_display(x: np.ndarray, order: tuple[int, int], across: int, across_sign: int,
                up: int, up_sign: int) -> np.ndarray:
    """A plane in voxel order ``order`` as rows (top = +up) by columns (left = -across)."""
    d = x if order.index(up) == 0 else x.T
    if across_sign < 0:
        d = d[:, ::-1]
    if up_sign > 0:
        d = d[::-1, :]
    return np.ascontiguousarray(d)
