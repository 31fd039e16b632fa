"""`niresample info` rendering: content at 80 and 200 columns, and --json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from niresample_cli.app import app
from niresample_cli.core.info import describe_image

from conftest import data_path, real_files, write_nifti

runner = CliRunner()


def _files(tmp_path: Path) -> list[Path]:
    aff = np.diag([0.7, 0.7, 1.25, 1.0])
    aff[:3, 3] = [-12.5, 3, 40]
    return [
        write_nifti(tmp_path / "sub-01_T1w_with_a_rather_long_name_acq-mprage.nii.gz",
                    np.zeros((146, 18, 15), np.int16), aff),
        write_nifti(tmp_path / "bold.nii", np.zeros((4, 5, 6, 7), np.float32), np.eye(4), pixdim=[1, 1, 1, 1, 2.5, 1, 1, 1]),
    ]


def _check_content(text: str, files: list[Path]) -> None:
    flat = " ".join(text.split())
    for p in files:
        assert p.name in flat
    for word in ("146×18×15", "0.7×0.7×1.25", "int16", "RAS", "4×5×6×7", "float32", "-12.5, 3, 40"):
        assert word in flat, word


def test_info_fits_80_columns(tmp_path: Path) -> None:
    files = _files(tmp_path)
    res = runner.invoke(app, ["info", *map(str, files)], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    assert max(len(line) for line in res.stdout.splitlines()) <= 80
    _check_content(res.stdout, files)
    assert "TR 2.5" in res.stdout


def test_info_one_row_per_file_at_200_columns(tmp_path: Path) -> None:
    files = _files(tmp_path)
    res = runner.invoke(app, ["info", *map(str, files)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert len(lines) == 1 + len(files)  # header + one row each
    assert "spacing mm" in lines[0] and "FOV mm" in lines[0]
    assert max(len(line) for line in lines) <= 200
    _check_content(res.stdout, files)


def test_real_files_at_80_and_200_columns() -> None:
    files = real_files()
    if not files:
        data_path("nibabel_anatomical.nii")  # skips
    for width in (80, 200):
        res = runner.invoke(app, ["info", *map(str, files)], env={"COLUMNS": str(width)})
        assert res.exit_code == 0, res.output
        assert max(len(line) for line in res.stdout.splitlines()) <= width
        flat = " ".join(res.stdout.split())
        for p in files:
            facts = describe_image(p)
            assert p.name in flat
            assert "×".join(map(str, facts["shape"])) in flat
            assert facts["dtype"] in flat
    # the scaled file shows its scaling; an oblique one its angle
    assert "×0.07541+3101" in flat
    assert "RAS 19.0°" in flat


def test_info_stats_and_json(tmp_path: Path) -> None:
    data = np.arange(60, dtype=np.uint8).reshape(3, 4, 5) % 7
    p = write_nifti(tmp_path / "lab.nii.gz", data)
    res = runner.invoke(app, ["info", "--stats", str(p)], env={"COLUMNS": "80"})
    assert res.exit_code == 0
    flat = " ".join(res.stdout.split())
    assert "0..6" in flat and "labels" in flat and "6" in flat
    res = runner.invoke(app, ["info", "--jsonl", "--stats", str(p), str(p)])
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(rows) == 2
    assert rows[0]["shape"] == [3, 4, 5] and rows[0]["stats"]["labels_nonzero"] == 6
    assert rows[0]["stats"]["max"] == 6


def test_info_bad_file_does_not_hide_the_others(tmp_path: Path) -> None:
    good = write_nifti(tmp_path / "good.nii", np.zeros((2, 3, 4), np.uint8))
    bad = tmp_path / "bad.nii"
    bad.write_bytes(b"nope")
    res = runner.invoke(app, ["info", str(bad), str(good)], env={"COLUMNS": "80"})
    assert res.exit_code == 1
    assert "good.nii" in res.stdout and "2×3×4" in res.stdout
    assert "bad.nii" in res.stderr and res.stderr.count("\n") == 1
