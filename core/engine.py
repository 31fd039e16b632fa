"""The streaming resampling engine for intensity images.

:func:`plan_resample` decides how to produce a target grid from a source
image and returns a picklable slab function for :mod:`core.stream`:

* same direction (``axis_aligned_map`` is diagonal, flips included): the
  separable path.  Per axis, banded rows from :mod:`core.kernels`; for output
  slab ``[z0, z1)`` only the input rows those ``W_z`` rows name (plus the
  spline pre-filter margin) are read, then the three axes are applied in the
  order that keeps intermediates smallest, and the values are cast.
* any other direction (``like`` a rotated or permuted reference): for each
  output slab the source coordinates of its voxels are computed, only their
  bounding box (plus the spline margin) is read, and
  :func:`scipy.ndimage.map_coordinates` (``mode='nearest'``) interpolates
  them (order 0 is an exact index gather).

The slab functions live in :mod:`core._separable` (:class:`SeparableSlabs`)
and :mod:`core._mapped` (:class:`MappedSlabs`); this module plans and runs them.

Both give results that do not depend on the slab height: bit-for-bit for
order 0 and for order 1 without anti-aliasing (every slab runs the same
operations per output row), otherwise to float32 rounding (BLAS may block
sums differently for another slab size; the pre-filter margin of
:func:`core.kernels.prefilter_margin` makes cut slabs match whole lines).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._mapped import MappedSlabs
from ._separable import SeparableSlabs
from .cast import OutputType, output_type
from .errors import OptionError
from .grid import Grid, axis_aligned_map
from .kernels import check_order
from .result import OutputSpec, RunResult
from .source import SourceImage

if TYPE_CHECKING:
    from .requests import Compute, OutputOptions

__all__ = [
    "ResamplePlan",
    "ResampleResult",
    "SeparableSlabs",
    "MappedSlabs",
    "plan_resample",
    "resample_to_file",
    "resample_to_array",
]


SlabFunction = SeparableSlabs | MappedSlabs


@dataclass
class ResamplePlan:
    """Everything :mod:`core.stream` needs to produce one output.

    Attributes
    ----------
    source : SourceImage
    target : Grid
    slab_fn : SeparableSlabs or MappedSlabs
    slabs : list of (z0, z1)
    out : OutputType
    extra_shape : tuple of int
        Axes beyond the third, kept from the source.
    order : int
    anti_aliasing : bool
        Whether any axis was anti-aliased.
    separable : bool
    device : str
    """

    source: SourceImage
    target: Grid
    slab_fn: SlabFunction
    slabs: list[tuple[int, int]]
    out: OutputType
    extra_shape: tuple[int, ...]
    order: int
    anti_aliasing: bool
    separable: bool
    device: str


#: The result of a run; one type for intensity and label runs (see :mod:`.result`).
ResampleResult = RunResult


def plan_resample(
    source: SourceImage,
    target: Grid,
    *,
    order: int = 1,
    anti_aliasing: bool | None = None,
    dtype: object = None,
    device: str | None = None,
    max_memory: str | int | None = None,
    transforms: tuple[Any, ...] = (),
    fill: float | None = None,
) -> ResamplePlan:
    """Decide how to resample ``source`` onto ``target`` and size the slabs.

    Parameters
    ----------
    source : SourceImage
        The input, opened lazily (:func:`core.io.open_image`).
    target : Grid
        Output grid (any direction).
    order : int
        B-spline order 0..5 (0 nearest, 1 linear, 3 cubic).
    anti_aliasing : bool or None
        Widen the kernel on downsampled axes (area averaging, see
        :mod:`core.kernels`).  None means on for order >= 1.  The general path
        pre-smooths the input where the map shrinks it (:mod:`core._mapped`).
    dtype : str or numpy.dtype, optional
        Output dtype (default: the input's stored dtype).
    device : {'numpy', 'cpu', 'cuda', 'auto'} or None
        Backend of the separable path (torch for cpu/cuda).
    max_memory : str or int, optional
        Working-memory budget, e.g. ``'512M'`` (default:
        :func:`core.budget.parse_memory`).
    transforms : tuple
        Registration transforms from output to input space, as
        :attr:`core.requests.Target.transforms` holds them (read here).  An
        affine chain whose voxel map stays diagonal runs the separable path.
    fill : float or None
        Value of output voxels whose centre lies outside the input's field of view
        (voxel coordinates -0.5 .. n - 0.5).  None (grids derived from the input:
        spacing, shape, anchors) replicates the edge there on the separable path.

    Returns
    -------
    ResamplePlan

    Raises
    ------
    OptionError, DeviceError, TransformError
    """
    from ._coord_map import resolve_chain
    from .budget import parse_memory, plan_slabs
    from .device import resolve_device

    order = check_order(order)
    dev = resolve_device(device)
    budget = parse_memory(max_memory)
    out = output_type(source, dtype)
    if fill is not None and np.isnan(fill) and out.dtype.kind != "f":
        raise OptionError(f"fill: nan needs a float output, not {out.dtype}", param="fill")
    aa = order >= 1 if anti_aliasing is None else bool(anti_aliasing) and order >= 1
    in_grid, coord_map = resolve_chain(source.grid, target, transforms)
    aligned = axis_aligned_map(in_grid, target) if coord_map is None else None
    slab_fn: SlabFunction
    if aligned is not None:
        slab_fn = SeparableSlabs(source, target, order=order, anti_aliasing=aa, out=out, device=dev,
                                 source_grid=in_grid, fill=fill)
        used_aa = aa and bool(np.any(np.abs(aligned[0]) > 1.0 + 1e-9))
    else:
        slab_fn = MappedSlabs(source, target, order=order, out=out, source_grid=in_grid,
                              coord_map=coord_map, fill=0.0 if fill is None else fill,
                              anti_aliasing=aa)
        # A tenth of the budget per tile's source box: each of the stream's
        # pieces holds one box and its work copy, next to its coordinates.
        slab_fn.box_voxels = int(max(1 << 18, budget // (10 * slab_fn.work.itemsize)))
        used_aa = bool(np.any(slab_fn.sigma > 0)) or (coord_map is not None and slab_fn.anti_aliasing)
    per_slice, fixed = slab_fn.memory()
    if max_memory is None:
        budget = _default_budget(budget, source, target, out, fixed=fixed,
                                 margin=isinstance(slab_fn, SeparableSlabs) and slab_fn.margin > 0)
    # The stream computes `jobs` slabs ahead on threads, cutting each planned slab
    # in jobs + 1: those pieces share the budget, but each pays the fixed rows.
    from .budget import stream_pieces

    pieces = stream_pieces()
    slabs = plan_slabs(target.shape[2], per_slice, max(int(budget - pieces * fixed), 1),
                       min_height=min(pieces, target.shape[2]))
    return ResamplePlan(
        source=source, target=target, slab_fn=slab_fn, slabs=slabs, out=out,
        extra_shape=tuple(source.shape[3:]), order=order, anti_aliasing=used_aa,
        separable=aligned is not None, device=dev,
    )


#: Outputs above this size get a default budget scaled to the data (see below).
_LARGE_OUTPUT = 10**9
_MIN_BUDGET = 256 << 20
#: Default working memory of ordinary outputs: slab pieces of a few MiB stay in the
#: CPU caches and their buffers are reused, where one 1 GiB slab page-faults a
#: fresh output-sized array per pass (docs/benchmarks.md, "slab size").
_FAST_BUDGET = 32 << 20


def _default_budget(budget: int, source: SourceImage, target: Grid, out: OutputType, *,
                    fixed: float = 0.0, margin: bool = False) -> int:
    """The working memory to plan with when ``max_memory`` is not given.

    The budget is a ceiling, not a goal: ordinary outputs use ``_FAST_BUDGET``
    (or five times the fixed rows of the slab pieces, when larger), the size that
    ran fastest.  Spline orders with a pre-filter ``margin`` keep ``budget``: each
    slab re-filters its margin rows, which made small slabs slower (order 3,
    192^3 -> 0.7 mm in memory: 0.57-0.67 s in 4 slabs vs 0.42-0.47 s in one).  For outputs over 1 GB the working memory is
    ``max(256 MiB, (input + output volume bytes) / 8)``, which keeps the peak below
    a quarter of input + output at little cost in speed (measured in
    docs/benchmarks.md).  Never above ``budget``.
    """
    from .budget import stream_pieces

    out_bytes = target.n_voxels * out.dtype.itemsize
    if out_bytes <= _LARGE_OUTPUT:
        if margin:
            return budget
        # each piece re-reads its fixed rows (taps, pre-filter margin): keep them a
        # fifth of its work at most, or thin slabs redo the margin many times
        return int(min(budget, max(_FAST_BUDGET, 5 * stream_pieces() * fixed)))
    in_bytes = source.grid.n_voxels * source.dtype.itemsize
    return int(min(budget, max(_MIN_BUDGET, (in_bytes + out_bytes) // 8)))


def _result(plan: ResamplePlan, output: Path | None) -> RunResult:
    source = plan.source
    return RunResult(
        input=None if _in_memory(source) else Path(source.path), output=output,
        input_grid=source.grid, grid=plan.target,
        shape=tuple(plan.target.shape) + plan.extra_shape, dtype=plan.out.dtype,
        method=f"order {plan.order}", device=plan.device, clipped=plan.slab_fn.clipped,
        slabs=len(plan.slabs), slope=plan.out.slope, inter=plan.out.inter, order=plan.order,
        anti_aliasing=plan.anti_aliasing, separable=plan.separable, integer=source.is_integer,
    )


def _in_memory(source: SourceImage) -> bool:
    return str(source.path).startswith("<")


def output_spec(plan: ResamplePlan) -> OutputSpec:
    """The layout of ``plan``'s output (for :func:`core.stream.write_output`)."""
    return OutputSpec(grid=plan.target, extra_shape=plan.extra_shape, dtype=plan.out.dtype,
                      template=plan.source.header, slope=plan.out.slope, inter=plan.out.inter)


def resample_to_file(
    plan: ResamplePlan,
    path: str | Path,
    *,
    options: OutputOptions | None = None,
    compute: Compute | None = None,
    progress: Callable[[int, int], None] | None = None,
    inputs: Sequence[Path] = (),
) -> RunResult:
    """Stream ``plan`` to ``path`` (atomic; NIfTI or Zarr by extension).

    Parameters
    ----------
    plan : ResamplePlan
    path : str or Path
    options : OutputOptions, optional
        How the output is written (default: :class:`OutputOptions()`).
    compute : Compute, optional
        ``threads`` and ``max_memory`` of the writer (Zarr chunk rows).
    progress : callable, optional
        ``progress(done_bytes, total_bytes)``.
    inputs : sequence of Path
        Further inputs (a reference image) that must never be overwritten.

    Raises
    ------
    OutputError, OutputExistsError, DiskSpaceError
        Before any work, when the output cannot be written.
    """
    from .requests import Compute, OutputOptions
    from .stream import write_output

    written = write_output(
        Path(path), output_spec(plan), plan.slab_fn, plan.slabs,
        options=options or OutputOptions(), compute=compute or Compute(),
        inputs=(Path(plan.source.path), *inputs), progress=progress,
    )
    return _result(plan, Path(written))


def resample_to_array(plan: ResamplePlan) -> tuple[np.ndarray, RunResult]:
    """Run ``plan`` into one in-memory array (stored dtype, Fortran order)."""
    from .stream import collect_output

    data = collect_output(
        grid=plan.target, extra_shape=plan.extra_shape, dtype=plan.out.dtype,
        slab_fn=plan.slab_fn, slabs=plan.slabs, threaded=True,  # planned as write_output runs them
    )
    return data, _result(plan, None)
