"""Axis weight rows (core/kernels) against independent definitions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.interpolate import BSpline

from niresample_cli.core.errors import OptionError
from niresample_cli.core.grid import Grid
from niresample_cli.core.io import open_image
from niresample_cli.core.kernels import (
    NEAREST_EPS,
    SPLINE_PAD,
    axis_weights,
    bspline,
    bspline_integral,
    nearest_index,
    prefilter_margin,
    spline_poles,
)

from conftest import write_nifti


@pytest.mark.parametrize("order", range(6))
def test_bspline_matches_scipy_basis_element(order: int) -> None:
    knots = np.arange(order + 2) - (order + 1) / 2.0
    ref = BSpline.basis_element(knots, extrapolate=False)
    t = np.linspace(knots[0] + 1e-6, knots[-1] - 1e-6, 201)
    np.testing.assert_allclose(bspline(t, order), ref(t), atol=1e-12)
    assert np.all(bspline(np.array([knots[0] - 0.1, knots[-1] + 0.1]), order) == 0)


@pytest.mark.parametrize("order", range(6))
def test_bspline_integral_is_the_cumulative_integral(order: int) -> None:
    from scipy.integrate import quad

    for t in (-2.9, -0.7, 0.0, 0.3, 1.1, 3.5):
        expected = quad(lambda u: float(bspline(np.array([u]), order)[0]), -4, t, limit=200)[0]
        assert bspline_integral(np.array([t]), order)[0] == pytest.approx(expected, abs=1e-7)


@pytest.mark.parametrize("order", range(6))
@pytest.mark.parametrize("aa", [1.0, 1.7, 3.0])
def test_rows_sum_to_one(order: int, aa: float) -> None:
    rng = np.random.default_rng(order)
    x = rng.uniform(-3, 40, size=300)
    w = axis_weights(37, x, order=order, aa_width=aa)
    np.testing.assert_allclose(w.weight.sum(axis=1), 1.0, atol=1e-12)
    assert w.index.min() >= 0 and w.index.max() < w.line_length


def test_linear_rows_are_the_two_neighbours() -> None:
    x = np.array([0.0, 0.25, 3.5, 8.9])
    dense = axis_weights(10, x, order=1).dense()
    for r, xr in enumerate(x):
        i = int(np.floor(xr))
        f = xr - i
        expected = np.zeros(10)
        expected[i] += 1 - f
        expected[min(i + 1, 9)] += f
        np.testing.assert_allclose(dense[r], expected, atol=1e-12)


def test_nearest_ties_go_up_like_itk() -> None:
    w = axis_weights(10, np.array([0.5, 1.5, 2.49, 2.51, -0.7, 12.0]), order=0)
    assert w.gather
    assert w.index[:, 0].tolist() == [1, 2, 2, 3, 0, 9]


@pytest.mark.parametrize("order", range(6))
def test_integer_shift_is_a_gather(order: int) -> None:
    w = axis_weights(8, np.arange(8) - 2.0, order=order)
    assert w.gather and not w.prefilter
    assert w.index[:, 0].tolist() == [0, 0, 0, 1, 2, 3, 4, 5]


def test_prefiltered_orders_address_the_padded_line() -> None:
    w = axis_weights(10, np.array([4.3]), order=3)
    assert w.prefilter and w.pad == SPLINE_PAD
    assert w.index[0].tolist() == [SPLINE_PAD + 3 + k for k in range(4)]


def test_margin_follows_the_largest_pole() -> None:
    for order in (2, 3, 4, 5):
        m = prefilter_margin(order)
        z = max(abs(p) for p in spline_poles(order))
        assert z**m < 1e-8 <= z ** (m - 1)
    assert prefilter_margin(0) == prefilter_margin(1) == 0
    # scipy's own recursion poles (order 3: sqrt(3) - 2)
    assert spline_poles(3)[0] == pytest.approx(np.sqrt(3) - 2)


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_antialiasing_removes_nyquist_and_keeps_constants(order: int) -> None:
    from scipy.ndimage import spline_filter1d

    n = 64
    alternating = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    x = 2.0 * np.arange(n // 2) + 0.5  # downsample by 2, centred
    for aa, bound in ((2.0, 0.05), (1.0, None)):
        w = axis_weights(n, x, order=order, aa_width=aa)
        line = alternating
        if w.prefilter:
            line = spline_filter1d(np.pad(line, w.pad, mode="edge"), order, mode="nearest")
        out = (w.weight * line[w.index]).sum(axis=1)[4:-4]
        if bound is not None:
            assert np.max(np.abs(out)) < bound
        const = np.full(w.line_length, 7.25)
        np.testing.assert_allclose((w.weight * const[w.index]).sum(axis=1), 7.25, rtol=1e-12)


def test_bad_order_is_refused() -> None:
    with pytest.raises(OptionError, match="order") as err:
        axis_weights(5, np.arange(3.0), order=6)
    assert err.value.param == "order"


# -- the one nearest-index rule ---------------------------------------------------
def test_nearest_index_ties_go_up() -> None:
    x = np.arange(-0.5, 6.0, 1.0)  # every tie of an axis of 6 voxels, edges included
    idx, inside = nearest_index(x, 6)
    assert idx.tolist() == [0, 1, 2, 3, 4, 5, 5]  # the last tie, x = 5.5, is the edge voxel
    assert inside.tolist() == [True] * 7
    # away from ties the rule is plain rounding
    y = np.random.default_rng(0).uniform(-0.49, 5.49, 500)
    y = y[np.abs(y - np.floor(y) - 0.5) > 1e-6]
    assert nearest_index(y, 6)[0].tolist() == np.rint(y).astype(int).tolist()


def test_nearest_index_ties_match_itk() -> None:
    sitk = pytest.importorskip("SimpleITK")
    n = 7
    img = sitk.GetImageFromArray(np.arange(n, dtype=np.float32)[None, None, :])  # x axis of n
    f = sitk.ResampleImageFilter()
    f.SetInterpolator(sitk.sitkNearestNeighbor)
    f.SetSize((2 * n, 1, 1))
    f.SetOutputSpacing((0.5, 1.0, 1.0))
    f.SetOutputOrigin((-0.5, 0.0, 0.0))  # output points -0.5, 0, 0.5, ..., n - 1: ties and centres
    f.SetDefaultPixelValue(-1)
    ref = sitk.GetArrayFromImage(f.Execute(img))[0, 0].astype(int)
    x = -0.5 + 0.5 * np.arange(2 * n)
    idx, inside = nearest_index(x, n)
    assert np.where(inside, idx, -1).tolist() == ref.tolist()


def test_nearest_index_tolerance() -> None:
    tiny, small = NEAREST_EPS / 100, NEAREST_EPS * 100
    idx, _ = nearest_index(np.array([1.5 - tiny, 1.5 + tiny, 1.5 - small, 1.5 + small]), 4)
    # float noise on a tie stays on the tie's side; a real offset decides
    assert idx.tolist() == [2, 2, 1, 2]


def test_nearest_index_inside_bound() -> None:
    n = 5
    tiny, small = NEAREST_EPS / 100, NEAREST_EPS * 100
    x = np.array([-0.5 - small, -0.5 - tiny, -0.5, n - 0.5 - tiny, n - 0.5, n - 0.5 + tiny,
                  n - 0.5 + small, -1e300, 1e300])
    idx, inside = nearest_index(x, n)
    assert inside.tolist() == [False, True, True, True, True, True, False, False, False]
    assert idx.tolist() == [0, 0, 0, n - 1, n - 1, n - 1, n - 1, 0, n - 1]  # clipped, no overflow
    assert idx.dtype == np.int64 and idx.shape == x.shape


def test_nearest_index_keeps_shape() -> None:
    x = np.linspace(-1.0, 4.0, 24).reshape(2, 3, 4)
    idx, inside = nearest_index(x, 3)
    assert idx.shape == inside.shape == (2, 3, 4)
    np.testing.assert_array_equal(idx.ravel(), nearest_index(x.ravel(), 3)[0])


def _tie_grids(tmp_path: Path, shift: float, permute: bool) -> tuple[Path, Grid]:
    """An image of unique ids and a grid whose centres sit ``shift`` voxels off its own."""
    shape = (6, 5, 4)
    ids = np.arange(1, 1 + np.prod(shape), dtype=np.int32).reshape(shape)
    affine = np.diag([1.0, 2.0, 0.5, 1.0])
    affine[:3, 3] = [3.0, -4.0, 1.25]
    path = write_nifti(tmp_path / "ids.nii", ids, affine)
    m = np.eye(4)
    if permute:  # swap i and j: not separable, the general (4, 4) path
        m[:3, :3] = m[[1, 0, 2], :3]
    m[:3, 3] = shift
    out_shape = (5, 6, 4) if permute else shape
    return path, Grid(out_shape, affine @ m)


@pytest.mark.parametrize("permute", [False, True])
@pytest.mark.parametrize("shift", [0.5, 0.5 - 1e-7, 0.5 + 1e-7, -0.5, 0.5 - 1e-12])
def test_compare_mapping_and_label_nearest_pick_the_same_voxel(
    tmp_path: Path, shift: float, permute: bool
) -> None:
    from niresample_cli.core._compare_map import _Mapper
    from niresample_cli.core._label_slabs import LabelSlabs

    path, grid = _tie_grids(tmp_path, shift, permute)
    src = open_image(path)
    n_out = grid.shape[2]
    labels = LabelSlabs(src, grid, method="nearest")(0, 0, n_out)
    mapped = _Mapper(grid, src.grid, 1 << 30).map_slab(src, 0, 0, n_out)
    np.testing.assert_array_equal(labels, mapped)
    # and both are the rule itself, voxel by voxel (ids are unique: value -> voxel)
    data = src.read_volume(scaled=False)
    ijk = np.stack(np.meshgrid(*[np.arange(s) for s in grid.shape], indexing="ij"), axis=-1)
    x = ijk @ (np.linalg.inv(src.grid.affine) @ grid.affine)[:3, :3].T \
        + (np.linalg.inv(src.grid.affine) @ grid.affine)[:3, 3]
    idx = [nearest_index(x[..., a], src.grid.shape[a]) for a in range(3)]
    inside = idx[0][1] & idx[1][1] & idx[2][1]
    want = np.where(inside, data[idx[0][0], idx[1][0], idx[2][0]], 0)
    np.testing.assert_array_equal(labels, want)


def test_compare_finds_perfect_dice_on_tie_grids(tmp_path: Path) -> None:
    """labels writes a grid whose centres are ties of the input's; compare maps the
    input back onto it and must see exactly the labels that were written."""
    from niresample_cli.core.compare import compare_images
    from niresample_cli.core.labels import resample_labels

    path, grid = _tie_grids(tmp_path, 0.5, False)
    out = resample_labels(path, like=grid)
    out_path = tmp_path / "out.nii"
    out.to_filename(str(out_path))
    report = compare_images(out_path, path, labels=True)
    dice = [r["dice"] for r in report["labels"]["per_label"] if r["a_voxels"]]
    assert dice and all(d == 1.0 for d in dice)
