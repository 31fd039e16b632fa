"""Streaming TIFF output (the writing half of :mod:`._tiff`).

Slabs stream into pages, in a temporary file (or folder) beside the target
renamed at the end: ImageJ hyperstacks when ImageJ can hold the data type
(uint8, uint16, int16, float32) and the file stays under 4 GB, otherwise
OME-TIFF (BigTIFF over 4 GB), both with the voxel size in µm so Fiji opens
them at scale.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._tiff_pages import _tifffile
from .errors import DiskSpaceError, OptionError, OutputError, OutputExistsError
from .grid import Grid

__all__ = ["write_tiff"]

_IMAGEJ_DTYPES = tuple(np.dtype(t) for t in ("uint8", "uint16", "int16", "float32"))
#: Above this many bytes of pixels, write BigTIFF (classic TIFF offsets are 32-bit).
_BIGTIFF_BYTES = 2**32 - 2**25
_SLAB_BYTES = 64 * 2**20


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
    from .paths import check_not_an_input

    absolute = Path(os.path.abspath(target))
    check_not_an_input(target, inputs, replaces_folder=True)
    if absolute.exists() and not absolute.is_dir():
        raise OutputError(f"{target}: exists and is not a folder (slices are written into a folder)")
    if absolute.exists() and not overwrite:
        raise OutputExistsError(f"{target}: already exists (use --overwrite to replace it)")
    from ._path_errors import check_output_parent

    check_output_parent(target)


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
