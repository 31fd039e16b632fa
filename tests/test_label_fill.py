"""Labels outside the input's field of view take ``--fill`` (issue 15 item 5): default 0
(background), every method and path; every output value is an input value or the fill."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from niresample_cli.app import app

runner = CliRunner(env={"COLUMNS": "120", "TERM": "dumb"})


def _labels(path: Path, dtype: str = "uint8") -> Path:
    rng = np.random.default_rng(3)
    data = rng.integers(1, 4, size=(12, 11, 10)).astype(dtype)  # ids 1..3, no 0
    nib.save(nib.Nifti1Image(data, np.diag([2.0, 2.0, 2.0, 1.0])), str(path))
    return path


def _reference(path: Path, *, rotated: bool) -> Path:
    """A grid reaching well beyond the input on every side (a quarter voxel off ties)."""
    aff = np.diag([1.5, 1.5, 1.5, 1.0])
    if rotated:
        c, s = np.cos(0.3), np.sin(0.3)
        aff[:3, :3] = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ aff[:3, :3]
    aff[:3, 3] = [-8.3, -7.9, -6.2]
    nib.save(nib.Nifti1Image(np.zeros((26, 24, 22), np.uint8), aff), str(path))
    return path


def _inside(src: Path, out: Path) -> np.ndarray:
    """Which output voxel centres fall in the input's FOV (nibabel's geometry)."""
    a, b = nib.load(str(src)), nib.load(str(out))
    ijk = np.indices(b.shape[:3]).reshape(3, -1)
    vox = (np.linalg.inv(a.affine) @ b.affine @ np.vstack([ijk, np.ones(ijk.shape[1])]))[:3]
    ok = np.all((vox >= -0.5) & (vox < np.array(a.shape[:3])[:, None] - 0.5), axis=0)
    return ok.reshape(b.shape[:3])


@pytest.mark.parametrize("method,rotated", [
    ("nearest", False), ("nearest", True), ("majority", False),
    ("gaussian", False), ("gaussian", True),
])
@pytest.mark.parametrize("fill", [None, 7])
def test_outside_voxels_take_the_fill(tmp_path: Path, method: str, rotated: bool,
                                      fill: int | None) -> None:
    src = _labels(tmp_path / "in.nii.gz")
    ref = _reference(tmp_path / "ref.nii.gz", rotated=rotated)
    out = tmp_path / "out.nii.gz"
    args = ["labels", str(src), str(out), "--like", str(ref), "--method", method]
    if method == "gaussian":
        args += ["--sigma-voxels", "0.7"]
    if fill is not None:
        args += ["--fill", str(fill)]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    got = np.asarray(nib.load(str(out)).dataobj)
    expected_fill = 0 if fill is None else fill
    inside = _inside(src, out)
    assert inside.any() and (~inside).any()
    values = set(np.unique(np.asarray(nib.load(str(src)).dataobj)).tolist())
    assert set(np.unique(got).tolist()) <= values | {expected_fill}
    if method != "gaussian":  # the Gaussian smooths the fill like any label near the edge
        assert np.all(got[~inside] == expected_fill)
        assert not np.any(got[inside] == expected_fill)
    else:
        far = ~inside & (got != expected_fill)
        assert far.sum() < (~inside).sum() / 4


@pytest.mark.parametrize("fill,dtype", [("300", "uint8"), ("-1", "uint8"), ("1.5", "int16"),
                                         ("nan", "int16")])
def test_a_fill_that_does_not_fit_the_labels_is_a_usage_error(tmp_path: Path, fill: str,
                                                               dtype: str) -> None:
    src = _labels(tmp_path / "in.nii", dtype)
    r = runner.invoke(app, ["labels", str(src), str(tmp_path / "o.nii"), "--resolution", "3",
                            "--fill", fill])
    assert r.exit_code == 2, r.output
    assert "--fill" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o.nii").exists()


def test_help_states_the_fill_rule() -> None:
    r = runner.invoke(app, ["labels", "--help"])
    text = " ".join(r.stdout.split())
    assert "--fill" in text
    assert "every output value is an input value or the --fill value" in text.lower()


def test_compare_does_not_count_the_fill_as_a_new_label(tmp_path: Path) -> None:
    from niresample_cli.core.compare import compare_images

    src = _labels(tmp_path / "in.nii.gz")
    ref = _reference(tmp_path / "ref.nii.gz", rotated=False)
    out = tmp_path / "out.nii.gz"
    r = runner.invoke(app, ["labels", str(src), str(out), "--like", str(ref), "--fill", "9"])
    assert r.exit_code == 0, r.output
    assert compare_images(src, out)["labels"]["new"] == [9]
    assert compare_images(src, out, fill=9)["labels"]["new"] == []
    r = runner.invoke(app, ["compare", str(src), str(out), "--fill", "9", "--fail-on", "new-labels"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["compare", str(src), str(out), "--fail-on", "new-labels"])
    assert r.exit_code == 3, r.output
    # labels --compare tells compare its fill: no "new" 9 in the report
    out2 = tmp_path / "out2.nii.gz"
    r = runner.invoke(app, ["labels", str(src), str(out2), "--like", str(ref), "--fill", "9",
                            "--compare"])
    assert r.exit_code == 0, r.output
    new_line = [ln for ln in r.output.splitlines() if ln.strip().startswith("new:")]
    assert new_line and "9" not in new_line[0], r.output
