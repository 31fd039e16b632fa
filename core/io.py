"""Lazy reading of NIfTI (and NRRD/MHA/MGZ) images, slab by slab.

:func:`open_image` reads only the header; voxels are read on demand by
:meth:`SourceImage.read_slab`, one slab of the last spatial axis at a time,
so a 50 GB input never has to fit in memory.  ``.nii.gz`` files are read
through nibabel's array proxy with the file kept open (indexed_gzip makes it
seekable; reading slabs in order is the fast path).

Scaling (``scl_slope``/``scl_inter``) is applied here and only here.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import struct
import warnings
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import HeaderError, InputError, NiresampleError
from .grid import Grid

__all__ = ["SourceImage", "open_image", "NIFTI_SUFFIXES", "split_ext", "SUPPORTED_DTYPES"]

NIFTI_SUFFIXES = (".nii", ".nii.gz")
_SITK_SUFFIXES = (".nrrd", ".nhdr", ".mha", ".mhd")
_MGH_SUFFIXES = (".mgz", ".mgh")
_ZARR_SUFFIXES = (".zarr",)

#: On-disk dtypes niresample can resample (real scalars).
SUPPORTED_DTYPES = tuple(
    np.dtype(t)
    for t in ("uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64",
              "float32", "float64")
)

#: Refuse headers describing more voxels than this per volume (2^31 per axis is
#: allowed by the grid, but 2^48 voxels in total is petabytes and certainly corrupt).
_MAX_TOTAL_VOXELS = 2**48
#: deflate cannot compress better than about 1032:1.
_DEFLATE_MAX_RATIO = 1032


def split_ext(path: str | os.PathLike[str]) -> tuple[str, str]:
    """Split ``name.nii.gz`` into ``('name', '.nii.gz')`` (double suffixes kept whole)."""
    name = Path(path).name
    lower = name.lower()
    for ext in (".nii.gz", ".ome.zarr", ".nii", ".zarr", ".nrrd", ".nhdr", ".mha", ".mhd",
                ".mgz", ".mgh"):
        if lower.endswith(ext) and len(name) > len(ext):
            return name[: -len(ext)], name[-len(ext):]
    stem, dot, ext = name.rpartition(".")
    return (stem, dot + ext) if dot and stem else (name, "")


@dataclass
class SourceImage:
    """An image opened lazily: its grid, header and a slab reader.

    Attributes
    ----------
    path : Path
    grid : Grid
        The spatial grid (first three axes).
    shape : tuple of int
        Full shape, 3 to 7 axes.
    dtype : numpy.dtype
        On-disk (raw) data type, native byte order.
    slope, inter : float
        Effective scaling: ``value = raw * slope + inter``.
    header : nibabel header or None
        A NIfTI header to use as the template for outputs.
    fmt : str
        ``'nifti1'``, ``'nifti2'``, ``'nrrd'``, ``'mgh'``, ``'zarr'``...
    """

    path: Path
    grid: Grid
    shape: tuple[int, ...]
    dtype: np.dtype
    slope: float
    inter: float
    header: Any
    fmt: str
    _dataobj: Any = field(repr=False)
    _close: Callable[[], None] | None = field(default=None, repr=False)

    # -- facts ------------------------------------------------------------
    @property
    def is_scaled(self) -> bool:
        return self.slope != 1.0 or self.inter != 0.0

    @property
    def n_volumes(self) -> int:
        """Number of 3D volumes (product of the axes beyond the third)."""
        return int(np.prod(self.shape[3:], dtype=np.int64)) if len(self.shape) > 3 else 1

    @property
    def is_integer(self) -> bool:
        return self.dtype.kind in "iu" and not self.is_scaled

    @property
    def value_dtype(self) -> np.dtype:
        """dtype of the values after scaling: float32, or float64 for float64 and for
        scaled integers of 32 bits or more (float32 would drop their low digits)."""
        if self.dtype == np.float64 or (self.is_scaled and self.dtype.kind in "iu"
                                        and self.dtype.itemsize >= 4):
            return np.dtype(np.float64)
        if self.is_scaled or self.dtype.kind == "f":
            return np.dtype(np.float32)
        return self.dtype

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    @property
    def tr(self) -> float | None:
        """Repetition time (pixdim[4]) for 4D NIfTI, else None."""
        if self.header is None or len(self.shape) < 4:
            return None
        try:
            return float(self.header.get_zooms()[3])
        except (IndexError, ValueError):
            return None

    def volume_index(self, volume: int) -> tuple[int, ...]:
        """Indices along axes 4.. for flat volume number ``volume`` (NIfTI order)."""
        if len(self.shape) == 3:
            return ()
        return tuple(int(i) for i in np.unravel_index(volume, self.shape[3:], order="F"))

    # -- voxels -----------------------------------------------------------
    def read_slab(
        self,
        z0: int,
        z1: int,
        *,
        volume: int = 0,
        x: slice = slice(None),
        y: slice = slice(None),
        scaled: bool = True,
    ) -> np.ndarray:
        """Read voxels ``[x, y, z0:z1]`` of one 3D volume.

        Parameters
        ----------
        z0, z1 : int
            Range along the last spatial axis, ``0 <= z0 < z1 <= nz``.
        volume : int
            Flat index of the 3D volume for 4D+ images.
        x, y : slice
            Optional sub-ranges of the first two axes.
        scaled : bool
            Apply ``scl_slope``/``scl_inter`` (result in :attr:`value_dtype`).
            ``False`` returns the raw stored integers/floats.

        Returns
        -------
        ndarray, shape (nx, ny, z1 - z0), native byte order.

        Raises
        ------
        InputError
            When the file is truncated or its compressed data is corrupt.
        """
        slicer = (x, y, slice(int(z0), int(z1)), *self.volume_index(volume))
        try:
            if hasattr(self._dataobj, "_get_unscaled"):
                raw = np.asarray(self._dataobj._get_unscaled(slicer))
            else:
                raw = np.asarray(self._dataobj[slicer])
        except NiresampleError:
            raise
        except (OSError, EOFError, zlib.error, gzip.BadGzipFile, ValueError) as err:
            raise InputError(f"{self.path}: truncated or corrupt image data ({_why(err)})") from err
        if raw.dtype.byteorder not in ("=", "|"):
            raw = raw.astype(raw.dtype.newbyteorder("="))
        if not scaled or not self.is_scaled:
            return raw if not scaled else raw.astype(self.value_dtype, copy=False)
        out = raw.astype(self.value_dtype)
        # A corrupt slope can push values past float32: they become inf
        # (reported by info --stats), without a numpy warning on stderr.
        with np.errstate(over="ignore", invalid="ignore"):
            if self.slope != 1.0:
                out *= self.value_dtype.type(self.slope)
            if self.inter != 0.0:
                out += self.value_dtype.type(self.inter)
        return out

    def read_volume(self, volume: int = 0, *, scaled: bool = True) -> np.ndarray:
        """Read one whole 3D volume (small images and tests only)."""
        return self.read_slab(0, self.grid.shape[2], volume=volume, scaled=scaled)

    def close(self) -> None:
        if self._close is not None:
            self._close()
            self._close = None

    def __enter__(self) -> SourceImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _why(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:160]


def open_image(path: str | os.PathLike[str]) -> SourceImage:
    """Open an image lazily (header only).

    Parameters
    ----------
    path : str or PathLike
        A ``.nii``/``.nii.gz`` (NIfTI-1 or NIfTI-2), ``.nrrd``/``.nhdr``/``.mha``/
        ``.mhd`` (through SimpleITK), ``.mgz``/``.mgh`` or ``.zarr`` image.

    Returns
    -------
    SourceImage

    Raises
    ------
    InputError
        Missing path, a directory, an empty or unreadable file, not an image.
    HeaderError
        A header that describes an impossible image (bad dims, dtype, affine).
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    _, ext = split_ext(p)
    ext = ext.lower()
    if ext in (".zarr", ".ome.zarr"):
        from ._zarr_io import open_zarr

        return open_zarr(p)
    if p.is_dir():
        raise InputError(f"{p}: is a directory, not an image file")
    if not p.is_file():  # a FIFO would block the first read forever
        raise InputError(f"{p}: not a regular file (a pipe or device?)")
    try:
        size = p.stat().st_size
        with open(p, "rb"):
            pass
    except OSError as err:
        raise InputError(f"{p}: cannot be read ({err.strerror or err})") from err
    if size == 0:
        raise InputError(f"{p}: empty file")
    if ext in _SITK_SUFFIXES:
        return _open_with_sitk(p)
    if ext in _MGH_SUFFIXES:
        return _open_mgh(p)
    return _open_nifti(p, size)


@contextlib.contextmanager
def _quiet_nibabel() -> Iterator[None]:
    """Keep nibabel's header-fixing log lines and numpy warnings off stderr.

    nibabel logs ("magic string ... not valid", "setting 0 dims to 1") to a
    stderr handler and numpy warns on NaN arithmetic; the CLI promises one
    error line, and what matters reaches the user through our own errors.
    """
    from nibabel.imageglobals import logger

    # (nibabel's own LoggingOutputSuppressor drops its handler for good and
    # then Python's last-resort handler prints anyway.)
    was_disabled = logger.disabled
    logger.disabled = True
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.disabled = was_disabled


def _open_nifti(p: Path, size: int) -> SourceImage:
    import nibabel as nib

    with open(p, "rb") as f:
        magic = f.read(2)
    gz = magic == b"\x1f\x8b"
    nifti2 = _check_raw_header(p, gz)
    img: Any
    try:
        with _quiet_nibabel():
            img = (nib.Nifti2Image if nifti2 else nib.Nifti1Image).from_filename(
                str(p), keep_file_open=True
            )
    except NiresampleError:
        raise
    except Exception as err:  # nibabel raises many types for bad files
        what = "corrupt or truncated gzip data, " if gz and _gzip_error(err) else ""
        raise InputError(f"{p}: not a readable NIfTI file ({what}{_why(err)})") from err
    hdr = img.header
    fmt = "nifti2" if isinstance(img, nib.Nifti2Image) else "nifti1"
    shape = tuple(int(v) for v in hdr.get_data_shape())
    _check_shape(p, shape)
    dtype = _check_dtype(p, hdr.get_data_dtype())
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    # The proxy's offset is what will be read (the header copy may be "fixed").
    need = int(getattr(img.dataobj, "offset", hdr["vox_offset"])) + nbytes
    if not gz and size < need:
        raise InputError(f"{p}: truncated file ({size} bytes on disk, the header needs {need})")
    if gz and need > size * _DEFLATE_MAX_RATIO:
        # Checked before any read: a corrupt shape must not make us allocate
        # gigabytes for a file that cannot possibly hold them.
        raise InputError(
            f"{p}: truncated or corrupt file (the header needs {need} bytes, more than "
            f"{size} compressed bytes can hold)"
        )
    affine = _nifti_affine(p, hdr)
    # nibabel moves scl_slope/inter from the header into the array proxy.
    slope = float(getattr(img.dataobj, "slope", 1.0))
    inter = float(getattr(img.dataobj, "inter", 0.0))
    slope = 1.0 if not np.isfinite(slope) or slope == 0 else slope
    inter = 0.0 if not np.isfinite(inter) else inter
    grid = _make_grid(p, shape, affine)
    return SourceImage(
        path=p, grid=grid, shape=shape, dtype=dtype, slope=slope, inter=inter,
        header=hdr, fmt=fmt, _dataobj=img.dataobj,
        # nibabel opens the file on the first read: look the opener up at close time.
        _close=lambda: _close_proxy(img.dataobj),
    )


def _gzip_error(err: BaseException) -> bool:
    # zlib, gzip, indexed_gzip (ZranError, odd readinto lengths) all end up here.
    return isinstance(err, (OSError, EOFError, zlib.error, ValueError)) or "zran" in repr(err).lower()


def _close_proxy(dataobj: Any) -> None:
    opener = getattr(dataobj, "_opener", None)
    if opener is not None:
        opener.close_if_mine()


def _check_raw_header(p: Path, gz: bool) -> bool:
    """Read the raw header; return True for NIfTI-2.

    Checks what nibabel would misread: the header size (which also gives the
    byte order) and dim[0], which must be 1..7 (nibabel takes any other value
    as a byte-swapped header and reports nonsense).
    """
    opener: Callable[..., Any] = gzip.open if gz else open
    try:
        with opener(p, "rb") as f:
            head = f.read(540)
    except (OSError, EOFError, zlib.error) as err:
        what = "corrupt or truncated gzip data, " if gz else ""
        raise InputError(f"{p}: not a readable NIfTI file ({what}{_why(err)})") from err
    if len(head) < 4:
        raise InputError(f"{p}: not a NIfTI file (too short for a header)")
    n_le = int.from_bytes(head[:4], "little")
    n_be = int.from_bytes(head[:4], "big")
    if 540 in (n_le, n_be):
        nifti2, endian = True, "<" if n_le == 540 else ">"
    elif 348 in (n_le, n_be):
        nifti2, endian = False, "<" if n_le == 348 else ">"
    else:
        raise InputError(
            f"{p}: not a NIfTI file (header size field is {n_le}, expected 348 or 540)"
        )
    hsize = 540 if nifti2 else 348
    if len(head) < hsize:
        raise InputError(f"{p}: truncated header ({len(head)} of {hsize} bytes)")
    dim0 = struct.unpack_from(endian + ("q" if nifti2 else "h"), head, 16 if nifti2 else 40)[0]
    if not 1 <= dim0 <= 7:
        raise HeaderError(f"{p}: header dim[0] = {dim0}, expected 1..7 (corrupt header?)")
    pixdim = struct.unpack_from(endian + ("3d" if nifti2 else "3f"), head, 112 if nifti2 else 80)
    sform_code = struct.unpack_from(endian + ("i" if nifti2 else "h"), head, 348 if nifti2 else 254)[0]
    if sform_code <= 0 and not all(np.isfinite(v) and v != 0 for v in pixdim):
        # qform and the pixdim fallback take voxel sizes from pixdim, which
        # nibabel silently "fixes" from 0 to 1: a zero size is unknown geometry.
        raise HeaderError(
            f"{p}: header voxel sizes pixdim[1:4] = {[float(v) for v in pixdim]} must be "
            "non-zero and finite when sform_code is 0 (corrupt header?)"
        )
    return nifti2


def _check_shape(p: Path, shape: tuple[int, ...]) -> None:
    if len(shape) < 3:
        raise HeaderError(f"{p}: {len(shape)}D image {shape}; niresample needs a 3D volume")
    if len(shape) > 7:
        raise HeaderError(f"{p}: {len(shape)} dimensions; NIfTI allows at most 7")
    if any(v < 1 for v in shape):
        raise HeaderError(f"{p}: header has zero or negative dimensions {shape}")
    if int(np.prod([float(v) for v in shape])) > _MAX_TOTAL_VOXELS:
        raise HeaderError(f"{p}: header dimensions {shape} are absurd (corrupt header?)")


def _check_dtype(p: Path, dtype: np.dtype) -> np.dtype:
    native = np.dtype(dtype).newbyteorder("=")
    if native not in SUPPORTED_DTYPES:
        raise HeaderError(
            f"{p}: unsupported data type {native} (niresample resamples real scalar images)"
        )
    return native


def _nifti_affine(p: Path, hdr: Any) -> np.ndarray:
    # sform when its code is set, else qform, else pixdim: nibabel's rule.
    try:
        with _quiet_nibabel():
            affine = hdr.get_best_affine()
    except Exception as err:
        raise HeaderError(f"{p}: cannot build an affine from the header ({_why(err)})") from err
    return np.asarray(affine, dtype=np.float64)


def _make_grid(p: Path, shape: tuple[int, ...], affine: np.ndarray) -> Grid:
    from .errors import GridError

    try:
        return Grid((shape[0], shape[1], shape[2]), affine)
    except GridError as err:
        raise HeaderError(f"{p}: {err}") from err


def _template_header(affine: np.ndarray, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    import nibabel as nib

    hdr = nib.Nifti1Header()
    hdr.set_data_shape(shape)
    hdr.set_data_dtype(dtype)
    hdr.set_xyzt_units("mm", "sec")
    hdr.set_qform(affine, code=1)
    hdr.set_sform(affine, code=1)
    return hdr


def _in_memory(p: Path, data: np.ndarray, affine: np.ndarray, fmt: str) -> SourceImage:
    shape = tuple(int(v) for v in data.shape)
    _check_shape(p, shape)
    dtype = _check_dtype(p, data.dtype)
    data = data.astype(dtype, copy=False)
    return SourceImage(
        path=p, grid=_make_grid(p, shape, affine), shape=shape, dtype=dtype, slope=1.0,
        inter=0.0, header=_template_header(affine, shape, dtype), fmt=fmt, _dataobj=data,
    )


def _open_with_sitk(p: Path) -> SourceImage:
    """NRRD/MHA via SimpleITK; LPS->RAS is converted in :mod:`._sitk` alone."""
    from ._sitk import read_sitk_image

    data, affine = read_sitk_image(p)
    return _in_memory(p, data, affine, p.suffix.lower().lstrip("."))


def _open_mgh(p: Path) -> SourceImage:
    import nibabel as nib

    img: Any
    try:
        img = nib.load(str(p))
        data = np.asarray(img.dataobj)
    except Exception as err:
        raise InputError(f"{p}: not a readable MGH/MGZ file ({_why(err)})") from err
    return _in_memory(p, data, np.asarray(img.affine, dtype=np.float64), "mgh")
