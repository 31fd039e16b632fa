"""Resampling onto another image's grid (--like) and agreement with SimpleITK."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from nibabel.eulerangles import euler2mat
from scipy.ndimage import gaussian_filter

from niresample_cli.core.api import resample_to_grid, source_from_nibabel
from niresample_cli.core.engine import plan_resample, resample_to_array
from niresample_cli.core.grid import Grid, voxel_map
from niresample_cli.core.io import open_image

from conftest import data_path, random_rotation


def test_against_spm12_reslice_fixture() -> None:
    """nibabel_resampled_anat_moved.nii was made by SPM12 (recipe in tests/data/README.md)."""
    anat = nib.load(str(data_path("nibabel_anatomical.nii")))
    func = nib.load(str(data_path("nibabel_functional.nii")))
    expected = nib.load(str(data_path("nibabel_resampled_anat_moved.nii"))).get_fdata()
    m = np.eye(4)
    m[:3, :3] = euler2mat(0.1, 0.2, 0.3)
    m[:3, 3] = [3, 4, 5]
    moved = nib.Nifti1Image(np.asarray(anat.dataobj).astype(np.float32), m @ anat.affine)
    target = Grid(func.shape[:3], func.affine)
    # SPM's reslice does not anti-alias; since issue 11 the general path does by default
    out = resample_to_grid(moved, target, order=1, dtype="float32", anti_aliasing=False)
    got = np.asarray(out.dataobj)
    coords = voxel_map(Grid(anat.shape, m @ anat.affine), target)
    ijk = np.indices(target.shape).reshape(3, -1)
    c = (coords[:3, :3] @ ijk + coords[:3, 3:]).reshape((3,) + target.shape)
    inside = np.all((c >= 0) & (c <= np.asarray(anat.shape)[:, None, None, None] - 1), axis=0)
    assert inside.sum() > 500
    np.testing.assert_allclose(got[inside], expected[inside], rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(out.affine, func.affine, atol=1e-6)


@pytest.mark.parametrize("order", [0, 1])
def test_ail_onto_ras_grid_reproduces_the_ras_data(order: int) -> None:
    ail = data_path("niivue_nifti_space_AIL.nii.gz")
    ras = data_path("niivue_nifti_space_RAS.nii.gz")
    with open_image(ras) as ref:
        grid = ref.grid
        expected = ref.read_volume(scaled=False)
    out = resample_to_grid(ail, grid, order=order)
    assert out.get_data_dtype() == np.uint8
    np.testing.assert_array_equal(np.asarray(out.dataobj.get_unscaled()
                                             if hasattr(out.dataobj, "get_unscaled")
                                             else out.dataobj), expected)


def _sitk_resample(data: np.ndarray, affine: np.ndarray, grid: Grid, interp: str) -> np.ndarray:
    import SimpleITK as sitk

    from niresample_cli.core._sitk import from_sitk, sitk_geometry, to_sitk

    image = to_sitk(data, affine)
    origin, spacing, direction = sitk_geometry(grid.affine)
    f = sitk.ResampleImageFilter()
    f.SetSize([int(v) for v in grid.shape])
    f.SetOutputOrigin(origin)
    f.SetOutputSpacing(spacing)
    f.SetOutputDirection(direction)
    f.SetInterpolator({"linear": sitk.sitkLinear, "bspline": sitk.sitkBSpline}[interp])
    f.SetOutputPixelType(sitk.sitkFloat64)
    return from_sitk(f.Execute(image))[0]


def _interior(src: Grid, grid: Grid, margin: float) -> np.ndarray:
    m = voxel_map(src, grid)
    ijk = np.indices(grid.shape).reshape(3, -1)
    c = m[:3, :3] @ ijk + m[:3, 3:]
    return np.all((c >= margin) & (c <= np.asarray(src.shape)[:, None] - 1 - margin), axis=0)


@pytest.mark.parametrize(("order", "interp"), [(1, "linear"), (3, "bspline")])
@pytest.mark.parametrize("rotated", [False, True])
def test_agrees_with_simpleitk_on_an_identical_grid(order: int, interp: str, rotated: bool) -> None:
    rng = np.random.default_rng(11)
    data = (gaussian_filter(rng.random((30, 28, 26)), 1.5) * 1000).astype(np.float32)
    affine = np.eye(4)
    affine[:3, :3] = random_rotation(rng) * np.array([1.1, 0.9, 1.3])
    affine[:3, 3] = [4.0, -3.0, 12.0]
    src = Grid(data.shape, affine)
    if rotated:  # a reference grid with another direction: the --like case
        ref = np.eye(4)
        ref[:3, :3] = random_rotation(rng) * 0.8
        ref[:3, 3] = src.fov_center - ref[:3, :3] @ (np.array([30, 30, 30]) - 1) / 2
        grid = Grid((30, 30, 30), ref)
    else:
        grid = src.with_spacing((0.7, 0.6, 0.85))
    ours = np.asarray(resample_to_grid(nib.Nifti1Image(data, affine), grid, order=order,
                                       anti_aliasing=False, dtype="float64").dataobj)
    theirs = _sitk_resample(data.astype(np.float64), affine, grid, interp)
    inside = _interior(src, grid, 3.0 if order == 3 else 1.0)
    assert inside.sum() > 1000
    diff = np.abs(ours.reshape(-1)[inside] - theirs.reshape(-1)[inside])
    print(f"max |niresample - SimpleITK| order {order} rotated={rotated}: {diff.max():.3g}"
          f" (values up to {np.abs(data).max():.0f})")
    # SimpleITK works in float64 too, but its B-spline coefficients use mirror boundaries
    assert diff.max() < (1e-6 if order == 1 else 5e-3) * np.abs(data).max()


def test_like_path_streams_by_slabs_with_the_same_result() -> None:
    rng = np.random.default_rng(3)
    data = (gaussian_filter(rng.random((20, 22, 40)), 1.0) * 100).astype(np.float32)
    img = nib.Nifti1Image(data, np.eye(4))
    ref = np.eye(4)
    ref[:3, :3] = random_rotation(rng) * 0.9
    ref[:3, 3] = [10, 10, 20]
    grid = Grid((18, 18, 30), ref)
    for order in (0, 1, 3):
        plan = plan_resample(source_from_nibabel(img), grid, order=order)
        assert not plan.separable
        whole = resample_to_array(plan)[0]
        plan.slabs = [(z, min(z + 4, 30)) for z in range(0, 30, 4)]
        sliced = resample_to_array(plan)[0]
        np.testing.assert_allclose(sliced, whole, rtol=0, atol=1e-4)


@pytest.mark.parametrize("order", [0, 1, 3])
def test_rotated_slabs_are_tiled_to_the_budget_with_the_same_result(order: int) -> None:
    data = np.random.default_rng(4).random((48, 40, 44)).astype(np.float32)
    img = nib.Nifti1Image(data, np.eye(4))
    src = source_from_nibabel(img)
    ref = np.eye(4)
    c, s = np.cos(np.pi / 4), np.sin(np.pi / 4)
    ref[:3, :3] = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    ref[:3, 3] = src.grid.fov_center - ref[:3, :3] @ np.full(3, 23.5)
    grid = Grid((48, 48, 48), ref)
    whole = plan_resample(src, grid, order=order)
    tiled = plan_resample(src, grid, order=order)
    tiled.slab_fn.box_voxels = 4000  # type: ignore[union-attr]
    assert len(tiled.slab_fn._tiles(4)) > 1  # type: ignore[union-attr]
    a, b = resample_to_array(whole)[0], resample_to_array(tiled)[0]
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)
