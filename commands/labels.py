"""`niresample labels`: resample label maps exactly (nearest, majority, per-label Gaussian)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from niresample_cli.commands._output import fmt_triple, output_options
from niresample_cli.options import (
    AnchorChoice,
    AnchorOpt,
    ChunksOpt,
    CompareOpt,
    CompressLevelOpt,
    DeviceChoice,
    DeviceOpt,
    ForceFloatLabelsOpt,
    ForceOpt,
    JobsOpt,
    LabelMethodChoice,
    LabelMethodOpt,
    LabelResolutionOpt,
    LikeOpt,
    MaxMemoryOpt,
    MaxOutputOpt,
    NameOpt,
    OutputDirOpt,
    OverwriteOpt,
    PathsArg,
    PyramidOpt,
    QuietOpt,
    ResumeOpt,
    SchedulerOpt,
    ShapeOpt,
    SigmaOpt,
    SigmaVoxelsOpt,
    SkipExistingOpt,
    SpacingOpt,
    ThreadsOpt,
    XOpt,
    YOpt,
    ZOpt,
)

DEFAULT_NAME = "{stem}_labels{ext}"


def _spacing(resolution: float | None, spacing: tuple[float, float, float] | None,
             x: float | None, y: float | None, z: float | None) -> Any:
    from niresample_cli.core.errors import OptionError

    given = [n for n, v in (("--resolution", resolution), ("--spacing", spacing)) if v is not None]
    if any(v is not None for v in (x, y, z)):
        given.append("--x/--y/--z")
    if len(given) > 1:
        raise OptionError(f"give one of --resolution, --spacing, --x/--y/--z (got {', '.join(given)})")
    if resolution is not None:
        return resolution
    if spacing is not None:
        return tuple(spacing)
    if any(v is not None for v in (x, y, z)):
        return (x, y, z)
    return None


def _label_one(in_path: Path, out_path: Path, progress: Any, *, quiet: bool, compare: bool,
               **options: Any) -> dict[str, Any]:
    """One file: resample, then report it (and compare) at once, so a later
    failure in the batch does not swallow the lines of the files already done."""
    from niresample_cli.console import err
    from niresample_cli.core.labels import resample_labels_file

    r = resample_labels_file(in_path, out_path, progress=progress, **options)
    if not quiet:
        # One line per file on stderr, as spacing/size do (stdout stays clean).
        err.print(
            f"{Path(r['input']).name}: {fmt_triple(r['input_shape'])} @ {fmt_triple(r['input_spacing'])} mm"
            f" -> {fmt_triple(r['shape'][:3])} @ {fmt_triple(r['spacing'])} mm ({r['dtype']}, {r['method']},"
            f" {r['device']}) -> {r['output']}",
            soft_wrap=True, highlight=False, markup=False,
        )
        if compare:
            _compare(r)
    return r


def run(
    paths: PathsArg,
    resolution: LabelResolutionOpt = None,
    spacing: SpacingOpt = None,
    x: XOpt = None,
    y: YOpt = None,
    z: ZOpt = None,
    shape: ShapeOpt = None,
    like: LikeOpt = None,
    anchor: AnchorOpt = AnchorChoice.center,
    method: LabelMethodOpt = LabelMethodChoice.nearest,
    sigma: SigmaOpt = None,
    sigma_voxels: SigmaVoxelsOpt = None,
    device: DeviceOpt = DeviceChoice.auto,
    max_memory: MaxMemoryOpt = None,
    compare: CompareOpt = False,
    quiet: QuietOpt = False,
    overwrite: OverwriteOpt = False,
    compress_level: CompressLevelOpt = None,
    force_float_labels: ForceFloatLabelsOpt = False,
    output_dir: OutputDirOpt = None,
    name: NameOpt = DEFAULT_NAME,
    skip_existing: SkipExistingOpt = False,
    jobs: JobsOpt = 1,
    max_output: MaxOutputOpt = None,
    threads: ThreadsOpt = None,
    chunks: ChunksOpt = None,
    pyramid: PyramidOpt = 0,
    resume: ResumeOpt = False,
    scheduler: SchedulerOpt = None,
    force: ForceOpt = False,
) -> None:
    """Resample label maps: every output value is an input value, dtype kept.

    [bold]Examples[/]

      niresample labels atlas.nii.gz atlas_1mm.nii.gz --resolution 1
      niresample labels atlas.nii.gz smooth.nii.gz --resolution 0.5 --sigma 0.5
      niresample labels seg.nii.gz seg_3mm.nii.gz --resolution 3 --method majority
      niresample labels aseg.nii.gz out.nii.gz --like T1.nii.gz
      niresample labels *.nii.gz -o out/ --resolution 1 -j 2
      niresample labels ccf_25um.nii.gz ccf_10um.ome.zarr --resolution 0.01 --pyramid 4

    --sigma is in mm in output space: each label's indicator on the
    nearest-neighbour output grid is smoothed, and each voxel takes the label
    with the largest value (ties to the nearest-neighbour label).
    """
    from niresample_cli.batch import plan_pairs, run_paths

    sp = _spacing(resolution, spacing, x, y, z)
    options: dict[str, Any] = {
        "spacing": sp, "shape": tuple(shape) if shape is not None else None,
        "like": like, "method": method.value, "sigma": sigma, "sigma_voxels": sigma_voxels,
        "anchor": anchor.value, "device": device.value, "max_memory": max_memory,
        "force_float_labels": force_float_labels, "overwrite": overwrite,
        "compress_level": compress_level,
        "output_options": output_options(
            chunks=chunks, pyramid=pyramid, resume=resume, scheduler=scheduler, force=force,
            threads=threads, max_output=max_output, max_memory=max_memory),
    }
    _check_early(options)
    pairs = plan_pairs(paths, output_dir=output_dir, name=name)
    job = functools.partial(_label_one, quiet=quiet, compare=compare, **options)
    run_paths(pairs, job, quiet=quiet, skip_existing=skip_existing, jobs=jobs)


def _check_early(options: dict[str, Any]) -> None:
    """Reject bad option values before touching any file (or making ``-o DIR``)."""
    from niresample_cli.core.errors import OptionError
    from niresample_cli.core.grid import _validate_shape, as_triple
    from niresample_cli.core.labels import _as_sigma, _validate_method
    from niresample_cli.core.stream import parse_memory

    if options["spacing"] is not None:
        as_triple(options["spacing"], "spacing", allow_none=True, error=OptionError)
    if options["shape"] is not None:
        _validate_shape(options["shape"])
    parse_memory(options["max_memory"])
    _validate_method(options["method"], options["sigma"], options["sigma_voxels"])
    _as_sigma(options["sigma"], "--sigma")
    _as_sigma(options["sigma_voxels"], "--sigma-voxels")
    from niresample_cli.core.device import resolve_device

    resolve_device(options["device"])


def _compare(r: dict[str, Any]) -> None:
    from niresample_cli.console import warn_line

    try:
        from niresample_cli.commands.compare import print_report
        from niresample_cli.core.compare import compare_images
    except ImportError:
        warn_line("--compare is not available in this version")
        return
    # labels=True refuses float and scaled label maps (which labels accepts):
    # for those, let compare decide.
    report = compare_images(r["input"], r["output"], labels=True if r["integer"] else None)
    print_report(report)
