"""Streaming NRRD input: ``.nrrd`` (attached header) and ``.nhdr`` (detached).

The header is parsed by pynrrd (``nrrd.read_header``); the voxels are never
read whole.  A slab ``[x, y, z0:z1]`` of one volume reads one contiguous byte
range of the data:

* ``raw``: positioned reads (``os.preadv``) of exactly that range;
* ``gzip``/``bzip2``: one decompressing stream kept open and read forwards
  (slabs in order cost one pass over the file); a backward read restarts it
  from the beginning, as nibabel does for ``.nii.gz`` without an index.

Geometry follows the header: the three axes that have a ``space directions``
vector are the spatial axes (kept in file order), axes whose direction is
``none`` (lists, vectors, time) become extra axes, placed last.  Directions and
origin are converted from the header's ``space`` to nibabel's RAS+:
``left-posterior-superior`` (LPS), ``left-anterior-superior`` (LAS) and
``right-anterior-superior`` (RAS), with or without ``-time``, are exact;
``scanner-xyz`` is DICOM's patient system, which is LPS; ``3D-right-handed``
and ``3D-left-handed`` have no anatomical axes and are read as LPS, as ITK
reads them (a note says so).  ``space units`` of um/nm/cm/m are converted to
mm; without that field the values are taken as mm.

Some headers state a wrong space (the Allen CCF NRRDs say LPS while the data
axes run posterior, inferior, right): ``orientation="PIR"`` replaces the
direction of each voxel axis by the given axis codes, keeping the header's
spacing and origin, and the source records the override in ``notes``.
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
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from .errors import DependencyError, HeaderError, InputError, OptionError

if TYPE_CHECKING:
    from .io import SourceImage

__all__ = ["open_nrrd"]

#: ``space`` values (lower case) -> the 3x3 matrix taking that space to RAS+.
_LPS = np.diag([-1.0, -1.0, 1.0])
_SPACE_TO_RAS: dict[str, np.ndarray] = {
    "right-anterior-superior": np.eye(3), "ras": np.eye(3),
    "left-anterior-superior": np.diag([-1.0, 1.0, 1.0]), "las": np.diag([-1.0, 1.0, 1.0]),
    "left-posterior-superior": _LPS, "lps": _LPS,
    "scanner-xyz": _LPS,
}
#: Spaces without anatomical meaning: read as LPS like ITK, and said so.
_UNANCHORED_SPACES = ("3d-right-handed", "3d-left-handed")
_UNIT_TO_MM = {
    "mm": 1.0, "millimeter": 1.0, "millimeters": 1.0, "millimetre": 1.0, "millimetres": 1.0,
    "um": 1e-3, "µm": 1e-3, "μm": 1e-3, "micron": 1e-3, "microns": 1e-3, "micrometer": 1e-3,
    "micrometers": 1e-3, "micrometre": 1e-3, "nm": 1e-6, "nanometer": 1e-6, "cm": 10.0,
    "m": 1e3, "meter": 1e3, "metre": 1e3,
}
_AXIS_CODES = {"R": (0, 1.0), "L": (0, -1.0), "A": (1, 1.0), "P": (1, -1.0), "S": (2, 1.0),
               "I": (2, -1.0)}
_SKIP_CHUNK = 1 << 20


def open_nrrd(
    path: str | os.PathLike[str], *, orientation: str | None = None, space_unit: str | None = None,
) -> SourceImage:
    """Open a NRRD image lazily: header now, voxels slab by slab.

    Parameters
    ----------
    path : str or PathLike
        A ``.nrrd`` file or a ``.nhdr`` detached header (its ``data file``
        relative to the header's folder).
    orientation : str, optional
        Three axis codes (``'PIR'``, ``'LPS'``...) naming where each voxel axis
        points, replacing the directions of the header (whose spacing and
        origin are kept).  For headers that state a wrong ``space``.
    space_unit : str, optional
        Length unit of ``space directions`` and ``space origin`` (``'um'``,
        ``'mm'``...), replacing the header's ``space units`` (default mm):
        the Allen CCF NRRDs give 10/25 without a unit, meaning µm.

    Returns
    -------
    SourceImage
        ``fmt`` is ``'nrrd'``; ``notes`` (a tuple of str) tells what was
        assumed or overridden.  Shape ``(nx, ny, nz, *extra)``: the spatial
        axes in file order, then the non-spatial axes in file order.

    Raises
    ------
    InputError
        Missing or unreadable file or data file, data shorter than the header
        needs (truncated), corrupt compressed data.
    HeaderError
        A header pynrrd cannot parse, an unsupported type or encoding, sizes
        that disagree with the data length, not three spatial axes.
    OptionError
        ``orientation`` is not three axis codes (``param='orientation'``), or
        ``space_unit`` is not a length unit (``param='space_unit'``).

    Notes
    -----
    ``dtype`` is the stored type in native byte order; big-endian data is
    swapped as it is read.  Reading slabs in increasing z is the fast path
    for compressed data.

    Examples
    --------
    >>> src = open_nrrd("annotation_10.nrrd", orientation="PIR")  # doctest: +SKIP
    >>> src.read_slab(0, 8).shape  # doctest: +SKIP
    (1320, 800, 8)
    """
    from .io import SourceImage, _check_dtype, _check_shape, _make_grid, _template_header

    codes = _as_orientation(orientation)
    unit_scale = _as_space_unit(space_unit)
    p = Path(path)
    header, header_end = _read_header(p)
    if unit_scale is not None:
        header["space units"] = [str(space_unit)] * 3
    sizes = [int(v) for v in np.atleast_1d(header.get("sizes", []))]
    dtype = _file_dtype(p, header)
    spatial, extra, affine, notes = _geometry(p, header, len(sizes))
    if codes is not None:
        affine = _override(affine, codes)
        notes.append(f"orientation {''.join(codes)} given: it replaces the header's directions "
                     f"(space {header.get('space', 'unknown')!r}); spacing and origin kept")
    if unit_scale is not None:
        notes.append(f"space unit {space_unit!r} given: the header's lengths are read in it")
    perm = spatial + extra
    shape = tuple(sizes[a] for a in perm)
    _check_shape(p, shape)
    native = _check_dtype(p, dtype)
    data = _open_data(p, header, header_end, sizes, dtype)
    proxy = _NrrdArray(data, tuple(sizes), dtype, perm)
    src = SourceImage(
        path=p, grid=_make_grid(p, shape, affine), shape=shape, dtype=native, slope=1.0,
        inter=0.0, header=_template_header(affine, shape, native), fmt="nrrd",
        _dataobj=proxy, _close=data.close,
    )
    # SourceImage gains a ``notes`` field at integration; until then an attribute.
    setattr(src, "notes", tuple(notes))  # noqa: B010
    return src


# -- the door ---------------------------------------------------------------
def _as_orientation(orientation: str | None) -> tuple[str, str, str] | None:
    if orientation is None:
        return None
    text = str(orientation).strip().upper()
    pairs = [_AXIS_CODES[c][0] for c in text if c in _AXIS_CODES]
    if len(text) != 3 or len(pairs) != 3 or sorted(pairs) != [0, 1, 2]:
        raise OptionError(
            f"orientation: expected three axis codes, one of each pair L/R, A/P, S/I "
            f"(e.g. 'PIR'), got {orientation!r}", param="orientation",
        )
    return (text[0], text[1], text[2])


def _as_space_unit(space_unit: str | None) -> float | None:
    if space_unit is None:
        return None
    key = str(space_unit).strip().lower()
    if key not in _UNIT_TO_MM:
        raise OptionError(f"space_unit: expected a length unit such as 'mm' or 'um', got "
                          f"{space_unit!r}", param="space_unit")
    return _UNIT_TO_MM[key]


def _read_header(p: Path) -> tuple[dict[str, Any], int]:
    """pynrrd's header and the byte offset where an attached header ends."""
    try:
        import nrrd
    except ImportError as err:
        raise DependencyError("reading NRRD needs pynrrd: pip install 'niresample[formats]'") from err

    if not p.exists():
        raise InputError(f"{p}: no such file")
    if not p.is_file():
        raise InputError(f"{p}: not a regular file")
    try:
        with open(p, "rb") as f:
            header = nrrd.read_header(f)
            end = f.tell()
    except OSError as err:
        raise InputError(f"{p}: cannot be read ({err.strerror or err})") from err
    except (nrrd.NRRDError, ValueError, KeyError, IndexError, StopIteration) as err:
        raise HeaderError(f"{p}: not a readable NRRD header ({_why(err)})") from err
    for key in ("type", "sizes", "encoding"):
        if key not in header:
            raise HeaderError(f"{p}: NRRD header has no {key!r} field")
    return dict(header), end


def _why(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:160] if text else type(err).__name__


def _file_dtype(p: Path, header: dict[str, Any]) -> np.dtype:
    from nrrd.reader import _determine_datatype

    try:
        return np.dtype(_determine_datatype(header))
    except Exception as err:
        raise HeaderError(f"{p}: unsupported NRRD type {header.get('type')!r} ({_why(err)})") from err


# -- geometry ---------------------------------------------------------------
def _geometry(
    p: Path, header: dict[str, Any], ndim: int
) -> tuple[list[int], list[int], np.ndarray, list[str]]:
    """Spatial axes, extra axes, RAS+ affine and notes from the header."""
    notes: list[str] = []
    space = str(header.get("space", "")).strip().lower()
    base = space.removesuffix("-time")
    if base in _SPACE_TO_RAS:
        to_ras = _SPACE_TO_RAS[base]
    elif base in _UNANCHORED_SPACES:
        to_ras = _LPS
        notes.append(f"space {header['space']!r} has no anatomical axes: read as LPS (as ITK does)")
    elif space:
        raise HeaderError(f"{p}: unknown NRRD space {header['space']!r}")
    else:
        to_ras = _LPS
    scale = _unit_scale(p, header)
    if "space directions" in header:
        dirs = np.asarray(header["space directions"], dtype=np.float64)
        if dirs.ndim != 2 or dirs.shape[0] != ndim or dirs.shape[1] < 3:
            raise HeaderError(f"{p}: 'space directions' has shape {dirs.shape}, expected "
                              f"{ndim} vectors of 3 (or 4) values")
        spatial = [a for a in range(ndim) if np.all(np.isfinite(dirs[a])) and np.any(dirs[a, :3])]
        columns = dirs[spatial, :3].T * scale if len(spatial) == 3 else None
        if not space:
            notes.append("no 'space' in the header: directions read as LPS (as ITK does)")
    else:
        spatial, columns = _spacing_axes(p, header, ndim)
        columns = None if columns is None else columns * scale
        notes.append("no 'space directions' in the header: voxel axes taken as L, P, S "
                     "(identity in ITK's LPS) with the header's spacings")
    if len(spatial) != 3 or columns is None:
        raise HeaderError(f"{p}: NRRD image has {len(spatial)} spatial axes; niresample needs 3")
    origin = np.zeros(3)
    if "space origin" in header:
        raw = np.asarray(header["space origin"], dtype=np.float64).ravel()[:3]
        if raw.size == 3 and np.all(np.isfinite(raw)):
            origin = raw * scale
    affine = np.eye(4)
    affine[:3, :3] = to_ras @ columns
    affine[:3, 3] = to_ras @ origin
    extra = [a for a in range(ndim) if a not in spatial]
    return spatial, extra, affine, notes


def _spacing_axes(p: Path, header: dict[str, Any], ndim: int) -> tuple[list[int], np.ndarray | None]:
    kinds = [str(k).lower() for k in header.get("kinds", ["domain"] * ndim)]
    spacings = np.asarray(header.get("spacings", [np.nan] * ndim), dtype=np.float64).ravel()
    if len(kinds) != ndim or spacings.size != ndim:
        raise HeaderError(f"{p}: 'kinds' or 'spacings' do not have one entry per axis")
    spatial = [a for a in range(ndim) if kinds[a] in ("domain", "space", "???", "none")][:3]
    if len(spatial) != 3:
        return spatial, None
    steps = [spacings[a] if np.isfinite(spacings[a]) and spacings[a] != 0 else 1.0 for a in spatial]
    return spatial, np.diag(steps)


def _unit_scale(p: Path, header: dict[str, Any]) -> float:
    units = header.get("space units")
    if not units:
        return 1.0
    found = {str(u).strip().strip('"').lower() for u in units}
    if len(found) != 1 or next(iter(found)) not in _UNIT_TO_MM:
        raise HeaderError(f"{p}: unsupported 'space units' {list(units)} (expected one length unit)")
    return _UNIT_TO_MM[next(iter(found))]


def _override(affine: np.ndarray, codes: Sequence[str]) -> np.ndarray:
    spacing = np.sqrt(np.sum(affine[:3, :3] ** 2, axis=0))
    out = affine.copy()
    out[:3, :3] = 0.0
    for axis, code in enumerate(codes):
        row, sign = _AXIS_CODES[code]
        out[row, axis] = sign * spacing[axis]
    return out


# -- data -------------------------------------------------------------------
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
            except (OSError, EOFError, ValueError) as err:
                self._close()
                raise InputError(f"{self.path}: truncated or corrupt compressed NRRD data "
                                 f"({_why(err)})") from err
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
            except (OSError, EOFError, ValueError) as err:
                raise InputError(f"{self.path}: truncated or corrupt compressed NRRD data "
                                 f"({_why(err)})") from err
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
