"""Streaming, atomic NIfTI output.

A :class:`NiftiWriter` writes the header, then slabs in file order, into a
temporary file beside the target (``.<name>.niresample-<host>-<pid>.part``, see
:mod:`.atomic`), and renames it onto the target only when every byte is
written.  On any error, Ctrl-C or SIGTERM the temporary file is removed, so the
target is either absent or complete.  Leftover temporaries of killed runs (SIGKILL) carry the
dead process' pid and are cleaned by the next run in that directory.
"""

from __future__ import annotations

import errno
import io
import math
import os
import shutil
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np

from ._path_errors import check_output_parent, why_not_writable
from ._quiet import quiet_nibabel
from .atomic import clean_stale_temporaries, signals_deferred, temporary_path
from .budget import default_jobs
from .errors import DiskSpaceError, HeaderError, OutputError, OutputExistsError
from .grid import Grid
from .paths import check_not_an_input
from .source import NIFTI1_MAX_DIM, split_ext

__all__ = [
    "NiftiWriter",
    "make_header",
    "check_output_path",
    "check_free_space",
    "estimate_output_bytes",
]

_NIFTI1_MAX_DIM = NIFTI1_MAX_DIM
#: Conservative lower bound of the gzip ratio used for the free-space check of
#: ``.nii.gz`` outputs (a disk-full error during the write is still handled).
_GZIP_MIN_RATIO = 0.1


def make_header(
    template: Any, grid: Grid, shape: tuple[int, ...], dtype: np.dtype, *,
    slope: float = 1.0, inter: float = 0.0,
) -> Any:
    """A NIfTI header for ``grid`` built from ``template``.

    qform and sform are both rewritten from ``grid.affine`` with the
    template's codes; units, TR (pixdim[4]), intent, description and
    extensions are kept.  NIfTI-2 is chosen when the template is NIfTI-2 or
    an axis exceeds NIfTI-1's 32767 voxels.

    Parameters
    ----------
    template : nibabel Nifti1Header or Nifti2Header or None
    grid : Grid
    shape : tuple of int
        Full output shape (spatial shape of ``grid`` then any further axes).
    dtype : numpy.dtype
    slope, inter : float
        Scaling to store (``value = raw * slope + inter``).
    """
    import nibabel as nib

    need2 = any(v > _NIFTI1_MAX_DIM for v in shape)
    is2 = isinstance(template, nib.Nifti2Header) or need2
    cls = nib.Nifti2Header if is2 else nib.Nifti1Header
    if template is None:
        hdr = cls()
        hdr.set_xyzt_units("mm", "sec")
        qcode, scode = 1, 1
    else:
        with quiet_nibabel():  # NIfTI-1 -> 2 logs "sizeof_hdr should be 540"
            hdr = cls.from_header(template) if type(template) is not cls else template.copy()
            if hdr.endianness != "<":  # outputs are always little-endian, data included
                hdr = hdr.as_byteswapped("<")
        qcode = int(template["qform_code"])
        scode = int(template["sform_code"])
        if hasattr(template, "extensions") and len(template.extensions) and not len(hdr.extensions):
            for ext in template.extensions:
                hdr.extensions.append(ext)
    try:
        hdr.set_data_shape(shape)
        hdr.set_data_dtype(np.dtype(dtype).newbyteorder("<"))
    except Exception as err:
        raise HeaderError(f"cannot make a header for shape {shape}, dtype {dtype}: {err}") from err
    old_zooms = list(template.get_zooms()) if template is not None else []
    hdr.set_qform(grid.affine, code=qcode)
    hdr.set_sform(grid.affine, code=scode)
    zooms = [float(z) for z in grid.spacing] + [
        float(old_zooms[i]) if i < len(old_zooms) else 1.0 for i in range(3, len(shape))
    ]
    hdr.set_zooms(zooms)
    if qcode == 0 and scode == 0 and not np.allclose(hdr.get_base_affine(), grid.affine, atol=1e-5):
        # Without codes a reader rebuilds a centred affine from pixdim alone, which
        # is not this grid (another anchor, --like): store it, "aligned" (2).
        hdr.set_sform(grid.affine, code=2)
    hdr.set_slope_inter(slope if slope != 1.0 or inter != 0.0 else None,
                        inter if slope != 1.0 or inter != 0.0 else None)
    hdr["vox_offset"] = 0
    return hdr


def estimate_output_bytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    """Bytes of a NIfTI file of ``shape`` and ``dtype``, in Python integers (never wraps)."""
    return math.prod(int(v) for v in shape) * np.dtype(dtype).itemsize + 352


def check_output_path(
    path: Path, *, inputs: tuple[Path, ...] = (), overwrite: bool = False
) -> None:
    """Refuse writing over an input (by file identity, :func:`.paths.check_not_an_input`),
    over an existing file (unless ``overwrite``), into a missing or read-only directory."""
    target = Path(os.path.abspath(path))
    check_not_an_input(path, inputs)
    try:
        os.stat(target)
    except OSError as err:  # a missing target is fine; a dangling link, a loop or a file on the way not
        if os.path.lexists(target) and not overwrite:
            raise OutputExistsError(f"{why_not_writable(path, err)} (overwrite=True replaces the link)",
                                    param="overwrite") from None
        if err.errno not in (errno.ENOENT, errno.ELOOP):
            raise OutputError(why_not_writable(path, err)) from None
    if target.is_dir():
        raise OutputError(f"{path}: is a directory")
    if target.exists() and not overwrite:
        raise OutputExistsError(f"{path}: already exists (overwrite=True replaces it)",
                                param="overwrite")
    check_output_parent(path)


def check_free_space(path: Path, nbytes: int, *, compressed: bool = False) -> None:
    """Refuse before any work when the output cannot fit on the disk."""
    need = int(nbytes * _GZIP_MIN_RATIO) if compressed else int(nbytes)
    try:
        free = shutil.disk_usage(Path(os.path.abspath(path)).parent).free
    except OSError:
        return
    if need > free:
        raise DiskSpaceError(
            f"{path}: not enough free disk space (needs {_fmt_bytes(need)}"
            f"{' at least' if compressed else ''}, {_fmt_bytes(free)} free)"
        )


def _fmt_bytes(n: float, *, binary: bool = False) -> str:
    """``'1.2 GB'`` (decimal), or ``'1.1 GiB'`` with ``binary`` (for sizes the
    user gave as SIZE options, which are parsed in binary units)."""
    step, units = (1024, ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")) if binary else (
        1000, ("B", "KB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"))
    for unit in units:
        if abs(n) < step or unit == units[-1]:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= step
    return f"{n:.1f} {units[-1]}"


def isal_level(level: int | None) -> int:
    """Map a gzip ``--compress-level`` (0-9, None: fastest) onto isal's 0-3.

    isal's level 1 is both its fastest and (on labels and MRI) its best-ratio
    setting measured here; level 3 is ~8x slower for no gain, so only 7-9 ask
    for it.  0 stays 0 (isal's huffman-only, the "store" end of the scale).
    """
    if level is None:
        return 1
    lvl = int(level)
    if lvl <= 0:
        return 0
    return 1 if lvl <= 3 else 2 if lvl <= 6 else 3


def _open_gzip(path: Path, level: int | None, threads: int | None) -> IO[bytes]:
    """A fast gzip stream: isal's multi-threaded writer on every core, else zlib.

    ``level`` is gzip's 0-9 (see :func:`isal_level`); ``threads`` defaults to
    the cores this process may use (isal adds one writer thread).
    """
    if threads is None:
        threads = min(default_jobs(), 16)
    try:
        from isal import igzip_threaded
    except ImportError:
        import gzip

        return gzip.open(  # type: ignore[return-value]
            path, "wb", compresslevel=1 if level is None else min(max(int(level), 0), 9)
        )
    # 4 MiB blocks: fewer, larger pieces for the threads; gzip members stay one stream.
    return igzip_threaded.open(  # type: ignore[no-any-return]
        path, "wb", compresslevel=isal_level(level), threads=max(int(threads), 1),
        block_size=4 << 20,
    )


class _WriteBehindFile:
    """A sequential output file written at the disk's speed, not the page cache's.

    Data goes out in 16 MiB pieces; write-back of each piece starts at once
    (``sync_file_range``) and pieces a few steps behind are waited for and
    dropped from the page cache.  Without it, gigabytes of dirty pages pile
    up and the kernel throttles large writes: 0.31 GB/s plain vs 0.9 GB/s
    here for the same 4.8 GB on this machine (bench/huge/README.md).  Where
    ``sync_file_range`` is missing (not Linux) it is a plain unbuffered file.
    """

    PIECE = 16 << 20
    LAG = 8

    def __init__(self, path: Path) -> None:
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        self._offset = 0
        self._synced = 0

    def fileno(self) -> int:
        assert self._fd is not None
        return self._fd

    def write(self, data: Any) -> int:
        assert self._fd is not None
        view = memoryview(data).cast("B")
        for start in range(0, len(view), self.PIECE):
            piece = view[start:start + self.PIECE]
            done = 0
            while done < len(piece):
                done += os.write(self._fd, piece[done:])
            _sync_range(self._fd, self._offset, len(piece), _SYNC_WRITE)
            self._offset += len(piece)
            while self._offset - self._synced > self.LAG * self.PIECE:
                _sync_range(self._fd, self._synced, self.PIECE, _SYNC_WAIT_WRITE_WAIT)
                if hasattr(os, "posix_fadvise"):
                    os.posix_fadvise(self._fd, self._synced, self.PIECE, os.POSIX_FADV_DONTNEED)
                self._synced += self.PIECE
        return len(view)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


_SYNC_WRITE = 2  # SYNC_FILE_RANGE_WRITE
_SYNC_WAIT_WRITE_WAIT = 1 | 2 | 4  # WAIT_BEFORE | WRITE | WAIT_AFTER
_SYNC_FILE_RANGE: Any = None


def _sync_range(fd: int, offset: int, nbytes: int, flags: int) -> None:
    """Linux ``sync_file_range``; a no-op elsewhere (errors surface at fsync)."""
    global _SYNC_FILE_RANGE
    if _SYNC_FILE_RANGE is None:
        _SYNC_FILE_RANGE = False
        try:
            import ctypes
            import ctypes.util

            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            fn = libc.sync_file_range
            fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
            fn.restype = ctypes.c_int
            _SYNC_FILE_RANGE = fn
        except (OSError, AttributeError):
            pass
    if _SYNC_FILE_RANGE:
        _SYNC_FILE_RANGE(fd, offset, nbytes, flags)


def _open_raw(path: Path) -> IO[bytes]:
    """The uncompressed output stream (see :class:`_WriteBehindFile`)."""
    return _WriteBehindFile(path)  # type: ignore[return-value]


class NiftiWriter:
    """Write a NIfTI file slab by slab, atomically.

    Parameters
    ----------
    path : Path
        Target, ``.nii`` or ``.nii.gz``.
    header : nibabel header
        From :func:`make_header`; its shape and dtype define the data.
    compress_level : int, optional
        gzip level 0-9 for ``.nii.gz`` (mapped onto isal 0-3 by :func:`isal_level`; default fastest).
    overwrite : bool
        Replace an existing target.

    Notes
    -----
    Slabs must be written in file order: for each volume, spatial slabs along
    the last spatial axis from 0 to nz.  Each slab is ``(nx, ny, dz)``.
    """

    def __init__(
        self, path: Path, header: Any, *, compress_level: int | None = None,
        overwrite: bool = False, threads: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.header = header
        self.dtype = np.dtype(header.get_data_dtype()).newbyteorder("<")
        self.shape = tuple(int(v) for v in header.get_data_shape())
        self.overwrite = overwrite
        self.compressed = split_ext(self.path)[1].lower().endswith(".gz")
        self.compress_level = compress_level
        self.threads = threads
        self.tmp = temporary_path(self.path)
        self._f: IO[bytes] | None = None
        self.bytes_written = 0
        self.total_bytes = math.prod(self.shape) * self.dtype.itemsize

    def __enter__(self) -> NiftiWriter:
        clean_stale_temporaries(self.path.parent)
        try:
            self._f = (
                _open_gzip(self.tmp, self.compress_level, self.threads)
                if self.compressed else _open_raw(self.tmp)
            )
            # Header and extensions go through a buffer: extensions need tell().
            buf = io.BytesIO()
            self.header.write_to(buf)
            pad = int(self.header["vox_offset"]) - buf.tell()
            with signals_deferred():
                self._f.write(buf.getvalue() + b"\x00" * max(pad, 0))
        except BaseException as err:
            self._abort()
            raise self._as_output_error(err) from err
        return self

    def write(self, slab: np.ndarray) -> None:
        """Append one slab ``(nx, ny, dz)`` in the output dtype."""
        assert self._f is not None, "use NiftiWriter as a context manager"
        arr = np.asarray(slab)
        if arr.dtype != self.dtype:
            arr = arr.astype(self.dtype)
        try:
            # NIfTI data is Fortran-ordered (x fastest): the C-ordered bytes of
            # the transposed array, without a copy when the slab is F-ordered.
            data = np.ascontiguousarray(arr.T).data.cast("B")
            with signals_deferred():
                self._f.write(data)
        except BaseException as err:
            raise self._as_output_error(err) from err
        self.bytes_written += arr.nbytes

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self._abort()
            return
        try:
            if self.bytes_written != self.total_bytes:
                raise OutputError(
                    f"{self.path}: internal error, wrote {self.bytes_written} of "
                    f"{self.total_bytes} data bytes"
                )
            assert self._f is not None
            with signals_deferred():  # a signal here aborts before the commit
                self._f.flush()
                if hasattr(self._f, "fileno") and not self.compressed:
                    os.fsync(self._f.fileno())
                self._f.close()
                self._f = None
                if self.compressed:  # the gzip stream has no fileno: sync the file itself
                    fd = os.open(self.tmp, os.O_RDONLY)
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
            self._commit()
        except BaseException as err:
            self._abort()
            if isinstance(err, OutputError):
                raise
            raise self._as_output_error(err) from err

    def _commit(self) -> None:
        if self.overwrite:
            os.replace(self.tmp, self.path)
            return
        # link() fails if the target appeared meanwhile (another process):
        # never clobber a file we were told not to overwrite.
        try:
            os.link(self.tmp, self.path)
        except FileExistsError:
            raise OutputExistsError(
                f"{self.path}: appeared while writing (another process?); kept it untouched"
            ) from None
        except OSError:
            if self.path.exists():
                raise OutputExistsError(f"{self.path}: already exists") from None
            os.rename(self.tmp, self.path)
            return
        os.unlink(self.tmp)

    def _abort(self) -> None:
        if self._f is not None:
            try:
                self._f.close()
            except BaseException:
                pass
            self._f = None
        try:
            os.unlink(self.tmp)
        except OSError:
            pass

    def _as_output_error(self, err: BaseException) -> BaseException:
        if isinstance(err, (OutputError, KeyboardInterrupt, SystemExit)):
            return err
        if isinstance(err, OSError):
            if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                return DiskSpaceError(f"{self.path}: disk full or file too large while writing")
            return OutputError(f"{self.path}: cannot write ({err.strerror or err})")
        return err
