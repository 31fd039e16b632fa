"""niresample: resample NIfTI images correctly, fast, and at any size."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
