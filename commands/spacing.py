"""`niresample spacing`: resample intensity images to a new voxel spacing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from niresample_cli.batch import DEFAULT_NAME
from niresample_cli.commands._output import fmt_triple, output_options
from niresample_cli.options import (
    AnchorChoice,
    AnchorOpt,
    ChunksOpt,
    CompareOpt,
    CompressLevelOpt,
    DeviceOpt,
    DtypeOpt,
    ForceOpt,
    IsoOpt,
    JobsOpt,
    LikeOpt,
    MaxMemoryOpt,
    MaxOutputOpt,
    NameOpt,
    NoAntialiasOpt,
    OrderOpt,
    OutputDirOpt,
    OverwriteOpt,
    PathsArg,
    PyramidOpt,
    QuietOpt,
    ResumeOpt,
    SchedulerOpt,
    SkipExistingOpt,
    SpacingOpt,
    ThreadsOpt,
    XOpt,
    YOpt,
    ZOpt,
)

__all__ = ["run", "run_resample"]



def run_resample(
    paths: list[Path],
    *,
    spacing: Any = None,
    shape: Any = None,
    like: Path | None,
    order: int,
    anchor: str,
    dtype: str | None,
    no_antialias: bool,
    compare: bool,
    quiet: bool,
    overwrite: bool,
    max_memory: str | None,
    compress_level: int | None,
    device: Any,
    output: dict[str, Any] | None = None,
    output_dir: Path | None,
    name: str,
    skip_existing: bool,
    jobs: int,
) -> None:
    """Shared body of ``spacing`` and ``size``: plan pairs, resample each, report."""
    from niresample_cli.batch import plan_pairs, run_paths
    from niresample_cli.console import err, warn_line
    from niresample_cli.core.api import resample_file
    from niresample_cli.core.device import resolve_device
    from niresample_cli.core.stream import parse_memory

    # Validate once, before any file is touched.
    _check_values(spacing, shape)
    parse_memory(max_memory)
    dev = resolve_device(None if device is None else getattr(device, "value", device))
    pairs = plan_pairs(paths, output_dir=output_dir, name=name)

    def job(src: Path, dst: Path, progress: Any) -> dict[str, Any]:
        result = resample_file(
            src, dst, spacing=spacing, shape=shape, like=like, order=order, anchor=anchor,
            anti_aliasing=False if no_antialias else None, dtype=dtype, device=dev,
            max_memory=max_memory, overwrite=overwrite, compress_level=compress_level,
            progress=progress,
            output_options=output,
        )
        if not quiet:
            err.print(
                f"{src.name}: {fmt_triple(result.input_grid.shape)} @ {fmt_triple(result.input_grid.spacing)} mm"
                f" -> {fmt_triple(result.grid.shape)} @ {fmt_triple(result.grid.spacing)} mm"
                f" ({result.dtype}, order {result.order}) -> {dst}",
                soft_wrap=True, highlight=False, markup=False,
            )
        if result.clipped:
            warn_line(f"{dst}: {result.clipped} voxels were outside the {result.dtype} range "
                      "and were clipped (use --dtype float32 to keep them)")
        if compare:
            _compare(src, dst, quiet=quiet)
        return {"shape": list(result.shape), "spacing": [float(s) for s in result.grid.spacing],
                "dtype": str(result.dtype), "clipped": result.clipped}

    run_paths(pairs, job, quiet=quiet, skip_existing=skip_existing, jobs=jobs)


def _check_values(spacing: Any, shape: Any) -> None:
    """Refuse zero, negative, NaN or absurd spacings and shapes with one line."""
    from niresample_cli.core.errors import OptionError
    from niresample_cli.core.grid import _validate_shape, as_triple

    if spacing is not None:
        as_triple(spacing, "spacing", allow_none=True, error=OptionError)
    if shape is not None:
        _validate_shape(shape)


def _compare(src: Path, dst: Path, *, quiet: bool) -> None:
    from niresample_cli.commands.compare import print_report
    from niresample_cli.core.compare import compare_images

    report = compare_images(src, dst)
    if not quiet:
        print_report(report)


def _spacing_from(x: float | None, y: float | None, z: float | None,
                  spacing: tuple[float, float, float] | None, iso: float | None,
                  like: Path | None) -> Any:
    from niresample_cli.core.errors import OptionError

    per_axis = any(v is not None for v in (x, y, z))
    given = [n for n, on in (("--x/--y/--z", per_axis), ("--spacing", spacing is not None),
                             ("--iso", iso is not None), ("--like", like is not None)) if on]
    if len(given) > 1:
        raise OptionError(f"{' and '.join(given)} cannot be combined; give one of them")
    if not given:
        raise OptionError("give the new spacing: --x/--y/--z, --spacing X Y Z, --iso S or --like REF")
    if like is not None:
        return None
    if iso is not None:
        return (iso, iso, iso)
    if spacing is not None:
        return tuple(spacing)
    return (x, y, z)


def run(
    paths: PathsArg,
    x: XOpt = None,
    y: YOpt = None,
    z: ZOpt = None,
    spacing: SpacingOpt = None,
    iso: IsoOpt = None,
    like: LikeOpt = None,
    order: OrderOpt = 1,
    anchor: AnchorOpt = AnchorChoice.center,
    dtype: DtypeOpt = None,
    no_antialias: NoAntialiasOpt = False,
    compare: CompareOpt = False,
    output_dir: OutputDirOpt = None,
    name: NameOpt = DEFAULT_NAME,
    skip_existing: SkipExistingOpt = False,
    jobs: JobsOpt = 1,
    device: DeviceOpt = None,  # type: ignore[assignment]
    max_memory: MaxMemoryOpt = None,
    max_output: MaxOutputOpt = None,
    compress_level: CompressLevelOpt = None,
    threads: ThreadsOpt = None,
    chunks: ChunksOpt = None,
    pyramid: PyramidOpt = 0,
    resume: ResumeOpt = False,
    scheduler: SchedulerOpt = None,
    force: ForceOpt = False,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Resample to a new voxel spacing (mm), keeping the field of view.

    Axes you do not name keep their spacing. The new grid is centred on the
    input's field of view (--anchor to change) at exactly the spacing asked.

    Examples:

      niresample spacing in.nii.gz out.nii.gz --z 0.15

      niresample spacing t1.nii.gz out.nii.gz --iso 1 --order 3

      niresample spacing *.nii.gz -o resampled/ --spacing 1 1 2

      niresample spacing moving.nii.gz out.nii.gz --like fixed.nii.gz

      niresample spacing big.nii.gz big_10um.ome.zarr --iso 0.01 --pyramid 3
    """
    new_spacing = _spacing_from(x, y, z, spacing, iso, like)
    run_resample(
        paths, spacing=new_spacing, like=like, order=order, anchor=anchor.value, dtype=dtype,
        no_antialias=no_antialias, compare=compare, quiet=quiet, overwrite=overwrite,
        max_memory=max_memory, compress_level=compress_level, device=device,
        output_dir=output_dir, name=name, skip_existing=skip_existing, jobs=jobs,
        output=output_options(chunks=chunks, pyramid=pyramid, resume=resume, scheduler=scheduler,
                              force=force, threads=threads, max_output=max_output,
                              max_memory=max_memory),
    )
