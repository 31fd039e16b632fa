"""The numpy kernels of :mod:`.labels`: separable gathers, the majority vote and the
block-wise per-label Gaussian argmax.  :mod:`._labels_torch` mirrors them with
identical results.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._cancel import check_cancel
from ._native import load

__all__ = ["gather", "gather_points", "free_sentinel", "majority_codes", "smooth_labels_blocks",
           "dense_codes", "BLOCK"]

#: Output block edge (voxels) for the Gaussian method on the CPU.
BLOCK = 32


def _take_order(idx: Sequence[np.ndarray], shape: Sequence[int]) -> list[int]:
    """Axes in the order that keeps intermediates small; x (contiguous) first on ties."""
    ratios = [len(idx[a]) / max(1, shape[a]) for a in range(3)]
    return sorted(range(3), key=lambda a: (ratios[a], a))


def gather(arr: np.ndarray, idx: Sequence[np.ndarray], device: str,
            out: np.ndarray | None = None) -> np.ndarray:
    """``arr[ix][:, iy][:, :, iz]`` as separable takes; result F-ordered.

    The contiguous axis is gathered first on the smallest array (element
    gathers are the slow kind), then whole rows and planes are copied; the last
    take writes into ``out`` when given (an F-ordered array or view).
    """
    if device in ("cpu", "cuda"):
        from . import _labels_torch as lt

        res = lt.gather(arr, idx, device=device)
        if out is None:
            return res
        out[...] = res
        return out
    t = np.asarray(arr).T  # C view (z, y, x) when arr is F-ordered
    order = _take_order(idx, arr.shape)
    for n, a in enumerate(order):
        ia = np.asarray(idx[a], dtype=np.intp)
        if n == len(order) - 1 and out is not None and out.T.flags.c_contiguous:
            np.take(t, ia, axis=2 - a, out=out.T, mode="clip")  # indices are in range
            return out
        t = t.take(ia, axis=2 - a)
    if out is None:
        return t.T
    out[...] = t.T
    return out


def gather_points(arr: np.ndarray, idx: Sequence[np.ndarray]) -> np.ndarray:
    """``arr[ix, iy, iz]`` for index arrays of one shape."""
    flat = np.ravel_multi_index(tuple(idx), arr.shape, order="F")
    return np.asarray(arr).ravel(order="F")[flat]


def free_sentinel(rows: np.ndarray) -> Any:
    """The largest value of an integer dtype when ``rows`` lacks it (else None)."""
    if rows.dtype.kind not in "iu":
        return None
    top = rows.dtype.type(np.iinfo(rows.dtype).max)
    return None if bool((rows == top).any()) else top


def majority_codes(codes: np.ndarray, windows: Sequence[np.ndarray], valid: Sequence[np.ndarray],
                   nn_codes: np.ndarray, n_codes: int) -> np.ndarray:
    """Most frequent code in each output voxel's window (numpy).

    Parameters
    ----------
    codes : (nx, ny, nz) integer ndarray
        Label codes of the input rows, all below ``n_codes`` (dense codes, or
        the ids themselves with ``n_codes`` an id absent from them).
    windows, valid : 3 (n_out_a, w_a) arrays
        Input indices per output index along each axis, and which are real.
    nn_codes : (nx', ny', nz') int32 ndarray
        Nearest-neighbour code of each output voxel (wins ties).
    n_codes : int
        Marks padding taps (never counted).

    Returns
    -------
    (nx', ny', nz') ndarray of codes (C-ordered).
    """
    (wx, vx), (wy, vy), (wz, vz) = ((windows[a], valid[a]) for a in range(3))
    nxo, nyo, nzo = len(wx), len(wy), len(wz)
    # (nx', wx, ny', wy, nz', wz) through three takes, invalid taps set to n_codes.
    t = codes.take(wx.ravel(), axis=0).take(wy.ravel(), axis=1).take(wz.ravel(), axis=2)
    t = t.reshape(nxo, wx.shape[1], nyo, wy.shape[1], nzo, wz.shape[1], order="C")
    ok = vx[:, :, None, None, None, None] & vy[None, None, :, :, None, None] \
        & vz[None, None, None, None, :, :]
    if not ok.all():
        t = np.where(ok, t, t.dtype.type(n_codes))
    t = t.transpose(0, 2, 4, 1, 3, 5).reshape(nxo * nyo * nzo, -1)
    mode = _row_mode(t, np.asarray(nn_codes).reshape(-1), n_codes)
    return mode.reshape(nxo, nyo, nzo)


def _row_mode(t: np.ndarray, nn: np.ndarray, n_codes: int) -> np.ndarray:
    """Per row: the most frequent code (< n_codes); ties to ``nn``, else the smallest."""
    s = np.sort(t, axis=1)
    n, w = s.shape
    j = np.arange(w, dtype=np.int32)
    new = np.ones((n, w), dtype=bool)
    new[:, 1:] = s[:, 1:] != s[:, :-1]
    start = np.where(new, j, 0)
    np.maximum.accumulate(start, axis=1, out=start)
    cnt = j - start + 1
    cnt[s >= n_codes] = 0
    top = cnt.max(axis=1)
    pos = np.where(cnt == top[:, None], j, w).min(axis=1)
    mode = s[np.arange(n), pos]
    nn_count = (t == nn[:, None]).sum(axis=1)
    return np.where(nn_count == top, nn, mode)


def smooth_labels_blocks(padded: np.ndarray, weights: Sequence[np.ndarray], *,
                         z_halo: int, block: int = BLOCK, codes: bool = False,
                         native: bool = True) -> np.ndarray:
    """Per-label Gaussian argmax of a nearest-neighbour slab, block by block.

    Parameters
    ----------
    padded : (nx, ny, nz + 2 * z_halo) ndarray
        Nearest-neighbour labels of the output slab with ``z_halo`` replicated
        or neighbouring slices on each side.
    weights : 3 integer-valued (2r + 1,) float64 arrays
        Per-axis taps from :func:`gaussian_weights`.
    z_halo : int
        Halo slices on each side along z (the z kernel radius).
    block : int
        Output block edge in voxels (the result does not depend on it).
    codes : bool
        ``padded`` holds dense positive int32 codes (1 .. K) ordered like the
        ids they stand for: used directly, no per-block relabelling.
    native : bool
        Use the compiled kernel (``core/_clabels.c``) when it is built and the
        labels are integers; False runs the numpy code (identical output).

    Returns
    -------
    (nx, ny, nz) ndarray, same dtype, F-ordered.

    Notes
    -----
    Edges along x and y are replicated (the slab holds the whole x/y extent).
    Ties go to the nearest-neighbour label, else to the smallest id.
    """
    clabels = load("_clabels")
    if clabels is not None and native and padded.dtype.kind in "iu":
        return _smooth_native(clabels, padded, weights, z_halo, block, codes)
    from scipy import ndimage

    nx, ny, nzp = padded.shape
    nz = nzp - 2 * z_halo
    rx, ry, rz = ((len(w) - 1) // 2 for w in weights)
    out = np.empty((nx, ny, nz), dtype=padded.dtype, order="F")
    for bz in range(0, nz, block):
        ez = min(nz, bz + block)
        zi = np.arange(bz, ez + 2 * rz)
        for by in range(0, ny, block):
            ey = min(ny, by + block)
            yi = np.clip(np.arange(by - ry, ey + ry), 0, ny - 1)
            for bx in range(0, nx, block):
                ex = min(nx, bx + block)
                check_cancel()
                xi = np.clip(np.arange(bx - rx, ex + rx), 0, nx - 1)
                blk = padded[np.ix_(xi, yi, zi)]
                lo, hi = blk.min(), blk.max()
                if lo == hi:
                    out[bx:ex, by:ey, bz:ez] = lo
                    continue
                out[bx:ex, by:ey, bz:ez] = _smooth_block(blk, weights, (rx, ry, rz), ndimage, codes)
    return out


def _smooth_native(clabels: Any, padded: np.ndarray, weights: Sequence[np.ndarray], z_halo: int,
                   block: int, codes: bool) -> np.ndarray:
    """:func:`smooth_labels_blocks` through ``_clabels.smooth_codes``: one call per
    ``block`` output slices (the cancel check runs between calls)."""
    if codes and padded.dtype in (np.uint16, np.int32):
        values, dense = None, np.asfortranarray(padded)
    else:
        values, dense = dense_codes(np.asfortranarray(padded))
    nx, ny, nzp = dense.shape
    nz = nzp - 2 * z_halo
    out = np.empty((nx, ny, nz), dtype=dense.dtype, order="F")
    ws = [np.ascontiguousarray(w, dtype=np.float64) for w in weights]
    block = max(1, min(block, 128))  # the result does not depend on it; the scratch does
    for z0 in range(0, nz, block):
        check_cancel()
        clabels.smooth_codes(dense, out, ws[0], ws[1], ws[2], z0, min(nz, z0 + block), block)
    return out if values is None else values[out - 1]


def _smooth_block(blk: np.ndarray, weights: Sequence[np.ndarray], r: Sequence[int],
                  ndimage: Any, dense: bool) -> np.ndarray:
    if dense:
        values, codes = None, blk
    else:
        values, inv = np.unique(blk, return_inverse=True)
        codes = (inv.reshape(blk.shape) + 1).astype(np.int32)
    inner = tuple(slice(r[a], blk.shape[a] - r[a]) for a in range(3))
    shape_in = tuple(blk.shape[a] - 2 * r[a] for a in range(3))
    nn = codes[inner]
    best = np.full(shape_in, -1.0)
    best_code = np.zeros(shape_in, dtype=np.int32)
    nn_score = np.zeros(shape_in)
    for k, sl in enumerate(ndimage.find_objects(codes), start=1):
        if sl is None:
            continue
        if k % 16 == 0:
            check_cancel()
        # The label's box grown by the kernel radius, clipped to the block; only
        # the part inside the block's interior is kept after each pass.
        lo = [max(0, sl[a].start - r[a]) for a in range(3)]
        hi = [min(blk.shape[a], sl[a].stop + r[a]) for a in range(3)]
        sub = (codes[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] == k).astype(np.float64)
        olo = [max(lo[a], r[a]) for a in range(3)]
        ohi = [min(hi[a], blk.shape[a] - r[a]) for a in range(3)]
        if any(olo[a] >= ohi[a] for a in range(3)):
            continue
        for a in range(3):
            if len(weights[a]) > 1:
                sub = ndimage.correlate1d(sub, weights[a], axis=a, mode="constant", cval=0.0)
            take = [slice(None)] * 3
            take[a] = slice(olo[a] - lo[a], ohi[a] - lo[a])
            sub = sub[tuple(take)]
        region = tuple(slice(olo[a] - r[a], ohi[a] - r[a]) for a in range(3))
        b = best[region]
        upd = sub > b
        b[upd] = sub[upd]
        best_code[region][upd] = k
        mine = nn[region] == k
        nn_score[region][mine] = sub[mine]
    result = np.where(nn_score == best, nn, best_code)
    return result if values is None else values[result - 1]


def dense_codes(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ids and codes ``1 .. K`` (uint16 when K allows, else int32; F-ordered)."""
    clabels = load("_clabels")
    if clabels is not None and labels.dtype.kind in "iu" and labels.dtype.isnative:
        arr = np.asfortranarray(labels)
        v, c, size = clabels.dense_codes(arr)  # one hash pass, no sort of the voxels
        codes_c = np.frombuffer(c, dtype=np.uint16 if size == 2 else np.int32)
        return np.frombuffer(v, dtype=arr.dtype), codes_c.reshape(arr.shape, order="F")
    t = labels.T  # C-contiguous when labels is F-ordered: no copy in ravel
    values, inv = np.unique(t, return_inverse=True)
    dtype = np.uint16 if len(values) < 65535 else np.int32
    codes: np.ndarray = inv.reshape(t.shape).astype(dtype)
    codes += 1
    return values, codes.T
