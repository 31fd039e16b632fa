"""TIFF outputs of the slab stream: ``OUT.tif``/``OUT.tiff`` or a folder of 2D slices.

:func:`.stream.write_output` hands TIFF targets here; :func:`._tiff_write.write_tiff`
streams the slabs into pages atomically (BigTIFF over 4 GB, voxel size in
ImageJ/OME tags).  The stored dtype is the output's: label maps stay integer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import OptionError
from .result import OutputSpec
from .source import split_ext

if TYPE_CHECKING:
    from .requests import OutputOptions

__all__ = ["write_tiff_output"]


def write_tiff_output(
    path: Path,
    spec: OutputSpec,
    slab_fn: Callable[[int, int, int], np.ndarray],
    slabs: Sequence[tuple[int, int]],
    *,
    options: OutputOptions,
    inputs: Sequence[Path] = (),
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write ``spec``'s image as a TIFF stack, or a folder of slices (``format='tiff-slices'``).

    Raises
    ------
    OptionError
        Zarr-only options; stored values with a scaling TIFF cannot record
        (``param='dtype'``); a folder of slices named like an image file, or
        with axes beyond the third.
    OutputError, OutputExistsError, DiskSpaceError
        As :func:`._tiff_write.write_tiff`.
    """
    from ._tiff_write import write_tiff

    slices = options.format == "tiff-slices"
    zarr_only = options.zarr_only
    if zarr_only:
        raise OptionError(f"{path}: {', '.join(zarr_only)} applies to .zarr/.ome.zarr outputs only",
                          param=zarr_only[0])
    ext = split_ext(path)[1].lower()
    if slices and ext in (".nii", ".nii.gz", ".zarr", ".ome.zarr", ".tif", ".tiff", ".nrrd"):
        raise OptionError(f"format: tiff-slices writes a folder of slices; give a folder name "
                          f"without an image extension, not {path.name!r}", param="format")
    if spec.slope != 1.0 or spec.inter != 0.0:
        raise OptionError(
            f"dtype: {path} would store scaled {np.dtype(spec.dtype)} values and TIFF has no "
            "scaling; choose an output dtype (e.g. float32)", param="dtype")
    return write_tiff(path, grid=spec.grid, dtype=spec.dtype, slab_fn=slab_fn, slabs=slabs,
                      extra_shape=tuple(spec.extra_shape), slices=slices, inputs=tuple(inputs),
                      overwrite=options.overwrite, progress=progress)
