"""`niresample info`: what is in these files (header only unless --stats)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from niresample_cli.console import error_line, out, state, warn_line
from niresample_cli.options import JsonOpt


def _fmt_vec(v: list[float], digits: int = 4) -> str:
    return " x ".join(f"{x:.{digits}g}" for x in v)


def _fmt_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


def _row(f: dict[str, Any], stats: bool) -> list[str]:
    codes = f"{f.get('qform_code', '-')}/{f.get('sform_code', '-')}"
    if f.get("qform_sform_shift_mm"):
        codes += " [yellow]≠[/]"
    row = [
        Path(f["path"]).name,
        " x ".join(str(s) for s in f["shape"]),
        f["dtype"] + (" (scaled)" if f.get("scl_slope", 1.0) != 1.0 or f.get("scl_inter", 0.0) else ""),
        _fmt_vec(f["spacing"]),
        f["axcodes"] + (f" {f['obliquity_deg']:.1f}°" if f["obliquity_deg"] > 1e-3 else ""),
        codes,
        _fmt_vec(f["fov_mm"], 5),
        _fmt_vec(f["origin"], 5),
        "" if f["tr"] is None else f"{f['tr']:g}",
        f"{_fmt_size(f['disk_bytes'])} / {_fmt_size(f['memory_bytes'])}",
    ]
    if stats:
        s = f["stats"]
        rng = "—" if s["min"] is None else f"{s['min']:.6g} .. {s['max']:.6g}"
        row += [rng, str(s.get("label_count", ""))]
    return row


def run(
    files: Annotated[list[Path], typer.Argument(help="Images to describe.", show_default=False)],
    json_out: JsonOpt = False,
    stats: Annotated[bool, typer.Option("--stats", help="Also read the voxels: value range, mean, label count.")] = False,
) -> None:
    """Describe images: shape, dtype, spacing, orientation, codes, FOV, TR, sizes.

    Reads headers only (instant on a 50 GB file) unless --stats.

    Examples:

      niresample info brain.nii.gz

      niresample info --json --stats atlas.nii.gz | jq .stats.label_count
    """
    from rich.table import Table

    from niresample_cli.core.errors import NiresampleError
    from niresample_cli.core.info import describe_image

    table = Table(box=None, header_style="bold", pad_edge=False)
    for col in ("file", "shape", "dtype", "spacing mm", "axes", "q/s", "FOV mm", "origin mm", "TR", "disk / memory"):
        table.add_column(col, overflow="fold")
    if stats:
        table.add_column("range")
        table.add_column("labels", justify="right")
    failed = 0
    notes: list[str] = []
    for path in files:
        try:
            facts = describe_image(path, stats=stats)
        except NiresampleError as err:
            if state.debug:
                raise
            failed += 1
            error_line(str(err))
            continue
        if json_out:
            print(json.dumps(facts), flush=True)
            continue
        table.add_row(*_row(facts, stats))
        notes += [f"{Path(facts['path']).name}: {w}" for w in facts["warnings"]]
    if not json_out and table.row_count:
        out.print(table)
    for note in notes:
        warn_line(note)
    if failed:
        raise typer.Exit(1)
