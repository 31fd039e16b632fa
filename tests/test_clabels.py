"""The compiled label kernels (core/_clabels.c) give the numpy code's labels bit for bit.

Both paths run on the same inputs: the recorded per-label Gaussian cases (slow), and random
label maps with many labels, ties, tiny axes, a real z halo, uint32 ids above 2**24, taps
with zeros and one-tap axes, every block size; ``dense_codes`` against ``np.unique``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from niresample_cli.core import _labels_numpy as L
from niresample_cli.core._label_slabs import gaussian_weights
from niresample_cli.core._native import load

from conftest import load_recorder, run_recorded_case

clabels = load("_clabels")
needs_c = pytest.mark.skipif(clabels is None, reason="core/_clabels.c was not built (no C compiler)")


def _both(padded: np.ndarray, weights: list[np.ndarray], rz: int, block: int,
          codes: bool = False) -> tuple[np.ndarray, np.ndarray]:
    ref = L.smooth_labels_blocks(padded, weights, z_halo=rz, block=block, codes=codes, native=False)
    got = L.smooth_labels_blocks(padded, weights, z_halo=rz, block=block, codes=codes)
    return ref, got


def _label_map(rng: np.random.Generator, shape: tuple[int, int, int], n_labels: int,
               ids: np.ndarray, blobs: bool) -> np.ndarray:
    if blobs:  # Voronoi cells: regions and boundaries as in an atlas
        from scipy.spatial import cKDTree

        seeds = rng.uniform(0, 1, size=(n_labels, 3)) * np.asarray(shape)
        g = np.stack(np.meshgrid(*[np.arange(n) + 0.5 for n in shape], indexing="ij"), -1)
        lab = cKDTree(seeds).query(g.reshape(-1, 3))[1].reshape(shape)
    else:  # salt and pepper: many labels and many ties
        lab = rng.integers(0, n_labels, size=shape)
    return ids[lab]


@needs_c
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), nx=st.integers(1, 36), ny=st.integers(1, 20),
       nz=st.integers(1, 12), n_labels=st.integers(1, 300), blobs=st.booleans(),
       dtype=st.sampled_from(["uint8", "int16", "uint16", "int32", "uint32", "int64"]),
       sigma=st.tuples(st.floats(0, 2.5), st.floats(0, 2.5), st.floats(0, 2.5)),
       block=st.integers(1, 40))
def test_gaussian_native_equals_numpy_on_random_maps(seed, nx, ny, nz, n_labels, blobs, dtype,
                                                     sigma, block) -> None:
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    info = np.iinfo(dt)
    lo = max(int(info.min), -(2**31))
    hi = min(int(info.max), 2**32 - 1)
    if dt.itemsize >= 4:  # large ids, above 2**24 where float32 would merge them
        lo = max(lo, 2**24 + 1) if dt.kind == "u" or rng.random() < 0.5 else lo
    ids = np.unique(rng.integers(lo, hi, size=n_labels, endpoint=True)).astype(dt)
    n = len(ids)
    data = _label_map(rng, (nx, ny, nz), n, ids, blobs)
    weights = [gaussian_weights(s) for s in sigma]
    rz = (len(weights[2]) - 1) // 2
    # a real z halo: other labels than the slab's edge slices
    halo = [_label_map(rng, (nx, ny, rz), n, ids, blobs) for _ in range(2)]
    padded = np.asfortranarray(np.concatenate([halo[0], data, halo[1]], axis=2))
    ref, got = _both(padded, weights, rz, block)
    assert got.dtype == ref.dtype
    np.testing.assert_array_equal(got, ref)


@needs_c
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), shape=st.tuples(*[st.integers(1, 12)] * 3),
       n_labels=st.integers(1, 5), radii=st.tuples(*[st.integers(0, 4)] * 3),
       block=st.integers(1, 9), code_dtype=st.sampled_from(["uint16", "int32"]))
def test_gaussian_native_ties_and_odd_taps(seed, shape, n_labels, radii, block, code_dtype) -> None:
    """Small integer taps (zeros, asymmetric, a one-tap axis of any value) make exact ties common:
    the centre label wins a tie, else the smallest id; dense codes go in directly."""
    rng = np.random.default_rng(seed)
    weights = [rng.integers(0, 4, size=2 * r + 1).astype(np.float64) for r in radii]
    rz = radii[2]
    nzp = shape[2] + 2 * rz
    codes = rng.integers(1, n_labels + 1, size=(shape[0], shape[1], nzp)).astype(code_dtype)
    codes = np.asfortranarray(codes)
    ref, got = _both(codes, weights, rz, block, codes=True)
    np.testing.assert_array_equal(got, ref)
    ref, got = _both(codes.astype(np.uint32) * 7919 + 2**30, weights, rz, block)
    np.testing.assert_array_equal(got, ref)


def test_gaussian_tie_rule_by_hand() -> None:
    """Ties by hand along x (edges replicated): the centre's label wins a tie, else the smallest id."""
    w = [np.array([1.0, 1.0, 1.0]), np.array([1.0]), np.array([1.0])]
    a = np.asfortranarray(np.array([5, 9, 7, 7], dtype=np.uint32).reshape(4, 1, 1))
    for native in (False, True):
        out = L.smooth_labels_blocks(a, w, z_halo=0, native=native)
        # x0: 5 5 9 -> 5 (2 > 1); x1: 5 9 7 -> tie of three, centre 9; x2: 9 7 7 -> 7; x3: 7
        assert out.ravel().tolist() == [5, 9, 7, 7]
    # taps (1 0 1): the centre does not count; at x1 the 9 and the 4 score 1, the centre 8
    # scores 0 -> the smallest id, 4; at x0 9 and 8 tie and the centre is 9
    a = np.asfortranarray(np.array([9, 8, 4, 4], dtype=np.uint32).reshape(4, 1, 1))
    w = [np.array([1.0, 0.0, 1.0]), np.array([1.0]), np.array([1.0])]
    for native in (False, True):
        out = L.smooth_labels_blocks(a, w, z_halo=0, native=native)
        assert out.ravel().tolist() == [9, 4, 4, 4]


@needs_c
@pytest.mark.parametrize("dtype", ["uint8", "int8", "uint16", "int16", "uint32", "int32",
                                   "uint64", "int64"])
def test_dense_codes_native_equals_unique(dtype: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    info = np.iinfo(np.dtype(dtype))
    a = rng.integers(info.min, info.max, size=(23, 17, 11), dtype=dtype, endpoint=True)
    a[:, :5] = a[0, 0, 0]  # runs
    for arr in (np.asfortranarray(a), np.ascontiguousarray(a), a[::2, 1:, ::3]):
        values, codes = L.dense_codes(arr)
        ref_values, inv = np.unique(arr, return_inverse=True)
        np.testing.assert_array_equal(values, ref_values)
        assert values.dtype == arr.dtype
        np.testing.assert_array_equal(codes, inv.reshape(arr.shape) + 1)
        assert codes.dtype == (np.uint16 if len(ref_values) < 65535 else np.int32)
        monkeypatch.setenv("NIRESAMPLE_PURE_PYTHON", "1")
        v2, c2 = L.dense_codes(arr)
        monkeypatch.delenv("NIRESAMPLE_PURE_PYTHON")
        np.testing.assert_array_equal(v2, values)
        np.testing.assert_array_equal(c2, codes)
        assert c2.dtype == codes.dtype


@needs_c
def test_dense_codes_many_labels_use_int32() -> None:
    a = np.asfortranarray(np.arange(70000, dtype=np.uint32).reshape(100, 700, 1)[:, ::-1] * 3)
    values, codes = L.dense_codes(a)
    assert codes.dtype == np.int32
    np.testing.assert_array_equal(values[codes - 1], a)


@needs_c
def test_native_kernels_reject_bad_buffers() -> None:
    assert clabels is not None
    w = np.array([1.0, 2.0, 1.0])
    codes = np.ones((4, 4, 6), dtype=np.uint16, order="F")
    out = np.empty((4, 4, 4), dtype=np.uint16, order="F")
    clabels.smooth_codes(codes, out, w, w, w, 0, 4, 32)
    assert (out == 1).all()
    bad = [
        (np.ones((4, 4, 6), dtype=np.uint16, order="C"), out, w),  # not F-ordered
        (codes, np.empty((4, 4, 4), dtype=np.int32, order="F"), w),  # dtypes differ
        (codes.astype(np.float64, order="F"), out.astype(np.float64, order="F"), w),
        (codes, np.empty((4, 4, 5), dtype=np.uint16, order="F"), w),  # halo does not match
        (codes, out, np.array([1.0, 2.0])),  # even taps
        (codes, out, np.array([1.0, 0.5, 1.0])),  # not whole
        (codes, out, np.array([1.0, -1.0, 1.0])),
        (codes, out, np.array([2.0**21, 1.0, 1.0])),  # too large to stay exact
        (codes, out, np.array([1, 2, 1], dtype=np.int64)),
    ]
    for c, o, ww in bad:
        with pytest.raises(ValueError):
            clabels.smooth_codes(c, o, ww, ww, ww, 0, o.shape[2], 32)
    with pytest.raises(ValueError):
        clabels.smooth_codes(codes, out, w, w, w, 0, 5, 32)  # beyond the output
    neg = np.asfortranarray(-np.ones((4, 4, 6), dtype=np.int32))
    with pytest.raises(ValueError):
        clabels.smooth_codes(neg, np.empty((4, 4, 4), dtype=np.int32, order="F"), w, w, w, 0, 4, 8)
    with pytest.raises(ValueError):
        clabels.dense_codes(np.ones(5))
    with pytest.raises(ValueError):
        clabels.dense_codes(np.ones((4, 4), dtype=np.int32)[:, ::2])  # not contiguous


record = load_recorder()


@needs_c
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(record.CASES))
def test_recorded_cases_identical_on_both_paths(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    native = run_recorded_case(record, name, monkeypatch)
    monkeypatch.setenv("NIRESAMPLE_PURE_PYTHON", "1")
    pure = run_recorded_case(record, name, monkeypatch)
    assert native.dtype == pure.dtype
    np.testing.assert_array_equal(native, pure)
