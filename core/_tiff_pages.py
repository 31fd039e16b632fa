"""tifffile access and the lazy array proxies of :mod:`._tiff` (pages and slice folders).

A proxy reads only what a key selects: the pages ``z0 .. z1 - 1`` of a stack
(from a memory map when the series is uncompressed and contiguous), or the
files of a folder of 2D slices.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DependencyError, InputError
from .source import reason


def _tifffile() -> Any:
    try:
        import tifffile
    except ImportError as err:
        raise DependencyError("TIFF input and output need tifffile: pip install 'niresample[formats]'") from err
    return tifffile


def _memmap(tif: Any, series: Any) -> np.ndarray | None:
    """The series memory-mapped when it is uncompressed and contiguous, else None."""
    if series.dataoffset is None:
        return None
    try:
        stored = np.dtype(series.dtype).newbyteorder(tif.byteorder)
        return np.memmap(tif.filehandle.path, dtype=stored, mode="r",
                         offset=int(series.dataoffset), shape=tuple(series.shape))
    except (OSError, ValueError):
        return None


def _as_range(k: Any, n: int) -> tuple[range, bool]:
    """A key element as ``(range, kept)``: ints select one index and drop the axis."""
    if isinstance(k, slice):
        return range(*k.indices(n)), True
    i = int(k)
    i = i + n if i < 0 else i
    if not 0 <= i < n:
        raise IndexError(f"index {k} out of range for an axis of {n}")
    return range(i, i + 1), False


def _as_slice(r: range, kept: bool) -> slice | int:
    return slice(r.start, r.stop if r.stop >= 0 else None, r.step) if kept else r.start


class _TiffStack:
    """``proxy[x, y, z, *extra]`` over a TIFF series; reads only the pages selected."""

    def __init__(self, tif: Any, series: Any, *, lead_shape: tuple[int, ...], zaxis: int | None,
                 extra: list[int], mm: np.ndarray | None) -> None:
        self._tif, self._series, self._mm = tif, series, mm
        self._lead_shape = lead_shape
        self._zaxis, self._extra = zaxis, extra
        ny, nx = (int(v) for v in series.shape[-2:])
        nz = lead_shape[zaxis] if zaxis is not None else 1
        self.shape = (nx, ny, nz, *(lead_shape[i] for i in extra))
        self.dtype = np.dtype(series.dtype)
        self.ndim = len(self.shape)
        self._lock = threading.Lock()

    def __getitem__(self, key: Any) -> np.ndarray:
        key = _full_key(key, self.ndim)
        xr, xk = _as_range(key[0], self.shape[0])
        yr, yk = _as_range(key[1], self.shape[1])
        lead: list[tuple[range, bool]] = [(range(1), False)] * len(self._lead_shape)
        if self._zaxis is not None:
            lead[self._zaxis] = _as_range(key[2], self.shape[2])
        else:
            _as_range(key[2], 1)
        for a, i in enumerate(self._extra):
            lead[i] = _as_range(key[3 + a], self.shape[3 + a])
        if self._mm is not None:
            index = tuple(_as_slice(r, k) for r, k in lead) + (_as_slice(yr, yk), _as_slice(xr, xk))
            block = np.array(self._mm[index])
        else:
            block = self._pages(lead)[..., _as_slice(yr, True), _as_slice(xr, True)]
            block = block[tuple(slice(None) if k else 0 for r, k in lead) + (
                slice(None) if yk else 0, slice(None) if xk else 0)]
        # block axes: kept lead axes (file order), then y, x -> ours: x, y, z, extra
        kept = [i for i, (_, k) in enumerate(lead) if k]
        pos = {i: n for n, i in enumerate(kept)}
        nlead = len(kept)
        order = ([nlead + 1] if xk else []) + ([nlead] if yk else [])
        if self._zaxis is not None and lead[self._zaxis][1]:
            order.append(pos[self._zaxis])
        order += [pos[i] for i in self._extra if lead[i][1]]
        return np.transpose(block, order)

    def _pages(self, lead: list[tuple[range, bool]]) -> np.ndarray:
        ranges = [r for r, _ in lead]
        grids = np.meshgrid(*[np.asarray(r) for r in ranges], indexing="ij") if ranges else []
        pages = (np.ravel_multi_index([g.ravel() for g in grids], self._lead_shape)
                 if ranges else np.zeros(1, dtype=np.int64))
        ny, nx = self.shape[1], self.shape[0]
        if len(pages) == 0:
            return np.empty((*(len(r) for r in ranges), ny, nx), dtype=self.dtype)
        with self._lock:
            data = self._tif.asarray(key=[int(i) for i in pages], series=0, maxworkers=1)
        return np.asarray(data).reshape(*(len(r) for r in ranges), ny, nx)


class _SliceFolder:
    """``proxy[x, y, z]`` over a folder of 2D TIFF files; reads only the files selected."""

    def __init__(self, files: list[Path], page_shape: tuple[int, int], dtype: np.dtype) -> None:
        self.files = files
        self.shape = (page_shape[1], page_shape[0], len(files))
        self.dtype = np.dtype(dtype)
        self.ndim = 3

    def __getitem__(self, key: Any) -> np.ndarray:
        import tifffile

        key = _full_key(key, 3)
        xr, xk = _as_range(key[0], self.shape[0])
        yr, yk = _as_range(key[1], self.shape[1])
        zr, zk = _as_range(key[2], self.shape[2])
        out = np.empty((len(zr), len(yr), len(xr)), dtype=self.dtype)
        for n, z in enumerate(zr):
            try:
                page = tifffile.imread(self.files[z], maxworkers=1)
            except Exception as err:
                raise InputError(f"{self.files[z]}: not a readable TIFF slice ({reason(err)})") from err
            if page.shape != (self.shape[1], self.shape[0]):
                raise InputError(f"{self.files[z]}: slice changed shape to {page.shape} since opened")
            out[n] = page[_as_slice(yr, True), _as_slice(xr, True)]
        arr = out.transpose(2, 1, 0)
        return arr[(slice(None) if xk else 0, slice(None) if yk else 0, slice(None) if zk else 0)]


def _full_key(key: Any, ndim: int) -> tuple[Any, ...]:
    key = key if isinstance(key, tuple) else (key,)
    if len(key) > ndim:
        raise IndexError(f"too many indices: {len(key)} for {ndim} axes")
    return key + (slice(None),) * (ndim - len(key))
