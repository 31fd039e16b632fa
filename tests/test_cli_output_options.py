"""Output options reach the writers from every command: Zarr pyramid and chunks,
--max-output, --force, --threads; Zarr-only options on NIfTI outputs are refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from niresample_cli.app import app
from niresample_cli.core.io import open_image

from conftest import write_nifti

runner = CliRunner()


@pytest.fixture
def labels_in(tmp_path: Path) -> Path:
    data = np.zeros((12, 10, 8), np.uint32)
    data[2:8, 3:7, 1:6] = 614_454_277
    data[6:11, 1:5, 4:8] = 7
    return write_nifti(tmp_path / "lab.nii.gz", data, np.diag([2.0, 2.0, 2.0, 1.0]))


@pytest.mark.parametrize("command", [["labels", "-r", "1"], ["spacing", "--iso", "1", "--order", "0"],
                                     ["size", "--shape", "24", "20", "16", "--order", "0"]])
def test_zarr_pyramid_and_chunks_from_every_command(tmp_path: Path, labels_in: Path, command: list[str]) -> None:
    out = tmp_path / "o.ome.zarr"
    r = runner.invoke(app, [command[0], str(labels_in), str(out), *command[1:], "--pyramid", "1",
                            "--chunks", "8", "--threads", "1", "-q"])
    assert r.exit_code == 0, r.output
    attrs = json.loads((out / ".zattrs").read_text())
    assert len(attrs["multiscales"][0]["datasets"]) == 2
    assert json.loads((out / "0" / ".zarray").read_text())["chunks"][-1] == 8
    with open_image(out) as img, open_image(labels_in) as src:
        assert img.grid.shape == (24, 20, 16)
        assert set(np.unique(img.read_volume()).tolist()) <= set(np.unique(src.read_volume()).tolist())


@pytest.mark.parametrize("flag", [["--pyramid", "2"], ["--chunks", "64"], ["--resume"],
                                  ["--scheduler", "tcp://127.0.0.1:1"]])
def test_zarr_only_options_are_refused_for_nifti(tmp_path: Path, labels_in: Path, flag: list[str]) -> None:
    out = tmp_path / "o.nii.gz"
    r = runner.invoke(app, ["labels", str(labels_in), str(out), "-r", "1", *flag])
    assert r.exit_code == 2
    assert "zarr" in r.stderr and "Traceback" not in r.output
    assert not out.exists()


@pytest.mark.parametrize("command", [["labels", "-r", "0.5"], ["spacing", "--iso", "0.5"]])
def test_max_output_is_checked_before_any_work(tmp_path: Path, labels_in: Path, command: list[str]) -> None:
    out = tmp_path / "o.nii"
    r = runner.invoke(app, [command[0], str(labels_in), str(out), *command[1:], "--max-output", "10K"])
    assert r.exit_code == 2 and "--max-output" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lab.nii.gz"]
