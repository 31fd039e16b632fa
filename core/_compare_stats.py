"""Streamed statistics for :func:`core.compare.compare_images`.

Accumulators fed slab by slab: value statistics with a histogram whose bins
double in width as the range grows (percentiles), exact per-value voxel counts
(label ids kept as Python ints) and the counts behind Dice.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import OptionError

__all__ = ["PERCENTILES", "MAX_LABELS", "HIST_BINS", "validate_fill"]

#: Percentiles reported for each image.
PERCENTILES: tuple[float, ...] = (1.0, 5.0, 25.0, 50.0, 75.0, 95.0, 99.0)

#: Most distinct values compared as labels when asked (``labels=True``).
MAX_LABELS = 65536

#: Most bins kept by the streamed percentile histogram (its precision, see Notes).
HIST_BINS = 1 << 16


class _Histogram:
    """A histogram whose bins double in width as the value range grows.

    Bins are ``[anchor + k*w, anchor + (k+1)*w)``; when the occupied bins
    would exceed :data:`HIST_BINS`, neighbouring bins merge (``w`` doubles).
    Integer images start with ``w = 1`` and therefore stay exact while their
    value range is below :data:`HIST_BINS`.
    """

    def __init__(self, *, integer: bool) -> None:
        self.integer = integer
        self.anchor: float | None = None
        self.width = 1.0
        self.first = 0  # bin index of counts[0]
        self.counts = np.zeros(0, dtype=np.int64)

    def _index(self, values: np.ndarray) -> np.ndarray:
        # float64 throughout, like _bin_of: exact for integers below 2**53 (the
        # anchor is an integer, the width a power of two), and uint64 ids of
        # 2**63 and more cannot overflow an int64 cast.
        assert self.anchor is not None
        # halves: exact in binary floating point, and finite for +-1.7e308 ranges
        v = values.astype(np.float64) * 0.5
        return np.floor((v - self.anchor * 0.5) / (self.width * 0.5)).astype(np.int64)

    def add(self, values: np.ndarray, lo: float, hi: float) -> None:
        if values.size == 0:
            return
        if self.anchor is None:
            self.anchor = float(math.floor(lo)) if self.integer else lo
            if not self.integer:
                half_span = hi * 0.5 - lo * 0.5  # hi - lo may overflow to inf
                self.width = (half_span / (HIST_BINS // 4) if half_span > 0
                              else max(abs(lo), 1.0) * 2.0**-20)
        assert self.anchor is not None
        k_lo, k_hi = self._bin_of(lo), self._bin_of(hi)
        if self.counts.size:
            k_lo, k_hi = min(k_lo, self.first), max(k_hi, self.first + self.counts.size - 1)
        doublings = 0
        while (k_hi >> doublings) - (k_lo >> doublings) + 1 > HIST_BINS:
            doublings += 1
        if doublings:
            self._coarsen(doublings)
            k_lo, k_hi = k_lo >> doublings, k_hi >> doublings
        if self.counts.size == 0:
            self.first, self.counts = k_lo, np.zeros(k_hi - k_lo + 1, dtype=np.int64)
        elif k_lo < self.first or k_hi >= self.first + self.counts.size:
            grown = np.zeros(k_hi - k_lo + 1, dtype=np.int64)
            grown[self.first - k_lo: self.first - k_lo + self.counts.size] = self.counts
            self.first, self.counts = k_lo, grown
        idx = self._index(values) - self.first
        self.counts += np.bincount(np.clip(idx, 0, self.counts.size - 1), minlength=self.counts.size)

    def _bin_of(self, value: float) -> int:
        assert self.anchor is not None
        return int(math.floor((value * 0.5 - self.anchor * 0.5) / (self.width * 0.5)))

    def _coarsen(self, doublings: int) -> None:
        factor = 1 << doublings
        self.width *= factor
        if self.counts.size:
            idx = (np.arange(self.counts.size, dtype=np.int64) + self.first) >> doublings
            new_first = int(idx[0])
            self.counts = np.bincount(idx - new_first, weights=self.counts).astype(np.int64)
            self.first = new_first

    def percentiles(self, qs: tuple[float, ...]) -> list[float | None]:
        """numpy's ``linear`` percentiles, read from the bins."""
        total = int(self.counts.sum())
        if total == 0 or self.anchor is None:
            return [None] * len(qs)
        cum = np.cumsum(self.counts)
        exact = self.integer and self.width == 1.0
        out: list[float | None] = []
        for q in qs:
            rank = q / 100.0 * (total - 1)
            r0 = int(math.floor(rank))
            r1 = min(r0 + 1, total - 1)
            v0, v1 = self._value_at(cum, r0, exact), self._value_at(cum, r1, exact)
            out.append(float(v0 + (rank - r0) * (v1 - v0)))
        return out

    def _value_at(self, cum: np.ndarray, rank: int, exact: bool) -> float:
        b = int(np.searchsorted(cum, rank, side="right"))
        assert self.anchor is not None
        left = self.anchor + (self.first + b) * self.width
        return left if exact else left + 0.5 * self.width


class _ValueStats:
    """Streamed min, max, mean, std, nonzero mean and percentiles."""

    def __init__(self, *, integer: bool) -> None:
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.lo = math.inf
        self.hi = -math.inf
        self.nonfinite = 0
        self.nonzero = 0
        self.nonzero_sum = 0.0
        self.hist = _Histogram(integer=integer)

    def add(self, slab: np.ndarray) -> None:
        vals = slab.ravel()
        if vals.dtype.kind == "f":
            finite = np.isfinite(vals)
            if not finite.all():
                self.nonfinite += int(vals.size - np.count_nonzero(finite))
                vals = vals[finite]
        if vals.size == 0:
            return
        lo, hi = float(vals.min()), float(vals.max())
        self.lo, self.hi = min(self.lo, lo), max(self.hi, hi)
        x = vals.astype(np.float64)
        n = x.size
        with np.errstate(over="ignore", invalid="ignore"):  # +-1e308 data: std is inf
            mean = float(x.mean())
            m2 = float(np.square(x - mean).sum())
        # Chan et al.'s pairwise update: stable for billions of voxels.
        total = self.n + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.n * n / total
        self.n = total
        nz = x != 0
        self.nonzero += int(np.count_nonzero(nz))
        with np.errstate(over="ignore", invalid="ignore"):
            self.nonzero_sum += float(x[nz].sum())
        self.hist.add(vals, lo, hi)

    def result(self) -> dict[str, Any]:
        if self.n == 0:
            return {"voxels": 0, "min": None, "max": None, "mean": None, "std": None,
                    "percentiles": {}, "percentile_bin_width": None, "nonzero_voxels": 0,
                    "nonzero_mean": None, "nonfinite_voxels": self.nonfinite}
        exact = self.hist.integer and self.hist.width == 1.0
        pct = self.hist.percentiles(PERCENTILES)
        return {
            "voxels": self.n,
            "min": self.lo,
            "max": self.hi,
            "mean": self.mean,
            "std": math.sqrt(self.m2 / self.n),
            "percentiles": {f"{q:g}": v for q, v in zip(PERCENTILES, pct, strict=True)},
            "percentile_bin_width": 0.0 if exact else self.hist.width,
            "nonzero_voxels": self.nonzero,
            "nonzero_mean": self.nonzero_sum / self.nonzero if self.nonzero else None,
            "nonfinite_voxels": self.nonfinite,
        }


class _Counter:
    """Exact voxel counts per integer value (label ids kept as Python ints)."""

    def __init__(self, limit: int = MAX_LABELS) -> None:
        self.counts: dict[int, int] = {}
        self.limit = limit
        self.overflow = False

    def add(self, values: np.ndarray) -> None:
        if self.overflow or values.size == 0:
            return
        self.merge(*_unique_counts(values))

    def merge(self, ids: np.ndarray, counts: np.ndarray) -> None:
        """Add counts already taken by :func:`_unique_counts`."""
        if self.overflow:
            return
        get = self.counts.get
        for i, c in zip(ids.tolist(), counts.tolist(), strict=True):
            self.counts[i] = get(i, 0) + c
        if len(self.counts) > self.limit:
            self.overflow = True
            self.counts = {}


def _unique_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values and their counts, never through a float type."""
    v = values.ravel()
    lo, hi = int(v.min()), int(v.max())
    if hi - lo < (1 << 22):
        if lo == 0 and (v.dtype.kind == "i" or v.dtype.itemsize <= 4):  # bincount takes intp
            offsets = v
        else:
            # v - lo in v's own dtype wraps modulo 2**bits; read as unsigned it is
            # exact (an int64 cast first breaks uint64 ids of 2**63 and more).
            unsigned = np.dtype(f"u{v.dtype.itemsize}")
            offsets = (v - v.dtype.type(lo)).view(unsigned).astype(np.intp)
        counts = np.bincount(offsets, minlength=hi - lo + 1)
        present = np.flatnonzero(counts)
        return present.astype(v.dtype) + v.dtype.type(lo), counts[present]
    return np.unique(v, return_counts=True)


class _DiceCounts:
    """Counts behind Dice: ``a``'s labels, ``b`` mapped onto ``a`` and their agreement."""

    def __init__(self, limit: int) -> None:
        self.a = _Counter(limit)  # a's labels in the volumes that were paired
        self.both = _Counter(limit)
        self.mapped = _Counter(limit)
        self.volumes = 0


def validate_fill(fill: object) -> float | None:
    """``compare_images``'s ``fill``: None or a finite number (an int when whole)."""
    if fill is None:
        return None
    try:
        f = float(fill)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise OptionError(f"fill: expected a number, got {fill!r}", param="fill") from None
    if not np.isfinite(f):
        raise OptionError(f"fill: expected a finite number, got {fill!r}", param="fill")
    return int(f) if f.is_integer() else f
