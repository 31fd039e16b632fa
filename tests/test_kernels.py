"""Axis weight rows (core/kernels) against independent definitions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.interpolate import BSpline

from niresample_cli.core.errors import OptionError
from niresample_cli.core.kernels import (
    SPLINE_PAD,
    axis_weights,
    bspline,
    bspline_integral,
    prefilter_margin,
    spline_poles,
)


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
    with pytest.raises(OptionError, match="order"):
        axis_weights(5, np.arange(3.0), order=6)
