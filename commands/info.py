"""`niresample info`: what is in these files (header only unless --stats)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from niresample_cli.console import (
    error_line,
    fmt_num,
    fmt_pos,
    fmt_shape,
    fmt_size,
    fmt_vec,
    json_line,
    out,
    print_json,
    state,
    warn_line,
)
from niresample_cli.options import (
    InfoJsonOpt,
    JsonlOpt,
    LevelOpt,
    OrientationOpt,
    SpaceUnitOpt,
    VoxelSizeOpt,
    VoxelUnitOpt,
)

__all__ = ["run", "render_facts"]


def _codes(f: dict[str, Any]) -> str:
    codes = f"{f.get('qform_code', '-')}/{f.get('sform_code', '-')}"
    shift = f.get("qform_sform_shift_mm")
    if shift is not None and not shift <= 1e-3:  # core's threshold; NaN counts as a disagreement
        codes += " [yellow]≠[/]"
    return codes


def _dtype(f: dict[str, Any]) -> str:
    slope, inter = f.get("scl_slope", 1.0), f.get("scl_inter", 0.0)
    if slope != 1.0 or inter:
        return f"{f['dtype']} ×{fmt_num(slope)}+{fmt_num(inter)}"
    return str(f["dtype"])


def _axes(f: dict[str, Any]) -> str:
    obl = f["obliquity_deg"]
    return f["axcodes"] + (f" {obl:.1f}°" if obl > 1e-3 else "")


_TIME_UNITS = {"sec": "s", "msec": "ms", "usec": "µs"}


def _tr(f: dict[str, Any]) -> str:
    if f["tr"] is None:
        return ""
    unit = _TIME_UNITS.get(str(f.get("units", {}).get("time", "")), "")
    return f"{fmt_num(f['tr'])} {unit}".strip()


def _range(s: dict[str, Any]) -> str:
    return "—" if s["min"] is None else f"{fmt_num(s['min'], 6)}..{fmt_num(s['max'], 6)}"


def _fields(f: dict[str, Any], stats: bool) -> list[tuple[str, str, str]]:
    """(column title, label in a block, value) for one file."""
    rows = [
        ("shape", "", fmt_shape(f["shape"])),
        ("dtype", "", _dtype(f)),
        ("spacing mm", "", fmt_vec(f["spacing"]) + " mm"),
        ("axes", "", _axes(f)),
        ("q/s", "q/s", _codes(f)),
        ("FOV mm", "FOV", fmt_vec(f["fov_mm"], 5) + " mm"),
        ("origin mm", "origin", fmt_pos(f["origin"], f["spacing"]) + " mm"),
        ("TR", "TR", _tr(f)),
        ("disk", "disk", fmt_size(f["disk_bytes"])),
        ("memory", "memory", fmt_size(f["memory_bytes"])),
    ]
    if stats:
        s = f["stats"]
        rows.append(("range", "range", _range(s)))
        rows.append(("mean", "mean", fmt_num(s["mean"], 5)))
        if s.get("labels_nonzero") is not None:
            rows.append(("labels", "labels", str(s["labels_nonzero"])))
    return rows


def _table(files: list[dict[str, Any]], stats: bool) -> Any:
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False, padding=(0, 1))
    titles = [t for t, _, _ in _fields(files[0], stats)]
    if stats and any(f["stats"].get("labels_nonzero") is not None for f in files) and "labels" not in titles:
        titles.append("labels")
    table.add_column("file", no_wrap=True)
    for t in titles:
        table.add_column(t, no_wrap=True, justify="right" if t in ("disk", "memory", "TR", "mean", "labels")
                         else "left")
    for f in files:
        values = {t: v for t, _, v in _fields(f, stats)}
        # Spacing and FOV carry their unit in the column title here.
        values["spacing mm"] = fmt_vec(f["spacing"])
        values["FOV mm"] = fmt_vec(f["fov_mm"], 5)
        values["origin mm"] = fmt_pos(f["origin"], f["spacing"])
        table.add_row(escape(Path(f["path"]).name), *(values.get(t, "") for t in titles))
    return table


def _block(f: dict[str, Any], stats: bool, width: int) -> str:
    """One file as a heading and `label value` pairs packed into the width."""
    parts = []
    for _, label, value in _fields(f, stats):
        if value:
            parts.append(f"[dim]{label}[/] {value}" if label else value)
    lines: list[str] = []
    line, used = "", 2
    for p in parts:
        plain = Text.from_markup(p).cell_len
        if line and used + 3 + plain > width:
            lines.append(line)
            line, used = "", 2
        line += ("  " if line else "") + p
        used += (2 if used > 2 else 0) + plain
    if line:
        lines.append(line)
    return f"[bold]{escape(Path(f['path']).name)}[/]\n" + "\n".join("  " + ln for ln in lines)


def render_facts(files: list[dict[str, Any]], *, stats: bool, console: Console | None = None) -> None:
    """Print :func:`~niresample_cli.core.info.describe_image` results.

    A table when it fits the terminal, else one compact block per file.
    """
    console = console or out
    if not files:
        return
    table = _table(files, stats)
    natural = console.measure(table, options=console.options.update_width(1 << 16)).maximum
    if natural <= console.width:
        console.print(table)
        return
    for i, f in enumerate(files):
        if i:
            console.print()
        console.print(_block(f, stats, console.width), soft_wrap=False, overflow="fold")


def run(
    files: Annotated[list[Path], typer.Argument(help="Images to describe (a folder: the images inside).", show_default=False)],
    json_out: InfoJsonOpt = False,
    jsonl: JsonlOpt = False,
    stats: Annotated[bool, typer.Option("--stats", help="Also read the voxels: value range, mean, label count.")] = False,
    orientation: OrientationOpt = None,
    voxel_size: VoxelSizeOpt = None,
    voxel_unit: VoxelUnitOpt = None,
    level: LevelOpt = None,
    space_unit: SpaceUnitOpt = None,
) -> None:
    """Describe images: shape, dtype, spacing, orientation, codes, FOV, TR, sizes.

    Reads headers only (instant on a 50 GB file) unless --stats. One table
    row per file when it fits the terminal, else one block per file. Notes
    say what was assumed or overridden (TIFF orientation, NRRD space, level).

    Examples:

      niresample info brain.nii.gz

      niresample info --json --stats atlas.nii.gz | jq .stats.labels_nonzero

      niresample info --jsonl *.nii.gz | jq -c '{path, shape}'

      niresample info annotation_10.nrrd --orientation PIR --space-unit um

      niresample info slices/ --voxel-size 1.8 1.8 4um
    """
    from niresample_cli.commands._output import input_from
    from niresample_cli.core.errors import NiresampleError
    from niresample_cli.core.info import describe_image
    from niresample_cli.errors import cli_message
    from niresample_cli.places import expand_inputs

    options = input_from(orientation=orientation, voxel_size=voxel_size, voxel_unit=voxel_unit,
                         level=level, space_unit=space_unit)
    failed = 0
    shown: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    notes: list[str] = []
    for path in expand_inputs(files):
        try:
            facts = describe_image(path, stats=stats, options=options)
        except NiresampleError as err:
            if state.debug:
                raise
            failed += 1
            error_line(cli_message(err, "info"))
            continue
        if jsonl:  # one line per file as it is read
            print(json_line(facts), flush=True)
            continue
        if json_out:
            records.append(facts)
            continue
        shown.append(facts)
        notes += [f"{Path(facts['path']).name}: {w}" for w in facts["warnings"]]  # plain text
    if json_out and not jsonl:
        # one document: the object for one file named, an array for several
        if records or len(files) > 1:
            print_json(records, array=len(files) > 1)
    elif not jsonl:
        render_facts(shown, stats=stats)
        for f in shown:
            for note in f.get("notes", []):
                out.print(f"[dim]{escape(Path(f['path']).name)}: note:[/] {escape(note)}", soft_wrap=True)
    for note in notes:
        warn_line(note)
    if failed:
        raise typer.Exit(1)
