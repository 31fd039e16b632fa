"""The compiled gather kernels (core/_cinterp.c) against the numpy/scipy path they replace.

Every test runs the same request twice, with the kernels and under
NIRESAMPLE_PURE_PYTHON=1 (the numpy/scipy code: scipy.ndimage.map_coordinates and
core.kernels.nearest_index), and asserts the same output: labels and orders 0-1 bit for
bit, orders 2-5 within float32 rounding.  Direct calls check the kernel against
map_coordinates on odd strides and tiny shapes, and that bad buffers raise ValueError.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from niresample_cli.core._native_interp import kernels
from niresample_cli.core.grid import Grid

from conftest import random_rotation, write_nifti

nib = pytest.importorskip("nibabel")
ck = kernels()
pytestmark = pytest.mark.skipif(ck is None, reason="compiled kernels not built")


def _both(monkeypatch: pytest.MonkeyPatch, fn):  # type: ignore[no-untyped-def]
    """``fn()`` with the compiled kernels, then on the numpy/scipy path."""
    monkeypatch.delenv("NIRESAMPLE_PURE_PYTHON", raising=False)
    assert kernels() is not None
    fast = fn()
    monkeypatch.setenv("NIRESAMPLE_PURE_PYTHON", "1")
    assert kernels() is None
    slow = fn()
    monkeypatch.delenv("NIRESAMPLE_PURE_PYTHON")
    return fast, slow


def _grids(seed: int, n_in: tuple[int, int, int], n_out: tuple[int, int, int],
           spread: float = 1.3) -> tuple[Grid, Grid]:
    """An oblique input grid and a rotated output grid that reaches beyond it (fill, edges)."""
    rng = np.random.default_rng(seed)
    a = np.eye(4)
    a[:3, :3] = random_rotation(rng) @ np.diag(rng.uniform(0.8, 1.5, 3))
    a[:3, 3] = -a[:3, :3] @ ((np.asarray(n_in) - 1) / 2.0)
    b = np.eye(4)
    b[:3, :3] = random_rotation(rng) * spread * max(n_in) / max(n_out)
    b[:3, 3] = -b[:3, :3] @ ((np.asarray(n_out) - 1) / 2.0) + rng.uniform(-1, 1, 3)
    return Grid(n_in, a), Grid(n_out, b)


def _data(dtype: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype in ("float32", "float64"):
        return rng.normal(10.0, 5.0, shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -3000), min(info.max, 3000), shape).astype(dtype)


def _assert_same(fast: np.ndarray, slow: np.ndarray, order: int) -> None:
    assert fast.dtype == slow.dtype and fast.shape == slow.shape
    if order <= 1 or fast.dtype.kind not in "f":
        if fast.dtype.kind in "iu" and order >= 2:  # a rounding tie may flip by one
            assert np.abs(fast.astype(np.int64) - slow.astype(np.int64)).max() <= 1
            assert np.mean(fast != slow) < 1e-3
            return
        np.testing.assert_array_equal(fast, slow)
        return
    both = np.isfinite(slow)
    np.testing.assert_array_equal(np.isfinite(fast), both)
    scale = float(np.abs(slow[both]).max())
    np.testing.assert_allclose(fast[both], slow[both], rtol=0, atol=4e-7 * scale)


@pytest.fixture(params=["whole", "boxes"])
def boxes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of the compiled path: the whole input shared, or one input box per tile."""
    if request.param == "boxes":
        from niresample_cli.core._mapped import MappedSlabs

        monkeypatch.setattr(MappedSlabs, "_whole_input", lambda self, volume, sigma: None)
    return str(request.param)


# -- affine maps: all orders, dtypes, fill, tiles --------------------------------------
@pytest.mark.parametrize("order", [0, 1, 2, 3, 4, 5])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int16", "uint8"])
def test_affine_all_orders_match_the_numpy_path(monkeypatch: pytest.MonkeyPatch, order: int,
                                                dtype: str, boxes: str) -> None:
    from niresample_cli.core.api import resample_to_grid

    src, out = _grids(order * 7 + len(dtype), (21, 17, 13), (19, 23, 16))
    img = nib.Nifti1Image(_data(dtype, src.shape), src.affine)
    fast, slow = _both(monkeypatch, lambda: np.asarray(
        resample_to_grid(img, out, order=order, fill=3.0).dataobj))
    assert np.mean(slow == 3) > 0.05  # some of the output lies outside the input
    _assert_same(fast, slow, order)


@pytest.mark.parametrize("order", [1, 3])
def test_affine_many_tiles_nan_fill_and_anti_aliasing(monkeypatch: pytest.MonkeyPatch,
                                                      order: int, boxes: str) -> None:
    from niresample_cli.core.api import resample_to_grid

    src, out = _grids(5, (40, 36, 30), (30, 26, 22), spread=2.2)  # shrinks: anti-aliasing
    img = nib.Nifti1Image(_data("float32", src.shape), src.affine)
    for aa in (False, True):
        fast, slow = _both(monkeypatch, lambda aa=aa: np.asarray(resample_to_grid(
            img, out, order=order, fill=float("nan"), anti_aliasing=aa,
            max_memory="24MB").dataobj))
        assert np.isnan(slow).any()
        _assert_same(fast, slow, order)


def test_nan_and_inf_inputs_at_spline_orders_keep_the_numpy_rule(
        monkeypatch: pytest.MonkeyPatch, boxes: str) -> None:
    from niresample_cli.core.api import resample_to_grid

    src, out = _grids(8, (20, 18, 16), (18, 18, 18))
    data = _data("float32", src.shape)
    data[5, 6, 7] = np.nan
    data[12, 3, 9] = np.inf
    img = nib.Nifti1Image(data, src.affine)
    for order in (1, 3, 5):
        fast, slow = _both(monkeypatch, lambda order=order: np.asarray(
            resample_to_grid(img, out, order=order).dataobj))
        np.testing.assert_array_equal(np.isnan(fast), np.isnan(slow))
        _assert_same(fast, slow, order)


# -- labels nearest through maps ------------------------------------------------------
@pytest.mark.parametrize("dtype", ["uint8", "int16", "uint32"])
def test_labels_nearest_through_an_affine_are_bit_equal(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path, dtype: str) -> None:
    from niresample_cli.core.labels import resample_labels

    src, out = _grids(11, (25, 22, 18), (24, 20, 21))
    rng = np.random.default_rng(2)
    ids = np.array([0, 7, 9, 100], dtype) if dtype != "uint32" else \
        np.array([0, 2**24 + 1, 2**31 + 7, 4_000_000_001], np.uint32)
    lab = write_nifti(tmp_path / "lab.nii.gz", ids[rng.integers(0, 4, src.shape)], src.affine)
    t = np.eye(4)
    t[:3, :3] = random_rotation(rng)
    ref = tmp_path / "ref.nii.gz"
    write_nifti(ref, np.zeros(out.shape, np.uint8), out.affine)
    fast, slow = _both(monkeypatch, lambda: np.asarray(
        resample_labels(lab, like=ref, transforms=[t]).dataobj))
    assert fast.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(fast, slow)
    assert set(np.unique(fast)) <= set(ids.tolist()) and len(np.unique(fast)) == 4


# -- displacement fields ----------------------------------------------------------------
@pytest.fixture
def warp(tmp_path: Path) -> tuple[Path, Grid, Grid]:
    pytest.importorskip("SimpleITK")
    from test_transform_resample import write_field

    src, out = _grids(13, (26, 24, 20), (22, 24, 20))
    field_grid = Grid((14, 13, 12), out.affine @ np.diag([1.7, 1.9, 1.8, 1.0]))
    path = write_field(tmp_path / "1Warp.nii.gz", field_grid.affine, field_grid.shape,
                       np.random.default_rng(4), amp=2.5)
    return path, src, out


def test_field_coordinates_match_the_numpy_map(monkeypatch: pytest.MonkeyPatch,
                                               warp: tuple[Path, Grid, Grid]) -> None:
    from niresample_cli.core.transforms import TransformChain, map_voxels

    path, src, out = warp
    t = np.eye(4)
    t[:3, 3] = [1.0, -2.0, 0.5]
    box = (2, 21, 0, 24, 3, 17)

    def coords() -> np.ndarray:
        with TransformChain([t, path, np.linalg.inv(t)]) as chain:
            return map_voxels(out, chain, src, box)

    fast, slow = _both(monkeypatch, coords)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9)


@pytest.mark.parametrize("order", [0, 1, 3])
def test_field_resampling_and_labels_match_the_numpy_path(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, warp: tuple[Path, Grid, Grid],
        order: int, boxes: str) -> None:
    from niresample_cli.core.api import resample_to_grid
    from niresample_cli.core.labels import resample_labels

    path, src, out = warp
    img = nib.Nifti1Image(_data("float32", src.shape), src.affine)
    fast, slow = _both(monkeypatch, lambda: np.asarray(
        resample_to_grid(img, out, order=order, transforms=[path], fill=-1.0).dataobj))
    assert np.mean(slow == -1) > 0.01
    _assert_same(fast, slow, order)
    if order == 0:
        ids = np.array([0, 2**24 + 1, 2**31 + 7, 4_000_000_001], np.uint32)
        lab = write_nifti(tmp_path / "lab.nii.gz",
                          ids[np.random.default_rng(3).integers(0, 4, src.shape)], src.affine)
        ref = write_nifti(tmp_path / "ref.nii.gz", np.zeros(out.shape, np.uint8), out.affine)
        fast, slow = _both(monkeypatch, lambda: np.asarray(
            resample_labels(lab, like=ref, transforms=[path]).dataobj))
        np.testing.assert_array_equal(fast, slow)


# -- the kernel itself ----------------------------------------------------------------
@pytest.mark.parametrize("order", [0, 1, 2, 3, 4, 5])
def test_kernel_equals_map_coordinates_on_odd_strides_and_tiny_boxes(order: int) -> None:
    from scipy.ndimage import map_coordinates

    from niresample_cli.core._native_interp import interp_tile
    from niresample_cli.core.kernels import nearest_index

    rng = np.random.default_rng(order)
    for shape in ((1, 1, 1), (1, 2, 3), (9, 4, 7)):
        big = rng.normal(size=(shape[2] * 2, shape[0] * 3, shape[1] + 1)).astype(np.float64)
        box = big.transpose(1, 2, 0)[::3, : shape[1], ::2]  # odd strides, not contiguous
        assert box.shape == shape
        n_out = (3, 5, 2)
        coords = np.stack([rng.uniform(-0.5, n - 0.5, n_out) for n in shape])
        coords[0, 0, 0, 0] = -0.5  # on the outer edge
        if order == 0:
            idx = [nearest_index(coords[a], shape[a])[0] for a in range(3)]
            want = box[idx[0], idx[1], idx[2]]
        else:
            want = map_coordinates(box, coords, order=order, mode="nearest", prefilter=order >= 2)
        got = interp_tile(ck, box, n_out, order, lo=np.zeros(3), in_shape=shape, fill=0.0,
                          dtype=np.dtype(np.float64), coords=coords)
        assert got is not None
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("order", [2, 3, 4, 5])
def test_prefilter_equals_scipy_spline_filter(order: int) -> None:
    from scipy.ndimage import spline_filter

    from niresample_cli.core.kernels import spline_poles

    rng = np.random.default_rng(order)
    for shape in ((1, 1, 1), (1, 5, 3), (2, 2, 2), (7, 9, 11), (40, 3, 1)):
        for layout in ("F", "C"):
            a = np.asarray(rng.normal(size=shape), order=layout)
            want = spline_filter(a, order, output=np.float64, mode="nearest")
            got = a.copy(order=layout)
            ck.prefilter(got, list(spline_poles(order)))
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-13 * np.abs(want).max())
    with pytest.raises(ValueError):
        ck.prefilter(np.zeros((3, 3, 3), np.float32), [0.1])
    with pytest.raises(ValueError):
        ck.prefilter(np.zeros((3, 3, 3)), [1.5])
    with pytest.raises(ValueError):
        ck.prefilter(np.zeros((3, 3)), [-0.2])


def test_kernel_writes_the_fill_beyond_the_field_of_view() -> None:
    from niresample_cli.core._native_interp import interp_tile

    box = np.arange(24, dtype=np.uint32).reshape(2, 3, 4) + np.uint32(2**31)
    coords = np.zeros((3, 4, 1, 1))
    coords[:, 0, 0, 0] = [-0.5 - 2e-9, 0, 0]  # just beyond
    coords[:, 1, 0, 0] = [1.5, 2.5, 3.5]      # on the far edges: inside
    coords[:, 2, 0, 0] = [0.5, 0.5, 0.5]      # a tie goes up
    coords[:, 3, 0, 0] = [0, 0, np.nan]
    got = interp_tile(ck, box, (4, 1, 1), 0, lo=np.zeros(3), in_shape=box.shape, fill=5,
                      dtype=box.dtype, coords=coords)
    assert got is not None
    assert got.ravel().tolist() == [5, int(box[1, 2, 3]), int(box[1, 1, 1]), 5]


def test_bad_buffers_raise_value_error() -> None:
    f32 = np.zeros((3, 3, 3), np.float32)
    m = np.eye(4)[:3].ravel().tolist()
    args = (m, None, (0, 0, 0), (0.0, 0.0, 0.0), (3.0, 3.0, 3.0), 0.0)
    cases = [
        (np.zeros((3, 3)), f32, 1, *args, 0.0),                       # 2D source
        (np.zeros((3, 3, 3), np.int16), f32, 1, *args, 0.0),          # int16 at order 1
        (f32, np.zeros((3, 3, 3), np.float32)[::-1].copy().view(np.int32), 1, *args, 0.0),
        (f32, np.zeros((2, 2, 2), np.float16), 1, *args, 0.0),         # float16 output
        (f32, np.zeros((2, 2, 2), np.float64), 0, *args, b"\0" * 4),  # itemsizes differ
        (f32, f32.copy(), 0, *args, b"\0"),                           # fill of 1 byte
        (f32, f32.copy(), 7, *args, 0.0),                             # order 7
        (f32, f32.copy(), 1, None, np.zeros((3, 2, 3, 3)), *args[2:], 0.0),  # coords shape
        (f32, f32.copy(), 1, None, None, *args[2:], 0.0),             # neither map
        (f32, f32.copy(), 1, [1.0] * 5, None, *args[2:], 0.0),        # short matrix
        (f32, b"not writable", 1, *args, 0.0),
    ]
    ro = f32.copy()
    ro.setflags(write=False)
    cases.append((f32, ro, 1, *args, 0.0))
    for case in cases:
        with pytest.raises(ValueError):
            ck.interp(*case)
    vec = np.zeros((2, 2, 2, 3))
    out = np.zeros((3, 2, 2, 2))
    rows = [np.eye(4)[:3].ravel().tolist()] * 3
    with pytest.raises(ValueError):  # box beyond the field grid
        ck.field_coords(vec, (1, 0, 0), (2, 2, 2), *rows, (0, 0, 0), out)
    with pytest.raises(ValueError):  # a point needs a field voxel outside the box
        ck.field_coords(vec[:1], (0, 0, 0), (2, 2, 2), *rows, (0, 0, 0), out)
    with pytest.raises(ValueError):  # float32 vectors
        ck.field_coords(vec.astype(np.float32), (0, 0, 0), (2, 2, 2), *rows, (0, 0, 0), out)
