"""`niresample size`: resample intensity images to a new shape, keeping the FOV."""

from __future__ import annotations

from niresample_cli.batch import DEFAULT_NAME
from niresample_cli.commands._output import output_options
from niresample_cli.commands.spacing import run_resample
from niresample_cli.options import (
    AnchorChoice,
    AnchorOpt,
    ChunksOpt,
    CompareOpt,
    CompressLevelOpt,
    DeviceOpt,
    DtypeOpt,
    ForceOpt,
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
    ShapeOpt,
    SkipExistingOpt,
    ThreadsOpt,
)

__all__ = ["run"]


def run(
    paths: PathsArg,
    shape: ShapeOpt = None,
    like: LikeOpt = None,
    order: OrderOpt = 3,
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
    """Resample to a new shape; the field of view is kept exactly (cubic B-spline by default).

    The new spacing is old spacing x old shape / new shape, so the outer voxel
    edges stay where they were.

    Examples:

      niresample size in.nii.gz out.nii.gz --shape 256 256 128

      niresample size *.nii.gz -o small/ --shape 96 96 64 --order 1
    """
    from niresample_cli.core.errors import OptionError

    if (shape is None) == (like is None):
        raise OptionError("give exactly one of --shape X Y Z or --like REF")
    run_resample(
        paths, shape=None if shape is None else tuple(shape), like=like, order=order,
        anchor=anchor.value, dtype=dtype, no_antialias=no_antialias, compare=compare,
        quiet=quiet, overwrite=overwrite, max_memory=max_memory, compress_level=compress_level,
        device=device, output_dir=output_dir, name=name, skip_existing=skip_existing, jobs=jobs,
        output=output_options(chunks=chunks, pyramid=pyramid, resume=resume, scheduler=scheduler,
                              force=force, threads=threads, max_output=max_output,
                              max_memory=max_memory),
    )
