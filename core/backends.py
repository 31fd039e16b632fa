"""Applying banded axis rows to a block: numpy/scipy, or torch on cpu/cuda.

Blocks are C-ordered ``(z, y, x)`` views of Fortran-ordered NIfTI slabs, so
axis 0 (z) is outermost and axis 2 (x) is contiguous.  Along the outer and
middle axes a scipy CSR matrix times contiguous rows is the fastest numpy
form (one long axpy per tap); along the contiguous axis a gather per tap with
a fused multiply-add.  The torch backend applies the same rows as batched
``index_select`` gathers, in the same dtype (TF32 off).  Both give the same
result to float32 precision.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["NumpyBackend", "TorchBackend", "make_backend", "prefilter"]


def prefilter(block: np.ndarray, axis: int, order: int, pad: int) -> np.ndarray:
    """Edge-pad ``block`` by ``pad`` along ``axis`` and apply the B-spline pre-filter.

    ``mode='nearest'`` after padding with edge values, as scipy.ndimage does
    for ``map_coordinates(..., mode='nearest')``.
    """
    from scipy.ndimage import spline_filter1d

    if pad:
        widths = [(0, 0)] * block.ndim
        widths[axis] = (pad, pad)
        block = np.pad(block, widths, mode="edge")
    return spline_filter1d(block, order, axis=axis, output=block.dtype, mode="nearest")


def _csr(index: np.ndarray, weight: np.ndarray, n_cols: int, dtype: np.dtype) -> Any:
    import scipy.sparse as sp

    n_out, taps = index.shape
    indptr = np.arange(0, n_out * taps + 1, taps, dtype=np.int64)
    return sp.csr_matrix(
        (weight.astype(dtype).ravel(), index.ravel(), indptr), shape=(n_out, n_cols)
    )


class NumpyBackend:
    """numpy/scipy on the CPU (the default)."""

    name = "numpy"

    def to_device(self, block: np.ndarray) -> np.ndarray:
        return block

    def to_numpy(self, block: np.ndarray) -> np.ndarray:
        return block

    def apply(
        self, block: np.ndarray, axis: int, index: np.ndarray, weight: np.ndarray, gather: bool
    ) -> np.ndarray:
        """Apply rows ``(index, weight)`` along ``axis`` of a C-ordered 3D block."""
        if gather:
            return np.take(block, index[:, 0], axis=axis)
        n_out = index.shape[0]
        if axis == 0:
            m = _csr(index, weight, block.shape[0], block.dtype)
            res = m @ block.reshape(block.shape[0], -1)
            return np.asarray(res).reshape((n_out,) + block.shape[1:])
        if axis == 1:
            m = _csr(index, weight, block.shape[1], block.dtype)
            out = np.empty((block.shape[0], n_out, block.shape[2]), dtype=block.dtype)
            for i in range(block.shape[0]):
                out[i] = m @ block[i]
            return out
        w = weight.astype(block.dtype)
        out = np.take(block, index[:, 0], axis=2)
        out *= w[:, 0]
        tmp = np.empty_like(out)
        for t in range(1, index.shape[1]):
            np.take(block, index[:, t], axis=2, out=tmp)
            tmp *= w[:, t]
            out += tmp
        return out


class TorchBackend:
    """The same rows applied with torch on ``cpu`` or ``cuda`` (TF32 off)."""

    def __init__(self, device: str) -> None:
        from .device import torch_device

        self.name = device
        self.device = torch_device(device)

    def to_device(self, block: np.ndarray) -> Any:
        import torch

        return torch.from_numpy(np.ascontiguousarray(block)).to(self.device)

    def to_numpy(self, block: Any) -> np.ndarray:
        return np.ascontiguousarray(block.cpu().numpy())

    def apply(
        self, block: Any, axis: int, index: np.ndarray, weight: np.ndarray, gather: bool
    ) -> Any:
        import torch

        idx = torch.from_numpy(np.ascontiguousarray(index)).to(self.device)
        if gather:
            return torch.index_select(block, axis, idx[:, 0]).contiguous()
        shape = [1, 1, 1]
        shape[axis] = index.shape[0]
        w = torch.from_numpy(np.ascontiguousarray(weight)).to(self.device, block.dtype)
        out = torch.index_select(block, axis, idx[:, 0]) * w[:, 0].reshape(shape)
        for t in range(1, index.shape[1]):
            out.add_(torch.index_select(block, axis, idx[:, t]) * w[:, t].reshape(shape))
        return out


def make_backend(device: str) -> NumpyBackend | TorchBackend:
    """A backend for a resolved device name (``numpy``, ``cpu`` or ``cuda``)."""
    return NumpyBackend() if device == "numpy" else TorchBackend(device)
