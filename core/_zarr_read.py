"""Zarr input: an OME-NGFF (or plain) Zarr store opened lazily as a :class:`~.source.SourceImage`.

The finest level is read; a slab read touches only the chunks that hold it.
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from ._zarr_meta import affine_from_ngff, multiscales, require_zarr
from .errors import HeaderError, InputError, NiresampleError
from .source import SourceImage, check_dtype, check_shape, make_grid, template_header

__all__ = ["open_zarr"]


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
            first = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
            raise InputError(f"{self.arr.store}: unreadable Zarr chunk ({first})") from err
        return data.T  # (dz, ny, nx) C == (nx, ny, dz) Fortran


def open_zarr(path: str | os.PathLike[str]) -> SourceImage:
    """Open a Zarr store (OME-NGFF multiscales, or a plain array) lazily.

    The finest level is read.  The grid comes from niresample's stored affine
    when present (exact round trip), else from the OME-NGFF scale and
    translation (axis aligned, units converted to mm).  Reading a slab reads
    only the chunks that hold it.

    Returns
    -------
    SourceImage

    Raises
    ------
    InputError
        Not a readable Zarr store.
    HeaderError
        Fewer than three spatial axes, more than five axes, unsupported dtype.
    """
    require_zarr()

    p = Path(path)
    try:
        import zarr

        node = zarr.open(store=str(p), mode="r")
    except Exception as err:
        raise InputError(f"{p}: not a readable Zarr store ({str(err).splitlines()[0][:160]})") from err
    try:
        return _source_from_node(p, node)
    except (NiresampleError, KeyboardInterrupt):
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as err:
        raise HeaderError(
            f"{p}: malformed Zarr/OME-NGFF metadata ({type(err).__name__}: {str(err)[:120]})"
        ) from err


def _source_from_node(p: Path, node: Any) -> SourceImage:
    """A SourceImage from an opened Zarr node (metadata parsed here, any failure
    becomes a HeaderError in :func:`open_zarr`)."""
    attrs: dict[str, Any] = dict(node.attrs)
    ms = multiscales(attrs)
    arr: Any
    if hasattr(node, "shape"):
        arr, axes = node, None
    elif ms is not None:
        dataset = ms["datasets"][0]
        try:
            arr = node[str(dataset["path"])]
        except Exception as err:
            raise InputError(f"{p}: multiscales level {dataset['path']!r} is missing") from err
        axes = ms.get("axes")
    else:
        raise InputError(f"{p}: a Zarr group without OME-NGFF multiscales metadata")
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
    elif ms is not None and names:
        affine = affine_from_ngff(ms, ms["datasets"][0], names)
    else:
        affine = np.eye(4)
    if affine.shape != (4, 4):
        raise HeaderError(f"{p}: stored affine is not 4x4")
    header = _stored_header(meta, shape, dtype) or template_header(affine, shape, dtype)
    slope = float(meta.get("slope", 1.0))
    inter = float(meta.get("inter", 0.0))
    return SourceImage(
        path=p, grid=make_grid(p, shape, affine), shape=shape, dtype=dtype,
        slope=slope if np.isfinite(slope) and slope != 0 else 1.0,
        inter=inter if np.isfinite(inter) else 0.0,
        header=header, fmt="zarr", _dataobj=_ZarrSlabs(arr, n_extra),
    )


def _stored_header(meta: dict[str, Any], shape: tuple[int, ...], dtype: np.dtype) -> Any:
    raw = meta.get("nifti_header")
    if not raw:
        return None
    try:
        import nibabel as nib

        data = base64.b64decode(raw)
        cls = nib.Nifti2Header if len(data) >= 540 and int.from_bytes(data[:4], "little") == 540 \
            else nib.Nifti1Header
        hdr = cls.from_fileobj(io.BytesIO(data))
        hdr.set_data_shape(shape)
        hdr.set_data_dtype(dtype)
        return hdr
    except Exception:
        return None
