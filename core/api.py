"""Python API: resample paths, opened images or nibabel images.

Every function builds the target :class:`~core.grid.Grid` first and then
resamples once through :mod:`core.engine` (the same slab stream the CLI uses).

Examples
--------
>>> from niresample_cli.core.api import resample_to_spacing   # doctest: +SKIP
>>> img = resample_to_spacing("t1.nii.gz", (1.0, 1.0, 1.0), order=3)  # doctest: +SKIP
>>> img.header.get_zooms()  # doctest: +SKIP
(1.0, 1.0, 1.0)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .engine import ResampleResult, plan_resample, resample_to_array, resample_to_file
from .errors import InputError, OptionError
from .grid import Grid
from .io import SourceImage, open_image, split_ext

__all__ = [
    "source_from_nibabel",
    "resample_to_grid",
    "resample_to_spacing",
    "resample_to_shape",
    "resample_file",
    "target_grid",
    "resample_nifti_spacing",
    "resampling",
]

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

    from .io import _check_dtype, _check_shape, _make_grid, _template_header

    if not isinstance(img, nib.spatialimages.SpatialImage):
        raise InputError(f"expected a path or a nibabel image, got {type(img).__name__}")
    p = Path(path) if path is not None else Path("<in-memory>")
    shape = tuple(int(v) for v in img.shape)
    _check_shape(p, shape)
    affine = np.asarray(img.affine, dtype=np.float64)
    proxy = img.dataobj
    slope = inter = None
    if nib.is_proxy(proxy) and hasattr(proxy, "_get_unscaled"):
        data: Any = proxy
        dtype = _check_dtype(p, np.dtype(proxy.dtype))  # type: ignore[attr-defined]
        slope, inter = float(getattr(proxy, "slope", 1.0)), float(getattr(proxy, "inter", 0.0))
    else:
        data = np.asarray(proxy)
        dtype = _check_dtype(p, data.dtype)
        data = data.astype(dtype, copy=False)
    slope = 1.0 if slope is None or not np.isfinite(slope) or slope == 0 else slope
    inter = 0.0 if inter is None or not np.isfinite(inter) else inter
    if isinstance(img.header, (nib.Nifti1Header, nib.Nifti2Header)):
        header = img.header.copy()
        # Codes kept as they are (make_header stores the grid with code 2 when
        # both are 0 and the pixdim fallback would not reproduce it).
        header.set_qform(affine, code=int(img.header["qform_code"]))
        header.set_sform(affine, code=int(img.header["sform_code"]))
    else:
        header = _template_header(affine, shape, dtype)
    fmt = "nifti2" if isinstance(header, nib.Nifti2Header) else "nifti1"
    return SourceImage(
        path=p, grid=_make_grid(p, shape, affine), shape=shape, dtype=dtype, slope=slope,
        inter=inter, header=header, fmt=fmt, _dataobj=data,
    )


def _as_source(image: ImageLike) -> tuple[SourceImage, bool]:
    """``(source, opened_here)`` from a path, a SourceImage or a nibabel image."""
    if isinstance(image, SourceImage):
        return image, False
    if isinstance(image, (str, os.PathLike)):
        return open_image(image), True
    return source_from_nibabel(image), False


def _nibabel_image(data: np.ndarray, source: SourceImage, result: ResampleResult) -> Any:
    import nibabel as nib

    from .writer import make_header

    header = make_header(source.header, result.grid, result.shape, result.dtype,
                         slope=result.slope, inter=result.inter)
    cls = nib.Nifti2Image if isinstance(header, nib.Nifti2Header) else nib.Nifti1Image
    img = cls(data, result.grid.affine, header=header)
    if result.slope == 1.0 and result.inter == 0.0:
        return img
    # nibabel applies scl_slope/inter only through an array proxy: round-trip
    # the bytes so that get_fdata() gives the values and dataobj keeps the raw.
    img.header.set_slope_inter(result.slope, result.inter)
    return cls.from_bytes(img.to_bytes())


def resample_to_grid(
    image: ImageLike,
    grid: Grid,
    *,
    order: int = 1,
    anti_aliasing: bool | None = None,
    dtype: object = None,
    device: str | None = None,
    max_memory: str | int | None = None,
) -> Any:
    """Resample an image onto ``grid`` and return it as a nibabel image.

    Parameters
    ----------
    image : str, PathLike, SourceImage or nibabel image
    grid : Grid
        Target grid (shape and affine, any direction).
    order : int
        B-spline order 0..5 (0 nearest, 1 linear, 3 cubic).
    anti_aliasing : bool or None
        Area-average downsampled axes; None means on for order >= 1.
    dtype : str or numpy.dtype, optional
        Output dtype (default: the input's stored dtype; integer outputs are
        rounded half away from zero and clipped, never wrapped).
    device : {'numpy', 'cpu', 'cuda', 'auto'}, optional
    max_memory : str or int, optional
        Working-memory budget for the slabs.

    Returns
    -------
    nibabel.Nifti1Image
        Data in the output dtype (``get_fdata()`` applies any kept scaling),
        affine ``grid.affine``, header codes, units and TR kept from the input.
    """
    source, opened = _as_source(image)
    try:
        plan = plan_resample(source, grid, order=order, anti_aliasing=anti_aliasing, dtype=dtype,
                             device=device, max_memory=max_memory)
        data, result = resample_to_array(plan)
        return _nibabel_image(data, source, result)
    finally:
        if opened:
            source.close()



def resample_to_spacing(
    img: ImageLike,
    spacing: float | Sequence[float | None],
    *,
    order: int = 1,
    anchor: str = "center",
    anti_aliasing: bool | None = None,
    dtype: object = None,
    device: str | None = None,
    max_memory: str | int | None = None,
) -> Any:
    """Resample to a new voxel spacing (mm), keeping the field of view.

    Parameters
    ----------
    img : str, PathLike, SourceImage or nibabel image
    spacing : float or sequence of 3 (float or None)
        New spacing; None keeps an axis' spacing.
    order : int
        B-spline order 0..5 (default 1, linear).
    anchor : {'center', 'origin', 'corner'}
        What the new grid keeps fixed (see :meth:`Grid.with_spacing`).

    Returns
    -------
    nibabel.Nifti1Image
        ``n' = round(n * s / s')`` voxels at exactly the requested spacing.

    Raises
    ------
    GridError
        For zero, negative, NaN or absurd spacings.
    """
    source, opened = _as_source(img)
    try:
        grid = source.grid.with_spacing(spacing, anchor=anchor)  # type: ignore[arg-type]
        return resample_to_grid(source, grid, order=order, anti_aliasing=anti_aliasing,
                                dtype=dtype, device=device, max_memory=max_memory)
    finally:
        if opened:
            source.close()


def resample_to_shape(
    img: ImageLike,
    shape: Sequence[int],
    *,
    order: int = 3,
    anchor: str = "center",
    anti_aliasing: bool | None = None,
    dtype: object = None,
    device: str | None = None,
    max_memory: str | int | None = None,
) -> Any:
    """Resample to a new shape covering exactly the same field of view.

    Parameters
    ----------
    img : str, PathLike, SourceImage or nibabel image
    shape : sequence of 3 int
        New spatial shape; the spacing becomes ``s * n / n'``.
    order : int
        B-spline order 0..5 (default 3, cubic).

    Returns
    -------
    nibabel.Nifti1Image
    """
    source, opened = _as_source(img)
    try:
        grid = source.grid.with_shape(shape, anchor=anchor)  # type: ignore[arg-type]
        return resample_to_grid(source, grid, order=order, anti_aliasing=anti_aliasing,
                                dtype=dtype, device=device, max_memory=max_memory)
    finally:
        if opened:
            source.close()


def target_grid(
    source: SourceImage,
    *,
    spacing: float | Sequence[float | None] | None = None,
    shape: Sequence[int] | None = None,
    like: str | os.PathLike[str] | Grid | None = None,
    anchor: str = "center",
) -> Grid:
    """The output grid from exactly one of ``spacing``, ``shape`` or ``like``.

    Raises
    ------
    OptionError
        When none or several are given.
    """
    given = [n for n, v in (("spacing", spacing), ("shape", shape), ("like", like)) if v is not None]
    if len(given) != 1:
        raise OptionError(
            "give exactly one of spacing, shape or like" + (f" (got {', '.join(given)})" if given else "")
        )
    if spacing is not None:
        return source.grid.with_spacing(spacing, anchor=anchor)  # type: ignore[arg-type]
    if shape is not None:
        return source.grid.with_shape(shape, anchor=anchor)  # type: ignore[arg-type]
    if isinstance(like, Grid):
        return like
    with open_image(like) as ref:  # type: ignore[arg-type]
        return ref.grid


def resample_file(
    in_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    spacing: float | Sequence[float | None] | None = None,
    shape: Sequence[int] | None = None,
    like: str | os.PathLike[str] | Grid | None = None,
    order: int = 1,
    anchor: str = "center",
    anti_aliasing: bool | None = None,
    dtype: object = None,
    device: str | None = None,
    max_memory: str | int | None = None,
    overwrite: bool = False,
    compress_level: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    output_options: dict[str, Any] | None = None,
) -> ResampleResult:
    """Resample a file to a file, streaming slabs with bounded memory.

    Parameters
    ----------
    in_path, out_path : str or PathLike
        Input image; output ``.nii``/``.nii.gz`` (or ``.zarr``), written
        atomically.
    spacing, shape, like
        Exactly one: new spacing (mm, None keeps an axis), new shape (FOV
        kept), or a reference image/grid to resample onto.
    order, anchor, anti_aliasing, dtype, device, max_memory
        As in :func:`resample_to_grid` and :func:`resample_to_spacing`.
    overwrite : bool
        Replace an existing output (never an input).
    compress_level : int, optional
        gzip level for ``.nii.gz``.
    progress : callable, optional
        ``progress(done_bytes, total_bytes)``.
    output_options : dict, optional
        Passed to :func:`core.stream.write_output` (Zarr chunking, scheduler).

    Returns
    -------
    ResampleResult
        Output path, grids, dtype and the count of clipped voxels.

    Raises
    ------
    InputError, GridError, OptionError, OutputError, DiskSpaceError
        Before any work for bad inputs, grids and outputs.
    """
    with open_image(in_path) as source:
        grid = target_grid(source, spacing=spacing, shape=shape, like=like, anchor=anchor)
        plan = plan_resample(source, grid, order=order, anti_aliasing=anti_aliasing, dtype=dtype,
                             device=device, max_memory=max_memory)
        inputs = (Path(like),) if isinstance(like, (str, os.PathLike)) else ()
        return resample_to_file(plan, Path(out_path), overwrite=overwrite, compress_level=compress_level,
                                progress=progress, inputs=inputs, output_options=output_options)


def resample_nifti_spacing(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    new_x_spacing: float | None = None,
    new_y_spacing: float | None = None,
    new_z_spacing: float | None = None,
    new_spacing: float | Sequence[float] | None = None,
    order: int = 1,
) -> ResampleResult:
    """Drop-in for the ``resample_nifti_spacing`` script function, with correct geometry.

    Parameters
    ----------
    input, output : str or PathLike
        Input and output NIfTI paths (the output is replaced if it exists).
    new_x_spacing, new_y_spacing, new_z_spacing : float, optional
        New spacing of one axis (others keep theirs).
    new_spacing : float or sequence of 3 float, optional
        New spacing of all axes (overrides the per-axis values).
    order : int
        B-spline order (default 1).

    Returns
    -------
    ResampleResult

    Notes
    -----
    Unlike the script, the grid is centred on the input's field of view and
    the spacing is exactly the requested one (the affine and both qform and
    sform are rewritten), and integer images are rounded, not truncated.
    """
    if new_spacing is not None:
        spacing: Any = new_spacing
    else:
        spacing = (new_x_spacing, new_y_spacing, new_z_spacing)
        if all(v is None for v in spacing):
            raise OptionError("resample_nifti_spacing: give new_spacing or new_x/y/z_spacing")
    return resample_file(input, output, spacing=spacing, order=order, overwrite=True)


def resampling(
    nii_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    desired_volume: Sequence[int],
    debug: bool = False,
) -> Path:
    """Drop-in for the ``resampling`` script function: resample to a new shape.

    Writes ``<stem>_resampled.nii.gz`` into the directory ``output_path``
    (created if missing), with cubic B-splines and the field of view kept
    exactly (spacing ``s * n / n'``).

    Parameters
    ----------
    nii_path : str or PathLike
        Input image.
    output_path : str or PathLike
        Output directory.
    desired_volume : sequence of 3 int
        New shape.
    debug : bool
        Accepted for compatibility; niresample never prints from its core.

    Returns
    -------
    Path
        The written file.
    """
    out_dir = Path(output_path)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OptionError(f"output_path: cannot create directory {out_dir} ({err})") from err
    stem, _ = split_ext(nii_path)
    out = out_dir / f"{stem}_resampled.nii.gz"
    result = resample_file(nii_path, out, shape=tuple(desired_volume), order=3, overwrite=True)
    return result.output if result.output is not None else out
