"""What spacing, size and labels share: building the request's compute and output
parts from their options, the per-file job, its report line, and the batch run."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from niresample_cli.commands._report import ReportTarget
    from niresample_cli.core.requests import Compute, InputOptions, OutputOptions, ResampleRequest
    from niresample_cli.core.result import RunResult

__all__ = ["RunView", "alias", "places", "fmt_triple", "compute_from", "output_from", "input_from",
           "report_line", "resample_one", "run_request"]


@dataclass(frozen=True)
class RunView:
    """How a run of spacing, size or labels places its outputs and shows itself (CLI only).

    Frozen and picklable: ``-j N`` sends it to the worker processes with the request.
    """

    command: str
    quiet: bool = False
    compare: bool = False
    json_out: bool = False
    dry_run: bool = False
    report: str | None = None
    output_dir: Path | None = None
    name: str = "{stem}_resampled{ext}"
    skip_existing: bool = False
    jobs: int = 1


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


def alias(value: Any, other: Any, flags: str) -> Any:
    """One option typed under either of its names (``flags``: ``'--z/--z-spacing'``)."""
    from niresample_cli.core.errors import OptionError

    if value is not None and other is not None and value != other:
        raise OptionError(f"{flags}: one option under two names; give it once")
    return value if value is not None else other


def places(paths: list[str] | None, image_file: Path | None = None) -> list[str]:
    """The positional paths, with the label script's ``--image_file IN`` first."""
    return ([str(image_file)] if image_file is not None else []) + list(paths or [])


def fmt_triple(values: Any) -> str:
    """``'66×82×50'`` / ``'1×1×1'``: the per-file report's shapes and spacings (info's ``×``)."""
    return "×".join(f"{float(v):.6g}" for v in values)


def report_line(result: RunResult) -> str:
    """The one line per file of spacing, size and labels (on stderr); shapes keep
    their extra axes (``128×96×24×2``)."""
    how = [str(result.dtype), result.method] + ([result.device] if result.labels else [])
    name = result.input.name if result.input is not None else "<in-memory>"
    extra = tuple(result.shape[3:])
    return (f"{name}: {fmt_triple(tuple(result.input_grid.shape) + extra)} @ "
            f"{fmt_triple(result.input_grid.spacing)} mm -> {fmt_triple(result.shape)} @ "
            f"{fmt_triple(result.grid.spacing)} mm ({', '.join(how)}) -> {result.output}")


def resample_one(in_path: Path, out_path: Path, progress: Any, *, request: ResampleRequest,
                 view: RunView, report: ReportTarget | None = None) -> dict[str, Any]:
    """One file: resample, then report it (and compare) at once, so a later failure in
    the batch does not swallow the lines of the files already done.

    Module-level and picklable with :func:`functools.partial`: ``-j N`` runs it in processes.
    """
    from niresample_cli.console import err, plural, safe_text, warn_line
    from niresample_cli.core.run import resample_file

    result = resample_file(in_path, out_path, request, progress=progress)
    finish = getattr(progress, "finish", None)
    if finish is not None:  # the bar shows 100 % before the "done" line
        finish()
    if not view.quiet:
        err.print(safe_text(report_line(result)), soft_wrap=True, highlight=False, markup=False)
    if result.clipped:
        warn_line(f"{result.output}: {plural(result.clipped, 'voxel was', 'voxels were')} outside "
                  f"the {result.dtype} range and clipped (use --dtype float32 to keep them)")
    for text in result.warnings:
        warn_line(cli_warning(text, view.command))
    compared = _compare(result, json_out=view.json_out, fill=getattr(request.method, "fill", None)) \
        if view.compare and not view.quiet else None
    if report is not None:
        _write_report(result, report.path_for(in_path), compared, request, quiet=view.quiet)
    return result.facts()


#: Python API names in core's warnings -> what a CLI user types instead.
_API_TO_CLI = {
    "resample_labels": "`niresample labels`",
    "resample_to_spacing or resample_to_shape": "`niresample spacing` or `niresample size`",
}


def cli_warning(text: str, command: str | None = None) -> str:
    """A core warning with the CLI's words (commands and flags) for the Python names."""
    from niresample_cli.errors import cli_message

    for api, cli in _API_TO_CLI.items():
        text = text.replace(api, cli)
    return cli_message(Exception(text), command)


def _compare_labels(result: RunResult) -> bool | None:
    # labels=True refuses float and scaled label maps (which labels accepts):
    # for those, let compare decide.
    return True if result.labels and result.integer else None


def _compare(result: RunResult, *, json_out: bool = False,
             fill: float | None = None) -> dict[str, Any] | None:
    from niresample_cli.console import err, out, warn_line

    try:
        from niresample_cli.commands.compare import print_report
        from niresample_cli.core.compare import compare_images
    except ImportError:
        warn_line("--compare is not available in this version")
        return None
    assert result.input is not None and result.output is not None
    report = compare_images(result.input, result.output, labels=_compare_labels(result),
                            fill=fill)
    print_report(report, console=err if json_out else out)  # --json keeps stdout for JSON
    return report


def _write_report(result: RunResult, path: Path, compared: dict[str, Any] | None,
                  request: ResampleRequest, *, quiet: bool) -> None:
    """``--report``: input vs output, after writing (the comparison of --compare reused)."""
    from niresample_cli.console import err
    from niresample_cli.core.report import write_report

    assert result.input is not None and result.output is not None
    write_report(result.input, result.output, path, report=compared, labels=_compare_labels(result),
                 max_memory=request.compute.max_memory)
    if not quiet:
        err.print(f"{result.input.name}: report -> {path}", soft_wrap=True, highlight=False, markup=False)


def run_request(paths: list[Path] | list[str], request: ResampleRequest, view: RunView) -> None:
    """Plan the (input, output) pairs and run ``request`` on each (``-j``: in processes).

    The request is already validated, so nothing is touched (not even ``-o DIR``)
    for a bad option; ``view.report`` (``--report``, see :mod:`._report`) is checked,
    matplotlib included, before any file is resampled.  The output folder is made when
    the work starts, and removed again when the run fails before writing into it.
    ``view.dry_run`` prints the plan of each file and writes nothing; ``view.json_out``
    prints one JSON array of the per-file records on stdout.
    """
    from niresample_cli.batch import plan_outputs, run_paths
    from niresample_cli.places import make_dirs, remove_created

    target = None
    if view.report is not None:
        from niresample_cli.commands._report import ReportTarget

        target = ReportTarget.parse(view.report, inputs=len(paths) - (view.output_dir is None))
    pairs, folder = plan_outputs(paths, output_dir=view.output_dir, name=view.name)
    if view.dry_run:
        from niresample_cli.commands._dry_run import print_plans

        print_plans(pairs, request, command=view.command)
        return
    if target is not None:
        target.check(pairs)
    created = make_dirs(folder) if folder is not None else []
    job = functools.partial(resample_one, request=request, view=view, report=target)
    try:
        records = run_paths(pairs, job, quiet=view.quiet, skip_existing=view.skip_existing,
                            jobs=view.jobs, command=view.command)
    except BaseException as err:
        remove_created(created)
        rows = getattr(err, "results", None)
        if view.json_out and rows is not None:
            # a batch with failures: its rows still go out (status "failed", reason), then exit 1
            from niresample_cli.console import print_json

            print_json(rows, array=True)
        raise
    if view.json_out:
        from niresample_cli.console import print_json

        print_json([{"status": "ok", **r} for r in records], array=True)
