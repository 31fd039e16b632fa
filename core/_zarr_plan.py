"""Zarr output options checked at the door, and chunk shapes sized from the memory budget."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .budget import default_jobs
from .errors import OptionError

__all__ = [
    "DEFAULT_CHUNK",
    "as_pyramid",
    "as_method",
    "as_jobs",
    "as_chunks",
    "engine_bytes_per_slice",
    "plan_chunks",
    "make_codec",
]

#: Default chunk edge (voxels) along each spatial axis.
DEFAULT_CHUNK = 128


def as_pyramid(pyramid: int | None) -> int:
    """Number of downsampled levels, 0 to 16 (OptionError naming ``pyramid``)."""
    n = 0 if pyramid is None else int(pyramid)
    if n < 0 or n > 16:
        raise OptionError(f"pyramid: expected 0 to 16 levels, got {pyramid}", param="pyramid")
    return n


def as_method(method: str | None, dtype: np.dtype) -> str:
    """``'majority'`` or ``'mean'``; ``'auto'`` picks majority for integers, mean for floats."""
    m = (method or "auto").lower()
    if m == "auto":
        return "majority" if dtype.kind in "iub" else "mean"
    if m not in ("majority", "mean"):
        raise OptionError(f"pyramid_method: expected 'majority' or 'mean', got {method!r}",
                          param="pyramid_method")
    return m


def as_jobs(jobs: int | None) -> int:
    """Local threads: the usable cores by default (OptionError naming ``jobs`` below 1)."""
    if jobs is None:
        return default_jobs()
    if int(jobs) < 1:
        raise OptionError(f"jobs: expected a positive number of threads, got {jobs}", param="jobs")
    return int(jobs)


def as_chunks(chunks: int | str | Sequence[int] | None) -> tuple[int, int, int]:
    """Chunk shape (x, y, z) from an int, three ints or text ``'64'``, ``'64,32,16'``, ``'8x8x4'``."""
    if chunks is None:
        return (DEFAULT_CHUNK,) * 3
    try:
        if isinstance(chunks, str):
            vals = [int(v) for v in chunks.replace("x", ",").split(",") if v.strip()]
        elif isinstance(chunks, (int, np.integer)):
            vals = [int(chunks)] * 3
        else:
            vals = [int(v) for v in chunks]
    except (TypeError, ValueError):
        vals = []
    if len(vals) == 1:
        vals = vals * 3
    if len(vals) != 3 or any(v < 1 for v in vals):
        raise OptionError(f"chunks: expected one or three positive sizes (x, y, z), got {chunks!r}",
                          param="chunks")
    return vals[0], vals[1], vals[2]


def engine_bytes_per_slice(
    slabs: Sequence[tuple[int, int]] | None, nz: int, budget: int, out_slice_bytes: int
) -> float:
    """Working bytes per output slice the engine needs, read off its slab plan."""
    if slabs:
        height = max(z1 - z0 for z0, z1 in slabs)
        if height < nz:
            return max(budget / max(height, 1), float(out_slice_bytes))
    # One slab holds the whole output: the plan says nothing about a slice's cost
    # (budget / nz would refuse thin outputs), so take the usual few slices' worth.
    return 3.0 * out_slice_bytes


def plan_chunks(
    chunks: int | str | Sequence[int] | None, shape: Sequence[int], itemsize: int, budget: int,
    tasks: int, engine_per_slice: float,
) -> tuple[int, int, int]:
    """Chunk shape (x, y, z) whose row buffers of all tasks fit half the budget."""
    cx, cy, cz = as_chunks(chunks)
    nx, ny, nz = (int(v) for v in shape)
    cx, cy, cz = min(cx, nx), min(cy, ny), min(cz, nz)
    plane = nx * ny * itemsize
    explicit = chunks is not None
    while cz > 1 and tasks * cz * plane > budget / 2:
        if explicit:
            raise OptionError(
                f"chunks: a chunk depth of {cz} slices needs {tasks * cz * plane / 1e9:.2f} GB "
                f"for {tasks} tasks of {nx}x{ny} slices; max_memory allows "
                f"{budget / 1e9:.2f} GB (lower the z chunk or jobs, or raise max_memory)",
                param="chunks",
            )
        cz = max(1, cz // 2)
    if tasks * (cz * plane + engine_per_slice) > budget:
        raise OptionError(
            f"max_memory: {budget / 1e9:.2f} GB cannot hold {tasks} tasks of one "
            f"{nx}x{ny} output slice each; raise max_memory or lower jobs",
            param="max_memory",
        )
    return cx, cy, cz


def make_codec(compression: str, level: int | None) -> Any:
    """The Blosc codec for ``compression`` (zstd, lz4, none) at ``level`` 0-9."""
    import numcodecs

    name = (compression or "zstd").lower()
    if name in ("none", "raw"):
        return numcodecs.Blosc(cname="lz4", clevel=0)
    if name not in ("zstd", "lz4", "lz4hc", "zlib", "blosclz"):
        raise OptionError(f"compression: expected zstd, lz4 or none, got {compression!r}",
                          param="compression")
    lvl = (3 if name == "zstd" else 5) if level is None else int(level)
    if not 0 <= lvl <= 9:
        raise OptionError(f"compression_level: expected 0 to 9, got {level}", param="compression_level")
    return numcodecs.Blosc(cname=name, clevel=lvl, shuffle=numcodecs.Blosc.SHUFFLE)
