"""Per-axis banded weight rows: B-splines of order 0-5, with anti-aliasing.

Separable resampling applies, along each axis, a sparse banded matrix ``W``
(output samples x input samples).  Row ``r`` holds ``taps`` input indices and
weights for output sample ``r`` at continuous input index ``x_r``.

Kernels
-------
* order 0: nearest neighbour, :func:`nearest_index` (ties go up, as ITK).
* order 1: linear (the B-spline of degree 1).
* orders 2-5: B-splines of that degree evaluated on *pre-filtered*
  coefficients (:func:`scipy.ndimage.spline_filter1d`), so that the spline
  interpolates the samples.
* anti-aliasing (downsampling by ``s > 1`` along an axis, order >= 1): the
  B-spline kernel convolved with a box of width ``s`` input voxels, i.e. each
  output value is the **mean of the interpolated image over the output
  voxel's footprint** along that axis (area averaging of the continuous
  spline).  It keeps constants and linear ramps exactly and removes a
  pattern alternating at the input Nyquist frequency when ``s`` is 2.

Boundary (edge replicate, scipy's ``mode='nearest'``): for orders 0 and 1 the
tap indices are clipped into ``[0, n - 1]``.  For orders >= 2 the line is
padded with ``SPLINE_PAD`` copies of its edge value on both sides and
pre-filtered with ``mode='nearest'`` exactly as
:func:`scipy.ndimage.map_coordinates` does, and indices address that padded
line (clipped into it).

Axes whose rows are pure copies (order 0, or an integer shift with unit
scale) are flagged ``gather``: they are applied as an index copy, without
pre-filter or arithmetic, so identity resampling is bit-for-bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import OptionError

__all__ = [
    "ORDERS",
    "SPLINE_PAD",
    "NEAREST_EPS",
    "AxisWeights",
    "axis_weights",
    "bspline",
    "bspline_integral",
    "nearest_index",
    "prefilter_margin",
    "spline_poles",
]

ORDERS = (0, 1, 2, 3, 4, 5)
#: Edge-replicated samples added on each side before the spline pre-filter
#: (the same as scipy.ndimage for ``mode='nearest'``).
SPLINE_PAD = 12
_POLES = {
    2: (math.sqrt(8.0) - 3.0,),
    3: (math.sqrt(3.0) - 2.0,),
    4: (-0.361341225900220177092, -0.0137254292973391795),
    5: (-0.430575347099973791851, -0.0430962882032646985),
}
#: Positions closer than this to an integer count as on the grid.
_INT_TOL = 1e-6
#: Tolerance of the nearest-index rule: float noise this small on an exact tie
#: (2.4999999999 for 2.5) or on the field-of-view bound does not change the voxel.
NEAREST_EPS = 1e-9


def nearest_index(x: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The nearest voxel of an axis of ``n`` voxels at continuous indices ``x``.

    The one nearest-neighbour rule of niresample: the engine's order 0, label
    maps and ``compare``'s mapping all call it, so they pick the same voxel.

    Parameters
    ----------
    x : ndarray of float
        Continuous voxel indices (voxel ``i`` has its centre at ``i``), any shape.
    n : int
        Voxels along the axis (at least 1).

    Returns
    -------
    index : ndarray of int64
        ``floor(x + 0.5 + NEAREST_EPS)`` clipped into ``[0, n - 1]`` (edge
        replicate), the shape of ``x``.
    inside : ndarray of bool
        ``-0.5 - NEAREST_EPS <= x < n - 0.5 + NEAREST_EPS``: the point lies in the
        axis' field of view (the outer edges of its first and last voxels).

    Notes
    -----
    Ties go up, as in ITK: ``x = 1.5`` picks voxel 2.  :data:`NEAREST_EPS`
    (``1e-9``) keeps a tie that affine arithmetic left a hair below the half on
    the same side, and widens the field of view by as much on both edges, so a
    point on an outer edge is inside; there ``index`` is the edge voxel.

    Examples
    --------
    >>> idx, inside = nearest_index(np.array([-0.6, -0.5, 0.5, 1.5 - 1e-12, 2.6]), 3)
    >>> idx.tolist(), inside.tolist()
    ([0, 0, 1, 2, 2], [False, True, True, True, False])
    """
    x = np.asarray(x, dtype=np.float64)
    # clip before the cast: a far-off point must not overflow int64
    index = np.clip(np.floor(x + 0.5 + NEAREST_EPS), 0, n - 1).astype(np.int64)
    inside = (x >= -0.5 - NEAREST_EPS) & (x < n - 0.5 + NEAREST_EPS)
    return index, inside


def spline_poles(order: int) -> tuple[float, ...]:
    """Poles of the B-spline pre-filter of ``order`` (empty for orders 0 and 1)."""
    return _POLES.get(int(order), ())


def prefilter_margin(order: int, *, tol: float = 1e-8) -> int:
    """Extra input samples a cut line needs so its pre-filter matches the whole line.

    The recursive pre-filter's response to a cut decays like ``|pole| ** d``
    at distance ``d``; the margin is the smallest ``d`` with
    ``|pole_max| ** d < tol`` (e.g. 14 for order 3, 22 for order 5).
    """
    poles = spline_poles(order)
    if not poles:
        return 0
    z = max(abs(p) for p in poles)
    return int(math.ceil(math.log(tol) / math.log(z)))


def check_order(order: object) -> int:
    """The B-spline order as an int 0..5 (OptionError for anything else)."""
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or int(order) not in ORDERS:
        raise OptionError(f"order: expected an integer 0..5, got {order!r}", param="order")
    return int(order)


def bspline(t: np.ndarray, order: int) -> np.ndarray:
    """Centred B-spline of degree ``order`` at ``t`` (support ``|t| < (order+1)/2``)."""
    k = check_order(order)
    t = np.asarray(t, dtype=np.float64)
    if k == 0:
        return ((t >= -0.5) & (t < 0.5)).astype(np.float64)
    h = (k + 1) / 2.0
    out = np.zeros_like(t)
    for i in range(k + 2):
        out += (-1) ** i * math.comb(k + 1, i) * np.maximum(t + h - i, 0.0) ** k
    out /= math.factorial(k)
    out[np.abs(t) >= h] = 0.0
    return out


def bspline_integral(t: np.ndarray, order: int) -> np.ndarray:
    """``integral_{-inf}^{t}`` of :func:`bspline` (0 below the support, 1 above)."""
    k = check_order(order)
    t = np.asarray(t, dtype=np.float64)
    h = (k + 1) / 2.0
    out = np.zeros_like(t)
    for i in range(k + 2):
        out += (-1) ** i * math.comb(k + 1, i) * np.maximum(t + h - i, 0.0) ** (k + 1)
    out /= math.factorial(k + 1)
    out[t <= -h] = 0.0
    out[t >= h] = 1.0
    return out


@dataclass(frozen=True)
class AxisWeights:
    """Banded rows of one axis' weight matrix.

    Attributes
    ----------
    index : (n_out, taps) ndarray of int64
        Input indices on the *line*: the input axis itself, or, when
        ``prefilter``, the axis padded by ``pad`` edge samples on each side.
    weight : (n_out, taps) ndarray of float64
        Row weights (each row sums to 1).
    order : int
    n_in : int
        Input samples on this axis (before padding).
    pad : int
        Edge samples added on each side of the line (``SPLINE_PAD`` or 0).
    prefilter : bool
        Apply the B-spline pre-filter along this axis first.
    gather : bool
        Every row is one tap of weight 1: a pure index copy.
    """

    index: np.ndarray
    weight: np.ndarray
    order: int
    n_in: int
    pad: int
    prefilter: bool
    gather: bool

    @property
    def n_out(self) -> int:
        return int(self.index.shape[0])

    @property
    def taps(self) -> int:
        return int(self.index.shape[1])

    @property
    def line_length(self) -> int:
        return self.n_in + 2 * self.pad

    def rows(self, r0: int, r1: int) -> AxisWeights:
        """The rows of output samples ``[r0, r1)``."""
        return AxisWeights(self.index[r0:r1], self.weight[r0:r1], self.order, self.n_in,
                           self.pad, self.prefilter, self.gather)

    def span(self) -> tuple[int, int]:
        """``[lo, hi)`` range of line indices these rows read (weight != 0)."""
        used = self.weight != 0
        idx = self.index[used] if np.any(used) else self.index
        return int(idx.min()), int(idx.max()) + 1

    def dense(self) -> np.ndarray:
        """The (n_out, line_length) dense matrix (tests and small axes only)."""
        m = np.zeros((self.n_out, self.line_length))
        rows = np.repeat(np.arange(self.n_out), self.taps)
        np.add.at(m, (rows, self.index.ravel()), self.weight.ravel())
        return m


def axis_weights(
    n_in: int, positions: np.ndarray, *, order: int, aa_width: float = 1.0
) -> AxisWeights:
    """Weight rows sampling an axis of ``n_in`` samples at ``positions``.

    Parameters
    ----------
    n_in : int
        Input samples along the axis.
    positions : (n_out,) array_like of float
        Continuous input index of each output sample (``scale * i' + offset``).
    order : int
        B-spline order 0..5 (0 nearest, 1 linear, 3 cubic).
    aa_width : float
        Anti-aliasing box width in input samples (``|scale|`` when
        downsampling with anti-aliasing on, else 1 meaning none).  Ignored
        for order 0.

    Returns
    -------
    AxisWeights

    Notes
    -----
    Rows are normalised to sum to 1 in float64, so constants are kept.
    """
    k = check_order(order)
    x = np.asarray(positions, dtype=np.float64).reshape(-1)
    n_in = int(n_in)
    aa = float(aa_width) if k >= 1 and aa_width > 1.0 + 1e-9 else 1.0
    near = np.round(x)
    if k == 0 or (aa == 1.0 and np.all(np.abs(x - near) <= _INT_TOL)):
        if k == 0:
            index = nearest_index(x, n_in)[0][:, None]
        else:
            index = np.clip(near, 0, n_in - 1).astype(np.int64)[:, None]
        return AxisWeights(index, np.ones(index.shape), k, n_in, 0, False, True)
    prefilter = k >= 2
    pad = SPLINE_PAD if prefilter else 0
    u = x + pad
    radius = (k + 1) / 2.0 + (aa / 2.0 if aa > 1.0 else 0.0)
    line = n_in + 2 * pad
    if 2.0 * radius > line + 1:
        # a box wider than the line: every tap beyond it reads an edge sample
        index, w = _box_over_short_line(u, line, k, aa)
        return AxisWeights(index, w, k, n_in, pad, prefilter, False)
    taps = int(math.ceil(2.0 * radius - 1e-9))
    first = np.floor(u - radius).astype(np.int64) + 1
    j = first[:, None] + np.arange(taps)[None, :]
    t = u[:, None] - j
    if aa > 1.0:
        w = (bspline_integral(t + aa / 2.0, k) - bspline_integral(t - aa / 2.0, k)) / aa
    else:
        w = bspline(t, k)
    total = w.sum(axis=1, keepdims=True)
    w = w / np.where(total == 0, 1.0, total)
    index = np.clip(j, 0, n_in + 2 * pad - 1)
    # A tap of weight 0 reads its row's main tap instead: 0 * NaN is NaN, so a
    # zero tap must never reach a voxel the row does not use.
    main = index[np.arange(len(index)), np.argmax(w, axis=1)][:, None]
    index = np.where(w == 0, main, index)
    return AxisWeights(index, w, k, n_in, pad, prefilter, False)


def _box_over_short_line(u: np.ndarray, line: int, k: int, aa: float) -> tuple[np.ndarray, np.ndarray]:
    """Box-kernel rows with one tap per line sample (``line`` taps, never ``aa``).

    Under edge replication a tap ``j`` outside ``[0, line)`` reads the edge sample, so the
    weight of edge tap 0 is the whole mass of taps ``j <= 0`` (and of ``line - 1`` that of
    ``j >= line - 1``), computed in closed form: the same matrix as the full kernel with its
    indices clipped, in ``O(line)`` memory whatever the width.
    """
    j = np.arange(line, dtype=np.int64)
    t = u[:, None] - j[None, :]
    w = (bspline_integral(t + aa / 2.0, k) - bspline_integral(t - aa / 2.0, k)) / aa
    w[:, 0] = _mass_at_or_below(u, 0, k, aa)
    if line > 1:
        w[:, -1] = _mass_at_or_below(-u, -(line - 1), k, aa)  # mirrored: taps >= line - 1
    total = w.sum(axis=1, keepdims=True)
    w = w / np.where(total == 0, 1.0, total)
    return np.broadcast_to(j, w.shape).copy(), w


def _mass_at_or_below(u: np.ndarray, edge: int, k: int, aa: float) -> np.ndarray:
    """Total box weight of all taps ``j <= edge`` for rows centred at ``u``.

    That is ``1/aa`` times the integral over ``[u - aa/2, u + aa/2]`` of
    ``S(t) = sum_{j <= edge} bspline(t - j)``, which is 1 for ``t <= edge + 1 - h``, 0 for
    ``t >= edge + h`` (``h = (k + 1) / 2``), and a finite sum of B-splines between.
    """
    h = (k + 1) / 2.0
    lo, hi = u - aa / 2.0, u + aa / 2.0
    flat = np.maximum(0.0, np.minimum(hi, edge + 1 - h) - lo)
    p, q = np.maximum(lo, edge + 1 - h), np.minimum(hi, edge + h)
    ramp = np.zeros_like(u)
    for jj in range(edge - k - 2, edge + 1):
        ramp += bspline_integral(q - jj, k) - bspline_integral(p - jj, k)
    return (flat + np.where(q > p, ramp, 0.0)) / aa
