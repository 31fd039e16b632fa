"""The chunk-row task of the Zarr writer, and the 2x2x2 downsampling of the pyramid.

Every chunk row (all chunks of one z range of one volume of one level) is an
independent task run by :mod:`._dask`: level 0 computes its slabs with the
engine's slab function, each coarser level downsamples the finer one.  The
task writes its chunks straight into the store and then a marker file, so a
resumed run skips finished rows (:mod:`._zarr_resume`).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._zarr_meta import STATE_DIR
from .errors import OutputError

__all__ = ["RowTask", "downsample2", "level_shapes"]


@dataclass(frozen=True)
class RowTask:
    """Compute and write every chunk of one z row of one volume of one level.

    Picklable: dask.distributed sends it to workers, which open the store by
    path and write their chunks themselves; only a byte count comes back.
    """

    root: str
    level: int
    extra: tuple[int, ...]
    shape: tuple[int, int, int]
    depth: int
    slab_fn: Any
    sub_height: int
    method: str
    dtype: str
    run: str  # unique per write: keys the per-process cache of open arrays

    def __call__(self, item: tuple[int, int]) -> int:
        volume, row = item
        nx, ny, nz = self.shape
        z0, z1 = row * self.depth, min(nz, (row + 1) * self.depth)
        vidx = tuple(int(i) for i in np.unravel_index(volume, self.extra, order="F")) if self.extra else ()
        data = self._compute(volume, z0, z1) if self.level == 0 else self._downsample(vidx, z0, z1)
        _write_row(os.path.join(self.root, str(self.level)), vidx, row, data)
        marker = Path(self.root) / STATE_DIR / "done" / str(self.level) / f"{volume}.{row}"
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_bytes(b"")
        return int(data.nbytes)

    def _compute(self, volume: int, z0: int, z1: int) -> np.ndarray:
        """Output rows ``[z0, z1)`` as a C-ordered (dz, ny, nx) array."""
        nx, ny, _ = self.shape
        dtype = np.dtype(self.dtype)
        buf: np.ndarray | None = None
        for a in range(z0, z1, self.sub_height):
            b = min(z1, a + self.sub_height)
            slab = np.asarray(self.slab_fn(volume, a, b))
            if slab.shape != (nx, ny, b - a):
                raise OutputError(
                    f"internal error: slab function returned {slab.shape} for rows {a}:{b}, "
                    f"expected {(nx, ny, b - a)}"
                )
            if a == z0 and b == z1:  # the whole row at once: no buffer
                return np.ascontiguousarray(slab.T, dtype=dtype)
            if buf is None:
                buf = np.empty((z1 - z0, ny, nx), dtype=dtype)
            buf[a - z0: b - z0] = slab.T  # (nx, ny, dz) Fortran == (dz, ny, nx) C
        assert buf is not None
        return buf

    def _downsample(self, vidx: tuple[int, ...], z0: int, z1: int) -> np.ndarray:
        """Level rows ``[z0, z1)`` from the finer level, one finer chunk row at a time."""
        src = _open_level(self.root, self.level - 1, self.run)
        nz_src = int(src.shape[-3])
        dtype = np.dtype(self.dtype)
        out = np.empty((z1 - z0, self.shape[1], self.shape[0]), dtype=dtype)
        step = max(2, self.depth - self.depth % 2)
        for a in range(2 * z0, min(2 * z1, nz_src), step):
            b = min(a + step, 2 * z1, nz_src)
            block = np.asarray(src[(*vidx, slice(a, b), slice(None), slice(None))])
            reduced = downsample2(block, method=self.method)
            out[a // 2 - z0: a // 2 - z0 + reduced.shape[0]] = reduced
        return out


def downsample2(block: np.ndarray, *, method: str) -> np.ndarray:
    """Halve every axis of a 3D block: 2x2x2 majority or mean.

    Odd edges are padded by repeating the last plane, which weights the real
    voxels of a partial block equally (so the mean is theirs and the majority
    is among them).

    Parameters
    ----------
    block : (a, b, c) ndarray
    method : {'majority', 'mean'}

    Returns
    -------
    (ceil(a/2), ceil(b/2), ceil(c/2)) ndarray of ``block.dtype``.
    ``'majority'`` returns only values present in ``block``; ties go to the
    first voxel of the block in C order.
    """
    pad = [(0, n % 2) for n in block.shape]
    if any(p[1] for p in pad):
        block = np.pad(block, pad, mode="edge")
    a, b, c = (n // 2 for n in block.shape)
    cube = block.reshape(a, 2, b, 2, c, 2).transpose(0, 2, 4, 1, 3, 5).reshape(a, b, c, 8)
    if method == "mean":
        mean = cube.mean(axis=-1, dtype=np.float64)
        if block.dtype.kind in "iu":
            info = np.iinfo(block.dtype)
            return np.clip(np.rint(mean), info.min, info.max).astype(block.dtype)
        return mean.astype(block.dtype)
    counts = np.zeros((a, b, c, 8), dtype=np.uint8)
    for i in range(8):
        counts[..., i] = (cube == cube[..., i: i + 1]).sum(axis=-1, dtype=np.uint8)
    best = counts.argmax(axis=-1)
    return np.take_along_axis(cube, best[..., None], axis=-1)[..., 0]


def level_shapes(shape: Sequence[int], pyramid: int) -> list[tuple[int, int, int]]:
    levels = [tuple(int(v) for v in shape)]
    for _ in range(pyramid):
        levels.append(tuple((v + 1) // 2 for v in levels[-1]))
    return levels  # type: ignore[return-value]


def _write_row_v3(array_dir: str, vidx: tuple[int, ...], row: int, data: np.ndarray) -> None:
    """Zarr v3 (NGFF 0.5, issue 13): zarr-python writes the row; its z range is whole chunks."""
    import zarr

    arr: Any = zarr.open_array(store=array_dir, mode="r+", zarr_format=3)
    z0 = row * int(arr.chunks[-3])
    arr[(*vidx, slice(z0, z0 + data.shape[0]))] = data


def _write_row(array_dir: str, vidx: tuple[int, ...], row: int, data: np.ndarray) -> None:
    """Encode and write every chunk of one z row, each file atomically.

    Zarr format 2 stores a chunk as the codec's bytes of the C-ordered chunk,
    edge chunks padded to the full chunk shape with the fill value, under the
    key ``i/j/k`` (``dimension_separator: '/'``).  Writing the files directly
    skips zarr-python's read-modify-write machinery (~2.5x slower here).  A
    chunk cut short by a kill is harmless: the row's marker is written after
    all its chunks, so a resumed run rewrites the whole row, and the store is
    only renamed onto the target once complete.
    """
    import numcodecs

    if not os.path.exists(os.path.join(array_dir, ".zarray")):
        _write_row_v3(array_dir, vidx, row, data)
        return
    meta = json.loads(Path(array_dir, ".zarray").read_text())
    codec = numcodecs.get_codec(meta["compressor"]) if meta.get("compressor") else None
    cz, cy, cx = meta["chunks"][-3:]
    fill = meta.get("fill_value") or 0
    dz, ny, nx = data.shape
    head = [str(i) for i in vidx] + [str(row)]
    for jy, y0 in enumerate(range(0, ny, cy)):
        folder = os.path.join(array_dir, *head, str(jy))
        os.makedirs(folder, exist_ok=True)
        for jx, x0 in enumerate(range(0, nx, cx)):
            block = data[:, y0:y0 + cy, x0:x0 + cx]
            if block.shape != (cz, cy, cx):
                full = np.full((cz, cy, cx), fill, dtype=data.dtype)
                full[: block.shape[0], : block.shape[1], : block.shape[2]] = block
                block = full
            raw = np.ascontiguousarray(block, dtype=np.dtype(meta["dtype"]))
            payload = codec.encode(raw) if codec is not None else raw.tobytes()
            with open(os.path.join(folder, str(jx)), "wb") as f:
                f.write(payload)


_LEVEL_CACHE: dict[tuple[str, int, str], Any] = {}
_LEVEL_LOCK = threading.Lock()


def _open_level(root: str, level: int, run: str) -> Any:
    import zarr

    key = (root, level, run)
    with _LEVEL_LOCK:
        arr = _LEVEL_CACHE.get(key)
        if arr is None:
            arr = zarr.open_array(store=os.path.join(root, str(level)), mode="r+")  # v2 or v3
            if len(_LEVEL_CACHE) > 64:
                _LEVEL_CACHE.clear()
            _LEVEL_CACHE[key] = arr
    return arr
