"""The slab stream shared by every command.

An engine (intensity, labels) provides a *slab function*
``slab_fn(volume, z0, z1) -> ndarray (nx', ny', z1 - z0)`` that computes output
slab ``[z0, z1)`` of one 3D volume, in the output dtype, reading only the input
it needs.  This module plans slab heights from a memory budget, checks the
output path and free disk, and drives the writer (atomic NIfTI; Zarr where
supported) or collects the slabs in memory for the Python API.  The result
never depends on the slab height.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._cancel import CANCEL, request_cancel, reset_cancel
from ._dask import ordered_map, split_slabs
from .budget import parse_size, stream_pieces
from .errors import OptionError, OutputError
from .grid import Grid
from .result import OutputSpec
from .source import split_ext
from .writer import (
    NiftiWriter,
    _fmt_bytes,
    check_free_space,
    check_output_path,
    estimate_output_bytes,
    make_header,
)

if TYPE_CHECKING:
    from .requests import Compute, OutputOptions

__all__ = [
    "SlabFn",
    "ProgressFn",
    "OutputSpec",
    "write_output",
    "collect_output",
    "is_zarr_path",
    "check_output_size",
    "request_cancel",
    "reset_cancel",
]

SlabFn = Callable[[int, int, int], np.ndarray]
#: ``progress(done_bytes, total_bytes)``
ProgressFn = Callable[[int, int], None]


def check_output_size(
    path: Path, nbytes: int, *, shape: tuple[int, ...], dtype: np.dtype,
    max_output: int | str | None,
) -> None:
    """Refuse an output of ``nbytes`` (uncompressed) above ``max_output`` bytes.

    Raises
    ------
    OptionError
    """
    if max_output is None:
        return
    limit = parse_size(max_output, "max_output")
    if limit <= 0:
        raise OptionError(f"max_output: expected a positive size, got {max_output!r}",
                          param="max_output")
    if nbytes > limit:
        raise OptionError(
            f"{path}: output {'x'.join(str(v) for v in shape)} {dtype} would be "
            f"{_fmt_bytes(nbytes, binary=True)}, over max_output {_fmt_bytes(limit, binary=True)}; "
            "nothing was written",
            param="max_output",
        )


def check_compressed_space(
    path: Path, spec: OutputSpec, slab_fn: SlabFn, nbytes: int, *, zarr: bool,
    level: int | None = None, pyramid: int = 0,
) -> None:
    """Refuse a compressed output (.nii.gz, Zarr) that will not fit in the free space.

    Nothing is sampled when even the uncompressed size fits.  Otherwise a few small
    blocks of the output are computed by the engine and compressed with the output's
    codec (:func:`._size_sample.sample_ratio`); their ratio, with a margin, estimates
    the written size (a 10:1 floor when no sample can be taken).

    Raises
    ------
    DiskSpaceError
        With the output shape, the uncompressed and estimated sizes and the free space.
    """
    import shutil

    from ._size_sample import SAMPLE_MARGIN, sample_ratio
    from .errors import DiskSpaceError
    from .writer import _GZIP_MIN_RATIO

    try:
        free = shutil.disk_usage(Path(os.path.abspath(path)).parent).free
    except OSError:
        return  # a missing folder is reported by the path checks
    if nbytes <= free:
        return
    ratio = sample_ratio(spec.grid, slab_fn, zarr=zarr, level=level)
    sampled = ratio is not None
    ratio = min(1.0, max(_GZIP_MIN_RATIO, ratio * SAMPLE_MARGIN)) if ratio is not None \
        else _GZIP_MIN_RATIO
    # Each pyramid level adds an eighth of the one above it.
    need = int(nbytes * ratio * (1.0 + sum(0.125 ** k for k in range(1, int(pyramid) + 1))))
    if need <= free:
        return
    shape = "x".join(str(v) for v in spec.shape)
    raise DiskSpaceError(
        f"{path}: not enough free disk space: needs {'about' if sampled else 'at least'} "
        f"{_fmt_bytes(need)} compressed"
        f"{' (estimated from a sample of the output)' if sampled else ''}, {_fmt_bytes(free)} free; "
        f"output {shape} {spec.dtype} is {_fmt_bytes(nbytes)} uncompressed; nothing was written "
        "(force=True writes it anyway)",
        param="force",
    )


def is_zarr_path(path: str | os.PathLike[str]) -> bool:
    return split_ext(path)[1].lower() in (".zarr", ".ome.zarr")


def write_output(
    path: Path,
    spec: OutputSpec,
    slab_fn: SlabFn,
    slabs: Sequence[tuple[int, int]],
    *,
    options: OutputOptions | None = None,
    compute: Compute | None = None,
    inputs: Sequence[Path] = (),
    progress: ProgressFn | None = None,
    labels: bool = False,
) -> Path:
    """Check, then stream every slab of every volume to ``path`` atomically.

    Parameters
    ----------
    path : Path
        ``.nii``, ``.nii.gz``, ``.zarr``/``.ome.zarr``, ``.tif``/``.tiff``, or a
        folder of TIFF slices with ``options.format='tiff-slices'``.
    spec : OutputSpec
        The output's grid, extra axes, dtype (what ``slab_fn`` returns),
        template header and scaling.
    slab_fn : SlabFn
    slabs : sequence of (z0, z1)
        From :func:`plan_slabs`.
    options : OutputOptions, optional
        ``overwrite``, ``compress_level``, ``force`` (skip the free-disk check),
        ``max_output`` (refuse, before any work, an output whose uncompressed
        size exceeds it) and the Zarr-only ``chunks``, ``pyramid``, ``resume``,
        ``scheduler``.
    compute : Compute, optional
        ``threads`` computing slabs ahead, ``max_memory`` (Zarr chunk rows).
    inputs : sequence of Path
        Inputs, never overwritten.
    progress : callable, optional
        ``progress(done_bytes, total_bytes)``.
    labels : bool
        The output is a label map (OME-Zarr outputs then follow the NGFF
        labels convention).

    Returns
    -------
    Path
        The written path.

    Raises
    ------
    OutputError, OutputExistsError, DiskSpaceError
    OptionError
        When the output would exceed ``max_output``.
    """
    from .requests import Compute, OutputOptions

    options = options or OutputOptions()
    compute = compute or Compute()
    path = Path(path)
    grid, extra_shape, dtype = spec.grid, spec.extra_shape, spec.dtype
    template, slope, inter = spec.template, spec.slope, spec.inter
    overwrite, compress_level, force = options.overwrite, options.compress_level, options.force
    shape = tuple(grid.shape) + tuple(int(v) for v in extra_shape)
    if any(v < 1 for v in shape):
        raise OptionError(f"output shape {shape} is empty")
    nbytes = estimate_output_bytes(shape, dtype)
    check_output_size(path, nbytes, shape=shape, dtype=np.dtype(dtype), max_output=options.max_output)
    if is_zarr_path(path):
        from ._zarr_write import check_zarr_target, write_zarr  # issue 5: chunked output

        # A Zarr target is a directory: its own check (overwrite swaps it at the end).
        check_zarr_target(path, inputs=tuple(Path(p) for p in inputs), overwrite=overwrite)
        if not force:
            check_compressed_space(path, spec, slab_fn, nbytes, zarr=True, pyramid=options.pyramid)
        return write_zarr(path, spec, slab_fn, slabs, options=options, compute=compute,
                          inputs=inputs, progress=progress, labels=labels)
    zarr_only = options.zarr_only
    if zarr_only:
        raise OptionError(
            f"{path}: {', '.join(zarr_only)} "
            f"{'applies' if len(zarr_only) == 1 else 'apply'} to .zarr/.ome.zarr outputs only",
            param=zarr_only[0],
        )
    ext = split_ext(path)[1].lower()
    if options.format == "tiff-slices" or ext in (".tif", ".tiff"):
        from ._tiff_output import write_tiff_output  # issue 13

        return write_tiff_output(path, spec, slab_fn, slabs, options=options, inputs=inputs,
                                 progress=progress)
    if ext not in (".nii", ".nii.gz"):
        # A NIfTI stream under another name (out.nrrd, out.txt) would be a trap.
        raise OutputError(
            f"{path}: outputs are written as .nii, .nii.gz, .zarr, .ome.zarr, .tif or .tiff; got "
            f"{repr(ext) if ext else 'no extension'}"
        )
    check_output_path(path, inputs=tuple(Path(p) for p in inputs), overwrite=overwrite)
    if not force and ext.endswith(".gz"):
        check_compressed_space(path, spec, slab_fn, nbytes, zarr=False, level=compress_level)
    elif not force:
        check_free_space(path, nbytes)
    header = make_header(template, grid, shape, np.dtype(dtype), slope=slope, inter=inter)
    n_volumes = math.prod(int(v) for v in extra_shape)
    # Slabs are computed ahead on `jobs` threads while the previous one is written;
    # each planned slab is cut in jobs + 1 pieces (budget.stream_pieces, the rule the
    # engines plan their slabs with) so the slabs alive together fit the budget.
    n_pieces = stream_pieces(compute.threads)
    jobs = max(n_pieces - 1, 1)
    pieces = split_slabs(slabs, n_pieces) if n_pieces > 1 else list(slabs)
    calls = [(v, z0, z1) for v in range(n_volumes) for z0, z1 in pieces]
    with NiftiWriter(path, header, compress_level=compress_level, overwrite=overwrite) as w:
        for slab in ordered_map(slab_fn, calls, jobs=jobs):
            if CANCEL.is_set():  # Ctrl-C reached another thread (parallel batch)
                raise KeyboardInterrupt
            w.write(slab)
            del slab
            if progress is not None:
                progress(w.bytes_written, w.total_bytes)
    return path


def collect_output(
    *,
    grid: Grid,
    extra_shape: Sequence[int],
    dtype: np.dtype,
    slab_fn: SlabFn,
    slabs: Sequence[tuple[int, int]],
    threaded: bool = False,
) -> np.ndarray:
    """Run the same slab stream into one in-memory array (Python API, tests).

    A slab function with a ``fill(volume, z0, z1, out)`` method computes each
    slab straight into its (Fortran-ordered) view of the output, saving one
    slab copy; others return the slab, which is copied in.

    ``threaded``: the slabs were planned for the threaded stream (as
    :func:`write_output` runs them); each is cut in the same pieces
    (:func:`.budget.stream_pieces`), computed on threads into their own part of
    the output.  False: one slab after another in this thread.

    Returns
    -------
    ndarray
        ``grid.shape + extra_shape``, Fortran order, of ``dtype``.
    """
    shape = tuple(grid.shape) + tuple(int(v) for v in extra_shape)
    out = np.empty(shape, dtype=dtype, order="F")
    n_volumes = int(np.prod(extra_shape, dtype=np.int64)) if len(extra_shape) else 1
    fill: Callable[[int, int, int, np.ndarray], None] | None = getattr(slab_fn, "fill", None)
    fill = fill if callable(fill) else None
    n_pieces = stream_pieces() if threaded else 1
    pieces = split_slabs(slabs, n_pieces) if n_pieces > 1 else list(slabs)

    def one(v: int, z0: int, z1: int) -> None:
        # Flat volume number to indices along axes 4.. (NIfTI order, as SourceImage.volume_index).
        idx: tuple[int, ...] = (
            tuple(int(i) for i in np.unravel_index(v, tuple(extra_shape), order="F"))
            if len(extra_shape) else ()
        )
        key: tuple[Any, ...] = (slice(None), slice(None), slice(z0, z1), *idx)
        if fill is not None:
            fill(v, z0, z1, out[key])
        else:
            out[key] = slab_fn(v, z0, z1)

    calls = [(v, z0, z1) for v in range(n_volumes) for z0, z1 in pieces]
    for _ in ordered_map(one, calls, jobs=max(n_pieces - 1, 1)):
        pass
    return out
