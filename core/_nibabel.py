"""nibabel images in and out of core: a :class:`SourceImage` over a nibabel image, and a
nibabel image from resampled data.  Shared by :mod:`.api` and :mod:`.labels`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ._quiet import quiet_nibabel
from .errors import InputError
from .grid import Grid
from .io import SourceImage, open_image

__all__ = ["ImageLike", "source_from_nibabel", "as_source", "as_grid", "as_like", "nibabel_image"]

ImageLike = Any  # str | PathLike | SourceImage | nibabel image


def source_from_nibabel(img: Any, path: str | os.PathLike[str] | None = None) -> SourceImage:
    """A :class:`SourceImage` over an in-memory (or proxy-backed) nibabel image.

    Parameters
    ----------
    img : nibabel.spatialimages.SpatialImage
        A 3D to 7D image; its ``affine`` gives the grid.  A file-backed array
        proxy keeps its ``scl_slope``/``scl_inter`` and is read lazily.
    path : str or PathLike, optional
        A name used in messages (default ``'<in-memory>'``).

    Returns
    -------
    SourceImage

    Raises
    ------
    InputError
        When ``img`` is not a nibabel image.
    """
    import nibabel as nib

    from .source import check_dtype, check_shape, make_grid, template_header

    if not isinstance(img, nib.spatialimages.SpatialImage):
        raise InputError(f"img: expected a path or a nibabel image, got {type(img).__name__}",
                         param="img")
    p = Path(path) if path is not None else Path("<in-memory>")
    shape = tuple(int(v) for v in img.shape)
    check_shape(p, shape)
    affine = np.asarray(img.affine, dtype=np.float64)
    proxy = img.dataobj
    slope = inter = None
    if nib.is_proxy(proxy) and hasattr(proxy, "_get_unscaled"):
        data: Any = proxy
        dtype = check_dtype(p, np.dtype(proxy.dtype))  # type: ignore[attr-defined]
        slope, inter = float(getattr(proxy, "slope", 1.0)), float(getattr(proxy, "inter", 0.0))
    else:
        data = np.asarray(proxy)
        dtype = check_dtype(p, data.dtype)
        data = data.astype(dtype, copy=False)
    slope = 1.0 if slope is None or not np.isfinite(slope) or slope == 0 else slope
    inter = 0.0 if inter is None or not np.isfinite(inter) else inter
    if isinstance(img.header, (nib.Nifti1Header, nib.Nifti2Header)):
        with quiet_nibabel():
            header = img.header.copy()
        # Codes kept as they are (make_header stores the grid with code 2 when
        # both are 0 and the pixdim fallback would not reproduce it).
        header.set_qform(affine, code=int(img.header["qform_code"]))
        header.set_sform(affine, code=int(img.header["sform_code"]))
    else:
        header = template_header(affine, shape, dtype)
    fmt = "nifti2" if isinstance(header, nib.Nifti2Header) else "nifti1"
    return SourceImage(
        path=p, grid=make_grid(p, shape, affine), shape=shape, dtype=dtype, slope=slope,
        inter=inter, header=header, fmt=fmt, _dataobj=data,
    )


def as_source(image: ImageLike) -> tuple[SourceImage, bool]:
    """``(source, opened_here)`` from a path, a SourceImage or a nibabel image."""
    if isinstance(image, SourceImage):
        return image, False
    if isinstance(image, (str, os.PathLike)):
        return open_image(image), True
    return source_from_nibabel(image), False


def as_grid(image: ImageLike) -> Grid:
    """The grid of a Grid, a path, a SourceImage or a nibabel image."""
    if isinstance(image, Grid):
        return image
    source, opened = as_source(image)
    try:
        return source.grid
    finally:
        if opened:
            source.close()


def as_like(like: Any) -> Any:
    """A reference for :class:`~core.requests.Target`: paths and grids as they are,
    nibabel images and SourceImages as their grid."""
    if like is None or isinstance(like, (str, os.PathLike, Grid)):
        return like
    return as_grid(like)


def nibabel_image(data: np.ndarray, template: Any, grid: Grid, *, slope: float = 1.0,
                  inter: float = 0.0) -> Any:
    """A NIfTI image of ``data`` (stored dtype) on ``grid``.

    Parameters
    ----------
    data : ndarray
        Stored values, spatial axes first (extra axes kept).
    template : nibabel header
        The input's header: codes, units, TR, intent are kept.
    grid : Grid
        The output grid (``grid.affine`` goes into qform and sform).
    slope, inter : float
        Header scaling; when set, ``get_fdata()`` gives the scaled values and
        ``dataobj`` keeps the stored ones.

    Returns
    -------
    nibabel.Nifti1Image or nibabel.Nifti2Image
    """
    import nibabel as nib

    from .writer import make_header

    header = make_header(template, grid, tuple(data.shape), data.dtype, slope=slope, inter=inter)
    cls = nib.Nifti2Image if isinstance(header, nib.Nifti2Header) else nib.Nifti1Image
    img = cls(data, grid.affine, header=header)
    if slope == 1.0 and inter == 0.0:
        return img
    # nibabel applies scl_slope/inter only through an array proxy: round-trip
    # the bytes so that get_fdata() gives the values and dataobj keeps the raw.
    img.header.set_slope_inter(slope, inter)
    with quiet_nibabel():
        return cls.from_bytes(img.to_bytes())
