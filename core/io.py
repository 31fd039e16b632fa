"""Opening images lazily: NIfTI, NRRD (:mod:`._nrrd`), TIFF stacks and slice folders
(:mod:`._tiff`), OME-Zarr (:mod:`._zarr_read`); MHA and MGZ are read whole.

:func:`open_image` reads only the header; voxels are read on demand by
:meth:`SourceImage.read_slab`, one slab of the last spatial axis at a time,
so a 50 GB input never has to fit in memory.  ``.nii.gz`` files are read
through nibabel's array proxy with the file kept open (indexed_gzip makes it
seekable; reading slabs in order is the fast path).

Scaling (``scl_slope``/``scl_inter``) is applied in :class:`.source.SourceImage`
and only there.  This module is the only one that knows the openers: it stores
``reopen`` (a picklable ``partial(open_image, path)``) on the file-backed
sources it opens, which :class:`.source.SourceHandle` uses in other processes.
"""

from __future__ import annotations

import functools
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ._inputs import InputOptions
from ._nifti_raw import nibabel_image, read_raw_header
from ._quiet import quiet_nibabel as _quiet_nibabel
from .errors import HeaderError, InputError, NiresampleError
from .source import (
    SUPPORTED_DTYPES,
    SourceImage,
    check_dtype,
    check_shape,
    make_grid,
    reason,
    split_ext,
    template_header,
)

__all__ = ["SourceImage", "open_image", "NIFTI_SUFFIXES", "split_ext", "SUPPORTED_DTYPES"]

# Old private names, still imported by api.py until it imports them from .source.
_check_shape, _check_dtype, _make_grid, _template_header = (
    check_shape, check_dtype, make_grid, template_header,
)

NIFTI_SUFFIXES = (".nii", ".nii.gz")
_SITK_SUFFIXES = (".mha", ".mhd")
_NRRD_SUFFIXES = (".nrrd", ".nhdr")
_TIFF_SUFFIXES = (".tif", ".tiff")
_MGH_SUFFIXES = (".mgz", ".mgh")
_ZARR_SUFFIXES = (".zarr",)

#: deflate cannot compress better than about 1032:1.
_DEFLATE_MAX_RATIO = 1032


def open_image(path: str | os.PathLike[str], *, options: InputOptions | None = None) -> SourceImage:
    """Open an image lazily (header only).

    Parameters
    ----------
    path : str or PathLike
        A ``.nii``/``.nii.gz`` (NIfTI-1 or NIfTI-2), ``.nrrd``/``.nhdr`` (streamed),
        ``.tif``/``.tiff`` (multi-page, BigTIFF, OME-TIFF), a folder of 2D TIFF
        slices, ``.zarr``/``.ome.zarr`` (OME-NGFF 0.4 or 0.5), ``.mha``/``.mhd``
        (through SimpleITK) or ``.mgz``/``.mgh`` image.
    options : InputOptions, optional
        ``orientation`` and ``space_unit`` (NRRD), ``voxel_size`` and
        ``orientation`` (TIFF), ``level`` (OME-Zarr); ignored by other formats.

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
    opts = options if options is not None else InputOptions()
    _, ext = split_ext(p)
    ext = ext.lower()
    source: SourceImage
    if ext in (".zarr", ".ome.zarr"):
        from ._zarr_read import open_zarr

        source = open_zarr(p, level=opts.level)
    elif p.is_dir() and any(f.suffix.lower() in _TIFF_SUFFIXES for f in p.iterdir()):
        from ._tiff import open_tiff_folder

        source = open_tiff_folder(p, voxel_size=opts.voxel_size, orientation=opts.orientation)
    else:
        source = _open_file(p, ext, opts)
    if source.reopen is None and not isinstance(source._dataobj, np.ndarray):
        # Worker processes reopen the file with the same options (SourceHandle).
        source.reopen = functools.partial(open_image, p, options=options)
    return source


def _open_file(p: Path, ext: str, opts: InputOptions) -> SourceImage:
    if p.is_dir():
        raise InputError(f"{p}: is a directory, not an image file (nor a folder of TIFF slices)")
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
    if ext in _NRRD_SUFFIXES:
        from ._nrrd import open_nrrd

        return open_nrrd(p, orientation=opts.orientation, space_unit=opts.space_unit)
    if ext in _TIFF_SUFFIXES:
        from ._tiff import open_tiff

        return open_tiff(p, voxel_size=opts.voxel_size, orientation=opts.orientation)
    if ext in _SITK_SUFFIXES:
        return _open_with_sitk(p)
    if ext in _MGH_SUFFIXES:
        return _open_mgh(p)
    return _open_nifti(p, size)


def _open_nifti(p: Path, size: int) -> SourceImage:
    import nibabel as nib

    with open(p, "rb") as f:
        magic = f.read(2)
    gz = magic == b"\x1f\x8b"
    raw = read_raw_header(p, gz)
    if gz != p.name.lower().endswith(".gz"):  # the data reader goes by the name
        raise InputError(f"{p}: not a readable NIfTI file ("
                         f"{'gzip-compressed but not named .gz' if gz else 'named .gz but not gzip-compressed'})")
    notes: list[str] = []
    img: Any
    try:
        with _quiet_nibabel():
            img = nibabel_image(p, raw, size, notes)
    except NiresampleError:
        raise
    except Exception as err:  # nibabel raises many types for bad files
        what = "corrupt or truncated gzip data, " if gz and _gzip_error(err) else ""
        raise InputError(f"{p}: not a readable NIfTI file ({what}{reason(err)})") from err
    hdr = img.header
    fmt = "nifti2" if isinstance(img, nib.Nifti2Image) else "nifti1"
    shape = tuple(int(v) for v in hdr.get_data_shape())
    check_shape(p, shape)
    dtype = check_dtype(p, hdr.get_data_dtype())
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
    grid = make_grid(p, shape, affine)
    return SourceImage(
        path=p, grid=grid, shape=shape, dtype=dtype, slope=slope, inter=inter,
        header=hdr, fmt=fmt, _dataobj=img.dataobj, warnings=tuple(notes),
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


def _nifti_affine(p: Path, hdr: Any) -> np.ndarray:
    # sform when its code is set, else qform, else pixdim: nibabel's rule.
    try:
        with _quiet_nibabel():
            affine = hdr.get_best_affine()
    except Exception as err:
        raise HeaderError(f"{p}: cannot build an affine from the header ({reason(err)})") from err
    return np.asarray(affine, dtype=np.float64)


def _in_memory(p: Path, data: np.ndarray, affine: np.ndarray, fmt: str) -> SourceImage:
    shape = tuple(int(v) for v in data.shape)
    check_shape(p, shape)
    dtype = check_dtype(p, data.dtype)
    data = data.astype(dtype, copy=False)
    return SourceImage(
        path=p, grid=make_grid(p, shape, affine), shape=shape, dtype=dtype, slope=1.0,
        inter=0.0, header=template_header(affine, shape, dtype), fmt=fmt, _dataobj=data,
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
        with _quiet_nibabel():
            img = nib.load(str(p))
            data = np.asarray(img.dataobj)
    except Exception as err:
        raise InputError(f"{p}: not a readable MGH/MGZ file ({reason(err)})") from err
    return _in_memory(p, data, np.asarray(img.affine, dtype=np.float64), "mgh")
