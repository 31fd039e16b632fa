"""Output data types: choosing them and casting values to them without wrapping."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import OptionError
from .source import SUPPORTED_DTYPES, SourceImage

__all__ = ["OutputType", "check_dtype", "output_type", "work_dtype", "cast_values", "round_half_away"]


@dataclass(frozen=True)
class OutputType:
    """What is written: the stored dtype and the header scaling.

    Attributes
    ----------
    dtype : numpy.dtype
        Stored (raw) dtype.
    slope, inter : float
        Header scaling: ``value = raw * slope + inter`` (1 and 0 when unscaled).
    """

    dtype: np.dtype
    slope: float = 1.0
    inter: float = 0.0

    @property
    def is_scaled(self) -> bool:
        return self.slope != 1.0 or self.inter != 0.0


def check_dtype(dtype: object) -> np.dtype:
    """The native-order dtype niresample writes for ``dtype`` (a name or a dtype).

    Raises
    ------
    OptionError
        Naming ``dtype``, for anything that is not a real scalar type niresample writes.
    """
    try:
        dt = np.dtype(str(dtype).lower() if isinstance(dtype, str) else dtype)  # type: ignore[call-overload]
    except TypeError as err:
        raise OptionError(f"dtype: not a data type: {dtype!r}", param="dtype") from err
    dt = dt.newbyteorder("=")
    if dt not in SUPPORTED_DTYPES:
        names = ", ".join(str(d) for d in SUPPORTED_DTYPES)
        raise OptionError(f"dtype: expected one of {names}, got {dtype!r}", param="dtype")
    return dt


def output_type(source: SourceImage, dtype: object = None) -> OutputType:
    """The output type for ``source``: its own dtype unless ``dtype`` is given.

    An integer output of a scaled input keeps the input's ``scl_slope`` and
    ``scl_inter`` (the values are stored as ``round((v - inter) / slope)``);
    a float output stores the values themselves, with slope 1.

    Raises
    ------
    OptionError
        For a dtype that is not a real scalar type niresample writes.
    """
    dt = source.dtype if dtype is None else check_dtype(dtype)
    if dt.kind in "iu" and source.is_scaled:
        return OutputType(dt, source.slope, source.inter)
    return OutputType(dt)


def work_dtype(source: SourceImage, out: OutputType) -> np.dtype:
    """Arithmetic dtype: float64 where float32 would lose input or output precision."""
    wide = (
        source.dtype == np.float64
        or out.dtype == np.float64
        or (source.dtype.kind in "iu" and source.dtype.itemsize >= 4)
        or (out.dtype.kind in "iu" and out.dtype.itemsize >= 4)
    )
    return np.dtype(np.float64 if wide else np.float32)


def round_half_away(values: np.ndarray) -> np.ndarray:
    """Round half away from zero, exactly (no ``x + 0.5`` precision loss)."""
    r = np.trunc(values)
    frac = values - r
    r += (frac >= 0.5).astype(r.dtype)
    r -= (frac <= -0.5).astype(r.dtype)
    return r


def _float_bounds(dtype: np.dtype) -> tuple[float, float]:
    info = np.iinfo(dtype)
    lo, hi = float(info.min), float(info.max)
    if hi > info.max:  # 2**63 - 1 and 2**64 - 1 round up in float64
        hi = float(np.nextafter(hi, -np.inf))
    return lo, hi


def cast_values(values: np.ndarray, out: OutputType) -> tuple[np.ndarray, int]:
    """Cast resampled values to the output type.

    Integers are rounded half away from zero and clipped to the dtype's range,
    never wrapped; NaN becomes 0.

    Returns
    -------
    raw : ndarray of ``out.dtype``
    clipped : int
        Voxels that were out of range (or NaN) and had to be clipped.
    """
    if out.dtype.kind == "f":
        return values.astype(out.dtype, copy=False), 0
    v = values
    if out.is_scaled:
        v = (v - v.dtype.type(out.inter)) / v.dtype.type(out.slope)
    wide = v.astype(np.float64, copy=False) if out.dtype.itemsize >= 4 else v
    r = round_half_away(wide)
    lo, hi = _float_bounds(out.dtype)
    nan = np.isnan(r)
    bad = (r < lo) | (r > hi) | nan
    clipped = int(np.count_nonzero(bad))
    if clipped:
        r[nan] = 0
        np.clip(r, lo, hi, out=r)
    return r.astype(out.dtype), clipped
