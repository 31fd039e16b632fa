"""The voxels of a NRRD file, read slab by slab (the data half of :mod:`._nrrd`).

:func:`_open_data` checks the data against the header's sizes and returns its
byte source: positioned reads for ``raw``, one kept-open decompressing stream
for ``gzip``/``bzip2``.  :class:`_NrrdArray` is the array proxy over it.
"""

from __future__ import annotations

import bz2
import gzip
import operator
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from .errors import HeaderError, InputError
from .source import reason

_SKIP_CHUNK = 1 << 20


def _stream_errors() -> tuple[type[BaseException], ...]:
    """What a decompressor raises on corrupt data: isal's IsalError is no OSError."""
    import zlib

    found: list[type[BaseException]] = [OSError, EOFError, ValueError, zlib.error]
    try:
        from isal import igzip_lib

        found.append(igzip_lib.IsalError)  # type: ignore[arg-type]
    except ImportError:  # pragma: no cover - isal is a dependency
        pass
    return tuple(found)


_STREAM_ERRORS = _stream_errors()


def _open_data(
    p: Path, header: dict[str, Any], header_end: int, sizes: list[int], dtype: np.dtype
) -> _RawBytes | _StreamBytes:
    """The byte source of the voxels, checked against the header's sizes."""
    encoding = str(header["encoding"]).lower()
    nbytes = int(np.prod(sizes, dtype=np.int64)) * dtype.itemsize
    data_path, offset = _data_file(p, header, header_end)
    line_skip = int(header.get("line skip", header.get("lineskip", 0)))
    byte_skip = int(header.get("byte skip", header.get("byteskip", 0)))
    if line_skip < 0 or byte_skip < -1:
        raise HeaderError(f"{p}: invalid 'line skip' {line_skip} or 'byte skip' {byte_skip}")
    try:
        size = data_path.stat().st_size
        if line_skip:
            with open(data_path, "rb") as f:
                f.seek(offset)
                for _ in range(line_skip):
                    f.readline()
                offset = f.tell()
    except OSError as err:
        raise InputError(f"{data_path}: cannot read the NRRD data ({err.strerror or err})") from err
    if encoding == "raw":
        start = size - nbytes if byte_skip == -1 else offset + byte_skip
        have = size - start
        if start < offset or have < nbytes:
            raise InputError(f"{data_path}: truncated NRRD data ({max(size - offset, 0)} bytes, "
                             f"the header's sizes {sizes} need {nbytes})")
        if have > nbytes:
            raise HeaderError(f"{data_path}: NRRD sizes {sizes} and type need {nbytes} bytes of "
                              f"data, the file holds {have}")
        return _RawBytes(data_path, start)
    if encoding in ("gzip", "gz", "bzip2", "bz2"):
        if byte_skip == -1:
            raise HeaderError(f"{p}: 'byte skip: -1' with {encoding} encoding is not supported")
        gz = encoding.startswith("g")
        stream = _StreamBytes(data_path, offset, byte_skip, gz=gz)
        _check_stream_length(stream, size, byte_skip + nbytes, sizes, gz=gz)
        return stream
    raise HeaderError(f"{p}: NRRD encoding {header['encoding']!r} is not supported "
                      "(raw, gzip and bzip2 are; re-save with one of them)")


def _data_file(p: Path, header: dict[str, Any], header_end: int) -> tuple[Path, int]:
    name = header.get("data file", header.get("datafile"))
    if name is None:
        return p, header_end
    text = str(name).strip()
    if text.upper().startswith("LIST") or re.search(r"%\d*d", text):
        raise HeaderError(f"{p}: NRRD data split over several files ({text!r}) is not supported")
    data_path = Path(text)
    if not data_path.is_absolute():
        data_path = p.parent / data_path
    if not data_path.is_file():
        raise InputError(f"{p}: NRRD data file {data_path} is missing")
    return data_path, 0


def _check_stream_length(
    stream: _StreamBytes, size: int, need: int, sizes: list[int], *, gz: bool
) -> None:
    """Refuse truncated or mis-sized compressed data before any slab is read.

    A single-member gzip ends with its length modulo 2**32: when it matches,
    nothing more is read.  Otherwise (a truncated file, wrong sizes, several
    members, bzip2) the stream is decompressed once, in bounded memory.
    """
    path = stream.path
    if gz and need > max(size - stream.offset, 0) * 1032:
        raise InputError(f"{path}: truncated or corrupt NRRD data (the header's sizes {sizes} need "
                         f"{need} bytes, more than {size - stream.offset} compressed bytes can hold)")
    if gz:
        try:
            with open(path, "rb") as f:
                f.seek(max(size - 4, 0))
                isize = int.from_bytes(f.read(4), "little")
        except OSError as err:
            raise InputError(f"{path}: cannot read the NRRD data ({err.strerror or err})") from err
        if isize == need % 2**32:
            return
    total = stream.length()
    if total < need:
        raise InputError(f"{path}: truncated NRRD data ({total} bytes once decompressed, the "
                         f"header's sizes {sizes} need {need})")
    if total > need:
        raise HeaderError(f"{path}: NRRD sizes {sizes} and type need {need} bytes of data, the "
                          f"compressed data holds {total}")


class _RawBytes:
    """Positioned reads of uncompressed data (thread-safe, no shared file position)."""

    def __init__(self, path: Path, offset: int) -> None:
        self.path = path
        self.offset = offset
        self._fd: int | None = None
        self._lock = threading.Lock()

    def read(self, start: int, count: int, dtype: np.dtype) -> np.ndarray:
        out = np.empty(count, dtype=dtype)
        view = out.data.cast("B")
        pos, got = self.offset + start * dtype.itemsize, 0
        fd = self._open()
        while got < len(view):
            n = _pread_into(fd, view[got:], pos + got)
            if n <= 0:
                raise InputError(f"{self.path}: truncated NRRD data (file ended at byte {pos + got})")
            got += n
        return out

    def _open(self) -> int:
        with self._lock:
            if self._fd is None:
                try:
                    self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
                except OSError as err:
                    raise InputError(f"{self.path}: cannot be read ({err.strerror or err})") from err
            return self._fd

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "offset": self.offset}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["offset"])  # type: ignore[misc]


def _pread_into(fd: int, view: memoryview, pos: int) -> int:
    if hasattr(os, "preadv"):
        return os.preadv(fd, [view], pos)
    data = os.pread(fd, len(view), pos)  # pragma: no cover - platforms without preadv
    view[: len(data)] = data
    return len(data)


class _StreamBytes:
    """Forward reads from one kept-open decompressing stream; restarts to go back."""

    def __init__(self, path: Path, offset: int, skip: int, *, gz: bool) -> None:
        self.path = path
        self.offset = offset  # where the compressed stream starts in the file
        self.skip = skip  # decompressed bytes before the voxels ('byte skip')
        self.gz = gz
        self._raw: IO[bytes] | None = None
        self._stream: IO[bytes] | None = None
        self._pos = 0
        self._lock = threading.Lock()

    def _restart(self) -> IO[bytes]:
        self._close()
        raw = open(self.path, "rb")  # noqa: SIM115 - kept open across reads, closed in _close
        raw.seek(self.offset)
        self._raw = raw
        self._stream = _decompressor(raw, gz=self.gz)
        self._pos = 0
        return self._stream

    def _forward(self, pos: int) -> IO[bytes]:
        stream = self._stream if self._stream is not None and pos >= self._pos else self._restart()
        scratch = bytearray(min(_SKIP_CHUNK, max(pos - self._pos, 1)))
        while self._pos < pos:
            n = stream.readinto(memoryview(scratch)[: min(len(scratch), pos - self._pos)])  # type: ignore[attr-defined]
            if not n:
                raise InputError(f"{self.path}: truncated NRRD data (ends after {self._pos} "
                                 "decompressed bytes)")
            self._pos += n
        return stream

    def read(self, start: int, count: int, dtype: np.dtype) -> np.ndarray:
        out = np.empty(count, dtype=dtype)
        view = out.data.cast("B")
        with self._lock:
            try:
                stream = self._forward(self.skip + start * dtype.itemsize)
                got = 0
                while got < len(view):
                    n = stream.readinto(view[got:])  # type: ignore[attr-defined]
                    if not n:
                        raise InputError(f"{self.path}: truncated NRRD data (ends after "
                                         f"{self._pos + got} decompressed bytes)")
                    got += n
                self._pos += got
            except InputError:
                self._close()
                raise
            except _STREAM_ERRORS as err:
                self._close()
                raise InputError(f"{self.path}: truncated or corrupt compressed NRRD data "
                                 f"({reason(err)})") from err
        return out

    def length(self) -> int:
        """Decompressed bytes after ``byte skip`` (reads the whole stream once)."""
        with self._lock:
            try:
                stream = self._restart()
                scratch = bytearray(_SKIP_CHUNK)
                total = 0
                while n := stream.readinto(scratch):  # type: ignore[attr-defined]
                    total += n
            except _STREAM_ERRORS as err:
                raise InputError(f"{self.path}: truncated or corrupt compressed NRRD data "
                                 f"({reason(err)})") from err
            finally:
                self._close()
        return total - self.skip

    def _close(self) -> None:
        for f in (self._stream, self._raw):
            if f is not None:
                try:
                    f.close()
                except Exception:
                    pass
        self._stream = self._raw = None

    def close(self) -> None:
        with self._lock:
            self._close()

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "offset": self.offset, "skip": self.skip, "gz": self.gz}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["offset"], state["skip"], gz=state["gz"])  # type: ignore[misc]


def _decompressor(raw: IO[bytes], *, gz: bool) -> IO[bytes]:
    if not gz:
        return bz2.BZ2File(raw, "rb")
    try:  # isal decompresses gzip about twice as fast as zlib
        from isal import igzip

        return igzip.IGzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    except ImportError:  # pragma: no cover - isal is a dependency
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]


class _NrrdArray:
    """Array proxy over NRRD voxels: ``proxy[x, y, z0:z1, *volume]`` reads one byte range.

    The file stores its axes first-fastest; ``perm`` lists the file axis of
    each proxy axis (spatial axes first).  A read covers, in the file, the
    slowest axis that is sliced over more than one index, and every faster
    axis in full: for a z slab of a 3D or x-y-z-t image, exactly the slab.
    """

    def __init__(self, data: _RawBytes | _StreamBytes, file_shape: tuple[int, ...], dtype: np.dtype,
                 perm: Sequence[int]) -> None:
        self._data = data
        self._file_shape = file_shape
        self._perm = tuple(perm)
        self.dtype = dtype
        self.shape = tuple(file_shape[a] for a in self._perm)
        self.ndim = len(self.shape)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = self[(slice(None),) * self.ndim]
        return arr if dtype is None else arr.astype(dtype)

    def __getitem__(self, key: Any) -> np.ndarray:
        if not isinstance(key, tuple):
            key = (key,)
        if len(key) > self.ndim:
            raise IndexError(f"too many indices: {len(key)} for {self.ndim} axes")
        key = key + (slice(None),) * (self.ndim - len(key))
        nfile = len(self._file_shape)
        ranges: list[range] = [range(0)] * nfile
        kept = [True] * nfile
        for axis, k in enumerate(key):
            f = self._perm[axis]
            n = self._file_shape[f]
            if isinstance(k, slice):
                ranges[f] = range(*k.indices(n))
            else:
                i = operator.index(k)
                i = i + n if i < 0 else i
                if not 0 <= i < n:
                    raise IndexError(f"index {k} out of range for an axis of {n}")
                ranges[f], kept[f] = range(i, i + 1), False
        out_axes = [self._perm[a] for a in range(self.ndim) if kept[self._perm[a]]]
        if any(len(r) == 0 for r in ranges):
            return np.empty(tuple(len(ranges[f]) for f in out_axes), dtype=self.dtype)
        m = max((f for f in range(nfile) if len(ranges[f]) > 1), default=0)
        strides = np.cumprod((1, *self._file_shape[:-1]), dtype=np.int64)
        lo, hi = min(ranges[m]), max(ranges[m]) + 1
        start = sum(int(ranges[f][0] * strides[f]) for f in range(m + 1, nfile)) + lo * int(strides[m])
        flat = self._data.read(start, (hi - lo) * int(strides[m]), self.dtype)
        block = flat.reshape(self._file_shape[:m] + (hi - lo,) + (1,) * (nfile - m - 1), order="F")
        index = []
        for f in range(nfile):
            r = ranges[f] if f < m else range(ranges[f].start - lo, ranges[f].stop - lo, ranges[f].step) \
                if f == m else range(0, 1)
            index.append(slice(r.start, r.stop if r.stop >= 0 else None, r.step) if kept[f] else r.start)
        sub = block[tuple(index)]
        order = sorted(out_axes)
        return np.transpose(sub, [order.index(f) for f in out_axes])
