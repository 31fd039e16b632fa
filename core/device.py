"""Compute device resolution: one vocabulary for the CLI's ``--device`` and the API's ``device=``.

======================  =====================================  ===============
asked                   runs                                   reported engine
======================  =====================================  ===============
``None``, ``'numpy'``   numpy/scipy                            ``numpy``
``'cpu'``               numpy/scipy (the fastest CPU engine)   ``numpy``
``'torch-cpu'``         torch on the CPU                       ``torch-cpu``
``'cuda'``              torch on the GPU                       ``cuda``
``'auto'``              ``cuda`` when torch sees a GPU, else numpy
======================  =====================================  ===============

Inside core the resolved key ``'cpu'`` names the torch backend on the CPU (the
backends' word); :func:`engine_word` turns it into the word users see.
"""

from __future__ import annotations

from typing import Any

from .errors import DeviceError, OptionError

__all__ = ["DEVICES", "resolve_device", "engine_word", "torch_available", "cuda_available"]

DEVICES: tuple[str, ...] = ("auto", "numpy", "cpu", "torch-cpu", "cuda")


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
    """The backend key ``'numpy'``, ``'cpu'`` (torch on the CPU) or ``'cuda'`` (torch).

    ``None``, ``'numpy'`` and ``'cpu'`` mean the numpy/scipy path.  ``'auto'`` picks
    CUDA when torch sees a GPU, else numpy.  ``'torch-cpu'`` means torch on the CPU.

    Raises
    ------
    DeviceError
        ``cpu``/``cuda`` without torch installed, or ``cuda`` without a GPU.
    OptionError
        An unknown device name.
    """
    d = "numpy" if device is None else str(device).lower()
    if d not in DEVICES:
        raise OptionError(f"device: expected one of {', '.join(DEVICES)}, got {device!r}",
                          param="device")
    if d == "auto":
        return "cuda" if cuda_available() else "numpy"
    if d in ("numpy", "cpu"):
        return "numpy"
    if d == "torch-cpu":
        d = "cpu"
    if d in ("cpu", "cuda") and not torch_available():
        raise DeviceError(
            f"device: {d!r} needs PyTorch: pip install 'niresample[torch]' (or pip install torch)",
            param="device",
        )
    if d == "cuda" and not cuda_available():
        raise DeviceError("device: torch sees no CUDA GPU for 'cuda' (use 'cpu' or 'auto')",
                          param="device")
    return d


def engine_word(device: str) -> str:
    """The engine as reported to users: ``'numpy'``, ``'torch-cpu'`` or ``'cuda'``."""
    return "torch-cpu" if device == "cpu" else device


def torch_device(device: str) -> Any:
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return torch.device("cuda" if device == "cuda" else "cpu")
