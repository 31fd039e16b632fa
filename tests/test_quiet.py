"""``-q``: no progress and no result lines, but warnings and errors still reach stderr."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
from typer.testing import CliRunner

from niresample_cli.app import app

runner = CliRunner()


def _edges(path: Path) -> Path:
    data = np.zeros((12, 12, 12), dtype=np.uint8)
    data[4:8, 4:8, 4:8] = 255  # cubic splines overshoot both ends of uint8 at these edges
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(path))
    return path


def test_quiet_keeps_warnings_only(tmp_path: Path) -> None:
    src = _edges(tmp_path / "a.nii")
    loud = runner.invoke(app, ["spacing", str(src), str(tmp_path / "b.nii"), "--iso", "0.4", "--order", "3"])
    assert loud.exit_code == 0, loud.output
    assert "->" in loud.output and "clipped" in loud.output
    quiet = runner.invoke(app, ["spacing", str(src), str(tmp_path / "c.nii"), "--iso", "0.4",
                                "--order", "3", "-q"])
    assert quiet.exit_code == 0, quiet.output
    lines = [ln for ln in quiet.output.splitlines() if ln.strip()]
    assert lines and all(ln.startswith("niresample: warning:") for ln in lines), quiet.output
    assert "clipped" in quiet.output


def test_quiet_without_warnings_prints_nothing(tmp_path: Path) -> None:
    src = tmp_path / "a.nii"
    data = np.random.default_rng(0).normal(size=(12, 12, 12)).astype(np.float32)
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(src))
    r = runner.invoke(app, ["spacing", str(src), str(tmp_path / "b.nii"), "--iso", "2", "-q"])
    assert r.exit_code == 0, r.output
    assert r.output.strip() == ""


def test_help_says_what_quiet_keeps() -> None:
    r = runner.invoke(app, ["spacing", "--help"])
    assert "warnings and errors" in " ".join(r.output.split())
