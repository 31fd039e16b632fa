"""The label engine: a label request on an opened source, planned and run slab by slab.

:func:`label_array` collects the output in memory (the Python API), :func:`label_file`
streams it to a file; both go through :class:`._label_slabs.LabelSlabs` and the one slab
stream of :mod:`.stream`.  :mod:`.run` dispatches label requests here; the public
functions are in :mod:`.labels`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ._label_slabs import LabelSlabs
from ._label_values import check_label_values
from .errors import OptionError
from .io import SourceImage
from .requests import LabelMethod, ResampleRequest
from .result import OutputSpec, RunResult, source_notes

__all__ = ["label_array", "label_file"]

#: Working bytes per slab when no max_memory is given.
_DEFAULT_SLAB_BYTES = 256 << 20
#: The Gaussian's default ceiling: each slab piece recomputes its z halo (the kernel
#: radius on both sides), so it gets room for at least as many slices of its own.
_GAUSSIAN_SLAB_BYTES = 1 << 30


def _prepare(source: SourceImage, request: ResampleRequest) -> LabelSlabs:
    """The slab function of a label ``request`` on ``source`` (checked, not run)."""
    from ._coord_map import resolve_chain
    from .device import resolve_device

    method = request.method
    assert isinstance(method, LabelMethod)
    dev = resolve_device(request.compute.device)
    grid = request.target.grid_for(source.grid)
    in_grid, coord_map = resolve_chain(source.grid, grid, request.target.transforms)
    fn = LabelSlabs(source, grid, method=method.method,
                    sigma_voxels=method.sigma_in_voxels(grid.spacing), device=dev, fill=method.fill,
                    source_grid=in_grid, coord_map=coord_map)
    # Last: it streams the whole image, so every cheap refusal comes first.
    check_label_values(source, force=method.force_float_labels)
    return fn


def _plan(slab_fn: LabelSlabs, dtype: np.dtype, max_memory: str | int | None, *,
          jobs: int | None = None) -> list[tuple[int, int]]:
    """Slab heights from the budget; by default at most ``_DEFAULT_SLAB_BYTES`` of work
    per slab (larger slabs were not faster, only heavier).

    ``jobs`` is the thread count given to :func:`.stream.write_output` (``None``:
    its default); ``1`` for a sequential loop such as :func:`.stream.collect_output`.

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
    from .budget import parse_memory, plan_slabs, stream_pieces
    from .writer import _fmt_bytes

    budget = parse_memory(max_memory)
    item = np.dtype(dtype).itemsize
    nz = slab_fn.grid.shape[2]
    per_slice, fixed = slab_fn.bytes_per_slice(item), slab_fn.fixed_bytes(item)
    # As write_output does (and engine.plan_resample assumes): slabs are cut in
    # pieces computed at once that share the budget but each pay the fixed cost.
    pieces = min(stream_pieces(jobs), nz)
    if max_memory is None:
        # By default the slab work also stays within twice the output volume, so
        # small outputs do not cost many times their size (Gaussian work per slice
        # is about ten outputs' worth); never below 16 MiB.
        volume_bytes = float(np.prod(slab_fn.grid.shape)) * item
        small = max(16 << 20, 2 * volume_bytes)
        budget = int(min(budget, _DEFAULT_SLAB_BYTES, small))
        if slab_fn.method == "gaussian":
            # Pieces of at least 2 r_z slices: the halo then at most doubles the work
            # (one-slice pieces with an 8-slice halo did it nine times: 14.5 s vs 8.8 s
            # and 127 vs 470 MB peak on the whole Allen atlas x2, sigma one voxel).
            want = pieces * (fixed + max(1, 2 * slab_fn.radius[2]) * per_slice)
            budget = max(budget, int(min(want, _GAUSSIAN_SLAB_BYTES, small)))
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
    from .stream import collect_output

    fn = _prepare(source, request)
    slabs = _plan(fn, source.dtype, request.compute.max_memory, jobs=1)  # one slab at a time
    data = collect_output(grid=fn.grid, extra_shape=tuple(source.shape[3:]), dtype=source.dtype,
                          slab_fn=fn, slabs=slabs)
    return data, _result(source, fn, len(slabs), None)


def label_file(in_path: str | os.PathLike[str], out_path: str | os.PathLike[str],
               request: ResampleRequest, *,
               progress: Callable[[int, int], None] | None = None) -> RunResult:
    """Stream a label ``request`` from ``in_path`` to ``out_path`` (bounded memory).

    Raises
    ------
    InputError, OptionError, GridError, LabelError, DeviceError, OutputError
    """
    from ._open_input import open_input
    from .sniff import run_warnings
    from .stream import write_output

    source, request = open_input(in_path, request)
    try:
        warned = run_warnings(source, request)
        fn = _prepare(source, request)
        slabs = _plan(fn, source.dtype, request.compute.max_memory, jobs=request.compute.threads)
        spec = OutputSpec(grid=fn.grid, extra_shape=tuple(source.shape[3:]), dtype=source.dtype,
                          template=source.header, slope=source.slope, inter=source.inter)
        written = write_output(
            Path(out_path), spec, fn, slabs, options=request.output, compute=request.compute,
            inputs=(Path(in_path), *request.reads), progress=progress, labels=True,
        )
    finally:
        source.close()
    result = _result(source, fn, len(slabs), Path(written))
    # the opener's notes (a header not taken as written), then what the data suggests
    result.warnings = (*source_notes(source), *warned, *result.warnings)
    result.input = Path(in_path)
    return result
