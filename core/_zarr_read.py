"""Zarr input: an OME-NGFF (or plain) Zarr store opened lazily as a :class:`~.source.SourceImage`.

OME-NGFF 0.4 (Zarr v2) and 0.5 (Zarr v3, metadata under ``'ome'``) are read;
axis units are converted to mm; axes beyond z, y, x (time, channels) are kept
as extra axes.  One level of the pyramid is read (the finest unless asked);
a slab read touches only the chunks that hold it.  :func:`level_grids` gives
the grid of every level from the metadata alone, :func:`choose_level` the
coarsest one still fine enough for a target.
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from ._quiet import quiet_nibabel
from ._zarr_meta import affine_from_ngff, multiscales, require_zarr
from .errors import HeaderError, InputError, NiresampleError, OptionError
from .grid import Grid
from .source import SourceImage, check_dtype, check_shape, make_grid, reason, template_header

__all__ = ["open_zarr", "level_grids", "choose_level"]


class _ZarrSlabs:
    """Index a Zarr array (..., z, y, x) with NIfTI slicers (x, y, z, *volume)."""

    def __init__(self, arr: Any, n_extra: int) -> None:
        self.arr = arr
        self.n_extra = n_extra

    def __getitem__(self, slicer: tuple[Any, ...]) -> np.ndarray:
        x, y, z, *vol = slicer
        try:
            data = np.asarray(self.arr[(*vol, z, y, x)])
        except Exception as err:  # codecs raise RuntimeError/ValueError on corrupt chunks
            _settle_chunk_reads()
            first = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
            raise InputError(f"{self.arr.store}: unreadable Zarr chunk ({first})") from err
        return data.T  # (dz, ny, nx) C == (nx, ny, dz) Fortran


def _settle_chunk_reads(timeout: float = 5.0) -> None:
    """Let the chunk reads a failed read left running on zarr's event loop finish.

    zarr gathers a selection's chunk reads: the first codec error propagates while the
    other reads are still pending.  Left alone, they are destroyed pending at exit and
    asyncio prints a traceback for each (hundreds of lines on stderr).  Waiting for them
    (bounded) lets the gather retrieve their errors; the asyncio logger is then quiet.
    """
    import asyncio
    import logging

    logging.getLogger("asyncio").setLevel(logging.CRITICAL)

    async def _wait_others() -> None:
        others = asyncio.all_tasks() - {asyncio.current_task()}
        if others:
            await asyncio.wait(others, timeout=timeout)

    try:
        from zarr.core.sync import sync

        sync(_wait_others())
    except Exception:  # noqa: BLE001 - best effort: the read error itself is what matters
        pass


def open_zarr(path: str | os.PathLike[str], *, level: int | None = None) -> SourceImage:
    """Open a Zarr store (OME-NGFF multiscales, or a plain array) lazily.

    The grid comes from niresample's stored affine when present (exact round
    trip; coarser levels derive theirs from it), else from the OME-NGFF scale
    and translation (axis aligned, units converted to mm).  Reading a slab
    reads only the chunks that hold it.

    Parameters
    ----------
    path : str or PathLike
    level : int, optional
        Pyramid level to read (0, the default, is the finest); ``notes``
        says which level of how many was read.

    Returns
    -------
    SourceImage

    Raises
    ------
    InputError
        Not a readable Zarr store, a group without OME-NGFF multiscales metadata.
    OptionError
        ``level`` beyond the pyramid (``param='level'``).
    HeaderError
        Fewer than three spatial axes, more than five axes, unsupported dtype.
    """
    p, node = _open_node(path)
    try:
        return _source_from_node(p, node, level)
    except (NiresampleError, KeyboardInterrupt):
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as err:
        raise HeaderError(
            f"{p}: malformed Zarr/OME-NGFF metadata ({type(err).__name__}: {str(err)[:120]})"
        ) from err


def _open_node(path: str | os.PathLike[str]) -> tuple[Path, Any]:
    require_zarr()

    p = Path(path)
    try:
        import zarr

        return p, zarr.open(store=str(p), mode="r")
    except Exception as err:
        raise InputError(f"{p}: not a readable Zarr store ({reason(err)})") from err


def level_grids(path: str | os.PathLike[str]) -> list[Grid]:
    """The grid of every pyramid level of a Zarr store, finest first (metadata only).

    Raises
    ------
    InputError, HeaderError
        As :func:`open_zarr`.
    """
    p, node = _open_node(path)
    ms = multiscales(dict(node.attrs))
    count = 1 if hasattr(node, "shape") or ms is None else len(ms["datasets"])
    grids = []
    for level in range(count):
        try:
            grids.append(_source_from_node(p, node, level).grid)
        except (NiresampleError, KeyboardInterrupt):
            raise
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as err:
            raise HeaderError(f"{p}: malformed Zarr/OME-NGFF metadata ({reason(err)})") from err
    return grids


def choose_level(grids: list[Grid], target: Grid) -> int:
    """The coarsest level whose spacing is still at least as fine as ``target``'s.

    Per axis when the level's axes and the target's are the same (the usual
    case: a new spacing, a new shape); otherwise every spacing of the level
    must be at most the finest spacing of the target.
    """
    want = np.asarray(target.spacing, dtype=np.float64) * (1 + 1e-6)
    best = 0
    for level, grid in enumerate(grids):
        have = np.asarray(grid.spacing, dtype=np.float64)
        aligned = np.allclose(np.abs(grid.direction), np.abs(target.direction), atol=1e-6)
        if np.all(have <= want) if aligned else np.max(have) <= np.min(want):
            best = level
    return best


def _source_from_node(p: Path, node: Any, level: int | None = None) -> SourceImage:
    """A SourceImage from an opened Zarr node (metadata parsed here, any failure
    becomes a HeaderError in :func:`open_zarr`)."""
    attrs: dict[str, Any] = dict(node.attrs)
    ms = multiscales(attrs)
    arr: Any
    index = 0 if level is None else int(level)
    count = 1
    if hasattr(node, "shape"):
        arr, axes = node, None
        if index:
            raise OptionError(f"level: {p} is a single Zarr array (level 0 only), got {level}",
                              param="level")
    elif ms is not None:
        count = len(ms["datasets"])
        if not count:
            raise HeaderError(f"{p}: malformed OME-NGFF metadata (multiscales lists no datasets)")
        if index >= count:
            raise OptionError(f"level: {p} has {count} pyramid level{'s' if count > 1 else ''} "
                              f"(0..{count - 1}), got {level}", param="level")
        dataset = ms["datasets"][index]
        try:
            arr = node[str(dataset["path"])]
        except Exception as err:
            raise InputError(f"{p}: multiscales level {dataset['path']!r} is missing") from err
        axes = ms.get("axes")
    else:
        raise InputError(f"{p}: a Zarr group without OME-NGFF multiscales metadata "
                         "('multiscales' attribute); not an OME-Zarr image")
    ndim = len(arr.shape)
    if ndim < 3 or ndim > 5:
        raise HeaderError(f"{p}: Zarr array of {ndim} axes; expected 3 spatial axes (+ t, c)")
    names = [a if isinstance(a, dict) else {"name": str(a)} for a in (axes or [])]
    if names:
        kinds = [a.get("type", "space" if a.get("name") in ("x", "y", "z") else "") for a in names]
        if kinds[-3:] != ["space"] * 3 or "space" in kinds[:-3]:
            raise HeaderError(f"{p}: expected the last three axes to be spatial, got {kinds}")
    raw_meta = attrs.get("niresample")
    meta: dict[str, Any] = dict(raw_meta) if isinstance(raw_meta, dict) else {}
    n_extra = ndim - 3
    shape = tuple(int(v) for v in arr.shape[-3:][::-1]) + tuple(int(v) for v in arr.shape[:n_extra])
    check_shape(p, shape)
    dtype = check_dtype(p, np.dtype(arr.dtype))
    if "affine" in meta:
        affine = np.asarray(meta["affine"], dtype=np.float64)
        if affine.shape != (4, 4):
            raise HeaderError(f"{p}: stored affine is not 4x4")
        if index and ms is not None and names:
            affine = _level_affine(affine, ms, index, names)
    elif ms is not None and names:
        affine = affine_from_ngff(ms, ms["datasets"][index], names)
    else:
        affine = np.eye(4)
    notes = (f"pyramid level {index} of {count} (0 is the finest)",) if count > 1 else ()
    # The stored NIfTI header describes level 0: coarser levels get a fresh one.
    stored = _stored_header(meta, shape, dtype) if index == 0 else None
    header = stored or template_header(affine, shape, dtype)
    slope = float(meta.get("slope", 1.0))
    inter = float(meta.get("inter", 0.0))
    return SourceImage(
        path=p, grid=make_grid(p, shape, affine), shape=shape, dtype=dtype,
        slope=slope if np.isfinite(slope) and slope != 0 else 1.0,
        inter=inter if np.isfinite(inter) else 0.0,
        header=header, fmt="zarr", _dataobj=_ZarrSlabs(arr, n_extra), notes=notes,
    )


def _level_affine(affine0: np.ndarray, ms: dict[str, Any], level: int,
                  names: list[dict[str, Any]]) -> np.ndarray:
    """Level ``level``'s affine from level 0's: voxel i of the level covers voxels
    ``i * r .. i * r + r - 1`` of level 0, with ``r`` the ratio of their NGFF scales."""
    a0 = affine_from_ngff(ms, ms["datasets"][0], names)
    ak = affine_from_ngff(ms, ms["datasets"][level], names)
    r = np.diag(ak)[:3] / np.diag(a0)[:3]
    if not np.all(np.isfinite(r)) or np.any(r <= 0):
        raise HeaderError(f"multiscales level {level} has a scale that is not positive")
    step = np.eye(4)
    step[:3, :3] = np.diag(r)
    step[:3, 3] = (r - 1) / 2
    return affine0 @ step


def _stored_header(meta: dict[str, Any], shape: tuple[int, ...], dtype: np.dtype) -> Any:
    raw = meta.get("nifti_header")
    if not raw:
        return None
    try:
        import nibabel as nib

        data = base64.b64decode(raw)
        cls = nib.Nifti2Header if len(data) >= 540 and int.from_bytes(data[:4], "little") == 540 \
            else nib.Nifti1Header
        with quiet_nibabel():  # its checks log what they fix
            hdr = cls.from_fileobj(io.BytesIO(data))
        hdr.set_data_shape(shape)
        hdr.set_data_dtype(dtype)
        return hdr
    except Exception:
        return None
