"""The separable streaming engine against analytic truth and independent references."""

from __future__ import annotations

import pickle
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter, map_coordinates

from niresample_cli.core.api import resample_to_spacing, source_from_nibabel
from niresample_cli.core.engine import plan_resample, resample_to_array, resample_to_file
from niresample_cli.core.grid import Grid, voxel_map
from niresample_cli.core.io import open_image

from conftest import data_path, random_rotation, write_nifti


def _smooth(shape: tuple[int, ...], seed: int = 0, dtype: type = np.float32) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (gaussian_filter(rng.random(shape), 1.5) * 100).astype(dtype)


def _run(img: nib.Nifti1Image, grid: Grid, **kw: object) -> np.ndarray:
    plan = plan_resample(source_from_nibabel(img), grid, **kw)  # type: ignore[arg-type]
    return resample_to_array(plan)[0]


def _run_slabs(img: nib.Nifti1Image, grid: Grid, height: int, **kw: object) -> np.ndarray:
    plan = plan_resample(source_from_nibabel(img), grid, **kw)  # type: ignore[arg-type]
    plan.slabs = [(z, min(z + height, grid.shape[2])) for z in range(0, grid.shape[2], height)]
    return resample_to_array(plan)[0]


def _oblique_affine(seed: int, spacing: tuple[float, float, float]) -> np.ndarray:
    a = np.eye(4)
    a[:3, :3] = random_rotation(np.random.default_rng(seed)) * np.asarray(spacing)
    a[:3, 3] = [-10.0, 7.5, 3.25]
    return a


def _source_coords(src: Grid, out: Grid) -> np.ndarray:
    m = voxel_map(src, out)
    ijk = np.indices(out.shape).reshape(3, -1).astype(np.float64)
    return m[:3, :3] @ ijk + m[:3, 3:]


@pytest.mark.parametrize("order", range(6))
@pytest.mark.parametrize("spacing", [(0.7, 0.55, 0.6), (1.7, 2.1, 1.3)])
def test_matches_scipy_map_coordinates_nearest_mode(order: int, spacing: tuple[float, ...]) -> None:
    """scipy.ndimage.map_coordinates(mode='nearest') is the independent reference."""
    data = _smooth((20, 17, 23))
    affine = np.diag([1.0, 1.2, 0.9, 1.0])
    img = nib.Nifti1Image(data, affine)
    grid = source_from_nibabel(img).grid.with_spacing(spacing, anchor="corner")
    ours = _run(img, grid, order=order, anti_aliasing=False)
    coords = _source_coords(source_from_nibabel(img).grid, grid)
    ref = map_coordinates(data.astype(np.float64), coords, order=order, mode="nearest")
    # order 0: skip exact ties (x.5), where rounding conventions differ
    keep = np.all(np.abs(coords - np.floor(coords) - 0.5) > 1e-6, axis=0) if order == 0 else ...
    np.testing.assert_allclose(ours.reshape(-1)[keep], ref[keep], rtol=0, atol=1e-4 * 100)


@pytest.mark.parametrize("order", range(6))
@pytest.mark.parametrize("aa", [False, True])
def test_result_does_not_depend_on_slab_height(order: int, aa: bool) -> None:
    data = _smooth((24, 20, 80), seed=1)
    img = nib.Nifti1Image(data, np.diag([1.0, 1.0, 0.5, 1.0]))
    grid = source_from_nibabel(img).grid.with_spacing((0.8, 1.3, 0.7))
    whole = _run(img, grid, order=order, anti_aliasing=aa)
    for height in (1, 3, 7):
        sliced = _run_slabs(img, grid, height, order=order, anti_aliasing=aa)
        if order == 0 or (order == 1 and not aa):
            np.testing.assert_array_equal(sliced, whole)
        else:  # BLAS blocking and the pre-filter margin: float32 rounding
            np.testing.assert_allclose(sliced, whole, rtol=0, atol=2e-6 * np.abs(whole).max())


@pytest.mark.parametrize("order", range(6))
@pytest.mark.parametrize("dtype", [np.float32, np.int16, np.uint8, np.float64])
def test_identity_is_bit_for_bit(order: int, dtype: type) -> None:
    data = _smooth((9, 8, 7), seed=2, dtype=dtype)
    img = nib.Nifti1Image(data, _oblique_affine(3, (1.1, 0.9, 1.3)))
    src = source_from_nibabel(img)
    out = _run(img, src.grid.with_spacing(tuple(src.grid.spacing)), order=order)
    assert out.dtype == data.dtype
    np.testing.assert_array_equal(out, data)


@pytest.mark.parametrize("aa", [False, True])
@pytest.mark.parametrize("spacing", [(0.6, 0.7, 0.45), (2.3, 1.9, 1.6), (0.5, 2.5, 1.0)])
def test_linear_world_ramp_is_reproduced_by_order_1_on_oblique_grids(
    aa: bool, spacing: tuple[float, ...]
) -> None:
    shape = (21, 18, 16)
    affine = _oblique_affine(7, (1.2, 0.8, 1.1))
    src_grid = Grid(shape, affine)
    coef = np.array([0.7, -1.3, 2.1])

    def ramp(world: np.ndarray) -> np.ndarray:
        return world @ coef + 500.0

    ijk = np.indices(shape).reshape(3, -1).T
    data = ramp(src_grid.to_world(ijk)).reshape(shape).astype(np.float32)
    img = nib.Nifti1Image(data, affine)
    grid = src_grid.with_spacing(spacing)
    out = _run(img, grid, order=1, anti_aliasing=aa)
    coords = _source_coords(src_grid, grid).T
    reach = 1.0 + (np.asarray(spacing) / src_grid.spacing) / 2.0
    inside = np.all((coords >= reach) & (coords <= np.asarray(shape) - 1 - reach), axis=1)
    assert inside.sum() > 20
    truth = ramp(grid.to_world(np.indices(grid.shape).reshape(3, -1).T))
    got = out.reshape(-1, order="C")
    np.testing.assert_allclose(got[inside], truth[inside], rtol=1e-5)


@pytest.mark.parametrize("order", [2, 3, 4, 5])
def test_quadratic_is_reproduced_by_splines_away_from_the_boundary(order: int) -> None:
    shape = (40, 36, 44)
    affine = np.diag([1.0, 1.5, 0.8, 1.0])
    src_grid = Grid(shape, affine)
    i, j, k = np.indices(shape).astype(np.float64)
    data = (0.05 * i**2 - 0.03 * j**2 + 0.02 * k**2 + 0.1 * i * 0 + 3).astype(np.float64)
    img = nib.Nifti1Image(data, affine)
    grid = src_grid.with_spacing((0.55, 0.9, 0.5))
    out = _run(img, grid, order=order)
    c = _source_coords(src_grid, grid)
    truth = 0.05 * c[0] ** 2 - 0.03 * c[1] ** 2 + 0.02 * c[2] ** 2 + 3
    margin = 14
    inside = np.all((c >= margin) & (c <= np.asarray(shape)[:, None] - 1 - margin), axis=0)
    assert inside.sum() > 50
    np.testing.assert_allclose(out.reshape(-1)[inside], truth[inside], rtol=1e-6)


@pytest.mark.parametrize("order", range(6))
@pytest.mark.parametrize("anchor", ["center", "origin", "corner"])
def test_constant_is_kept_by_every_order(order: int, anchor: str) -> None:
    data = np.full((11, 13, 9), 123.25, dtype=np.float32)
    img = nib.Nifti1Image(data, _oblique_affine(1, (1.0, 1.0, 1.0)))
    src = source_from_nibabel(img)
    for spacing in ((0.35, 0.6, 0.8), (2.5, 3.3, 1.7)):
        out = _run(img, src.grid.with_spacing(spacing, anchor=anchor), order=order)  # type: ignore[arg-type]
        np.testing.assert_allclose(out, 123.25, rtol=2e-6)


@pytest.mark.parametrize("order", [1, 3])
def test_flip_then_resample_equals_resample_then_flip(order: int) -> None:
    data = _smooth((15, 12, 10), seed=4)
    affine = _oblique_affine(5, (1.0, 1.3, 0.9))
    flip = np.diag([-1.0, 1.0, 1.0, 1.0])
    flip[0, 3] = data.shape[0] - 1
    flipped = nib.Nifti1Image(np.ascontiguousarray(data[::-1]), affine @ flip)
    img = nib.Nifti1Image(data, affine)
    grid = source_from_nibabel(img).grid.with_spacing((0.7, 0.8, 0.65))
    flipped_grid = source_from_nibabel(flipped).grid.with_spacing((0.7, 0.8, 0.65))
    a = _run(img, grid, order=order)
    b = _run(flipped, flipped_grid, order=order)
    np.testing.assert_allclose(b[::-1], a, rtol=0, atol=1e-4)
    # both grids cover the same world points
    np.testing.assert_allclose(flipped_grid.to_world([flipped_grid.shape[0] - 1, 0, 0]),
                               grid.to_world([0, 0, 0]), atol=1e-9)


def test_four_d_keeps_tr_and_resamples_each_volume(tmp_path: Path) -> None:
    path = data_path("nibabel_example4d.nii.gz")
    out = tmp_path / "out.nii.gz"
    with open_image(path) as src:
        grid = src.grid.with_spacing((3.0, 2.5, 1.1))
        plan = plan_resample(src, grid, order=3)
        resample_to_file(plan, out)
        vols = [np.asarray(src.read_volume(v)) for v in range(src.n_volumes)]
    res = nib.load(str(out))
    assert res.shape == grid.shape + (2,)
    assert res.header.get_zooms()[3] == pytest.approx(nib.load(str(path)).header.get_zooms()[3])
    np.testing.assert_allclose(res.affine, grid.affine, atol=1e-5)
    for v, vol in enumerate(vols):
        img3 = nib.Nifti1Image(vol, open_image(path).grid.affine)
        np.testing.assert_array_equal(np.asarray(res.dataobj)[..., v], _run(img3, grid, order=3))


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16, np.int32])
def test_integers_are_rounded_and_clipped_never_wrapped(dtype: type) -> None:
    info = np.iinfo(dtype)
    data = np.zeros((12, 12, 12), dtype=dtype)
    data[4:8, 4:8, 4:8] = info.max  # cubic overshoots above max and below 0 / min
    if info.min < 0:
        data[0:3, 0:3, 0:3] = info.min
    img = nib.Nifti1Image(data, np.eye(4))
    plan = plan_resample(source_from_nibabel(img), Grid((12, 12, 12), np.eye(4)).with_spacing(0.45),
                         order=3)
    out, result = resample_to_array(plan)
    assert out.dtype == dtype
    assert out.max() == info.max and out.min() >= info.min
    assert result.clipped > 0
    as_float = _run(img, plan.target, order=3, dtype="float64")
    expected = np.clip(np.sign(as_float) * np.floor(np.abs(as_float) + 0.5), info.min, info.max)
    # float32 arithmetic may round differently only next to a .5 tie
    frac = np.abs(as_float) - np.floor(np.abs(as_float))
    clear = np.abs(frac - 0.5) > 0.01 * max(1.0, float(info.max) / 1000.0)
    np.testing.assert_array_equal(out[clear], expected[clear])
    assert np.max(np.abs(out.astype(np.float64) - expected)) <= 1


def test_scaled_input_keeps_slope_for_integer_output(tmp_path: Path) -> None:
    path = data_path("nibabel_functional.nii")
    with open_image(path) as src:
        grid = src.grid.with_spacing((3.0, 3.0, 5.0))
        out, result = resample_to_array(plan_resample(src, grid, order=1))
        floats, _ = resample_to_array(plan_resample(src, grid, order=1, dtype="float32"))
        assert (result.slope, result.inter) == (src.slope, src.inter)
    assert out.dtype == np.int16
    values = out * result.slope + result.inter
    np.testing.assert_allclose(values, floats, atol=result.slope / 2 + 1e-3)


def test_slab_function_is_picklable_and_reopens_the_file(tmp_path: Path) -> None:
    path = write_nifti(tmp_path / "a.nii.gz", _smooth((10, 9, 30), seed=6), np.diag([1, 1, 2, 1]))
    with open_image(path) as src:
        plan = plan_resample(src, src.grid.with_spacing(0.8), order=3)
        before = plan.slab_fn(0, 3, 9)
        clone = pickle.loads(pickle.dumps(plan.slab_fn))
    assert clone._handle._source is None
    np.testing.assert_array_equal(clone(0, 3, 9), before)


def test_small_memory_budget_streams_many_slabs_with_the_same_result(tmp_path: Path) -> None:
    data = _smooth((64, 64, 96), seed=8)
    img = nib.Nifti1Image(data, np.eye(4))
    grid = source_from_nibabel(img).grid.with_spacing(0.5)
    plan = plan_resample(source_from_nibabel(img), grid, order=1, max_memory="16M")
    assert len(plan.slabs) > 2
    np.testing.assert_array_equal(resample_to_array(plan)[0], _run(img, grid, order=1))


def test_classic_anisotropic_example_geometry() -> None:
    grid = Grid((512, 512, 300), np.diag([0.1, 0.1, 0.1, 1.0]))
    out = grid.with_spacing((None, None, 0.15))
    assert out.shape == (512, 512, 200)
    assert out.spacing.tolist() == [0.1, 0.1, 0.15]
    np.testing.assert_allclose(out.fov_bounds(), grid.fov_bounds(), atol=1e-12)


def test_classic_example_small_variant_values() -> None:
    shape = (16, 16, 30)
    affine = np.diag([0.1, 0.1, 0.1, 1.0])
    k = np.indices(shape)[2].astype(np.float32)
    img = nib.Nifti1Image(3.0 * k + 1.0, affine)
    grid = Grid(shape, affine).with_spacing((None, None, 0.15))
    assert grid.shape == (16, 16, 20)
    out = _run(img, grid, order=1, anti_aliasing=False)
    kz = _source_coords(Grid(shape, affine), grid)[2].reshape(grid.shape)
    np.testing.assert_allclose(out, 3.0 * np.clip(kz, 0, 29) + 1.0, rtol=1e-6)


@pytest.mark.parametrize("order", [2, 3, 5])
@pytest.mark.parametrize("rotated", [False, True])
def test_non_finite_voxels_stay_local_with_spline_orders(order: int, rotated: bool) -> None:
    data = _smooth((16, 16, 20), seed=12)
    data[8, 8, 8] = np.nan
    data[2, 3, 15] = np.inf
    affine = np.eye(4)
    img = nib.Nifti1Image(data, affine)
    src = source_from_nibabel(img)
    if rotated:
        ref = np.eye(4)
        ref[:3, :3] = random_rotation(np.random.default_rng(1)) * 0.5
        ref[:3, 3] = src.grid.fov_center - ref[:3, :3] @ np.full(3, 15.5)
        grid = Grid((32, 32, 32), ref)
    else:
        grid = src.grid.with_spacing(0.5)
    out = _run(img, grid, order=order)
    bad = ~np.isfinite(out)
    assert bad.any()
    c = _source_coords(src.grid, grid).T.reshape(grid.shape + (3,))[bad]
    c = np.clip(c, 0, np.asarray(data.shape) - 1)  # outside: the edge values are used
    dist = np.minimum(np.abs(c - [8, 8, 8]).max(axis=1), np.abs(c - [2, 3, 15]).max(axis=1))
    assert dist.max() < (order + 1) / 2 + 1
    # away from the bad voxels the values equal those of the same image with each bad
    # voxel replaced by its nearest finite neighbour (the documented fill)
    from scipy.ndimage import distance_transform_edt

    # nearest within the same z slice (the engine's rule, independent of slab cuts;
    # equidistant neighbours are chosen as scipy does on the (z, y, x) array)
    zyx = np.ascontiguousarray(data.T)
    nearest = distance_transform_edt(~np.isfinite(zyx), sampling=(1e4, 1, 1), return_distances=False,
                                     return_indices=True)
    clean = np.ascontiguousarray(zyx[tuple(nearest)].T)
    ref_out = _run(nib.Nifti1Image(clean, affine), grid, order=order)
    far = np.isfinite(out)
    np.testing.assert_allclose(out[far], ref_out[far], rtol=1e-5, atol=1e-3)


def test_zero_weight_taps_never_read_a_nan() -> None:
    # Upsampling x2 keeping the first voxel centre: output x' = 2i lands exactly on
    # input voxel i (weights 1, 0). Only outputs with a positive weight on the NaN
    # plane (x' = 7, 8, 9 around input plane 4) may be NaN.
    data = np.full((10, 4, 4), 5.0, np.float32)
    data[4] = np.nan
    img = nib.Nifti1Image(data, np.eye(4))
    grid = source_from_nibabel(img).grid.with_spacing((0.5, 1.0, 1.0), anchor="origin")
    out = _run(img, grid, order=1)
    assert np.flatnonzero(np.isnan(out[:, 1, 1])).tolist() == [7, 8, 9]
    assert np.all(out[np.isfinite(out)] == 5.0)


def test_scaled_int32_keeps_every_digit(tmp_path: Path) -> None:
    data = np.full((6, 6, 6), 1_000_000_007, np.int32)
    img = nib.Nifti1Image(data, np.eye(4))
    img.header.set_slope_inter(0.5, 3.0)
    p = tmp_path / "s.nii"
    nib.save(img, str(p))
    out = resample_to_spacing(str(p), 0.7, order=1)
    assert np.asarray(out.dataobj.get_unscaled()).min() == 1_000_000_007
    assert np.asarray(out.dataobj.get_unscaled()).max() == 1_000_000_007
