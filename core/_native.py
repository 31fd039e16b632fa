"""The compiled kernels, when the install built them (``setup.py``: optional extensions).

Every caller keeps a numpy/scipy path for when :func:`load` returns None (no C
compiler at install time, or ``NIRESAMPLE_PURE_PYTHON=1`` in the environment,
which the tests use to check that both paths give the same output).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

__all__ = ["load"]

_ABI = 1


def load(name: str) -> ModuleType | None:
    """The compiled module ``name`` (``"_cinterp"``, ``"_clabels"``), or None."""
    if os.environ.get("NIRESAMPLE_PURE_PYTHON", "") not in ("", "0"):
        return None
    try:
        mod = importlib.import_module(f"niresample_cli.core.{name}")
    except ImportError:
        return None
    return mod if getattr(mod, "abi", lambda: 0)() == _ABI else None
