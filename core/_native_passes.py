"""The separable path's compiled loops, when built (``core/_cseparable.c``).

:func:`apply_rows` applies banded rows along one axis of a C-ordered block and
:func:`cast_to_integers` rounds, clips and casts to an integer output, each in one
pass without the GIL.  Both return None when the kernel is not available
(:func:`core._native.load`) or the arrays are not what it takes; the caller then
runs its numpy code, which gives the same values (rows: the same bits, every
product rounded on its own and summed in the same order; the cast: the same rule,
``core.cast.cast_values``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._native import load

__all__ = ["apply_rows", "cast_to_integers"]

_kernel: Any = None
_loaded = False


def _module() -> Any:
    global _kernel, _loaded
    if not _loaded:
        _kernel, _loaded = load("_cseparable"), True
    return _kernel


def apply_rows(block: np.ndarray, axis: int, index: np.ndarray, weight: np.ndarray) -> np.ndarray | None:
    """``out[.., i, ..] = sum_t weight[i, t] * block[.., index[i, t], ..]`` along ``axis``.

    ``block`` is a 3D float32/float64 array; the result is C-ordered, the block's
    dtype.  None when the kernel is not built or the block is another dtype.
    """
    mod = _module()
    if mod is None or block.ndim != 3 or block.dtype not in (np.float32, np.float64):
        return None
    src = np.ascontiguousarray(block)
    shape = src.shape
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
    src3 = src.reshape(outer, shape[axis], inner)
    n_out = index.shape[0]
    out = np.empty((outer, n_out, inner), dtype=src.dtype)
    mod.taps(src3, out, np.ascontiguousarray(index, dtype=np.int64),
             np.ascontiguousarray(weight, dtype=src.dtype))
    return out.reshape(shape[:axis] + (n_out,) + shape[axis + 1:])


def cast_to_integers(values: np.ndarray, dtype: np.dtype, lo: float, hi: float) -> tuple[np.ndarray, int] | None:
    """Round half away from zero, clip to ``[lo, hi]``, NaN to 0, as ``dtype`` (an integer).

    ``values`` float32/float64, C- or Fortran-contiguous; the result has its layout.
    Returns ``(raw, clipped)``, or None when the kernel is not built or the arrays
    are not what it takes.
    """
    mod = _module()
    if mod is None or values.dtype not in (np.float32, np.float64) or np.dtype(dtype).kind not in "iu":
        return None
    if values.flags.c_contiguous:
        src, transposed = values, False
    elif values.flags.f_contiguous:
        src, transposed = values.T, True
    else:
        return None
    raw = np.empty(src.shape, dtype=dtype)
    clipped = int(mod.cast(src, raw, float(lo), float(hi)))
    return (raw.T if transposed else raw), clipped
