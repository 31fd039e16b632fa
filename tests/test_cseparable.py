"""The compiled separable kernel (core/_cseparable.c) gives the numpy path's values:
the same bits for the rows (every product rounded, summed in the same order) and for the
integer cast, on every axis, dtype and edge value; whole resamplings agree bit for bit at
orders 0 and 1 and to float32 rounding at order 3.  Bad buffers raise ValueError."""

from __future__ import annotations

import threading

import nibabel as nib
import numpy as np
import pytest

from niresample_cli.core import _native_passes
from niresample_cli.core._native import load
from niresample_cli.core.backends import NumpyBackend
from niresample_cli.core.cast import OutputType, _float_bounds, cast_values

kernel = load("_cseparable")
pytestmark = pytest.mark.skipif(kernel is None, reason="the compiled kernel is not built")


def _rows(rng: np.random.Generator, n_in: int, n_out: int, taps: int) -> tuple[np.ndarray, np.ndarray]:
    start = rng.integers(0, max(1, n_in - taps + 1), size=n_out)
    index = np.minimum(start[:, None] + np.arange(taps), n_in - 1).astype(np.intp)
    weight = rng.random((n_out, taps))
    return index, weight / weight.sum(axis=1, keepdims=True)


def _numpy_rows(block: np.ndarray, axis: int, index: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The numpy path as the stream's slab threads run it (gathers, no BLAS)."""
    out: list[np.ndarray] = []
    t = threading.Thread(target=lambda: out.append(NumpyBackend().apply(block, axis, index, weight, False)))
    t.start()
    t.join()
    return out[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("taps", [1, 2, 4, 6])
def test_rows_equal_the_numpy_path_bit_for_bit(dtype: type, axis: int, taps: int) -> None:
    rng = np.random.default_rng(axis * 10 + taps)
    block = (rng.random((9, 3000 if axis == 0 else 11, 13)) * 500 - 100).astype(dtype)
    if axis == 0:  # long rows: the kernel's cache blocks
        block = block.reshape(9, 3, 13000)
    n_in = block.shape[axis]
    index, weight = _rows(rng, n_in, 2 * n_in + 1, taps)
    got = _native_passes.apply_rows(block, axis, index, weight)
    want = _numpy_rows(block, axis, index, weight)
    assert got is not None and got.dtype == block.dtype and got.flags.c_contiguous
    np.testing.assert_array_equal(got, want)
    main = NumpyBackend().apply(block, axis, index, weight, False)  # BLAS bands for x, taps > 2
    np.testing.assert_allclose(got, main, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-3)


_EDGES = [np.nan, np.inf, -np.inf, 0.0, -0.0, 0.5, -0.5, 1.5, -1.5, 2.5, 0.49999997, -0.49999997,
          126.5, 127.5, -128.5, -129.0, 254.5, 255.0, 255.49998, 255.5, 256.0, 32767.5, 65535.4,
          65535.5, -32768.5, 2.0**31 - 0.5, 2.0**31, -(2.0**31) - 1, 2.0**32, 1e12, -1e12, 2.0**53,
          2.0**63, 2.0**64, -(2.0**63), 1e30, -1e30]


@pytest.mark.parametrize("src", [np.float32, np.float64])
@pytest.mark.parametrize("dst", [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
                                 np.int64, np.uint64])
@pytest.mark.parametrize("order", ["C", "F"])
def test_cast_equals_cast_values(src: type, dst: type, order: str) -> None:
    rng = np.random.default_rng(1)
    vals = np.concatenate([np.array(_EDGES), rng.normal(0, 300, 9000), rng.random(5000) * 255,
                           np.round(rng.normal(0, 100, 2000)) + 0.5])
    vals = np.resize(vals, 19 * 25 * 34)
    rng.shuffle(vals)
    values = np.asarray(vals.astype(src).reshape(19, 25, 34), order=order)
    out = OutputType(dtype=np.dtype(dst))
    with np.errstate(invalid="ignore"):
        want, want_clipped = cast_values(values, out)
    lo, hi = _float_bounds(np.dtype(dst))
    done = _native_passes.cast_to_integers(values, np.dtype(dst), lo, hi)
    assert done is not None
    got, clipped = done
    assert got.dtype == want.dtype and got.flags.f_contiguous == want.flags.f_contiguous
    np.testing.assert_array_equal(got, want)
    assert clipped == want_clipped


def test_bad_buffers_raise_value_error() -> None:
    f = np.zeros((2, 3, 4), np.float32)
    idx = np.zeros((5, 2), np.int64)
    w = np.zeros((5, 2), np.float32)
    with pytest.raises(ValueError, match="shapes"):
        kernel.taps(f, np.zeros((2, 4, 4), np.float32), idx, w)
    with pytest.raises(ValueError, match="float32 or float64"):
        kernel.taps(f, np.zeros((2, 5, 4), np.float64), idx, w)
    with pytest.raises(ValueError, match="int64"):
        kernel.taps(f, np.zeros((2, 5, 4), np.float32), idx.astype(np.int32), w)
    with pytest.raises(ValueError, match="out of range"):
        kernel.taps(f, np.zeros((2, 5, 4), np.float32), idx + 3, w)
    with pytest.raises(ValueError, match="overlaps"):
        big = np.zeros((2, 5, 4), np.float32)
        kernel.taps(big, big, idx, w)
    with pytest.raises(ValueError, match="integer"):
        kernel.cast(f, np.zeros((2, 3, 4), np.float32), 0.0, 1.0)
    with pytest.raises(ValueError, match="sizes"):
        kernel.cast(f, np.zeros(5, np.uint8), 0.0, 255.0)
    with pytest.raises(ValueError, match="float32 or float64"):
        kernel.cast(np.zeros(4, np.int16), np.zeros(4, np.uint8), 0.0, 255.0)
    with pytest.raises((ValueError, BufferError, TypeError)):
        kernel.taps(np.zeros((2, 3, 8), np.float32)[:, :, ::2], np.zeros((2, 5, 4), np.float32), idx, w)


@pytest.mark.parametrize("order,dtype", [(0, np.uint8), (1, np.uint8), (1, np.int16), (1, np.float32),
                                         (3, np.float32), (3, np.int16)])
def test_whole_resampling_equals_the_numpy_path(tmp_path, monkeypatch, order: int, dtype: type) -> None:  # type: ignore[no-untyped-def]
    from niresample_cli.core.api import resample_to_spacing

    rng = np.random.default_rng(order)
    data = (rng.random((31, 27, 23)) * 250).astype(dtype)
    path = tmp_path / "in.nii"
    nib.save(nib.Nifti1Image(data, np.diag([1.0, 1.2, 0.9, 1.0])), str(path))

    def run() -> np.ndarray:
        return np.asarray(resample_to_spacing(str(path), (0.7, 1.9, 0.45), order=order).dataobj)

    fast = run()
    monkeypatch.setattr(_native_passes, "_kernel", None)
    monkeypatch.setattr(_native_passes, "_loaded", True)
    slow = run()
    if order <= 1:
        np.testing.assert_array_equal(fast, slow)
    elif np.dtype(dtype).kind == "f":
        np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-3)
    else:  # rounding of values within float32 rounding of a half
        assert np.max(np.abs(fast.astype(np.int64) - slow)) <= 1
        assert np.mean(fast != slow) < 1e-3
