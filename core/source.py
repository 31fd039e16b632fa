"""The source image and what every room shares about it: a leaf of core.

:class:`SourceImage` is an image opened lazily (grid, header, slab reader);
:func:`split_ext` names formats by their suffix; :func:`check_shape`,
:func:`check_dtype`, :func:`make_grid` and :func:`template_header` are the
checks and defaults every opener applies (:mod:`.io` for files, :mod:`.api`
for nibabel images, :mod:`._zarr_read` for Zarr stores).

:class:`SourceHandle` carries a source into other processes (dask workers,
process pools): pickling drops an image that can be reopened from its file
and keeps one held in memory.

Why no import of :mod:`.io` here, not even inside a function: :mod:`.io`
imports this module, so ``source -> io`` would be an import cycle.  Instead
:mod:`.io`, the only module that knows the openers, stores a picklable
``reopen`` callable (``functools.partial(open_image, path)``) on every
file-backed source it opens, and :class:`SourceHandle` calls that.  A source
built elsewhere (an in-memory nibabel image, a test) has ``reopen=None`` and
travels whole.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import GridError, HeaderError, InputError, NiresampleError
from .grid import Grid

__all__ = [
    "SourceImage",
    "SourceHandle",
    "SUPPORTED_DTYPES",
    "split_ext",
    "check_shape",
    "check_dtype",
    "make_grid",
    "template_header",
    "reason",
]

#: On-disk dtypes niresample can resample (real scalars).
SUPPORTED_DTYPES = tuple(
    np.dtype(t)
    for t in ("uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64",
              "float32", "float64")
)

#: Refuse headers describing more voxels than this per volume (2^31 per axis is
#: allowed by the grid, but 2^48 voxels in total is petabytes and certainly corrupt).
_MAX_TOTAL_VOXELS = 2**48


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
    reopen : callable or None
        A picklable ``reopen() -> SourceImage`` opening the same file again,
        set by the opener of a file read lazily (NIfTI, Zarr); None for images
        held in memory.  :class:`SourceHandle` uses it in other processes.
    warnings : tuple of str
        One-line notes of the opener about what it did not take as written (a
        data offset inside the header, skipped header extensions).  Core never
        prints: the CLI shows them.
    notes : tuple of str
        What the opener assumed or was told to override (an assumed
        orientation, a voxel size given by the caller, the pyramid level
        read); ``info`` prints them.
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
    reopen: Callable[[], SourceImage] | None = field(default=None, repr=False, compare=False)
    warnings: tuple[str, ...] = field(default=(), compare=False)
    notes: tuple[str, ...] = ()

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
            raise InputError(f"{self.path}: truncated or corrupt image data ({reason(err)})") from err
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


def reason(err: BaseException) -> str:
    """The first line of an exception's text (its type when empty), for messages."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:160]


def check_shape(p: Path, shape: tuple[int, ...]) -> None:
    """Refuse fewer than 3 or more than 7 axes, empty axes and absurd sizes (HeaderError)."""
    if len(shape) < 3:
        raise HeaderError(f"{p}: {len(shape)}D image {shape}; niresample needs a 3D volume")
    if len(shape) > 7:
        raise HeaderError(f"{p}: {len(shape)} dimensions; NIfTI allows at most 7")
    if any(v < 1 for v in shape):
        raise HeaderError(f"{p}: header has zero or negative dimensions {shape}")
    if int(np.prod([float(v) for v in shape])) > _MAX_TOTAL_VOXELS:
        raise HeaderError(f"{p}: header dimensions {shape} are absurd (corrupt header?)")


def check_dtype(p: Path, dtype: np.dtype) -> np.dtype:
    """``dtype`` in native byte order; HeaderError when it is not a real scalar type."""
    native = np.dtype(dtype).newbyteorder("=")
    if native not in SUPPORTED_DTYPES:
        raise HeaderError(
            f"{p}: unsupported data type {native} (niresample resamples real scalar images)"
        )
    return native


def make_grid(p: Path, shape: tuple[int, ...], affine: np.ndarray) -> Grid:
    """The spatial grid of an image; an invalid affine is the header's fault (HeaderError)."""
    try:
        return Grid((shape[0], shape[1], shape[2]), affine)
    except GridError as err:
        raise HeaderError(f"{p}: {err}") from err


#: The longest axis a NIfTI-1 header holds (dim is int16); longer ones need NIfTI-2.
NIFTI1_MAX_DIM = 32767


def template_header(affine: np.ndarray, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """A NIfTI header for an image that has none (codes 1, mm and seconds): NIfTI-1, or
    NIfTI-2 when an axis is longer than :data:`NIFTI1_MAX_DIM`."""
    import nibabel as nib

    hdr = nib.Nifti2Header() if any(v > NIFTI1_MAX_DIM for v in shape) else nib.Nifti1Header()
    hdr.set_data_shape(shape)
    hdr.set_data_dtype(dtype)
    hdr.set_xyzt_units("mm", "sec")
    hdr.set_qform(affine, code=1)
    hdr.set_sform(affine, code=1)
    return hdr


class SourceHandle:
    """A source that can travel to other processes: pickled, it reopens its file.

    The one picklable handle on an input that slab functions hold.  In this
    process it serves the open image it was given.  Pickled (dask.distributed,
    process pools, the resume fingerprint), it drops an image that can be
    reopened, one opened lazily from a file that still exists (NIfTI, Zarr),
    and reopens it on first use; an image held in memory (a numpy array read
    whole from NRRD/MGZ, a nibabel image, a path that does not exist) travels
    whole.

    Parameters
    ----------
    source : SourceImage
        The open input.  Reopening uses ``source.reopen`` (set by
        :func:`.io.open_image`), so this module needs no import of the openers.

    Examples
    --------
    >>> handle = SourceHandle(open_image("t1.nii.gz"))   # doctest: +SKIP
    >>> copy = pickle.loads(pickle.dumps(handle))        # doctest: +SKIP
    >>> copy.source.read_slab(0, 4)                       # doctest: +SKIP
    """

    def __init__(self, source: SourceImage) -> None:
        self.path = Path(source.path)
        self._source: SourceImage | None = source
        can_reopen = source.reopen is not None and not isinstance(source._dataobj, np.ndarray)
        self._reopen = source.reopen if can_reopen and self.path.exists() else None

    @property
    def reopenable(self) -> bool:
        """Whether pickling drops the image (it is reopened from :attr:`path`)."""
        return self._reopen is not None

    @property
    def source(self) -> SourceImage:
        """The image, reopened here when this handle came through pickle (or was closed)."""
        if self._source is None:
            if self._reopen is None:
                raise InputError(f"{self.path}: the source image was closed and cannot be reopened")
            self._source = self._reopen()
        return self._source

    def close(self) -> None:
        """Close the image when this handle can reopen it (an in-memory one is kept)."""
        if self._source is not None and self._reopen is not None:
            self._source.close()
            self._source = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if self._reopen is not None:
            state["_source"] = None
        return state
