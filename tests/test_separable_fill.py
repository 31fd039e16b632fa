"""An axis-aligned target larger than the input (``--like``): outside the input's field of
view the separable path writes the fill, as the general path and SimpleITK do, never the
extended edge (issue 11, item 3)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from typer.testing import CliRunner

from niresample_cli.app import app

runner = CliRunner()


def _ref(path: Path, flip: bool) -> Path:
    aff = np.diag([1.0, 1.0, 1.0, 1.0])
    aff[:3, 3] = -5.25
    if flip:  # x reversed: the separable path with a negative scale
        aff[0, 0], aff[0, 3] = -1.0, 14.75
    nib.save(nib.Nifti1Image(np.zeros((21, 20, 19), np.uint8), aff), str(path))
    return path


def _sitk(src: Path, ref: Path, interp: int) -> np.ndarray:
    img = sitk.ReadImage(str(src))
    ref_img = sitk.ReadImage(str(ref))
    res = sitk.Resample(img, ref_img, sitk.Transform(), interp, 0.0, img.GetPixelID())
    return sitk.GetArrayFromImage(res).T


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("order", [0, 1])
def test_outside_the_input_is_fill_like_simpleitk(tmp_path: Path, flip: bool, order: int) -> None:
    rng = np.random.default_rng(1)
    data = rng.uniform(10, 20, (10, 11, 12)).astype(np.float32)
    src = tmp_path / "a.nii"
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(src))
    ref = _ref(tmp_path / "ref.nii", flip)
    out = tmp_path / "o.nii"
    r = runner.invoke(app, ["spacing", str(src), str(out), "--like", str(ref), "--order", str(order), "-q"])
    assert r.exit_code == 0, r.output
    got = np.asarray(nib.load(str(out)).dataobj)
    want = _sitk(src, ref, sitk.sitkLinear if order else sitk.sitkNearestNeighbor)
    assert got.shape == want.shape
    assert np.array_equal(got == 0, want == 0)  # the same voxels are outside
    assert (got == 0).sum() > got.size // 3
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)


def test_fill_value_and_raw_integers(tmp_path: Path) -> None:
    data = np.random.default_rng(2).integers(1, 100, (10, 11, 12)).astype(np.int16)
    src = tmp_path / "a.nii"
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(src))
    ref = _ref(tmp_path / "ref.nii", False)
    out = tmp_path / "o.nii"
    r = runner.invoke(app, ["spacing", str(src), str(out), "--like", str(ref), "--order", "0",
                            "--fill", "-7", "-q"])
    assert r.exit_code == 0, r.output
    got = np.asarray(nib.load(str(out)).dataobj)
    assert got.dtype == np.int16
    # output voxel i is at world i - 5.25: input voxels 0..9 along x are outputs 5..14 (centres 4.75 from 5)
    inside = got[5:15, 5:16, 5:17]
    assert np.array_equal(inside, data)
    assert (got[:5] == -7).all() and (got[15:] == -7).all() and (got[:, :, 17:] == -7).all()
    r = runner.invoke(app, ["spacing", str(src), str(out), "--like", str(ref), "--fill", "nan",
                            "--overwrite", "-q"])
    assert r.exit_code != 0 and "nan" in r.output.lower()


def test_grids_derived_from_the_input_keep_the_edge_rule(tmp_path: Path) -> None:
    """``--anchor origin`` may put the last output centres just beyond the input's edge
    (13 voxels of 1 mm at 0.6 mm: the 22nd centre lies 0.1 mm outside): the grid is the
    input's own, so those voxels get the edge values, not the fill."""
    src = tmp_path / "a.nii"
    nib.save(nib.Nifti1Image(np.full((11, 13, 9), 123.25, np.float32), np.eye(4)), str(src))
    out = tmp_path / "o.nii"
    r = runner.invoke(app, ["spacing", str(src), str(out), "--iso", "0.6", "--anchor", "origin", "-q"])
    assert r.exit_code == 0, r.output
    got = np.asarray(nib.load(str(out)).dataobj)
    assert got.shape[1] == 22
    np.testing.assert_allclose(got, 123.25, rtol=2e-6)
