"""`niresample compare A B`: what changed between two images (grid, values, labels)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from niresample_cli.console import fmt_num, fmt_pos, fmt_shape, fmt_vec, is_narrow, out
from niresample_cli.options import (
    CompareReportOpt,
    LevelOpt,
    MaxMemoryOpt,
    OrientationOpt,
    PngOpt,
    QuietOpt,
    ReportJsonOpt,
    SpaceUnitOpt,
    VoxelSizeOpt,
    VoxelUnitOpt,
)

__all__ = ["run", "print_report", "EXIT_CHECK_FAILED"]

#: Exit status when a ``--fail-on`` condition is met (errors are 1, usage errors 2).
EXIT_CHECK_FAILED = 3

_SHOWN_LABELS = 15


def _fail_on_names() -> list[str]:
    """What the shells complete after --fail-on (a Dice threshold needs its number)."""
    return ["lost-labels", "new-labels", "fov-shift"]


def _fail_on_conditions(values: list[str] | None) -> list[str]:
    """--fail-on checked at the door: a bad condition is a usage error (exit 2)."""
    from niresample_cli.core.compare import parse_fail_on
    from niresample_cli.core.errors import OptionError

    try:
        return parse_fail_on(values or [])
    except OptionError as err:
        raise typer.BadParameter(str(err).removeprefix("fail_on: ")) from None


def run(
    a: Annotated[Path, typer.Argument(help="Reference image (e.g. the input).", show_default=False)],
    b: Annotated[Path, typer.Argument(help="Image to compare with it (e.g. the output).", show_default=False)],
    json_out: ReportJsonOpt = False,
    fail_on: Annotated[Optional[list[str]], typer.Option(
        "--fail-on", metavar="CHECK", help=f"Exit with status {EXIT_CHECK_FAILED} when this holds "
        "(repeatable): lost-labels, new-labels, fov-shift, dice<X (mean Dice below X), "
        "worst-dice<X (some label's Dice below X).", show_default=False,
        callback=_fail_on_conditions, autocompletion=_fail_on_names)] = None,
    fov_tolerance: Annotated[float, typer.Option(
        "--fov-tolerance", metavar="MM", min=0.0,
        help="FOV centre shift allowed by --fail-on fov-shift (edges may also move half a voxel of B).")] = 0.01,
    labels: Annotated[Optional[bool], typer.Option(
        "--labels/--no-labels", help="Compare label sets and Dice (default: when both images hold integers).",
        show_default=False)] = None,
    all_labels: Annotated[bool, typer.Option(
        "--all-labels", help=f"List every label, not only the {_SHOWN_LABELS} with the lowest Dice.")] = False,
    max_memory: MaxMemoryOpt = None,
    quiet: QuietOpt = False,
    report_html: CompareReportOpt = None,
    png: PngOpt = None,
    fill: Annotated[Optional[float], typer.Option(
        "--fill", metavar="VALUE", help="B's value outside A's field of view (labels --fill): "
        "not counted as a new label when A lacks it. 0 (background) never is.",
        show_default=False)] = None,
    orientation: OrientationOpt = None,
    voxel_size: VoxelSizeOpt = None,
    voxel_unit: VoxelUnitOpt = None,
    level: LevelOpt = None,
    space_unit: SpaceUnitOpt = None,
) -> None:
    """Compare B with A: grids and FOV shift, value statistics, labels and Dice.

    Streams both files (never loads either whole). Exit status: 0, or 3 when a
    --fail-on condition holds; 1 on errors, 2 on usage errors. --orientation,
    --voxel-size, --level and --space-unit say how A is read (NRRD, TIFF, OME-Zarr).

    Examples:

      niresample compare atlas.nii.gz atlas_0.5mm.nii.gz

      niresample compare in.nii.gz out.nii.gz --fail-on lost-labels

      niresample compare in.nii.gz out.nii.gz --json | jq .labels.dice_mean

      niresample compare atlas.nii.gz atlas_2mm.nii.gz --fail-on 'dice<0.9'

      niresample compare in.nii.gz out.nii.gz --report r.html --png s.png
    """
    from niresample_cli.commands._output import input_from
    from niresample_cli.console import err, make_progress, progress_callback
    from niresample_cli.core.compare import compare_images, failed_checks

    if report_html is not None or png is not None:  # before any work
        from niresample_cli.core.report import require_matplotlib

        require_matplotlib(param="report" if report_html is not None else "png")
    conditions = list(fail_on or [])
    options = input_from(orientation=orientation, voxel_size=voxel_size, voxel_unit=voxel_unit,
                         level=level, space_unit=space_unit)
    with make_progress(quiet=quiet or json_out) as progress:
        report = compare_images(a, b, labels=labels, max_memory=max_memory,
                                progress=progress_callback(progress, "comparing"), fill=fill,
                                options=options)
    failed = failed_checks(report, fail_on=conditions, fov_tolerance=fov_tolerance)
    report["checks"] = {"fail_on": conditions, "fov_tolerance_mm": fov_tolerance, "failed": failed}
    if json_out:
        print(json.dumps(_strict_json(report), allow_nan=False), flush=True)
    elif not quiet:
        print_report(report, all_labels=all_labels)
    _pictures(a, b, report, report_html=report_html, png=png, labels=labels, max_memory=max_memory,
              quiet=quiet)
    for reason in failed:
        err.print(f"[bold red]niresample: check failed:[/] {escape(reason)}", soft_wrap=True)
    if failed:
        raise typer.Exit(EXIT_CHECK_FAILED)


def _pictures(a: Path, b: Path, report: dict[str, Any], *, report_html: Path | None, png: Path | None,
              labels: bool | None, max_memory: str | None, quiet: bool) -> None:
    """``--report`` and ``--png`` from compare's own report (its label decision, lost/new labels)."""
    from niresample_cli.console import err

    if report_html is None and png is None:
        return
    from niresample_cli.core.report import write_png, write_report

    if report_html is not None:
        write_report(a, b, report_html, report=report, labels=labels, max_memory=max_memory)
    if png is not None:
        write_png(a, b, png, report=report, labels=labels, max_memory=max_memory)
    if not quiet:
        for path in (p for p in (report_html, png) if p is not None):
            err.print(f"wrote {path}", soft_wrap=True, highlight=False, markup=False)


def _strict_json(x: Any) -> Any:
    """``x`` with NaN and ±inf floats as None: JSON has no tokens for them."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _strict_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_strict_json(v) for v in x]
    return x


# --------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------
def print_report(report: dict[str, Any], *, console: Console | None = None,
                 all_labels: bool = False) -> None:
    """Print a :func:`~niresample_cli.core.compare.compare_images` report as rich tables.

    Fits 80 columns; wider terminals get extra columns.
    """
    console = console or out
    a, b = report["a"], report["b"]
    console.print(f"[bold]a[/] {escape(a['path'])}\n[bold]b[/] {escape(b['path'])}", soft_wrap=True)
    console.print(_grid_table(report, console))
    console.print()
    console.print(_fov_lines(report))
    if not report["fov"]["same_grid"]:
        console.print(_edge_table(report))
    console.print()
    console.print(_stats_table(report))
    lab = report.get("labels")
    if lab:
        console.print()
        for renderable in _label_section(report, lab, console, all_labels=all_labels):
            console.print(renderable)


def _table(title: str, *columns: str) -> Any:
    from rich.table import Table

    t = Table(title=title, title_justify="left", title_style="bold", box=None,
              header_style="bold", pad_edge=False, padding=(0, 1))
    t.add_column(columns[0], no_wrap=True)
    for col in columns[1:]:
        t.add_column(col, justify="right", overflow="fold")
    return t


def _same(x: str, y: str) -> str:
    return "" if x == y else "[yellow]≠[/]"


def _grid_table(report: dict[str, Any], console: Console) -> Any:
    a, b = report["a"], report["b"]
    t = _table("grid", "", "a", "b", "")
    rows = [
        ("shape", fmt_shape(a["shape"]), fmt_shape(b["shape"])),
        ("spacing mm", fmt_vec(a["spacing"]), fmt_vec(b["spacing"])),
        ("origin mm", fmt_pos(a["origin"], a["spacing"]), fmt_pos(b["origin"], b["spacing"])),
        ("axes", _axes(a), _axes(b)),
        ("FOV mm", fmt_vec(a["fov_mm"], 5), fmt_vec(b["fov_mm"], 5)),
        ("FOV centre mm", fmt_pos(a["fov_center"], a["spacing"]), fmt_pos(b["fov_center"], b["spacing"])),
        ("dtype", _dtype(a), _dtype(b)),
        ("volumes", str(a["volumes"]), str(b["volumes"])),
    ]
    if not is_narrow(console):
        rows.insert(4, ("direction", _direction(a["direction"]), _direction(b["direction"])))
    for name, x, y in rows:
        t.add_row(name, x, y, _same(x, y))
    return t


def _axes(g: dict[str, Any]) -> str:
    obl = g["obliquity_deg"]
    return g["axcodes"] + (f" {obl:.1f}° oblique" if obl > 1e-3 else "")


def _dtype(g: dict[str, Any]) -> str:
    return g["dtype"] + (f" ×{fmt_num(g['slope'])}+{fmt_num(g['inter'])}" if g["scaled"] else "")


def _direction(d: list[list[float]]) -> str:
    return " ".join("[" + ",".join(fmt_num(round(v, 3) + 0.0, 3) for v in row) + "]" for row in d)


def _small(x: float) -> str:
    """Shifts below 0.05 µm (or 5e-5 voxel) are float32 header noise: show 0."""
    return "0" if abs(x) < 5e-5 else fmt_num(x, 4)


def _fov_lines(report: dict[str, Any]) -> str:
    fov = report["fov"]
    if fov["same_grid"]:
        return "[green]same grid[/]: identical shape and affine"
    vox = ", ".join(_small(v) for v in fov["center_shift_vox"])
    text = f"FOV centre shift (b − a): [bold]{_small(fov['center_shift'])} mm[/] ({vox} voxels of a)"
    if not fov["same_direction"]:
        text += f"; grids rotated by {fov['rotation_deg']:.3g}°"
    return text


def _edge_table(report: dict[str, Any]) -> Any:
    fov = report["fov"]
    t = _table("outer edges, b − a", "a axis", "low mm", "high mm", "low vox",
               "high vox")
    for e in fov["edges"]:
        t.add_row("ijk"[e["axis"]], _small(e["low_mm"]), _small(e["high_mm"]),
                  _small(e["low_vox"]), _small(e["high_vox"]))
    return t


def _stats_table(report: dict[str, Any]) -> Any:
    sa, sb = report["stats"]["a"], report["stats"]["b"]
    t = _table("values", "", "a", "b", "b − a")
    rows: list[tuple[str, Any, Any]] = [
        ("min", sa["min"], sb["min"]), ("max", sa["max"], sb["max"]),
        ("mean", sa["mean"], sb["mean"]), ("std", sa["std"], sb["std"]),
    ]
    for q in sa["percentiles"]:
        rows.append((f"p{q}", sa["percentiles"][q], sb["percentiles"].get(q)))
    rows.append(("mean ≠ 0", sa["nonzero_mean"], sb["nonzero_mean"]))
    rows.append(_nonzero_row(report))
    width = (sa.get("percentile_bin_width") or 0) + (sb.get("percentile_bin_width") or 0)
    for name, x, y in rows:
        diff = None if x is None or y is None else y - x
        if name.startswith("p") and diff is not None and width and abs(diff) <= width:
            diff_text = ""  # within the histogram's precision: not a difference
        else:
            diff_text = fmt_num(diff, 4)
        t.add_row(name, fmt_num(x, 6), fmt_num(y, 6), diff_text)
    width = max(sa.get("percentile_bin_width") or 0, sb.get("percentile_bin_width") or 0)
    if width:
        t.caption = f"percentiles within {fmt_num(width, 3)} (streamed histogram)"
        t.caption_justify = "left"
    for s, name in ((sa, "a"), (sb, "b")):
        if s["nonfinite_voxels"]:
            t.add_row(f"NaN/inf in {name}", "", "", str(s["nonfinite_voxels"]))
    return t


def _nonzero_row(report: dict[str, Any]) -> tuple[str, Any, Any]:
    """Nonzero voxel counts, or their volumes (mm³) when the voxel sizes differ:
    counts of voxels of different sizes are not comparable."""
    sa, sb = report["stats"]["a"], report["stats"]["b"]
    va, vb = report["a"]["voxel_volume_mm3"], report["b"]["voxel_volume_mm3"]
    if math.isclose(va, vb, rel_tol=1e-6):
        return ("voxels ≠ 0", sa["nonzero_voxels"], sb["nonzero_voxels"])
    return ("mm³ ≠ 0", sa["nonzero_voxels"] * va, sb["nonzero_voxels"] * vb)


def _label_section(report: dict[str, Any], lab: dict[str, Any], console: Console, *,
                   all_labels: bool) -> list[Any]:
    if "skipped" in lab:
        return [f"[bold]labels[/]: not compared ({escape(lab['skipped'])})"]
    parts: list[Any] = []
    worst = lab["dice_worst"]
    summary = (f"[bold]labels[/]: {lab['a_labels']} in a, {lab['b_labels']} in b · "
               f"Dice mean {fmt_num(lab['dice_mean'], 4)}")
    if worst:
        summary += f" · worst {fmt_num(worst['dice'], 4)} (label {worst['label']})"
    parts.append(summary)
    parts.append(f"  lost: {_id_list(lab['lost'], 'red')}")
    parts.append(f"  new:  {_id_list(lab['new'], 'red')}")
    if report["a"]["volumes"] > 1 or report["b"]["volumes"] > 1:
        parts.append(f"  Dice over {lab['dice_volumes']} volume pair(s)")
    rows = sorted(lab["per_label"], key=lambda r: (2.0 if r["dice"] is None else r["dice"], r["label"]))
    shown = rows if all_labels else rows[:_SHOWN_LABELS]
    wide = not is_narrow(console)
    title = "per label" + ("" if all_labels or len(rows) <= len(shown) else
                           f" (lowest Dice first, {len(shown)} of {len(rows)})")
    cols = ["label", "a voxels", "b voxels"] + (["a mm³", "b mm³"] if wide else []) + ["volume Δ", "Dice"]
    t = _table(title, *cols)
    for r in shown:
        change = r["volume_change"]
        cells = [str(r["label"]), str(r["a_voxels"]), str(r["b_voxels"])]
        if wide:
            cells += [fmt_num(r["a_mm3"], 6), fmt_num(r["b_mm3"], 6)]
        cells += ["—" if change is None else f"{100 * change:+.2f}%", fmt_num(r["dice"], 4)]
        t.add_row(*cells)
    parts.append(t)
    return parts


def _id_list(ids: list[int], style: str, most: int = 20) -> str:
    if not ids:
        return "none"
    text = ", ".join(str(i) for i in ids[:most])
    if len(ids) > most:
        text += f" … ({len(ids)} in all)"
    return f"[{style}]{text}[/]"
