"""Reusable Typer option types (Annotated aliases) shared by the commands."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

__all__ = [
    "AnchorChoice", "InputArg", "OutputArg", "QuietOpt", "OverwriteOpt", "MaxMemoryOpt",
    "AnchorOpt", "DtypeOpt", "LikeOpt", "CompareOpt", "JsonOpt", "DeviceChoice", "DeviceOpt",
    "CompressLevelOpt", "XOpt", "YOpt", "ZOpt", "SpacingOpt", "ShapeOpt",
]


class AnchorChoice(str, Enum):
    center = "center"  # type: ignore[assignment]  # shadows str.center on purpose
    origin = "origin"
    corner = "corner"


class DeviceChoice(str, Enum):
    auto = "auto"
    numpy = "numpy"
    cpu = "cpu"
    torch_cpu = "torch-cpu"
    cuda = "cuda"


InputArg = Annotated[Path, typer.Argument(help="Input image (.nii, .nii.gz; also .nrrd, .mha, .mgz).", show_default=False)]
OutputArg = Annotated[Path, typer.Argument(help="Output .nii/.nii.gz file, or a directory.", show_default=False)]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or result lines: print only warnings and errors.")]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace an existing output file.")]
MaxMemoryOpt = Annotated[Optional[str], typer.Option("--max-memory", metavar="SIZE", help="Memory budget for the slabs, e.g. 512M, 2G (default: 1G or a quarter of RAM, whichever is less).", show_default=False)]
AnchorOpt = Annotated[AnchorChoice, typer.Option("--anchor", help="What the new grid keeps fixed: the FOV centre, the first voxel centre (ITK habit), or the first outer voxel edge.", case_sensitive=False)]
DtypeOpt = Annotated[Optional[str], typer.Option("--dtype", help="Output data type (default: the input's), e.g. float32, int16, uint8.", show_default=False)]
LikeOpt = Annotated[Optional[Path], typer.Option("--like", metavar="REF", help="Resample onto the grid (shape and affine) of this reference image.", show_default=False)]
CompareOpt = Annotated[bool, typer.Option("--compare", help="Print the compare report (input vs output) after writing.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object per file on stdout, for scripts.")]
DeviceOpt = Annotated[DeviceChoice, typer.Option("--device", help="Compute engine: numpy (also cpu), torch-cpu, or cuda (torch); auto: CUDA when present, else numpy.", case_sensitive=False)]
CompressLevelOpt = Annotated[Optional[int], typer.Option("--compress-level", min=0, max=9, help="gzip level for .nii.gz outputs (default: fastest).", show_default=False)]
XOpt = Annotated[Optional[float], typer.Option("--x", help="New spacing along the first voxel axis, mm.", show_default=False)]
YOpt = Annotated[Optional[float], typer.Option("--y", help="New spacing along the second voxel axis, mm.", show_default=False)]
ZOpt = Annotated[Optional[float], typer.Option("--z", help="New spacing along the third voxel axis, mm.", show_default=False)]
SpacingOpt = Annotated[Optional[tuple[float, float, float]], typer.Option("--spacing", metavar="X Y Z", help="New spacing of all three axes, mm.", show_default=False)]
ShapeOpt = Annotated[Optional[tuple[int, int, int]], typer.Option("--shape", metavar="X Y Z", help="New shape; the FOV is kept exactly.", show_default=False)]

# -- batch runs (niresample_cli/batch.py) -------------------------------------------
__all__ += ["PathsArg", "OutputDirOpt", "NameOpt", "SkipExistingOpt", "JobsOpt"]

PathsArg = Annotated[list[Path], typer.Argument(metavar="PATH", help="IN OUT, or several inputs (shell globs welcome) then an output directory, or inputs with -o DIR.", show_default=False)]
OutputDirOpt = Annotated[Optional[Path], typer.Option("--output-dir", "-o", metavar="DIR", help="Write every output into DIR (created if needed); all positional paths are then inputs.", show_default=False)]
NameOpt = Annotated[str, typer.Option("--name", metavar="TEMPLATE", help="Output file name for batch runs: {stem}, {ext} (.nii/.nii.gz), {name} (the whole input name).")]
SkipExistingOpt = Annotated[bool, typer.Option("--skip-existing", help="Skip inputs whose output already exists (for resuming a batch).")]
JobsOpt = Annotated[int, typer.Option("--jobs", "-j", min=0, metavar="N", help="Process N files at once (0: one per CPU core); each uses up to --max-memory.")]

# -- labels (commands/labels.py) ------------------------------------------------------
__all__ += ["LabelMethodChoice", "LabelMethodOpt", "LabelResolutionOpt", "SigmaOpt",
            "SigmaVoxelsOpt", "ForceFloatLabelsOpt"]


class LabelMethodChoice(str, Enum):
    nearest = "nearest"
    majority = "majority"
    gaussian = "gaussian"


LabelMethodOpt = Annotated[LabelMethodChoice, typer.Option("--method", help="nearest: exact index gather; majority: most frequent label in each output voxel (downsampling); gaussian: per-label Gaussian smoothing (needs --sigma).", case_sensitive=False)]
LabelResolutionOpt = Annotated[Optional[float], typer.Option("--resolution", "-r", metavar="MM", help="New isotropic spacing, mm.", show_default=False)]
SigmaOpt = Annotated[Optional[float], typer.Option("--sigma", metavar="MM", help="Gaussian sigma in mm, in output space (implies --method gaussian); the kernel reaches 4 sigma.", show_default=False)]
SigmaVoxelsOpt = Annotated[Optional[float], typer.Option("--sigma-voxels", metavar="N", help="Gaussian sigma in output voxels (instead of --sigma).", show_default=False)]
ForceFloatLabelsOpt = Annotated[bool, typer.Option("--force-float-labels", help="Treat a float image with non-whole values as labels anyway (values are kept, never interpolated).")]

# -- resampling commands (spacing, size) -------------------------------------
IsoOpt = Annotated[Optional[float], typer.Option("--iso", metavar="S", help="Same new spacing on all three axes, mm.", show_default=False)]
OrderOpt = Annotated[int, typer.Option("--order", min=0, max=5, help="B-spline order: 0 nearest, 1 linear, 3 cubic (up to 5).")]
NoAntialiasOpt = Annotated[bool, typer.Option("--no-antialias", help="Do not average over the output voxel when an axis is downsampled.")]
__all__ += ["IsoOpt", "OrderOpt", "NoAntialiasOpt"]

# -- huge outputs: Zarr, dask, disk checks (issue 5) ---------------------------------------
# Built into the request's OutputOptions and Compute by commands/_output.py.
__all__ += ["ChunksOpt", "PyramidOpt", "ResumeOpt", "SchedulerOpt", "ForceOpt", "ThreadsOpt"]

ChunksOpt = Annotated[Optional[str], typer.Option("--chunks", metavar="N|X,Y,Z", help="Zarr chunk shape in voxels (default 128; the z depth is lowered to fit --max-memory).", show_default=False)]
PyramidOpt = Annotated[int, typer.Option("--pyramid", min=0, max=16, metavar="N", help="Add N downsampled Zarr levels, each half the size (labels by 2x2x2 majority, intensities by mean).")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Finish an interrupted Zarr output: chunk rows already written are kept.")]
SchedulerOpt = Annotated[Optional[str], typer.Option("--scheduler", metavar="tcp://HOST:PORT", help="Run the Zarr chunk tasks on this dask.distributed scheduler (workers must see the same paths).", show_default=False)]
ForceOpt = Annotated[bool, typer.Option("--force", help="Skip the free-disk-space check.")]
ThreadsOpt = Annotated[Optional[int], typer.Option("--threads", min=1, metavar="N", help="Threads computing the slabs/chunks of one output (default: all cores).", show_default=False)]

# -- resource guards (issue 7) ---------------------------------------------------------------
# OutputOptions(max_output=...) parses text such as "20G" once.
__all__ += ["MaxOutputOpt"]

MaxOutputOpt = Annotated[Optional[str], typer.Option("--max-output", metavar="SIZE", help="Refuse, before any work, an output larger than SIZE uncompressed, e.g. 50G.", show_default=False)]

# -- issue 16 items 7, 9-11: results for scripts, display -------------------------------------
__all__ += ["RunJsonOpt", "InfoJsonOpt", "JsonlOpt", "ReportJsonOpt"]

RunJsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON array on stdout, one record per file (input, output, grids, method, engine, seconds, warnings); the per-file lines stay on stderr.")]
InfoJsonOpt = Annotated[bool, typer.Option("--json", help="JSON on stdout: the file's object, or an array of them for several files.")]
JsonlOpt = Annotated[bool, typer.Option("--jsonl", help="JSON Lines on stdout: one object per file, one per line.")]
ReportJsonOpt = Annotated[bool, typer.Option("--json", help="The report as one JSON object on stdout, for scripts.")]

# -- issue 16: output places, one vocabulary, the migrating scripts' names, --dry-run ------------
# Positional paths as typed: a trailing slash (out_1mm/) means a directory (niresample_cli/places.py).
__all__ += ["PlacesArg", "DryRunOpt", "XyzSpacingOpt", "LabelIsoOpt", "ResolutionAliasOpt", "XSpacingOpt",
            "YSpacingOpt", "ZSpacingOpt", "ImageFileOpt", "OutputDirAliasOpt"]

PlacesArg = Annotated[Optional[list[str]], typer.Argument(metavar="PATH", help="IN OUT, or several inputs (shell globs or folders) then an output directory (DIR/), or inputs with -o DIR.", show_default=False)]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print each output's grid (shape, spacing, origin, FOV, size on disk) and write nothing.")]
LabelIsoOpt = Annotated[Optional[float], typer.Option("--iso", metavar="S", help="Same as --resolution.", hidden=True, show_default=False)]
ResolutionAliasOpt = Annotated[Optional[float], typer.Option("--resolution", "-r", metavar="MM", help="Same as --iso.", hidden=True, show_default=False)]
# The spacing and label scripts' option names, hidden (README: migrating from the scripts).
XSpacingOpt = Annotated[Optional[float], typer.Option("--x-spacing", "--x_spacing", help="Same as --x.", hidden=True, show_default=False)]
YSpacingOpt = Annotated[Optional[float], typer.Option("--y-spacing", "--y_spacing", help="Same as --y.", hidden=True, show_default=False)]
ZSpacingOpt = Annotated[Optional[float], typer.Option("--z-spacing", "--z_spacing", help="Same as --z.", hidden=True, show_default=False)]
ImageFileOpt = Annotated[Optional[Path], typer.Option("--image_file", "--image-file", help="The input image (the scripts' name).", hidden=True, show_default=False)]
OutputDirAliasOpt = Annotated[Optional[Path], typer.Option("--output_dir", help="Same as -o/--output-dir.", hidden=True, show_default=False)]
XyzSpacingOpt = Annotated[Optional[tuple[float, float, float]], typer.Option("--xyz-spacing", "--xyz_spacing", metavar="X Y Z", help="Same as --spacing.", hidden=True, show_default=False)]

# -- visual report (issue 14) -----------------------------------------------------------------
# spacing/size/labels: commands/_report.py turns the text into one report path per input.
__all__ += ["ReportOpt", "CompareReportOpt", "PngOpt"]

ReportOpt = Annotated[Optional[str], typer.Option("--report", metavar="FILE|DIR/|TEMPLATE", help="After writing, an HTML report of input vs output (needs the report extra): FILE for one input; DIR/ (DIR/{stem}_report.html) or a template with {stem} or {name} for one per input.", show_default=False)]
CompareReportOpt = Annotated[Optional[Path], typer.Option("--report", metavar="FILE", help="Also write a self-contained HTML report: slices, FOV boxes, tables and the --fail-on verdict (needs the report extra).", show_default=False)]
PngOpt = Annotated[Optional[Path], typer.Option("--png", metavar="FILE", help="Also write the slice figure alone (a, b, b's edges on a, b - a) as a PNG (needs the report extra).", show_default=False)]

# -- outside the input's field of view (issue 15 item 5) ---------------------------------
# FillOpt is the generic alias (an intensity --fill reuses it); LabelFillOpt states the label rule.
__all__ += ["FillOpt", "LabelFillOpt"]

FillOpt = Annotated[float, typer.Option("--fill", metavar="VALUE", help="Value of output voxels outside the input's field of view (default 0; nan for float outputs).", show_default=False)]
LabelFillOpt = Annotated[float, typer.Option("--fill", metavar="VALUE", help="Label of output voxels outside the input's field of view (default 0, background). It need not be an input value, but must fit the label dtype; every output value is an input value or the --fill value.")]

# -- registration transforms (issue 11) ------------------------------------------------
# Built into Target(transforms=...) and Interpolation(fill=...) by the commands.
__all__ += ["TransformOpt"]

TransformOpt = Annotated[Optional[list[str]], typer.Option("--transform", "-t", metavar="FILE", help="Registration transform from output (reference) space into the input, repeatable, as antsApplyTransforms -t: the last one listed is applied to the points first. ITK/ANTs .mat/.txt/.tfm, *Warp.nii.gz, FSL .mat, FreeSurfer .lta, AFNI .aff12.1D or a 4x4 RAS text matrix; invert an affine with [FILE,1] (quote it in the shell).", show_default=False)]

# -- light-sheet and atlas formats (issue 13) ---------------------------------------------
# Built into the request's InputOptions (how inputs are read) and OutputOptions (format,
# zarr_format) by commands/_output.py.
__all__ += ["OrientationOpt", "VoxelSizeOpt", "VoxelUnitOpt", "LevelOpt", "SpaceUnitOpt",
            "OutputFormatChoice", "OutputFormatOpt", "ZarrFormatOpt"]


class OutputFormatChoice(str, Enum):
    tiff_slices = "tiff-slices"


OrientationOpt = Annotated[Optional[str], typer.Option("--orientation", metavar="CODES", help="Where each voxel axis of a NRRD or TIFF input points, e.g. PIR (Allen CCF); replaces the header's directions (spacing and origin kept).", show_default=False)]
VoxelSizeOpt = Annotated[Optional[tuple[str, str, str]], typer.Option("--voxel-size", metavar="X Y Z", help="Voxel size of a TIFF input with a unit, e.g. 10 10 50um or 0.01 0.01 0.05mm (replaces its metadata).", show_default=False)]
VoxelUnitOpt = Annotated[Optional[str], typer.Option("--voxel-unit", metavar="UNIT", help="Unit of --voxel-size values given without one: um or mm.", show_default=False)]
LevelOpt = Annotated[Optional[int], typer.Option("--level", min=0, metavar="N", help="OME-Zarr pyramid level to read (0 finest; default: the coarsest level still as fine as the target, the finest for labels).", show_default=False)]
SpaceUnitOpt = Annotated[Optional[str], typer.Option("--space-unit", metavar="UNIT", help="Length unit of a NRRD header's directions and origin when it states none or a wrong one (Allen CCF: um).", show_default=False)]
OutputFormatOpt = Annotated[Optional[OutputFormatChoice], typer.Option("--format", help="tiff-slices: write OUT as a folder of 2D TIFF slices (default: the format follows OUT's extension: .nii.gz, .ome.zarr, .tif).", case_sensitive=False, show_default=False)]
ZarrFormatOpt = Annotated[int, typer.Option("--zarr-format", min=2, max=3, metavar="2|3", help="OME-Zarr outputs: Zarr v2 with NGFF 0.4, or Zarr v3 with NGFF 0.5.")]
