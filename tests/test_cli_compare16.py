"""Issue 16 item 11: ``compare --labels`` on float-stored label maps, ``--fail-on dice<X``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from niresample_cli.app import app

from conftest import write_nifti

runner = CliRunner(env={"COLUMNS": "80", "TERM": "dumb"})


def _labels() -> np.ndarray:
    data = np.zeros((10, 10, 10), np.int16)
    data[2:6, 2:8, 2:8] = 3
    data[6:9, 2:8, 2:8] = 7
    return data


def _dice(a: np.ndarray, b: np.ndarray, label: int) -> float:
    return 2.0 * np.sum((a == label) & (b == label)) / (np.sum(a == label) + np.sum(b == label))


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    a = _labels()
    b = np.roll(a, 1, axis=0)  # label 3 overlaps less than 7 does
    return (write_nifti(tmp_path / "a.nii", a), write_nifti(tmp_path / "b.nii", b), a, b)


def test_compare_labels_accepts_whole_valued_floats(tmp_path: Path) -> None:
    a = write_nifti(tmp_path / "a.nii.gz", _labels())
    b = write_nifti(tmp_path / "b.nii.gz", _labels().astype(np.float32))
    r = runner.invoke(app, ["compare", str(a), str(b), "--labels", "--json"])
    assert r.exit_code == 0, r.output
    lab = json.loads(r.stdout)["labels"]
    assert lab["lost"] == [] and lab["new"] == [] and lab["dice_mean"] == 1.0
    assert [row["label"] for row in lab["per_label"]] == [3, 7]


def test_compare_labels_refuses_non_whole_floats(tmp_path: Path) -> None:
    a = write_nifti(tmp_path / "a.nii", _labels())
    b = write_nifti(tmp_path / "b.nii", _labels().astype(np.float32) + 0.25)
    r = runner.invoke(app, ["compare", str(a), str(b), "--labels"])
    assert r.exit_code == 1
    assert "--labels" in r.stderr and "whole" in r.stderr


def test_fail_on_dice_mean_and_worst(pair: tuple[Path, Path, np.ndarray, np.ndarray]) -> None:
    pa, pb, a, b = pair
    d3, d7 = _dice(a, b, 3), _dice(a, b, 7)
    mean, worst = (d3 + d7) / 2, min(d3, d7)
    below_mean = f"dice<{mean + 0.01:.3f}"
    r = runner.invoke(app, ["compare", str(pa), str(pb), "--fail-on", below_mean, "-q"])
    assert r.exit_code == 3, r.output
    assert "dice" in r.stderr and f"{mean:.4g}" in r.stderr
    r = runner.invoke(app, ["compare", str(pa), str(pb), "--fail-on", f"dice<{mean - 0.01:.3f}", "-q"])
    assert r.exit_code == 0, r.output
    # the worst label is below a threshold that the mean passes
    thr = f"{(worst + mean) / 2:.3f}"
    r = runner.invoke(app, ["compare", str(pa), str(pb), "--fail-on", f"dice<{thr}", "-q"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["compare", str(pa), str(pb), "--fail-on", f"worst-dice<{thr}", "-q"])
    assert r.exit_code == 3, r.output
    assert f"label {3 if d3 < d7 else 7}" in r.stderr


@pytest.mark.parametrize("cond", ["dice<", "dice<abc", "dice>0.9", "dice<1.5", "nope"])
def test_fail_on_bad_condition_is_refused_before_reading(
        pair: tuple[Path, Path, np.ndarray, np.ndarray], cond: str) -> None:
    pa, _, _, _ = pair
    r = runner.invoke(app, ["compare", str(pa), "missing.nii", "--fail-on", cond])
    assert r.exit_code in (1, 2)
    assert "--fail-on" in r.stderr and "missing.nii" not in r.stderr
