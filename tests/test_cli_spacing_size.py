"""`niresample spacing` and `niresample size` through Typer's CliRunner."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from niresample_cli.app import app

from conftest import data_path, write_nifti

runner = CliRunner(env={"COLUMNS": "100", "TERM": "dumb"})


@pytest.fixture
def image(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    return write_nifti(tmp_path / "in.nii.gz", rng.random((12, 10, 30)).astype(np.float32),
                       np.diag([0.1, 0.1, 0.1, 1.0]))


def _sizes(path: Path) -> list[float]:
    a = nib.load(str(path)).affine
    return np.sqrt((a[:3, :3] ** 2).sum(axis=0)).round(6).tolist()


def test_spacing_z_only(image: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.nii.gz"
    r = runner.invoke(app, ["spacing", str(image), str(out), "--z", "0.15"])
    assert r.exit_code == 0, r.output
    assert nib.load(str(out)).shape == (12, 10, 20)
    assert _sizes(out) == [0.1, 0.1, 0.15]
    assert "12×10×30" in r.output and "12×10×20" in r.output


@pytest.mark.parametrize("args", [["--iso", "0.2"], ["--spacing", "0.2", "0.2", "0.2"],
                                  ["--x", "0.2", "--y", "0.2", "--z", "0.2"]])
def test_spacing_forms_agree(image: Path, tmp_path: Path, args: list[str]) -> None:
    out = tmp_path / "out.nii"
    r = runner.invoke(app, ["spacing", str(image), str(out), "--quiet", *args])
    assert r.exit_code == 0, r.output
    assert r.output == ""
    assert nib.load(str(out)).shape == (6, 5, 15)


def test_output_directory_names_the_file(image: Path, tmp_path: Path) -> None:
    d = tmp_path / "outdir"
    d.mkdir()
    r = runner.invoke(app, ["spacing", str(image), str(d), "--iso", "0.2", "-q"])
    assert r.exit_code == 0, r.output
    assert (d / "in_resampled.nii.gz").exists()


def test_batch_with_output_dir(image: Path, tmp_path: Path) -> None:
    other = write_nifti(tmp_path / "b.nii", np.ones((4, 4, 4), np.int16), np.eye(4))
    r = runner.invoke(app, ["spacing", str(image), str(other), "-o", str(tmp_path / "o"),
                            "--iso", "0.5", "-q"])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "b_resampled.nii", "in_resampled.nii.gz"]


def test_size_keeps_the_fov(image: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.nii.gz"
    r = runner.invoke(app, ["size", str(image), str(out), "--shape", "24", "20", "15", "-q"])
    assert r.exit_code == 0, r.output
    img = nib.load(str(out))
    assert img.shape == (24, 20, 15)
    np.testing.assert_allclose(_sizes(out), [0.05, 0.05, 0.2])


@pytest.mark.parametrize(("args", "message"), [
    (["spacing", "--z", "0"], "positive"),
    (["spacing", "--z", "-0.1"], "positive"),
    (["spacing", "--iso", "nan"], "positive"),
    (["spacing", "--iso", "1", "--z", "2"], "cannot be combined"),
    (["spacing"], "give the new spacing"),
    (["spacing", "--iso", "1e-12"], "exceeds"),
    (["size", "--shape", "0", "4", "4"], "shape"),
    (["size"], "exactly one"),
    (["spacing", "--iso", "1", "--dtype", "complex64"], "dtype"),
    (["spacing", "--iso", "1", "--max-memory", "lots"], "max-memory"),
])
def test_bad_options_give_one_line(image: Path, tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "bad.nii.gz"
    r = runner.invoke(app, [args[0], str(image), str(out), *args[1:]])
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0], r.output
    assert not out.exists()


def test_existing_output_needs_overwrite(image: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.nii.gz"
    assert runner.invoke(app, ["spacing", str(image), str(out), "--iso", "0.2", "-q"]).exit_code == 0
    r = runner.invoke(app, ["spacing", str(image), str(out), "--iso", "0.2", "-q"])
    assert r.exit_code == 1 and "already exists" in r.output
    r = runner.invoke(app, ["spacing", str(image), str(out), "--iso", "0.3", "-q", "--overwrite"])
    assert r.exit_code == 0


def test_like_reference(tmp_path: Path) -> None:
    out = tmp_path / "like.nii.gz"
    ras = data_path("niivue_nifti_space_RAS.nii.gz")
    r = runner.invoke(app, ["spacing", str(data_path("niivue_nifti_space_AIL.nii.gz")), str(out),
                            "--like", str(ras), "--order", "1", "-q"])
    assert r.exit_code == 0, r.output
    np.testing.assert_array_equal(nib.load(str(out)).get_fdata(), nib.load(str(ras)).get_fdata())


def test_clipping_is_warned(tmp_path: Path) -> None:
    data = np.zeros((8, 8, 8), np.uint8)
    data[3:5, 3:5, 3:5] = 255
    src = write_nifti(tmp_path / "u8.nii", data, np.eye(4))
    r = runner.invoke(app, ["spacing", str(src), str(tmp_path / "o.nii"), "--iso", "0.5",
                            "--order", "3"])
    assert r.exit_code == 0, r.output
    assert "clipped" in r.output


def test_compare_prints_the_report(image: Path, tmp_path: Path) -> None:
    r = runner.invoke(app, ["spacing", str(image), str(tmp_path / "c.nii.gz"), "--z", "0.15",
                            "--compare"])
    assert r.exit_code == 0, r.output
    assert "FOV" in r.output


def test_device_cpu_runs(image: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    r = runner.invoke(app, ["spacing", str(image), str(tmp_path / "t.nii"), "--iso", "0.2",
                            "--device", "torch-cpu", "-q"])
    assert r.exit_code == 0, r.output


def test_output_larger_than_the_free_disk_is_refused(image: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: usage(10**6, 10**6 - 1000, 1000))
    out = tmp_path / "big.nii"
    r = runner.invoke(app, ["spacing", str(image), str(out), "--iso", "0.01"])
    assert r.exit_code == 1
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "disk" in lines[0].lower(), r.output
    assert not out.exists()


@pytest.mark.parametrize("command", [["spacing", "--iso", "0.01"], ["size", "--shape", "128", "128", "64"]])
def test_max_output_refuses_before_any_work(image: Path, tmp_path: Path, command: list[str]) -> None:
    out = tmp_path / "big.nii"
    r = runner.invoke(app, [command[0], str(image), str(out), *command[1:], "--max-output", "1M"])
    assert r.exit_code == 2
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "max-output" in lines[0], r.output
    assert not out.exists()
