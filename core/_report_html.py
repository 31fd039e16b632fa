"""The HTML page of :func:`.report.write_report`: one self-contained file.

Inline CSS, images as ``data:`` URIs, no script; every text that comes from
the files or the report (paths, reasons, ids) goes through :func:`html.escape`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._report_types import voxel_axis

if TYPE_CHECKING:
    from ._report_types import SlicePlane


def _escape(x: object) -> str:
    return html.escape(str(x), quote=True)


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1280px;
color:#1a1a1a;background:#fff;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
code{font:12px ui-monospace,monospace;background:#f3f3f3;padding:1px 4px;border-radius:3px}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}
th,td{padding:3px 10px;text-align:right;border-bottom:1px solid #eee;font-variant-numeric:tabular-nums}
th:first-child,td:first-child{text-align:left}th{background:#f6f6f6}
td.diff{color:#b35806;font-weight:600}img{max-width:100%;height:auto;display:block;margin:6px 0}
.pass,.fail{padding:8px 12px;border-radius:4px;font-weight:600;margin:10px 0}
.pass{background:#e8f1fa;border-left:6px solid #0072B2}
.fail{background:#fbeee6;border-left:6px solid #D55E00}
.ids{font:12px ui-monospace,monospace}.note{color:#555;font-size:12px}
"""


def _num(x: object, digits: int = 6) -> str:
    if x is None:
        return "—"
    if isinstance(x, (bool, np.bool_)):
        return str(x)
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        v = float(x)
        return "0" if abs(v) < 5e-12 else f"{v:.{digits}g}"
    return str(x)


def _vec(v: Sequence[float], digits: int = 6) -> str:
    return ", ".join(_num(float(x), digits) for x in v)


def _table(head: Sequence[str], rows: Sequence[Sequence[object]], *, flag_diff: bool = False) -> str:
    out = ["<table><tr>" + "".join(f"<th>{_escape(h)}</th>" for h in head) + "</tr>"]
    for row in rows:
        cells = [str(c) for c in row]
        differs = flag_diff and len(cells) >= 3 and cells[1] != cells[2]
        out.append("<tr>" + "".join(
            f'<td{" class=diff" if differs and i else ""}>{_escape(c)}</td>' for i, c in enumerate(cells)
        ) + "</tr>")
    return "".join(out) + "</table>"


def _verdict(report: dict[str, Any]) -> str:
    checks = report.get("checks") or {}
    conditions = checks.get("fail_on") or []
    if not conditions:
        return ""
    failed = checks.get("failed") or []
    if not failed:
        return f'<div class="pass">checks passed: none of {_escape(", ".join(conditions))} holds</div>'
    items = "".join(f"<li>{_escape(r)}</li>" for r in failed)
    return f'<div class="fail">checks failed ({len(failed)} of {len(conditions)})<ul>{items}</ul></div>'


def _grid_rows(report: dict[str, Any]) -> list[list[str]]:
    a, b = report["a"], report["b"]
    rows = [["path", a["path"], b["path"]], ["format", a["format"], b["format"]]]
    for key, name in (("shape", "shape"), ("spacing", "spacing mm"), ("origin", "origin mm"),
                      ("fov_mm", "FOV mm"), ("fov_center", "FOV centre mm")):
        fmt = (lambda v: " × ".join(str(x) for x in v)) if key == "shape" else _vec
        rows.append([name, fmt(a[key]), fmt(b[key])])
    axes = [g["axcodes"] + (f" ({g['obliquity_deg']:.3g}° oblique)" if g["obliquity_deg"] > 1e-3 else "")
            for g in (a, b)]
    rows.append(["axes", *axes])
    rows.append(["dtype", *(g["dtype"] + (f" ×{_num(g['slope'])}+{_num(g['inter'])}" if g["scaled"] else "")
                            for g in (a, b))])
    rows.append(["volumes", str(a["volumes"]), str(b["volumes"])])
    return rows


def _stats_rows(report: dict[str, Any]) -> list[list[str]]:
    sa, sb = report["stats"]["a"], report["stats"]["b"]
    pairs: list[tuple[str, Any, Any]] = [(k, sa[k], sb[k]) for k in ("min", "max", "mean", "std")]
    pairs += [(f"p{q}", sa["percentiles"][q], sb["percentiles"].get(q)) for q in sa["percentiles"]]
    pairs += [("mean ≠ 0", sa["nonzero_mean"], sb["nonzero_mean"]),
              ("voxels ≠ 0", sa["nonzero_voxels"], sb["nonzero_voxels"]),
              ("NaN/inf voxels", sa["nonfinite_voxels"], sb["nonfinite_voxels"])]
    return [[n, _num(x), _num(y), "—" if x is None or y is None else _num(y - x, 4)] for n, x, y in pairs]


def _fov_section(report: dict[str, Any]) -> str:
    fov = report["fov"]
    if fov["same_grid"]:
        return "<p><b>same grid</b>: identical shape and affine</p>"
    text = (f"<p>FOV centre shift (b − a): <b>{_num(fov['center_shift'], 4)} mm</b> = "
            f"({_vec(fov['center_shift_mm'], 4)}) mm, ({_vec(fov['center_shift_vox'], 4)}) voxels of a")
    if not fov["same_direction"]:
        text += f"; grids rotated by {_num(fov['rotation_deg'], 3)}°"
    codes = report["a"].get("axcodes")
    rows = [[voxel_axis(e["axis"], codes), _num(e["low_mm"], 4), _num(e["high_mm"], 4), _num(e["low_vox"], 4),
             _num(e["high_vox"], 4)] for e in fov["edges"]]
    return text + "</p>" + _table(["a axis", "low edge mm", "high edge mm", "low vox", "high vox"], rows)


def _label_section(lab: dict[str, Any], uri: str | None) -> str:
    if "skipped" in lab:
        return f"<h2>Labels</h2><p>not compared ({_escape(lab['skipped'])})</p>"
    worst = lab["dice_worst"]
    parts = ["<h2>Labels</h2>",
             f"<p>{lab['a_labels']} labels in a, {lab['b_labels']} in b · Dice mean "
             f"{_num(lab['dice_mean'], 4)}"
             + (f" · worst {_num(worst['dice'], 4)} (label {worst['label']})" if worst else "") + "</p>"]
    for name, key in (("lost (in a, not in b)", "lost"), ("new (in b, not in a)", "new")):
        ids = ", ".join(str(i) for i in lab[key]) or "none"
        parts.append(f'<p>{name}: <span class="ids" id="{key}-labels">{_escape(ids)}</span></p>')
    if uri:
        parts.append(f'<img src="{uri}" alt="Dice and volume change per label">')
    rows = sorted(lab["per_label"], key=lambda r: (2.0 if r["dice"] is None else r["dice"], r["label"]))
    body = [[str(r["label"]), str(r["a_voxels"]), str(r["b_voxels"]), _num(r["a_mm3"]), _num(r["b_mm3"]),
             "—" if r["volume_change"] is None else f"{100 * r['volume_change']:+.2f}%",
             _num(r["dice"], 4)] for r in rows]
    parts.append(_table(["label", "a voxels", "b voxels", "a mm³", "b mm³", "volume Δ", "Dice"], body))
    return "".join(parts)


def render_html(report: dict[str, Any], uris: dict[str, str], planes: list[SlicePlane]) -> str:
    a, b = report["a"], report["b"]
    where = ", ".join(f"{p.view} {'ijk'[p.axis]} = {p.index}" for p in planes)
    cross = _vec(planes[0].center_mm, 5)
    lab = report.get("labels")
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>niresample compare: {_escape(Path(b['path']).name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>What changed from a to b</h1><p><b>a</b> <code>{_escape(a['path'])}</code><br>"
        f"<b>b</b> <code>{_escape(b['path'])}</code></p>",
        _verdict(report),
        "<h2>Slices</h2>",
        f'<p class="note">Voxel planes of a ({_escape(where)}) crossing at ({cross}) mm; b is sampled at '
        "the same voxel centres of a. Neurological convention: the patient's left is on the left; "
        "sagittal views have anterior on the left.</p>",
        f'<img src="{uris["slices"]}" alt="a and b in three orthogonal planes">',
        "<h2>Field of view</h2>",
        f'<img src="{uris["fov"]}" alt="the FOV boxes of a and b">',
        _fov_section(report),
        "<h2>Grids</h2>", _table(["", "a", "b"], _grid_rows(report), flag_diff=True),
        "<h2>Values</h2>", _table(["", "a", "b", "b − a"], _stats_rows(report)),
    ]
    if lab:
        parts.append(_label_section(lab, uris.get("labels")))
    parts.append('<p class="note">made by niresample; self-contained: no script, nothing fetched.</p>'
                 "</body></html>\n")
    return "\n".join(parts)
