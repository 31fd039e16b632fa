"""Compute device resolution: numpy on the CPU, or torch on cpu/cuda."""

from __future__ import annotations

from typing import Any

from .errors import DeviceError, OptionError

__all__ = ["DEVICES", "resolve_device", "torch_available", "cuda_available"]

DEVICES = ("auto", "numpy", "cpu", "cuda")


def torch_available() -> bool:
    """Whether torch can be imported (found without importing it)."""
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def _nvidia_driver_present() -> bool:
    """Cheap test for an NVIDIA driver, so 'auto' never imports torch (about
    180 MB and a second per process) on machines without a GPU."""
    import ctypes.util
    import os

    if os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/nvidiactl"):
        return True
    return ctypes.util.find_library("cuda") is not None


def cuda_available() -> bool:
    if not torch_available() or not _nvidia_driver_present():
        return False
    import torch

    return bool(torch.cuda.is_available())


def resolve_device(device: str | None) -> str:
    """``'numpy'``, ``'cpu'`` (torch) or ``'cuda'`` (torch) from a user's choice.

    ``None`` and ``'numpy'`` mean the numpy/scipy path.  ``'auto'`` picks CUDA
    when torch sees a GPU, else numpy.  ``'cpu'`` means torch on the CPU.

    Raises
    ------
    DeviceError
        ``cpu``/``cuda`` without torch installed, or ``cuda`` without a GPU.
    OptionError
        An unknown device name.
    """
    d = "numpy" if device is None else str(device).lower()
    if d not in DEVICES:
        raise OptionError(f"device: expected one of auto, numpy, cpu, cuda, got {device!r}", param="device")
    if d == "auto":
        return "cuda" if cuda_available() else "numpy"
    if d in ("cpu", "cuda") and not torch_available():
        raise DeviceError(
            f"device: {d!r} needs PyTorch: pip install 'niresample[torch]' (or pip install torch)",
            param="device",
        )
    if d == "cuda" and not cuda_available():
        raise DeviceError("device: torch sees no CUDA GPU for 'cuda' (use 'cpu' or 'auto')",
                          param="device")
    return d


def torch_device(device: str) -> Any:
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return torch.device("cuda" if device == "cuda" else "cpu")
