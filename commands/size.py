"""`niresample size`: resample intensity images to a new shape, keeping the FOV."""

from __future__ import annotations

from niresample_cli.batch import DEFAULT_NAME
from niresample_cli.commands._output import (
    RunView,
    alias,
    compute_from,
    input_from,
    output_from,
    places,
    run_request,
)
from niresample_cli.commands.spacing import intensity_request, with_transforms
from niresample_cli.options import (
    AnchorChoice,
    AnchorOpt,
    ChunksOpt,
    CompareOpt,
    CompressLevelOpt,
    DeviceOpt,
    DryRunOpt,
    DtypeOpt,
    FillOpt,
    ForceOpt,
    JobsOpt,
    LevelOpt,
    LikeOpt,
    MaxMemoryOpt,
    MaxOutputOpt,
    NameOpt,
    NoAntialiasOpt,
    OrderOpt,
    OrientationOpt,
    OutputDirAliasOpt,
    OutputDirOpt,
    OutputFormatOpt,
    OverwriteOpt,
    PlacesArg,
    PyramidOpt,
    QuietOpt,
    ReportOpt,
    ResumeOpt,
    RunJsonOpt,
    SchedulerOpt,
    ShapeOpt,
    SkipExistingOpt,
    SpaceUnitOpt,
    ThreadsOpt,
    TransformOpt,
    VoxelSizeOpt,
    VoxelUnitOpt,
    ZarrFormatOpt,
)

__all__ = ["run"]


def run(
    paths: PlacesArg = None,
    shape: ShapeOpt = None,
    like: LikeOpt = None,
    transform: TransformOpt = None,
    fill: FillOpt = 0.0,
    order: OrderOpt = 3,
    anchor: AnchorOpt = AnchorChoice.center,
    dtype: DtypeOpt = None,
    no_antialias: NoAntialiasOpt = False,
    compare: CompareOpt = False,
    report: ReportOpt = None,
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
    json_out: RunJsonOpt = False,
    dry_run: DryRunOpt = False,
    output_dir_alias: OutputDirAliasOpt = None,
    orientation: OrientationOpt = None,
    voxel_size: VoxelSizeOpt = None,
    voxel_unit: VoxelUnitOpt = None,
    level: LevelOpt = None,
    space_unit: SpaceUnitOpt = None,
    output_format: OutputFormatOpt = None,
    zarr_format: ZarrFormatOpt = 2,
) -> None:
    """Resample to a new shape; the field of view is kept exactly (cubic B-spline by default).

    The new spacing is old spacing x old shape / new shape, so the outer voxel
    edges stay where they were.

    Examples:

      niresample size in.nii.gz out.nii.gz --shape 256 256 128

      niresample size *.nii.gz -o small/ --shape 96 96 64 --order 1
    """
    from niresample_cli.core.errors import OptionError
    from niresample_cli.core.requests import Target

    output_dir = alias(output_dir, output_dir_alias, "-o/--output_dir")
    if (shape is None) == (like is None):
        raise OptionError("give exactly one of --shape X Y Z or --like REF")
    target = Target(shape=None if shape is None else tuple(shape), like=like,  # type: ignore[arg-type]
                    anchor=anchor.value)
    request = intensity_request(
        with_transforms(target, transform), order=order, no_antialias=no_antialias, dtype=dtype,
        fill=fill,
        compute=compute_from(device, max_memory, threads),
        output=output_from(overwrite=overwrite, compress_level=compress_level, force=force,
                           max_output=max_output, chunks=chunks, pyramid=pyramid, resume=resume,
                           scheduler=scheduler, format=output_format, zarr_format=zarr_format),
        input=input_from(orientation=orientation, voxel_size=voxel_size, voxel_unit=voxel_unit,
                         level=level, space_unit=space_unit),
    )
    run_request(places(paths), request, RunView(
        command="size", quiet=quiet, compare=compare, json_out=json_out, dry_run=dry_run,
        output_dir=output_dir, name=name, skip_existing=skip_existing, jobs=jobs, report=report))
