"""`niresample spacing`: resample intensity images to a new voxel spacing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

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
    DeviceOpt,
    DryRunOpt,
    DtypeOpt,
    FillOpt,
    ForceOpt,
    IsoOpt,
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
    ResolutionAliasOpt,
    ResumeOpt,
    RunJsonOpt,
    SchedulerOpt,
    SkipExistingOpt,
    SpaceUnitOpt,
    SpacingOpt,
    ThreadsOpt,
    TransformOpt,
    VoxelSizeOpt,
    VoxelUnitOpt,
    XOpt,
    XSpacingOpt,
    XyzSpacingOpt,
    YOpt,
    YSpacingOpt,
    ZarrFormatOpt,
    ZOpt,
    ZSpacingOpt,
)

if TYPE_CHECKING:
    from niresample_cli.core.requests import Compute, InputOptions, OutputOptions, ResampleRequest, Target

__all__ = ["run", "spacing_target"]


def spacing_target(x: float | None, y: float | None, z: float | None,
                   spacing: tuple[float, float, float] | None, iso: float | None,
                   like: Path | None, anchor: str) -> Target:
    """The target of ``spacing``: exactly one of --x/--y/--z, --spacing, --iso, --like."""
    from niresample_cli.core.errors import OptionError
    from niresample_cli.core.requests import Target

    per_axis = any(v is not None for v in (x, y, z))
    given = [n for n, on in (("--x/--y/--z", per_axis), ("--spacing", spacing is not None),
                             ("--iso", iso is not None), ("--like", like is not None)) if on]
    if len(given) > 1:
        raise OptionError(f"{' and '.join(given)} cannot be combined; give one of them")
    if not given:
        raise OptionError("give the new spacing: --x/--y/--z, --spacing X Y Z, --iso S or --like REF")
    if like is not None:
        return Target(like=like, anchor=anchor)  # type: ignore[arg-type]
    new = (iso, iso, iso) if iso is not None else tuple(spacing) if spacing is not None else (x, y, z)
    return Target(spacing=new, anchor=anchor)  # type: ignore[arg-type]


def with_transforms(target: Target, transform: list[str] | None) -> Target:
    """``target`` with the ``--transform`` arguments (ANTs' ``[FILE,1]`` accepted), checked."""
    from dataclasses import replace

    return replace(target, transforms=tuple(transform or ()))


def intensity_request(target: Target, *, order: int, no_antialias: bool, dtype: str | None,
                      compute: Compute, output: OutputOptions, fill: float = 0.0,
                      input: InputOptions | None = None) -> ResampleRequest:
    """The request of ``spacing`` and ``size``, validated and with its device resolved."""
    from niresample_cli.core.requests import InputOptions, Interpolation, ResampleRequest

    method = Interpolation(order=order, anti_aliasing=False if no_antialias else None, dtype=dtype,
                           fill=fill)
    return ResampleRequest(target, method, compute, output, input or InputOptions()).resolved()


def run(
    paths: PlacesArg = None,
    x: XOpt = None,
    y: YOpt = None,
    z: ZOpt = None,
    spacing: SpacingOpt = None,
    iso: IsoOpt = None,
    like: LikeOpt = None,
    transform: TransformOpt = None,
    fill: FillOpt = 0.0,
    order: OrderOpt = 1,
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
    resolution: ResolutionAliasOpt = None,
    x_spacing: XSpacingOpt = None,
    y_spacing: YSpacingOpt = None,
    z_spacing: ZSpacingOpt = None,
    xyz_spacing: XyzSpacingOpt = None,
    output_dir_alias: OutputDirAliasOpt = None,
    orientation: OrientationOpt = None,
    voxel_size: VoxelSizeOpt = None,
    voxel_unit: VoxelUnitOpt = None,
    level: LevelOpt = None,
    space_unit: SpaceUnitOpt = None,
    output_format: OutputFormatOpt = None,
    zarr_format: ZarrFormatOpt = 2,
) -> None:
    """Resample to a new voxel spacing (mm), keeping the field of view.

    Axes you do not name keep their spacing. The new grid is centred on the
    input's field of view (--anchor to change) at exactly the spacing asked.

    Examples:

      niresample spacing in.nii.gz out.nii.gz --z 0.15

      niresample spacing t1.nii.gz out.nii.gz --iso 1 --order 3

      niresample spacing *.nii.gz -o resampled/ --spacing 1 1 2

      niresample spacing moving.nii.gz out.nii.gz --like fixed.nii.gz

      niresample spacing mov.nii.gz o.nii.gz --like fix.nii.gz -t 1Warp.nii.gz

      niresample spacing fix.nii.gz o.nii.gz --like mov.nii.gz -t '[affine.mat,1]'

      niresample spacing big.nii.gz big_10um.ome.zarr --iso 0.01 --pyramid 3
    """
    x, y, z = (alias(x, x_spacing, "--x/--x-spacing"), alias(y, y_spacing, "--y/--y-spacing"),
               alias(z, z_spacing, "--z/--z-spacing"))
    spacing = alias(spacing, xyz_spacing, "--spacing/--xyz-spacing")
    iso = alias(iso, resolution, "--iso/--resolution")
    output_dir = alias(output_dir, output_dir_alias, "-o/--output_dir")
    request = intensity_request(
        with_transforms(spacing_target(x, y, z, spacing, iso, like, anchor.value), transform),
        order=order, no_antialias=no_antialias, dtype=dtype, fill=fill,
        compute=compute_from(device, max_memory, threads),
        output=output_from(overwrite=overwrite, compress_level=compress_level, force=force,
                           max_output=max_output, chunks=chunks, pyramid=pyramid, resume=resume,
                           scheduler=scheduler, format=output_format, zarr_format=zarr_format),
        input=input_from(orientation=orientation, voxel_size=voxel_size, voxel_unit=voxel_unit,
                         level=level, space_unit=space_unit),
    )
    run_request(places(paths), request, RunView(
        command="spacing", quiet=quiet, compare=compare, json_out=json_out, dry_run=dry_run,
        output_dir=output_dir, name=name, skip_existing=skip_existing, jobs=jobs, report=report))
