"""Python API: resample paths, opened images or nibabel images.

Every function builds one :class:`~core.requests.ResampleRequest` (validated once,
when it is built) and runs it through :mod:`core.run`: the target
:class:`~core.grid.Grid` first, then one resampling through :mod:`core.engine`
(the same slab stream the CLI uses).

Examples
--------
>>> from niresample_cli.core.api import resample_to_spacing   # doctest: +SKIP
>>> img = resample_to_spacing("t1.nii.gz", (1.0, 1.0, 1.0), order=3)  # doctest: +SKIP
>>> img.header.get_zooms()  # doctest: +SKIP
(1.0, 1.0, 1.0)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._nibabel import ImageLike, as_like, source_from_nibabel
from .errors import OptionError
from .grid import Grid
from .requests import Compute, Interpolation, OutputOptions, ResampleRequest, Target
from .result import RunResult
from .run import resample_file, resample_image
from .source import SourceImage, split_ext

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

#: The result of a file run (kept under its old name).
ResampleResult = RunResult


def _resample(image: ImageLike, target: Target, **kw: Any) -> Any:
    """``image`` onto ``target`` with the intensity options ``kw`` of the functions below."""
    if kw.get("transforms"):
        from dataclasses import replace

        target = replace(target, transforms=tuple(kw["transforms"]))
    request = ResampleRequest(
        target, Interpolation(order=kw["order"], anti_aliasing=kw["anti_aliasing"], dtype=kw["dtype"],
                              fill=kw.get("fill", 0.0)),
        Compute(device=kw["device"], max_memory=kw["max_memory"]),
    )
    return resample_image(image, request)


def resample_to_grid(
    image: ImageLike,
    grid: Grid,
    *,
    order: int = 1,
    anti_aliasing: bool | None = None,
    dtype: object = None,
    device: str | None = None,
    max_memory: str | int | None = None,
    transforms: Sequence[Any] | None = None,
    fill: float = 0.0,
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
    transforms : sequence, optional
        Registration transforms mapping points of ``grid``'s space into the
        image's, in antsApplyTransforms order (the last listed is applied to
        the points first): file paths (a ``str`` may be ANTs' ``"[file,1]"`` to
        invert), (4, 4) RAS matrices (nibabel-style affines) or
        ``(path or matrix, invert)`` pairs.  Formats: see :mod:`core.transforms`.
    fill : float
        Value of output voxels outside the image's field of view (NaN only for
        float outputs).

    Returns
    -------
    nibabel.Nifti1Image
        Data in the output dtype (``get_fdata()`` applies any kept scaling),
        affine ``grid.affine``, header codes, units and TR kept from the input.

    Raises
    ------
    OptionError, TransformError

    Examples
    --------
    >>> out = resample_to_grid("atlas.nii.gz", subject_grid,  # doctest: +SKIP
    ...                        transforms=["1Warp.nii.gz", "0GenericAffine.mat"])
    """
    if not isinstance(grid, Grid):
        raise OptionError(f"grid: expected a Grid, got {type(grid).__name__}", param="grid")
    return _resample(image, Target(like=grid), order=order, anti_aliasing=anti_aliasing,
                     dtype=dtype, device=device, max_memory=max_memory, transforms=transforms,
                     fill=fill)


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
    return _resample(img, Target(spacing=spacing, anchor=anchor), order=order,  # type: ignore[arg-type]
                     anti_aliasing=anti_aliasing, dtype=dtype, device=device, max_memory=max_memory)


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
    return _resample(img, Target(shape=shape, anchor=anchor), order=order,  # type: ignore[arg-type]
                     anti_aliasing=anti_aliasing, dtype=dtype, device=device, max_memory=max_memory)


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
    target = Target(spacing=spacing, shape=shape, like=as_like(like), anchor=anchor)  # type: ignore[arg-type]
    return target.grid_for(source.grid)


def resample_nifti_spacing(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    new_x_spacing: float | None = None,
    new_y_spacing: float | None = None,
    new_z_spacing: float | None = None,
    new_spacing: float | Sequence[float] | None = None,
    order: int = 1,
) -> RunResult:
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
    RunResult

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
            raise OptionError("new_spacing: give new_spacing or new_x/y/z_spacing", param="new_spacing")
    request = ResampleRequest(Target(spacing=spacing), Interpolation(order=order),
                              output=OutputOptions(overwrite=True))
    return resample_file(input, output, request)


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
        raise OptionError(f"output_path: cannot create directory {out_dir} ({err})",
                          param="output_path") from err
    stem, _ = split_ext(nii_path)
    out = out_dir / f"{stem}_resampled.nii.gz"
    request = ResampleRequest(Target(shape=tuple(desired_volume)), Interpolation(order=3),  # type: ignore[arg-type]
                              output=OutputOptions(overwrite=True))
    result = resample_file(nii_path, out, request)
    return result.output if result.output is not None else out
