"""`niresample labels`: resample label maps exactly (nearest, majority, per-label Gaussian)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from niresample_cli.options import (
    AnchorChoice,
    AnchorOpt,
    ChunksOpt,
    CompareOpt,
    CompressLevelOpt,
    DeviceChoice,
    DeviceOpt,
    DryRunOpt,
    ForceFloatLabelsOpt,
    ForceOpt,
    ImageFileOpt,
    JobsOpt,
    LabelFillOpt,
    LabelIsoOpt,
    LabelMethodChoice,
    LabelMethodOpt,
    LabelResolutionOpt,
    LevelOpt,
    LikeOpt,
    MaxMemoryOpt,
    MaxOutputOpt,
    NameOpt,
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
    SigmaOpt,
    SigmaVoxelsOpt,
    SkipExistingOpt,
    SpaceUnitOpt,
    SpacingOpt,
    ThreadsOpt,
    TransformOpt,
    VoxelSizeOpt,
    VoxelUnitOpt,
    XOpt,
    YOpt,
    ZarrFormatOpt,
    ZOpt,
)

if TYPE_CHECKING:
    from niresample_cli.core.requests import Target


def labels_target(resolution: float | None, spacing: tuple[float, float, float] | None,
                  xyz: tuple[float | None, float | None, float | None],
                  shape: tuple[int, int, int] | None, like: Path | None, anchor: str) -> Target:
    """The target of ``labels``: one of --resolution, --spacing, --x/--y/--z, --shape, --like."""
    from niresample_cli.core.errors import OptionError
    from niresample_cli.core.requests import Target

    given = [n for n, v in (("--resolution", resolution), ("--spacing", spacing)) if v is not None]
    if any(v is not None for v in xyz):
        given.append("--x/--y/--z")
    if len(given) > 1:
        raise OptionError(f"give one of --resolution, --spacing, --x/--y/--z (got {', '.join(given)})")
    sp: Any = resolution if resolution is not None else tuple(spacing) if spacing is not None \
        else xyz if given else None
    kinds = [n for n, v in (("spacing", sp), ("shape", shape), ("like", like)) if v is not None]
    if len(kinds) != 1:
        raise OptionError(
            "give exactly one of a spacing (--resolution/--spacing/--x/--y/--z), --shape or --like"
            + (f" (got {', '.join(kinds)})" if kinds else "")
        )
    return Target(spacing=sp, shape=None if shape is None else tuple(shape),  # type: ignore[arg-type]
                  like=like, anchor=anchor)  # type: ignore[arg-type]


def run(
    paths: PlacesArg = None,
    resolution: LabelResolutionOpt = None,
    spacing: SpacingOpt = None,
    x: XOpt = None,
    y: YOpt = None,
    z: ZOpt = None,
    shape: ShapeOpt = None,
    like: LikeOpt = None,
    transform: TransformOpt = None,
    anchor: AnchorOpt = AnchorChoice.center,
    method: LabelMethodOpt = LabelMethodChoice.nearest,
    sigma: SigmaOpt = None,
    sigma_voxels: SigmaVoxelsOpt = None,
    device: DeviceOpt = DeviceChoice.auto,
    max_memory: MaxMemoryOpt = None,
    compare: CompareOpt = False,
    report: ReportOpt = None,
    quiet: QuietOpt = False,
    json_out: RunJsonOpt = False,
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
    dry_run: DryRunOpt = False,
    iso: LabelIsoOpt = None,
    image_file: ImageFileOpt = None,
    output_dir_alias: OutputDirAliasOpt = None,
    fill: LabelFillOpt = 0,
    orientation: OrientationOpt = None,
    voxel_size: VoxelSizeOpt = None,
    voxel_unit: VoxelUnitOpt = None,
    level: LevelOpt = None,
    space_unit: SpaceUnitOpt = None,
    output_format: OutputFormatOpt = None,
    zarr_format: ZarrFormatOpt = 2,
) -> None:
    """Resample label maps: every output value is an input value or the --fill value, dtype kept.

    --sigma is in mm in output space: each label's indicator on the
    nearest-neighbour output grid is smoothed, and each voxel takes the label
    with the largest value (ties to the nearest-neighbour label). Output voxels
    outside the input's field of view take --fill (default 0, background).

    Examples:

      niresample labels atlas.nii.gz atlas_1mm.nii.gz --resolution 1

      niresample labels atlas.nii.gz smooth.nii.gz --resolution 0.5 --sigma 0.5

      niresample labels seg.nii.gz seg_3mm.nii.gz --resolution 3 --method majority

      niresample labels aseg.nii.gz out.nii.gz --like T1.nii.gz

      niresample labels atlas.nii.gz o.nii.gz --like t1.nii.gz -t 1Warp.nii.gz

      niresample labels *.nii.gz -o out/ --resolution 1 -j 2

      niresample labels ccf_25um.nii.gz ccf_10um.ome.zarr -r 0.01 --pyramid 4
    """
    from niresample_cli.commands.spacing import with_transforms
    from niresample_cli.core.requests import LabelMethod, ResampleRequest

    resolution = alias(resolution, iso, "--resolution/--iso")
    output_dir = alias(output_dir, output_dir_alias, "-o/--output_dir")
    if image_file is not None and sigma is not None and sigma_voxels is None:
        # The label script's --sigma was in voxels of the output grid (README: migrating).
        sigma, sigma_voxels = None, sigma

    request = ResampleRequest(
        with_transforms(labels_target(resolution, spacing, (x, y, z), shape, like, anchor.value),
                        transform),
        LabelMethod(method.value, sigma=sigma, sigma_voxels=sigma_voxels,  # type: ignore[arg-type]
                    force_float_labels=force_float_labels, fill=fill),
        compute_from(device, max_memory, threads),
        output_from(overwrite=overwrite, compress_level=compress_level, force=force,
                    max_output=max_output, chunks=chunks, pyramid=pyramid, resume=resume,
                    scheduler=scheduler, format=output_format, zarr_format=zarr_format),
        input_from(orientation=orientation, voxel_size=voxel_size, voxel_unit=voxel_unit,
                   level=level, space_unit=space_unit),
    ).resolved()
    run_request(places(paths, image_file), request, RunView(
        command="labels", quiet=quiet, compare=compare, json_out=json_out, dry_run=dry_run,
        output_dir=output_dir, name=name, skip_existing=skip_existing, jobs=jobs, report=report))
