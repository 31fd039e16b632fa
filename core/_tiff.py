"""Streaming TIFF input and output: multi-page TIFF, BigTIFF, OME-TIFF, slice folders.

Axis convention (TIFF carries no orientation): **pages are z, page rows are y,
page columns are x**, and the voxel axes are taken as R, A, S with the first
voxel at the origin: ``affine = diag(vx, vy, vz, 1)``.  Spacing and shape are
exact; the anatomical direction is an assumption, stated in ``notes``.

Reading (tifffile) never loads the whole stack: an uncompressed contiguous
series is memory-mapped, any other is read page by page, so a slab
``[x, y, z0:z1]`` reads only pages ``z0 .. z1 - 1``.  A folder of 2D slices
is ordered naturally (``slice_2`` before ``slice_10``) and each slab reads only
its files.  The voxel size comes from OME metadata (``PhysicalSizeX/Y/Z`` and
their units) or ImageJ tags (``XResolution``/``YResolution``, ``spacing``,
``unit``); plain resolution tags (often a 72 dpi default) are not trusted.
Without it, ``voxel_size=(x, y, z)`` in mm is required.

Writing streams slabs into pages, in a temporary file (or folder) beside the
target renamed at the end: ImageJ hyperstacks when ImageJ can hold the data
type (uint8, uint16, int16, float32) and the file stays under 4 GB,
otherwise OME-TIFF (BigTIFF over 4 GB), both with the voxel size in µm so
Fiji opens them at scale.  The data type is kept (label maps stay integer).

This module reads; :mod:`._tiff_pages` holds the lazy array proxies and
:mod:`._tiff_write` the writer (:func:`write_tiff`, re-exported here).
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._inputs import as_orientation, orient_affine
from ._tiff_pages import _memmap, _SliceFolder, _tifffile, _TiffStack
from ._tiff_write import write_tiff
from .errors import InputError, OptionError
from .grid import as_triple
from .source import SourceImage, check_dtype, check_shape, make_grid, reason, template_header

__all__ = ["open_tiff", "open_tiff_folder", "write_tiff", "TIFF_SUFFIXES"]

TIFF_SUFFIXES = (".tif", ".tiff")
ORIENTATION_NOTE = ("TIFF has no orientation: pages taken as z, rows as y, columns as x, "
                    "voxel axes as R, A, S with the first voxel at the origin")
_UNIT_TO_MM = {
    "mm": 1.0, "millimeter": 1.0, "um": 1e-3, "µm": 1e-3, "μm": 1e-3, "\\u00b5m": 1e-3,
    "micron": 1e-3, "microns": 1e-3, "micrometer": 1e-3, "nm": 1e-6, "nanometer": 1e-6,
    "cm": 10.0, "centimeter": 10.0, "m": 1e3, "meter": 1e3, "å": 1e-7, "angstrom": 1e-7,
}
_PAGE_AXES = "ZIQ"  # tifffile's names for the axis of pages: z
_EXTRA_AXES = "TC"
_VoxelSize = tuple[float | None, float | None, float | None]


# -- reading ------------------------------------------------------------------
def open_tiff(path: str | os.PathLike[str], *, voxel_size: Sequence[float] | None = None,
              orientation: str | None = None) -> SourceImage:
    """Open a multi-page TIFF, BigTIFF or OME-TIFF lazily.

    Parameters
    ----------
    path : str or PathLike
        A ``.tif``/``.tiff`` file; its first series is read (axes ``ZYX``, or
        ``TZYX``/``ZCYX``... whose ``T``/``C`` become extra axes).
    voxel_size : (3,) sequence of float, optional
        ``(x, y, z)`` in mm; replaces the metadata's.  Required when the file
        has no OME or ImageJ voxel size.
    orientation : str, optional
        Three axis codes (``'PIR'``) naming where the columns, rows and pages
        point, instead of the assumed R, A, S (the first voxel stays at the
        origin).

    Returns
    -------
    SourceImage
        Shape ``(columns, rows, pages, *extra)``; ``fmt`` is ``'tiff'``;
        ``notes`` states the assumed orientation and where the voxel size
        came from.

    Raises
    ------
    InputError
        Missing or unreadable file, not a TIFF, colour (RGB) samples.
    OptionError
        No voxel size in the file and none given, or a bad ``voxel_size``
        (``param='voxel_size'``).

    Notes
    -----
    ``dtype`` is the stored type (native byte order after reading).
    """
    tifffile = _tifffile()
    given = _as_voxel_size(voxel_size)
    codes = as_orientation(orientation)
    p = Path(path)
    _check_file(p)
    try:
        tif = tifffile.TiffFile(p)
    except Exception as err:
        raise InputError(f"{p}: not a readable TIFF file ({reason(err)})") from err
    try:
        series = tif.series[0]
        axes, shape = series.axes, tuple(int(v) for v in series.shape)
        lead = _lead_axes(p, axes)
        zaxis = next((i for i, a in enumerate(lead) if a in _PAGE_AXES), None)
        extra = [i for i, a in enumerate(lead) if a not in _PAGE_AXES]
        nz = shape[zaxis] if zaxis is not None else 1
        full = (shape[-1], shape[-2], nz, *(shape[i] for i in extra))
        check_shape(p, full)
        found, origin = _metadata_voxel_size(tif)
        spacing, notes = _resolve_voxel_size(p, given, found, origin)
        mm = _memmap(tif, series)
        proxy = _TiffStack(tif, series, lead_shape=shape[:-2], zaxis=zaxis, extra=extra, mm=mm)
    except BaseException:
        tif.close()
        raise
    return _source(p, full, series.dtype, spacing, "tiff", proxy, tif.close, notes, codes)


def open_tiff_folder(
    folder: str | os.PathLike[str], *, voxel_size: Sequence[float] | None = None,
    orientation: str | None = None,
) -> SourceImage:
    """Open a folder of 2D TIFF slices as one volume, in natural order.

    Parameters
    ----------
    folder : str or PathLike
        A directory of ``.tif``/``.tiff`` files, one 2D slice each; they are
        sorted naturally (``slice_2`` before ``slice_10``) into z.
    voxel_size : (3,) sequence of float, optional
        ``(x, y, z)`` in mm; replaces what the first slice's OME/ImageJ
        metadata says.  Required when that metadata lacks any of the three.
    orientation : str, optional
        Three axis codes (``'PIR'``) naming where the columns, rows and pages
        point, instead of the assumed R, A, S (the first voxel stays at the
        origin).

    Returns
    -------
    SourceImage
        Shape ``(columns, rows, n_files)``; ``fmt`` is ``'tiff-slices'``.

    Raises
    ------
    InputError
        Not a directory, no TIFF files, a slice that is not 2D, unreadable,
        or whose shape or dtype differs from the first slice's.
    OptionError
        No voxel size known (``param='voxel_size'``).
    """
    tifffile = _tifffile()
    given = _as_voxel_size(voxel_size)
    codes = as_orientation(orientation)
    d = Path(folder)
    if not d.is_dir():
        raise InputError(f"{d}: not a directory of TIFF slices")
    files = sorted((f for f in d.iterdir() if f.suffix.lower() in TIFF_SUFFIXES
                    and not f.name.startswith(".") and f.is_file()), key=natural_key)
    if not files:
        raise InputError(f"{d}: no .tif/.tiff files in the folder")
    first: tuple[tuple[int, ...], np.dtype] | None = None
    found: _VoxelSize = (None, None, None)
    origin = ""
    for f in files:
        try:
            with tifffile.TiffFile(f) as tif:
                series = tif.series[0]
                shape = tuple(int(v) for v in series.shape)
                this = (shape, np.dtype(series.dtype))
                if first is None:
                    found, origin = _metadata_voxel_size(tif)
        except Exception as err:
            raise InputError(f"{d}: slice {f.name} is not a readable TIFF ({reason(err)})") from err
        if len(shape) != 2 or series.axes != "YX":
            raise InputError(f"{d}: slice {f.name} is not a 2D grey image (axes {series.axes}, "
                             f"shape {shape})")
        if first is None:
            first = this
        elif this != first:
            raise InputError(
                f"{d}: slice {f.name} is {_describe(*this)}, the first slice {files[0].name} is "
                f"{_describe(*first)}; all slices must share shape and dtype"
            )
    assert first is not None
    (ny, nx), dtype = first
    full = (nx, ny, len(files))
    check_shape(d, full)
    spacing, notes = _resolve_voxel_size(d, given, found, f"{origin} of {files[0].name}")
    proxy = _SliceFolder(files, (ny, nx), dtype)
    return _source(d, full, dtype, spacing, "tiff-slices", proxy, None, notes, codes)


def natural_key(path: Path) -> list[Any]:
    """Sort key putting ``slice_2`` before ``slice_10`` (digit runs compared as numbers)."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t.casefold())
            for t in re.split(r"(\d+)", path.name) if t]


def _describe(shape: tuple[int, ...], dtype: np.dtype) -> str:
    return f"{'x'.join(str(v) for v in shape[::-1])} {dtype}"


def _check_file(p: Path) -> None:
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p}: is a directory (a folder of slices is opened by open_tiff_folder)")
    if not p.is_file():
        raise InputError(f"{p}: not a regular file")


def _as_voxel_size(voxel_size: Sequence[float] | None) -> tuple[float, float, float] | None:
    if voxel_size is None:
        return None
    x, y, z = as_triple(voxel_size, "voxel_size", error=OptionError)
    assert x is not None and y is not None and z is not None
    return (x, y, z)


def _lead_axes(p: Path, axes: str) -> str:
    if "S" in axes:
        raise InputError(f"{p}: colour TIFF (axes {axes} hold RGB samples); niresample reads "
                         "grey-level stacks")
    if not axes.endswith("YX"):
        raise InputError(f"{p}: TIFF series with axes {axes}; expected pages of rows (Y) and columns (X)")
    lead = axes[:-2]
    bad = [a for a in lead if a not in _PAGE_AXES + _EXTRA_AXES]
    if bad or sum(a in _PAGE_AXES for a in lead) > 1:
        raise InputError(f"{p}: TIFF series with axes {axes}; expected one z axis (Z) and "
                         "optionally time (T) and channels (C)")
    return lead


def _source(p: Path, shape: tuple[int, ...], dtype: Any, spacing: tuple[float, float, float],
            fmt: str, proxy: Any, close: Callable[[], None] | None, notes: list[str],
            codes: tuple[str, str, str] | None) -> SourceImage:
    native = check_dtype(p, np.dtype(dtype))
    affine = np.diag([*spacing, 1.0])
    first = ORIENTATION_NOTE
    if codes is not None:
        affine = orient_affine(affine, codes)
        first = (f"orientation {''.join(codes)} given: columns, rows and pages point "
                 f"{', '.join(codes)}, the first voxel at the origin")
    src = SourceImage(
        path=p, grid=make_grid(p, shape, affine), shape=shape, dtype=native, slope=1.0, inter=0.0,
        header=template_header(affine, shape, native), fmt=fmt, _dataobj=proxy, _close=close,
        notes=(first, *notes),
    )
    return src


# -- voxel size -----------------------------------------------------------------
def _metadata_voxel_size(tif: Any) -> tuple[_VoxelSize, str]:
    """``((x, y, z) in mm or None each, 'OME metadata' | 'ImageJ tags' | '')``."""
    if tif.is_ome and tif.ome_metadata:
        found = _ome_voxel_size(tif.ome_metadata)
        if any(v is not None for v in found):
            return found, "OME metadata"
    ij = tif.imagej_metadata
    if ij:
        unit = _unit_mm(ij.get("unit"))
        if unit is not None:
            x = y = z = None
            try:
                xres, yres = tif.pages.first.resolution
                x = unit / float(xres) if xres and float(xres) > 0 else None
                y = unit / float(yres) if yres and float(yres) > 0 else None
            except (AttributeError, TypeError, ValueError):
                pass
            spacing = ij.get("spacing")
            if spacing is not None and float(spacing) > 0:
                z = unit * float(spacing)
            return (x, y, z), "ImageJ tags"
    return (None, None, None), ""


def _ome_voxel_size(xml: str) -> _VoxelSize:
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return (None, None, None)
    pixels = next((e for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "Pixels"), None)
    if pixels is None:
        return (None, None, None)
    out: list[float | None] = []
    for axis in "XYZ":
        value, unit = pixels.get(f"PhysicalSize{axis}"), _unit_mm(pixels.get(f"PhysicalSize{axis}Unit", "µm"))
        try:
            v = float(value) if value is not None else None
        except ValueError:
            v = None
        out.append(v * unit if v is not None and v > 0 and np.isfinite(v) and unit is not None else None)
    return (out[0], out[1], out[2])


def _unit_mm(unit: Any) -> float | None:
    if unit is None:
        return None
    return _UNIT_TO_MM.get(str(unit).strip().lower())


def _resolve_voxel_size(
    p: Path, given: tuple[float, float, float] | None, found: _VoxelSize, origin: str
) -> tuple[tuple[float, float, float], list[str]]:
    if given is not None:
        return given, ["voxel size given by the caller"]
    x, y, z = found
    if x is not None and y is not None and z is not None:
        return (x, y, z), [f"voxel size from the {origin}"]
    known = ", ".join(f"{a}={v:g} mm" for a, v in zip("xyz", found, strict=True) if v is not None)
    missing = ", ".join(a for a, v in zip("xyz", found, strict=True) if v is None)
    raise OptionError(
        f"voxel_size: {p} has no voxel size for {missing} in its OME/ImageJ metadata"
        f"{f' (it gives {known})' if known else ''}; give voxel_size (x y z with a unit, "
        "e.g. 10 10 50um)",
        param="voxel_size",
    )
