"""Label maps: exact nearest-neighbour, majority and per-label Gaussian resampling.

Label ids are never interpolated: every output value is a value of the input.

* ``nearest`` is a pure index gather.  When the target grid shares the input's
  direction (``spacing``, ``shape``, or a ``like`` reference with the same
  axes) the voxel map is separable and each axis is one index vector::

      i = floor(scale * i' + offset + 0.5)        # ITK rounds halves up

  Output voxels whose centre lies outside the input field of view get 0
  (background), as ITK's resampler does.  Any other reference grid goes through
  the full (4, 4) voxel map, slab by slab.
* ``majority`` (downsampling): the most frequent label among the input voxel
  centres inside each output voxel's box; ties go to the nearest-neighbour label,
  else to the smallest tied id.
* ``gaussian``: each label's indicator on the nearest-neighbour output grid is
  smoothed with a Gaussian of ``sigma`` mm (edges replicated, no wrap-around),
  and each voxel takes the label with the largest smoothed value; ties go to the
  nearest-neighbour label, else to the smallest tied id.  The work is done block
  by block on the labels present within the kernel's reach, each label within
  its bounding box, so the cost follows boundary area and local label count.

Exactness across backends and slab sizes: Gaussian weights are rounded to
integers summing to ``2**17`` per axis, so every smoothed value is an integer
below ``2**53`` and exact in float64 whatever the summation order.  numpy and
torch (cpu or cuda), any block or slab size, give identical labels.

Integer labels with ``scl_slope``/``scl_inter`` are resampled on their stored
integers and keep their scaling, so output values are input values.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._label_slabs import LabelSlabs, gaussian_weights
from ._label_values import check_label_values
from ._labels_numpy import majority_codes, smooth_labels_blocks
from .errors import OptionError
from .grid import Grid
from .io import SourceImage, open_image
from .requests import Compute, LabelMethod, OutputOptions, ResampleRequest, Target
from .result import OutputSpec, RunResult

__all__ = [
    "LABEL_METHODS",
    "LabelSlabs",
    "label_target_grid",
    "check_label_values",
    "gaussian_weights",
    "resample_labels",
    "resample_labels_file",
    "resample_label_image",
    "smooth_labels_blocks",
    "majority_codes",
]

LABEL_METHODS = ("nearest", "majority", "gaussian")

#: Working bytes per slab when no max_memory is given.
_DEFAULT_SLAB_BYTES = 256 << 20


# -- validation ---------------------------------------------------------------
# The rules (exactly one of spacing/shape/like, method and sigma) live in
# core.requests (Target, LabelMethod); this keeps the old entry point.
def label_target_grid(
    source: Grid,
    *,
    spacing: float | Sequence[float | None] | None = None,
    shape: Sequence[int] | None = None,
    like: Grid | None = None,
    anchor: str = "center",
) -> Grid:
    """The output grid from exactly one of ``spacing``, ``shape`` or ``like``.

    Parameters
    ----------
    source : Grid
        The input's grid.
    spacing : float or sequence of 3 (float or None), optional
        New spacing in mm (``None`` keeps an axis).
    shape : sequence of 3 int, optional
        New shape, field of view kept.
    like : Grid, optional
        A reference grid, used as is.
    anchor : {'center', 'origin', 'corner'}
        See :meth:`Grid.with_spacing`.

    Returns
    -------
    Grid

    Raises
    ------
    OptionError
        None or several of ``spacing``, ``shape``, ``like`` given.
    GridError
        Invalid spacing or shape.
    """
    from .requests import Target

    return Target(spacing=spacing, shape=shape, like=like, anchor=anchor).grid_for(source)  # type: ignore[arg-type]


# -- the API -----------------------------------------------------------------------------
def _prepare(source: SourceImage, request: ResampleRequest) -> LabelSlabs:
    """The slab function of a label ``request`` on ``source`` (checked, not run)."""
    from .device import resolve_device

    method = request.method
    assert isinstance(method, LabelMethod)
    dev = resolve_device(request.compute.device)
    grid = request.target.grid_for(source.grid)
    fn = LabelSlabs(source, grid, method=method.method,
                    sigma_voxels=method.sigma_in_voxels(grid.spacing), device=dev)
    # Last: it streams the whole image, so every cheap refusal comes first.
    check_label_values(source, force=method.force_float_labels)
    return fn


def _plan(slab_fn: LabelSlabs, dtype: np.dtype, max_memory: str | int | None, *,
          jobs: int | None = None) -> list[tuple[int, int]]:
    """Slab heights from the budget; by default at most ``_DEFAULT_SLAB_BYTES`` of work
    per slab (larger slabs were not faster, only heavier).

    ``jobs`` is the thread count given to :func:`.stream.write_output` (``None``:
    its default); ``1`` for a sequential loop such as :func:`_collect`.

    Raises
    ------
    OptionError
        When ``max_memory`` is given and the Gaussian's fixed cost (blocks and
        halo slices of every slab piece computed at once) alone exceeds it.

    Notes
    -----
    Without ``max_memory`` the budget grows to fit that fixed cost (plus one
    slice per piece), so a large sigma still runs by default.
    """
    from ._dask import default_jobs
    from .budget import parse_memory, plan_slabs
    from .writer import _fmt_bytes

    budget = parse_memory(max_memory)
    item = np.dtype(dtype).itemsize
    nz = slab_fn.grid.shape[2]
    per_slice, fixed = slab_fn.bytes_per_slice(item), slab_fn.fixed_bytes(item)
    # As write_output does (and engine.plan_resample assumes): `threads` slabs are
    # computed ahead, each planned slab cut in threads + 1 pieces that share the
    # budget but each pay the fixed cost.
    threads = min(int(jobs or default_jobs()), default_jobs())
    pieces = min(threads + 1 if threads > 1 else 1, nz)
    if max_memory is None:
        # By default the slab work also stays within twice the output volume, so
        # small outputs do not cost many times their size (Gaussian work per slice
        # is about ten outputs' worth); never below 16 MiB.
        volume_bytes = float(np.prod(slab_fn.grid.shape)) * item
        budget = int(min(budget, _DEFAULT_SLAB_BYTES, max(16 << 20, 2 * volume_bytes)))
        budget = max(budget, int(pieces * (fixed + per_slice)) + 1)
    elif pieces * fixed > budget:
        raise OptionError(
            f"max_memory: this Gaussian (sigma) needs {_fmt_bytes(pieces * fixed)} of working "
            f"memory for its blocks and halo slices"
            + (f" ({pieces} slab pieces at once; fewer threads lower that)" if pieces > 1 else "")
            + f", more than max_memory allows ({_fmt_bytes(budget)}); raise max_memory or "
            "lower the sigma",
            param="max_memory",
        )
    return plan_slabs(nz, per_slice, max(int(budget - pieces * fixed), 1), min_height=pieces)


def _collect(fn: LabelSlabs, source: SourceImage, slabs: Sequence[tuple[int, int]]) -> np.ndarray:
    """:func:`.stream.collect_output`'s loop, computing each slab in place (no slab copy)."""
    extra = tuple(source.shape[3:])
    out = np.empty(tuple(fn.grid.shape) + extra, dtype=source.dtype, order="F")
    for v in range(source.n_volumes):
        vidx = source.volume_index(v)
        for z0, z1 in slabs:
            key: tuple[Any, ...] = (slice(None), slice(None), slice(z0, z1), *vidx)
            fn.fill(v, z0, z1, out[key])
    return out


def _result(source: SourceImage, fn: LabelSlabs, slabs: int, output: Path | None) -> RunResult:
    in_memory = str(source.path).startswith("<")
    return RunResult(
        input=None if in_memory else Path(source.path), output=output, input_grid=source.grid,
        grid=fn.grid, shape=tuple(fn.grid.shape) + tuple(source.shape[3:]), dtype=source.dtype,
        method=fn.method, device=fn.device, slabs=slabs, slope=source.slope, inter=source.inter,
        order=None, separable=fn.separable, integer=source.is_integer,
    )


def label_array(source: SourceImage, request: ResampleRequest) -> tuple[np.ndarray, RunResult]:
    """Run a label ``request`` on ``source`` into one in-memory array (stored dtype).

    Raises
    ------
    OptionError, GridError, LabelError, DeviceError
    """
    fn = _prepare(source, request)
    slabs = _plan(fn, source.dtype, request.compute.max_memory, jobs=1)  # _collect: one slab at a time
    return _collect(fn, source, slabs), _result(source, fn, len(slabs), None)


def label_file(in_path: str | os.PathLike[str], out_path: str | os.PathLike[str],
               request: ResampleRequest, *,
               progress: Callable[[int, int], None] | None = None) -> RunResult:
    """Stream a label ``request`` from ``in_path`` to ``out_path`` (bounded memory).

    Raises
    ------
    InputError, OptionError, GridError, LabelError, DeviceError, OutputError
    """
    from .stream import write_output

    source = open_image(in_path)
    try:
        fn = _prepare(source, request)
        slabs = _plan(fn, source.dtype, request.compute.max_memory, jobs=request.compute.threads)
        spec = OutputSpec(grid=fn.grid, extra_shape=tuple(source.shape[3:]), dtype=source.dtype,
                          template=source.header, slope=source.slope, inter=source.inter)
        written = write_output(
            Path(out_path), spec, fn, slabs, options=request.output, compute=request.compute,
            inputs=(Path(in_path), *request.reads), progress=progress,
        )
    finally:
        source.close()
    result = _result(source, fn, len(slabs), Path(written))
    result.input = Path(in_path)
    return result


def _label_request(**kw: Any) -> ResampleRequest:
    """A label request from the keyword arguments of the functions below."""
    from ._nibabel import as_like

    return ResampleRequest(
        Target(spacing=kw["spacing"], shape=kw["shape"], like=as_like(kw["like"]), anchor=kw["anchor"]),
        LabelMethod(kw["method"], sigma=kw["sigma"], sigma_voxels=kw["sigma_voxels"],
                    force_float_labels=kw["force_float_labels"]),
        Compute(device=kw["device"], max_memory=kw["max_memory"]),
        OutputOptions(overwrite=kw.get("overwrite", False), compress_level=kw.get("compress_level")),
    )


def resample_labels(
    img: Any,
    *,
    spacing: float | Sequence[float | None] | None = None,
    shape: Sequence[int] | None = None,
    like: Any = None,
    method: str = "nearest",
    sigma: float | Sequence[float] | None = None,
    sigma_voxels: float | Sequence[float] | None = None,
    anchor: str = "center",
    device: str | None = None,
    max_memory: str | int | None = None,
    force_float_labels: bool = False,
) -> Any:
    """Resample a label map; every output value is an input value.

    Parameters
    ----------
    img : path, nibabel image or SourceImage
        The label image (3D, or 4D: each volume).
    spacing : float or sequence of 3 (float or None), optional
        Output spacing in mm.
    shape : sequence of 3 int, optional
        Output shape (field of view kept).
    like : path, nibabel image, SourceImage or Grid, optional
        Reference grid (any direction).
    method : {'nearest', 'majority', 'gaussian'}
        ``sigma`` alone implies ``'gaussian'``.
    sigma : float or 3 floats, optional
        Gaussian sigma in mm, in output space.
    sigma_voxels : float or 3 floats, optional
        Gaussian sigma in output voxels (instead of ``sigma``).
    anchor : {'center', 'origin', 'corner'}
        What the new grid keeps fixed (see :meth:`Grid.with_spacing`).
    device : {None, 'numpy', 'auto', 'cpu', 'cuda'}
        ``None`` (default) or ``'numpy'``: numpy/scipy, no torch needed;
        ``'auto'``: CUDA when present, else numpy; ``'cpu'``/``'cuda'``: torch
        (needs the ``torch`` extra).  All give identical labels; on a CPU the
        numpy path is the faster one (about 1.7x for gaussian here).
    max_memory : str or int, optional
        Working-memory budget per slab, e.g. ``'512M'``.
    force_float_labels : bool
        Accept a float image with non-whole values.

    Returns
    -------
    nibabel.Nifti1Image or nibabel.Nifti2Image
        Output labels with the exact output affine in qform and sform, the
        input's qform/sform codes kept (NIfTI-2 for a NIfTI-2 input).

    Raises
    ------
    OptionError, GridError, LabelError, DeviceError

    Notes
    -----
    The output dtype is the input's stored dtype.  A scaled input keeps its
    ``scl_slope``/``scl_inter``: ``dataobj`` holds the stored values and
    ``get_fdata()`` the scaled ones, which are input values.

    Examples
    --------
    >>> out = resample_labels("aal.nii.gz", spacing=1.0)  # doctest: +SKIP
    >>> smooth = resample_labels("aal.nii.gz", spacing=0.5, sigma=0.5)  # doctest: +SKIP
    """
    from .run import resample_image

    request = _label_request(spacing=spacing, shape=shape, like=like, method=method, sigma=sigma,
                             sigma_voxels=sigma_voxels, anchor=anchor, device=device,
                             max_memory=max_memory, force_float_labels=force_float_labels)
    return resample_image(img, request)


def resample_labels_file(
    in_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    spacing: float | Sequence[float | None] | None = None,
    shape: Sequence[int] | None = None,
    like: Any = None,
    method: str = "nearest",
    sigma: float | Sequence[float] | None = None,
    sigma_voxels: float | Sequence[float] | None = None,
    anchor: str = "center",
    device: str | None = None,
    max_memory: str | int | None = None,
    force_float_labels: bool = False,
    overwrite: bool = False,
    compress_level: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Resample a label file to ``out_path``, streaming slabs (bounded memory).

    Parameters are those of :func:`resample_labels`, plus:

    Parameters
    ----------
    out_path : path
        ``.nii``/``.nii.gz`` (or ``.zarr``/``.ome.zarr``); written atomically.
    overwrite : bool
        Replace an existing output.
    compress_level : int, optional
        gzip level for ``.nii.gz``.
    progress : callable, optional
        ``progress(done_bytes, total_bytes)``.

    Returns
    -------
    RunResult
        What was done (``method``, ``device``, grids, ``slabs``...).  For Zarr
        options, build a :class:`~core.requests.ResampleRequest` and call
        :func:`core.run.resample_file`.

    Raises
    ------
    InputError, OptionError, GridError, LabelError, DeviceError, OutputError
    """
    from .run import resample_file

    request = _label_request(spacing=spacing, shape=shape, like=like, method=method, sigma=sigma,
                             sigma_voxels=sigma_voxels, anchor=anchor, device=device,
                             max_memory=max_memory, force_float_labels=force_float_labels,
                             overwrite=overwrite, compress_level=compress_level)
    return resample_file(in_path, out_path, request, progress=progress)


def resample_label_image(
    nifti: Any,
    resolution_out: float | Sequence[float],
    sigma: float | None = None,
    device: str = "cpu",
) -> Any:
    """Drop-in for the per-label Gaussian scripts' ``resample_label_image``.

    Parameters
    ----------
    nifti : nibabel image or path
        The label image.
    resolution_out : float or sequence of 3 float
        Output spacing in mm.
    sigma : float, optional
        Gaussian sigma in mm (output space); ``None`` for nearest neighbour.
    device : {'cpu', 'cuda'}
        Where to compute: ``'cpu'`` runs the numpy/scipy path (the fastest on a
        CPU; identical labels to torch), ``'cuda'`` the torch backend on the GPU.

    Returns
    -------
    nibabel.Nifti1Image
        With the correctly rescaled affine (centred field of view).

    Examples
    --------
    >>> img = resample_label_image(nib.load("atlas.nii.gz"), 0.5, sigma=0.5)  # doctest: +SKIP
    """
    dev = "numpy" if str(device).lower() == "cpu" else device
    return resample_labels(nifti, spacing=resolution_out, sigma=sigma, device=dev)
