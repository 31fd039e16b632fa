"""Issue 16 (a new user's run): compressed outputs checked against free space, label-map
warnings, output places, one vocabulary, the scripts' option names, --dry-run."""

from __future__ import annotations

import shutil
import time
from collections import namedtuple
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from niresample_cli.app import app

from conftest import data_path

runner = CliRunner()
ANAT = "nibabel_anatomical.nii"
_Usage = namedtuple("_Usage", "total used free")


def _fake_free(monkeypatch: pytest.MonkeyPatch, free: int) -> None:
    monkeypatch.setattr(shutil, "disk_usage", lambda p: _Usage(10 * free, 9 * free, free))


# -- 1. compressed outputs against free space -----------------------------------------
@pytest.mark.parametrize("ext", [".nii.gz", ".ome.zarr"])
def test_compressed_output_refused_from_a_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 ext: str) -> None:
    # 132x164x100 int16 is 4.3 MB; a 10:1 floor (0.43 MB) would fit in 1 MB, the real data does not
    _fake_free(monkeypatch, 1_000_000)
    out = tmp_path / f"o{ext}"
    r = runner.invoke(app, ["spacing", str(data_path(ANAT)), str(out), "--iso", "0.5", "-q"])
    assert r.exit_code == 1, r.output
    msg = " ".join(r.output.split())
    for part in ("132x164x100", "uncompressed", "estimated", "free", "--force"):
        assert part in msg, msg
    assert not out.exists()
    r = runner.invoke(app, ["spacing", str(data_path(ANAT)), str(out), "--iso", "0.5", "-q", "--force"])
    assert r.exit_code == 0, r.output
    assert out.exists()


def test_compressed_output_that_fits_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a label map upsampled compresses far better than 4:1: 40 % of the raw size is enough
    src = data_path("nimare_HarvardOxford-cort-maxprob-thr25-2mm.nii.gz")
    shape = nib.load(str(src)).shape
    _fake_free(monkeypatch, int(0.4 * np.prod(shape) * 8 * 1))
    out = tmp_path / "o.nii.gz"
    r = runner.invoke(app, ["labels", str(src), str(out), "--resolution", "1", "-q"])
    assert r.exit_code == 0, r.output


def test_mistyped_spacing_to_gz_refused_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_free(monkeypatch, 60 * 10**9)  # 541 GB uncompressed; a 10:1 floor (54 GB) would fit
    out = tmp_path / "o.nii.gz"
    t0 = time.perf_counter()
    r = runner.invoke(app, ["spacing", str(data_path(ANAT)), str(out), "--iso", "0.01"])
    seconds = time.perf_counter() - t0
    assert r.exit_code == 1, r.output
    assert "6600x8200x5000" in " ".join(r.output.split())
    assert seconds < 10
    assert list(tmp_path.iterdir()) == []
