"""Issue 16 item 9: exact numbers in what the CLI prints (info, per-file line, compare)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from niresample_cli.app import app

from conftest import write_nifti

runner = CliRunner(env={"COLUMNS": "200", "TERM": "dumb"})


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_info_stats_prints_integer_ranges_exactly(tmp_path: Path) -> None:
    data = np.zeros((4, 4, 4), np.uint32)
    data[1, 1, 1] = 614454277
    p = write_nifti(tmp_path / "big_ids.nii.gz", data)
    r = runner.invoke(app, ["info", "--stats", str(p)])
    assert r.exit_code == 0, r.output
    assert f"0..{int(data.max())}" in _flat(r.stdout)
    assert "e+08" not in r.stdout


def test_origin_prints_without_float_noise(tmp_path: Path) -> None:
    affine = np.diag([0.0125, 0.0125, 0.0125, 1.0])
    affine[:3, 3] = [-0.0062499, 1.0, np.float32(2.0000001)]
    p = write_nifti(tmp_path / "fine.nii", np.zeros((3, 3, 3), np.uint8), affine)
    for cols in ("200", "60"):
        r = runner.invoke(app, ["info", str(p)], env={"COLUMNS": cols})
        assert r.exit_code == 0, r.output
        flat = _flat(r.stdout)
        assert "-0.00625, 1, 2 mm" in flat or "-0.00625, 1, 2" in flat, flat
        assert "0.0062499" not in flat


def test_messages_show_no_numpy_repr(tmp_path: Path) -> None:
    p = write_nifti(tmp_path / "f.nii", np.full((4, 4, 4), 14.3, np.float32))
    r = runner.invoke(app, ["labels", str(p), str(tmp_path / "o.nii"), "--resolution", "2"])
    assert r.exit_code == 1
    assert "14.3" in r.stderr and "np." not in r.stderr


def test_clipped_message_uses_the_singular(tmp_path: Path) -> None:
    data = np.zeros((4, 4, 4), np.int16)
    data[1, 2, 3] = 200  # the one voxel outside int8
    p = write_nifti(tmp_path / "i.nii", data)
    r = runner.invoke(app, ["spacing", str(p), str(tmp_path / "o.nii"), "--iso", "1",
                            "--order", "0", "--dtype", "int8"])
    assert r.exit_code == 0, r.output
    flat = _flat(r.stderr)
    assert "1 voxel was outside" in flat and "voxels were" not in flat


def test_per_file_line_keeps_the_fourth_axis_and_uses_the_info_cross(tmp_path: Path) -> None:
    p = write_nifti(tmp_path / "f4d.nii.gz", np.ones((8, 6, 5, 2), np.float32),
                    np.diag([2.0, 2.0, 3.0, 1.0]))
    r = runner.invoke(app, ["spacing", str(p), str(tmp_path / "o.nii"), "--iso", "1"])
    assert r.exit_code == 0, r.output
    line = _flat(r.stderr)
    assert "8×6×5×2 @ 2×2×3 mm -> 16×12×15×2 @ 1×1×1 mm" in line, line
    info = runner.invoke(app, ["info", str(p)])
    assert "8×6×5×2" in info.stdout


def _stats_rows(text: str) -> dict[str, list[str]]:
    rows = {}
    for line in text.splitlines():
        m = re.match(r"\s*(p\d+|min|max|mean ≠ 0|voxels ≠ 0|mm³ ≠ 0)\s+(.*)$", line)
        if m:
            rows[m.group(1)] = m.group(2).split()
    return rows


def test_compare_percentiles_of_integer_maps_are_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    ids = np.array([0, 0, 0, 5, 1200, 70000, 614454277], np.uint32)
    data = ids[rng.integers(0, ids.size, (12, 10, 8))]
    a = write_nifti(tmp_path / "a.nii.gz", data)
    b = write_nifti(tmp_path / "b.nii.gz", data.copy())
    r = runner.invoke(app, ["compare", str(a), str(b)])
    assert r.exit_code == 0, r.output
    rows = _stats_rows(r.stdout)
    for q in (1, 5, 25, 50, 75, 95, 99):
        ref = np.percentile(data, q)  # numpy's linear percentile, the reference
        cells = rows[f"p{q}"]
        assert cells[0] == cells[1] == f"{ref:.6g}".replace("e+0", "e+") or \
            float(cells[0]) == float(cells[1]) == ref, (q, cells, ref)
        assert len(cells) == 2 or cells[2] == "0", (q, cells)  # no made-up difference


def test_compare_reports_volumes_when_voxel_sizes_differ(tmp_path: Path) -> None:
    data = np.zeros((6, 6, 6), np.int16)
    data[1:4, 1:4, 1:4] = 2
    a = write_nifti(tmp_path / "a.nii", data, np.diag([2.0, 2.0, 2.0, 1.0]))
    b_data = np.repeat(np.repeat(np.repeat(data, 2, 0), 2, 1), 2, 2)
    b = write_nifti(tmp_path / "b.nii", b_data, np.diag([1.0, 1.0, 1.0, 1.0]) @ np.eye(4))
    r = runner.invoke(app, ["compare", str(a), str(b)])
    assert r.exit_code == 0, r.output
    rows = _stats_rows(r.stdout)
    assert "voxels ≠ 0" not in rows
    va, vb = np.count_nonzero(data) * 8.0, np.count_nonzero(b_data) * 1.0
    assert [float(x) for x in rows["mm³ ≠ 0"][:2]] == [va, vb]
