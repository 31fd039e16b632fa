"""Run one :class:`~core.requests.ResampleRequest`: the entry points every command and
every convenience function of the Python API goes through.

* :func:`resample_file`: a file to a file, streaming slabs with bounded memory.
* :func:`resample_image`: a path or an in-memory image to a nibabel image.

Both dispatch on ``request.labels``: a :class:`~core.requests.LabelMethod` goes to the
label engine (:mod:`.labels`), an :class:`~core.requests.Interpolation` to the
intensity engine (:mod:`.engine`).  Both return or describe a :class:`RunResult`.

Examples
--------
>>> from niresample_cli.core.requests import ResampleRequest, Target, Interpolation
>>> request = ResampleRequest(Target(spacing=1.0), Interpolation(order=3))
>>> result = resample_file("t1.nii.gz", "t1_1mm.nii.gz", request)  # doctest: +SKIP
>>> result.grid.spacing  # doctest: +SKIP
(1.0, 1.0, 1.0)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ._nibabel import ImageLike, as_source, nibabel_image
from .io import SourceImage
from .requests import Interpolation, ResampleRequest
from .result import RunResult, source_notes

__all__ = ["RunResult", "resample_file", "resample_image"]


def resample_file(
    in_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    request: ResampleRequest,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Resample a file to a file, streaming slabs with bounded memory.

    Parameters
    ----------
    in_path, out_path : str or PathLike
        Input image; output ``.nii``/``.nii.gz`` (or ``.zarr``/``.ome.zarr``),
        written atomically.
    request : ResampleRequest
        Target grid, method (intensity or labels), compute and output options.
    progress : callable, optional
        ``progress(done_bytes, total_bytes)``.

    Returns
    -------
    RunResult
        Input and output paths, grids, dtype, method, device, clipped voxels,
        slabs and seconds.

    Raises
    ------
    InputError, GridError, OptionError, LabelError, DeviceError, OutputError, DiskSpaceError
        Before any work for bad inputs, grids and outputs.
    """
    from .device import engine_word
    from .sniff import run_warnings

    t0 = time.perf_counter()
    if request.labels:
        from ._label_engine import label_file

        result = label_file(in_path, out_path, request, progress=progress)
    else:
        from ._open_input import open_input
        from .engine import resample_to_file

        source, request = open_input(in_path, request)
        with source:
            warned = run_warnings(source, request)
            plan = _plan(source, request)
            result = resample_to_file(plan, Path(out_path), options=request.output,
                                      compute=request.compute, progress=progress,
                                      inputs=request.reads)
            result.warnings = (*source_notes(source), *warned, *result.warnings)
        result.input = Path(in_path)
    result.device = engine_word(result.device)
    result.seconds = time.perf_counter() - t0
    return result


def resample_image(image: ImageLike, request: ResampleRequest) -> Any:
    """Resample a path, a SourceImage or a nibabel image and return a nibabel image.

    Parameters
    ----------
    image : str, PathLike, SourceImage or nibabel image
    request : ResampleRequest
        Its output options do not apply (nothing is written).

    Returns
    -------
    nibabel.Nifti1Image or nibabel.Nifti2Image
        Data in the output dtype (``get_fdata()`` applies any kept scaling), affine
        ``grid.affine``, header codes, units and TR kept from the input.
    """
    source, opened = as_source(image)
    try:
        data, result = resample_array(source, request)
    finally:
        if opened:
            source.close()
    return nibabel_image(data, source.header, result.grid, slope=result.slope, inter=result.inter)


def resample_array(source: SourceImage, request: ResampleRequest) -> tuple[np.ndarray, RunResult]:
    """Run ``request`` on ``source`` into one in-memory array (stored dtype, Fortran order)."""
    from .device import engine_word
    from .sniff import run_warnings

    t0 = time.perf_counter()
    if request.labels:
        from ._label_engine import label_array

        data, result = label_array(source, request)
    else:
        from .engine import resample_to_array

        data, result = resample_to_array(_plan(source, request))
    result.warnings += run_warnings(source, request)
    result.device = engine_word(result.device)
    result.seconds = time.perf_counter() - t0
    return data, result


def _plan(source: SourceImage, request: ResampleRequest) -> Any:
    from .engine import plan_resample

    method = request.method
    assert isinstance(method, Interpolation)
    return plan_resample(
        source, request.target.grid_for(source.grid), order=method.order,
        anti_aliasing=method.anti_aliasing, dtype=method.dtype, device=request.compute.device,
        max_memory=request.compute.max_memory, transforms=request.target.transforms,
        # a grid of the user's (--like, transforms) is filled outside the input's field of
        # view; one derived from the input (spacing, shape, anchors) keeps the edge rule
        fill=method.fill if request.target.like is not None or request.target.transforms else None,
    )
