"""`niresample compare` (not built yet)."""

from __future__ import annotations

from niresample_cli.core.errors import NiresampleError


def run() -> None:
    """Not available yet in this version."""
    raise NiresampleError("'niresample compare' is not available yet in this version")
