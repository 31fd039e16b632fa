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
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DependencyError, DiskSpaceError, InputError, OptionError, OutputError, OutputExistsError
from .grid import Grid, as_triple

if TYPE_CHECKING:
    from .io import SourceImage

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
_IMAGEJ_DTYPES = tuple(np.dtype(t) for t in ("uint8", "uint16", "int16", "float32"))
#: Above this many bytes of pixels, write BigTIFF (classic TIFF offsets are 32-bit).
_BIGTIFF_BYTES = 2**32 - 2**25
_SLAB_BYTES = 64 * 2**20
_VoxelSize = tuple[float | None, float | None, float | None]


# -- reading ------------------------------------------------------------------
def open_tiff(path: str | os.PathLike[str], *, voxel_size: Sequence[float] | None = None) -> SourceImage:
    """Open a multi-page TIFF, BigTIFF or OME-TIFF lazily.

    Parameters
    ----------
    path : str or PathLike
        A ``.tif``/``.tiff`` file; its first series is read (axes ``ZYX``, or
        ``TZYX``/``ZCYX``... whose ``T``/``C`` become extra axes).
    voxel_size : (3,) sequence of float, optional
        ``(x, y, z)`` in mm; replaces the metadata's.  Required when the file
        has no OME or ImageJ voxel size.

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
    from .io import _check_shape

    tifffile = _tifffile()
    given = _as_voxel_size(voxel_size)
    p = Path(path)
    _check_file(p)
    try:
        tif = tifffile.TiffFile(p)
    except Exception as err:
        raise InputError(f"{p}: not a readable TIFF file ({_why(err)})") from err
    try:
        series = tif.series[0]
        axes, shape = series.axes, tuple(int(v) for v in series.shape)
        lead = _lead_axes(p, axes)
        zaxis = next((i for i, a in enumerate(lead) if a in _PAGE_AXES), None)
        extra = [i for i, a in enumerate(lead) if a not in _PAGE_AXES]
        nz = shape[zaxis] if zaxis is not None else 1
        full = (shape[-1], shape[-2], nz, *(shape[i] for i in extra))
        _check_shape(p, full)
        found, origin = _metadata_voxel_size(tif)
        spacing, notes = _resolve_voxel_size(p, given, found, origin)
        mm = _memmap(tif, series)
        proxy = _TiffStack(tif, series, lead_shape=shape[:-2], zaxis=zaxis, extra=extra, mm=mm)
    except BaseException:
        tif.close()
        raise
    return _source(p, full, series.dtype, spacing, "tiff", proxy, tif.close, notes)


def open_tiff_folder(
    folder: str | os.PathLike[str], *, voxel_size: Sequence[float] | None = None
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
    from .io import _check_shape

    tifffile = _tifffile()
    given = _as_voxel_size(voxel_size)
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
            raise InputError(f"{d}: slice {f.name} is not a readable TIFF ({_why(err)})") from err
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
    _check_shape(d, full)
    spacing, notes = _resolve_voxel_size(d, given, found, f"{origin} of {files[0].name}")
    proxy = _SliceFolder(files, (ny, nx), dtype)
    return _source(d, full, dtype, spacing, "tiff-slices", proxy, None, notes)


def natural_key(path: Path) -> list[Any]:
    """Sort key putting ``slice_2`` before ``slice_10`` (digit runs compared as numbers)."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t.casefold())
            for t in re.split(r"(\d+)", path.name) if t]


def _describe(shape: tuple[int, ...], dtype: np.dtype) -> str:
    return f"{'x'.join(str(v) for v in shape[::-1])} {dtype}"


def _tifffile() -> Any:
    try:
        import tifffile
    except ImportError as err:
        raise DependencyError("TIFF input and output need tifffile: pip install 'niresample[formats]'") from err
    return tifffile


def _check_file(p: Path) -> None:
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p}: is a directory (a folder of slices is opened by open_tiff_folder)")
    if not p.is_file():
        raise InputError(f"{p}: not a regular file")


def _why(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:160] if text else type(err).__name__


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
            fmt: str, proxy: Any, close: Callable[[], None] | None, notes: list[str]) -> SourceImage:
    from .io import SourceImage, _check_dtype, _make_grid, _template_header

    native = _check_dtype(p, np.dtype(dtype))
    affine = np.diag([*spacing, 1.0])
    src = SourceImage(
        path=p, grid=_make_grid(p, shape, affine), shape=shape, dtype=native, slope=1.0, inter=0.0,
        header=_template_header(affine, shape, native), fmt=fmt, _dataobj=proxy, _close=close,
    )
    # SourceImage gains a ``notes`` field at integration; until then an attribute.
    setattr(src, "notes", (ORIENTATION_NOTE, *notes))  # noqa: B010
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
        f"{f' (it gives {known})' if known else ''}; give voxel_size=(x, y, z) in mm",
        param="voxel_size",
    )


# -- array proxies --------------------------------------------------------------
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
                raise InputError(f"{self.files[z]}: not a readable TIFF slice ({_why(err)})") from err
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


# -- writing --------------------------------------------------------------------
def write_tiff(
    path: str | os.PathLike[str],
    *,
    grid: Grid,
    dtype: Any,
    slab_fn: Callable[[int, int, int], np.ndarray],
    slabs: Sequence[tuple[int, int]] | None = None,
    extra_shape: Sequence[int] = (),
    slices: bool = False,
    compression: str | None = None,
    inputs: Sequence[Path] = (),
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Stream an image into a TIFF stack (or a folder of 2D slices), atomically.

    Parameters
    ----------
    path : str or PathLike
        Target ``OUT.tif``, or the folder ``OUT/`` with ``slices=True``.
    grid : Grid
        Output grid; only its shape and spacing are stored (TIFF has no
        orientation: pages are z, rows y, columns x).
    dtype : numpy.dtype
        Stored type, what ``slab_fn`` returns (kept: label maps stay integer).
    slab_fn : callable
        ``slab_fn(volume, z0, z1) -> (nx, ny, z1 - z0)``.
    slabs : sequence of (z0, int), optional
        Slab plan along z covering ``0 .. nz``; default slabs of about 64 MiB.
    extra_shape : sequence of int
        At most one axis beyond the third (written as time points); none with
        ``slices``.
    slices : bool
        Write a folder of 2D files ``slice_0000.tif`` ... instead of one stack.
    compression : str, optional
        A tifffile compression (``'zlib'``...); default none, which lets
        readers memory-map the output.
    inputs : sequence of Path
        Inputs, never overwritten.
    overwrite : bool
        Replace an existing target (only once the new one is complete).
    progress : callable, optional
        ``progress(done_bytes, total_bytes)`` after each slab.

    Returns
    -------
    Path
        The target.

    Raises
    ------
    OptionError
        More than one extra axis, or extra axes with ``slices``.
    OutputError
        The target exists (without ``overwrite``), is an input, or cannot be
        written; :class:`DiskSpaceError` when the disk is too small.

    Notes
    -----
    ImageJ hyperstacks (``resolution``, ``spacing``, ``unit='um'``) when the
    data type is uint8, uint16, int16 or float32 and the pixels fit in 4 GB;
    otherwise OME-TIFF with ``PhysicalSizeX/Y/Z`` in µm, as BigTIFF over 4 GB.
    """
    from .writer import check_free_space, check_output_path, clean_stale_temporaries, temporary_path

    tifffile = _tifffile()
    target = Path(path)
    out_dtype = np.dtype(dtype)
    extra = tuple(int(v) for v in extra_shape)
    if len(extra) > 1 or (slices and extra):
        what = "a folder of slices holds one 3D volume" if slices else "at most one extra axis"
        raise OptionError(f"extra_shape: {what}, got {extra}", param="extra_shape")
    nx, ny, nz = grid.shape
    nvol = extra[0] if extra else 1
    plan = list(slabs) if slabs is not None else _default_slabs(grid, out_dtype)
    total = nx * ny * nz * nvol * out_dtype.itemsize
    if slices:
        _check_folder_target(target, inputs=tuple(inputs), overwrite=overwrite)
    else:
        check_output_path(target, inputs=tuple(inputs), overwrite=overwrite)
    check_free_space(target, total, compressed=compression is not None)
    clean_stale_temporaries(target.parent)
    spacing_um = tuple(float(v) * 1000.0 for v in grid.spacing)
    tmp = temporary_path(target)
    done = 0

    def pages() -> Iterator[np.ndarray]:
        nonlocal done
        for vol in range(nvol):
            for z0, z1 in plan:
                slab = np.asarray(slab_fn(vol, z0, z1))
                if slab.shape != (nx, ny, z1 - z0):
                    raise OutputError(f"{target}: internal error, slab {z0}:{z1} has shape {slab.shape}")
                slab = slab.astype(out_dtype, copy=False)
                for k in range(z1 - z0):
                    yield np.ascontiguousarray(slab[:, :, k].T)
                done += slab.nbytes
                if progress is not None:
                    progress(done, total)

    try:
        if slices:
            tmp.mkdir()
            width = max(4, len(str(nz - 1)))
            for z, page in enumerate(pages()):
                _write_stack(tifffile, tmp / f"slice_{z:0{width}d}.tif", iter([page]), (ny, nx),
                             out_dtype, spacing_um, "YX", compression)
        else:
            shape = ((nvol,) if extra else ()) + (nz, ny, nx)
            _write_stack(tifffile, tmp, pages(), shape, out_dtype, spacing_um,
                         ("T" if extra else "") + "ZYX", compression)
        _commit(tmp, target, overwrite=overwrite)
    except BaseException as err:
        _remove(tmp)
        if isinstance(err, OSError) and not isinstance(err, OutputError):
            if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                raise DiskSpaceError(f"{target}: disk full or file too large while writing") from err
            raise OutputError(f"{target}: cannot write ({err.strerror or err})") from err
        raise
    return target


def _write_stack(tifffile: Any, path: Path, pages: Iterator[np.ndarray], shape: tuple[int, ...],
                 dtype: np.dtype, spacing_um: tuple[float, ...], axes: str,
                 compression: str | None) -> None:
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    big = nbytes > _BIGTIFF_BYTES
    imagej = dtype in _IMAGEJ_DTYPES and not big
    vx, vy, vz = spacing_um
    kwargs: dict[str, Any] = {"shape": shape, "dtype": dtype, "photometric": "minisblack",
                              "compression": compression, "resolution": (1.0 / vx, 1.0 / vy)}
    if imagej:
        kwargs["metadata"] = {"axes": axes, "spacing": vz, "unit": "um"}
    else:
        kwargs["metadata"] = {"axes": axes, "PhysicalSizeX": vx, "PhysicalSizeXUnit": "µm",
                              "PhysicalSizeY": vy, "PhysicalSizeYUnit": "µm",
                              "PhysicalSizeZ": vz, "PhysicalSizeZUnit": "µm"}
    with tifffile.TiffWriter(path, bigtiff=big, imagej=imagej, ome=not imagej) as tw:
        tw.write(pages, **kwargs)


def _default_slabs(grid: Grid, dtype: np.dtype) -> list[tuple[int, int]]:
    nx, ny, nz = grid.shape
    step = max(1, _SLAB_BYTES // max(1, nx * ny * dtype.itemsize))
    return [(z, min(z + step, nz)) for z in range(0, nz, step)]


def _check_folder_target(target: Path, *, inputs: tuple[Path, ...], overwrite: bool) -> None:
    absolute = Path(os.path.abspath(target))
    if any(Path(os.path.abspath(src)) == absolute for src in inputs):
        raise OutputError(f"{target}: output is the input folder; refusing to overwrite an input")
    if absolute.exists() and not absolute.is_dir():
        raise OutputError(f"{target}: exists and is not a folder (slices are written into a folder)")
    if absolute.exists() and not overwrite:
        raise OutputExistsError(f"{target}: already exists (use --overwrite to replace it)")
    parent = absolute.parent
    if not parent.is_dir():
        raise OutputError(f"{target}: output directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{target}: output directory {parent} is not writable")


def _commit(tmp: Path, target: Path, *, overwrite: bool) -> None:
    """Move the finished temporary onto the target; never clobber without ``overwrite``."""
    if tmp.is_dir():
        if target.exists():
            if not overwrite:
                raise OutputExistsError(f"{target}: appeared while writing (another process?); kept it")
            old = tmp.with_name(tmp.name + ".old")
            os.rename(target, old)
            os.rename(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, target)
        return
    if overwrite:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise OutputExistsError(f"{target}: appeared while writing (another process?); kept it") from None
    except OSError:  # file systems without hard links
        if target.exists():
            raise OutputExistsError(f"{target}: already exists") from None
        os.rename(tmp, target)
        return
    os.unlink(tmp)


def _remove(tmp: Path) -> None:
    try:
        if tmp.is_dir():
            shutil.rmtree(tmp)
        else:
            tmp.unlink()
    except OSError:
        pass
