"""Memory budgets, sizes and slab plans: a leaf that every room below the API uses.

One parser for sizes (``'512M'``, ``'2G'``, bytes), one default budget, one rule for
how many slab pieces a threaded stream computes at once.  No imports from the rest of
core but :mod:`.errors`.
"""

from __future__ import annotations

import os
import re

import numpy as np

from .errors import OptionError

__all__ = [
    "DEFAULT_MAX_MEMORY",
    "MIN_MAX_MEMORY",
    "parse_size",
    "parse_memory",
    "plan_slabs",
    "default_jobs",
    "stream_pieces",
]

DEFAULT_MAX_MEMORY = 1 << 30
#: The smallest budget accepted for ``max_memory``.
MIN_MAX_MEMORY = 16 << 20
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def _total_ram() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def parse_size(value: str | int, name: str) -> int:
    """Bytes from ``'512M'``, ``'2G'``, ``'1.5g'``, ``'800MB'`` or an int (a Python int, never wrapped).

    Raises
    ------
    OptionError
        Naming ``name``, for anything that is not a size.
    """
    if isinstance(value, bool):
        raise OptionError(f"{name}: expected a size like 512M or 2G, got {value!r}", param=name)
    if isinstance(value, (int, np.integer)):
        return int(value)
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgtKMGT]?)(i?[bB])?\s*", str(value))
    if not m:
        raise OptionError(f"{name}: expected a size like 512M or 2G, got {value!r}", param=name)
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def parse_memory(value: str | int | None, name: str = "max_memory") -> int:
    """The working-memory budget in bytes.

    ``None`` gives the default: 1 GiB or a quarter of the RAM, whichever is less.

    Raises
    ------
    OptionError
        For text that is not a positive size, or below 16 MiB.
    """
    if value is None:
        ram = _total_ram()
        return min(DEFAULT_MAX_MEMORY, ram // 4) if ram else DEFAULT_MAX_MEMORY
    n = parse_size(value, name)
    if n < MIN_MAX_MEMORY:
        raise OptionError(f"{name}: at least 16M is needed, got {value!r}", param=name)
    return n


def plan_slabs(nz: int, bytes_per_slice: float, budget: int, *, min_height: int = 1) -> list[tuple[int, int]]:
    """Split ``[0, nz)`` into slabs whose working memory fits ``budget``.

    Parameters
    ----------
    nz : int
        Output size along the last spatial axis.
    bytes_per_slice : float
        Peak working bytes per output slice (the engine's estimate, including
        the input rows and intermediates that slice needs).
    budget : int
        Memory budget in bytes.
    """
    h = int(max(min_height, min(nz, budget // max(bytes_per_slice, 1.0))))
    return [(z0, min(nz, z0 + h)) for z0 in range(0, nz, h)]


def default_jobs() -> int:
    """Number of local threads used when ``threads`` is not given: the usable cores."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def stream_pieces(threads: int | None = None) -> int:
    """Slab pieces alive at once in the threaded stream.

    The stream computes ``threads`` slabs ahead while one is written, cutting each
    planned slab in ``threads + 1`` pieces that share the budget; every piece pays
    an engine's fixed rows.  More threads than cores compute on the cores only.
    """
    t = min(int(threads or default_jobs()), default_jobs())
    return t + 1 if t > 1 else 1
