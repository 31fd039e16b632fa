"""How large a compressed output (.nii.gz, Zarr) will be: compress a sample of it.

A compressed output has no size until it is written, and a floor ratio (10:1) lets a
mistyped spacing start filling the disk.  Here a few small blocks of the *real* output,
spread through its field of view, are computed by the engine's own slab function (on a
sub-grid of the output grid, via the slab function's ``for_grid``) and compressed with the
output's codec; their ratio, with a margin, scales the uncompressed size.  The blocks are
whole x rows where they fit (4096 voxels), a few hundred thousand voxels in all, so the
estimate costs well under a second whatever the output size.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .grid import Grid

__all__ = ["sample_ratio", "SAMPLE_MARGIN"]

#: Voxels per sample block, and the longest x run a block takes.
_BLOCK_VOXELS = 1 << 16
_MAX_ROW = 4096
#: Where the blocks sit, as fractions of each axis (a diagonal through the field of view,
#: so background-only first slices do not make the estimate optimistic).
_FRACTIONS = (0.2, 0.35, 0.5, 0.65, 0.8)
#: Compressed sizes of blocks vary more than those of whole files: keep a margin.
SAMPLE_MARGIN = 1.15


def _blocks(shape: tuple[int, int, int]) -> list[tuple[int, int, int, int, int]]:
    """``(i0, j0, k0, bx, by)`` of the sample blocks (one slice deep each)."""
    nx, ny, nz = shape
    bx = min(nx, _MAX_ROW)
    by = max(1, min(ny, _BLOCK_VOXELS // bx))
    seen: set[tuple[int, int, int, int, int]] = set()
    for f in _FRACTIONS:
        seen.add((int(f * (nx - bx)), int(f * (ny - by)), int(round(f * (nz - 1))), bx, by))
    return sorted(seen)


def _compressor(zarr: bool, level: int | None) -> Any:
    """``compress(bytes) -> bytes`` with the output's codec (isal/zlib for gzip, Blosc for Zarr)."""
    if zarr:
        from ._zarr_plan import make_codec

        codec = make_codec("zstd", None)
        return lambda arr: codec.encode(np.ascontiguousarray(arr))
    from .writer import isal_level

    try:
        from isal import isal_zlib

        lvl = isal_level(level)
        return lambda arr: isal_zlib.compress(np.asfortranarray(arr).tobytes(order="F"), lvl)
    except ImportError:  # pragma: no cover - isal is a dependency; zlib is the fallback
        import zlib

        zl = 1 if level is None else int(level)
        return lambda arr: zlib.compress(np.asfortranarray(arr).tobytes(order="F"), zl)


def sample_ratio(grid: Grid, slab_fn: Any, *, zarr: bool, level: int | None = None) -> float | None:
    """Compressed / uncompressed size of a sample of the output on ``grid``.

    Parameters
    ----------
    grid : Grid
        The output grid.
    slab_fn : slab function
        The output's slab function; it must offer ``for_grid(grid)`` (the same
        method on another grid), else no sample is taken.
    zarr : bool
        Compress as the Zarr writer does (Blosc zstd) instead of gzip.
    level : int, optional
        The gzip ``compress_level``.

    Returns
    -------
    float or None
        The ratio (> 0), or None when no sample could be computed.
    """
    for_grid = getattr(slab_fn, "for_grid", None)
    if not callable(for_grid):
        return None
    compress = _compressor(zarr, level)
    raw = packed = 0
    for i0, j0, k0, bx, by in _blocks(tuple(int(v) for v in grid.shape)):  # type: ignore[arg-type]
        shift = np.eye(4)
        shift[:3, 3] = (i0, j0, k0)
        sub = Grid((bx, by, 1), grid.affine @ shift)
        block = np.asarray(for_grid(sub)(0, 0, 1))
        raw += block.nbytes
        packed += len(compress(block))
    return packed / raw if raw else None
