"""What spacing, size and labels share: building the request's compute and output
parts from their options, the per-file job, its report line, and the batch run."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from niresample_cli.core.requests import Compute, InputOptions, OutputOptions, ResampleRequest
    from niresample_cli.core.result import RunResult

__all__ = ["fmt_triple", "compute_from", "output_from", "input_from", "report_line", "resample_one", "run_request"]


def compute_from(device: Any, max_memory: str | None, threads: int | None) -> Compute:
    """``--device``, ``--max-memory``, ``--threads`` as a :class:`Compute` (validated)."""
    from niresample_cli.core.requests import Compute

    return Compute(device=None if device is None else str(getattr(device, "value", device)),
                   max_memory=max_memory, threads=threads)


def output_from(*, overwrite: bool, compress_level: int | None, force: bool, max_output: str | None,
                chunks: str | None, pyramid: int, resume: bool, scheduler: str | None,
                format: Any = None, zarr_format: int = 2) -> OutputOptions:
    """The output options (``--overwrite`` ... ``--scheduler``, ``--format``,
    ``--zarr-format``) as :class:`OutputOptions`."""
    from niresample_cli.core.requests import OutputOptions

    return OutputOptions(overwrite=overwrite, compress_level=compress_level, force=force,
                         max_output=max_output, chunks=chunks, pyramid=pyramid, resume=resume,
                         scheduler=scheduler, zarr_format=zarr_format,
                         format=None if format is None else str(getattr(format, "value", format)))


def input_from(*, orientation: str | None, voxel_size: Any, voxel_unit: str | None, level: int | None,
               space_unit: str | None) -> InputOptions:
    """``--orientation``, ``--voxel-size``/``--voxel-unit``, ``--level``, ``--space-unit``
    as :class:`InputOptions` (validated; shared with ``info`` and ``compare``)."""
    from niresample_cli.core.requests import InputOptions

    return InputOptions(orientation=orientation, voxel_size=voxel_size, voxel_unit=voxel_unit,
                        level=level, space_unit=space_unit)


def fmt_triple(values: Any) -> str:
    """``'66x82x50'`` / ``'1x1x1'``: the per-file report's shapes and spacings."""
    return "x".join(f"{float(v):.6g}" for v in values)


def report_line(result: RunResult) -> str:
    """The one line per file of spacing, size and labels (on stderr)."""
    how = [str(result.dtype), result.method] + ([result.device] if result.labels else [])
    name = result.input.name if result.input is not None else "<in-memory>"
    return (f"{name}: {fmt_triple(result.input_grid.shape)} @ {fmt_triple(result.input_grid.spacing)} mm"
            f" -> {fmt_triple(result.shape[:3])} @ {fmt_triple(result.grid.spacing)} mm"
            f" ({', '.join(how)}) -> {result.output}")


def resample_one(in_path: Path, out_path: Path, progress: Any, *, request: ResampleRequest,
                 quiet: bool, compare: bool) -> dict[str, Any]:
    """One file: resample, then report it (and compare) at once, so a later failure in
    the batch does not swallow the lines of the files already done.

    Module-level and picklable with :func:`functools.partial`: ``-j N`` runs it in processes.
    """
    from niresample_cli.console import err, warn_line
    from niresample_cli.core.run import resample_file

    result = resample_file(in_path, out_path, request, progress=progress)
    if not quiet:
        err.print(report_line(result), soft_wrap=True, highlight=False, markup=False)
    if result.clipped:
        warn_line(f"{result.output}: {result.clipped} voxels were outside the {result.dtype} range "
                  "and were clipped (use --dtype float32 to keep them)")
    if compare and not quiet:
        _compare(result)
    return result.facts()


def _compare(result: RunResult) -> None:
    from niresample_cli.console import warn_line

    try:
        from niresample_cli.commands.compare import print_report
        from niresample_cli.core.compare import compare_images
    except ImportError:
        warn_line("--compare is not available in this version")
        return
    assert result.input is not None and result.output is not None
    # labels=True refuses float and scaled label maps (which labels accepts):
    # for those, let compare decide.
    report = compare_images(result.input, result.output,
                            labels=True if result.labels and result.integer else None)
    print_report(report)


def run_request(paths: list[Path], request: ResampleRequest, *, command: str, quiet: bool,
                compare: bool, output_dir: Path | None, name: str, skip_existing: bool,
                jobs: int) -> None:
    """Plan the (input, output) pairs and run ``request`` on each (``-j``: in processes).

    The request is already validated, so nothing is touched (not even ``-o DIR``)
    for a bad option.
    """
    from niresample_cli.batch import plan_pairs, run_paths

    pairs = plan_pairs(paths, output_dir=output_dir, name=name)
    job = functools.partial(resample_one, request=request, quiet=quiet, compare=compare)
    run_paths(pairs, job, quiet=quiet, skip_existing=skip_existing, jobs=jobs, command=command)
