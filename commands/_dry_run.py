"""``--dry-run`` of spacing, size and labels: the target grid of each file, nothing written."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from niresample_cli.core.requests import ResampleRequest

__all__ = ["plan_facts", "print_plans"]


def _num(v: float) -> str:
    return f"{float(v):.6g}"


def plan_facts(in_path: Path, out_path: Path, request: ResampleRequest) -> dict[str, Any]:
    """What a run of ``request`` on ``in_path`` would write (opens the header only).

    Raises
    ------
    NiresampleError
        The input cannot be opened or the target grid is invalid.
    """
    import numpy as np

    from niresample_cli.core.io import open_image
    from niresample_cli.core.requests import LabelMethod

    with open_image(in_path) as source:
        grid = request.target.grid_for(source.grid)
        dtype = source.dtype
        method = request.method
        if not isinstance(method, LabelMethod) and method.dtype is not None:
            dtype = np.dtype(method.dtype)
        extra = tuple(int(v) for v in source.shape[3:])
        in_grid = source.grid
    shape = tuple(int(v) for v in grid.shape) + extra
    raw = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
    return {
        "input": str(in_path), "output": str(out_path),
        "input_shape": [int(v) for v in source.shape], "input_spacing": [float(s) for s in in_grid.spacing],
        "shape": list(shape), "spacing": [float(s) for s in grid.spacing],
        "origin": [float(v) for v in grid.affine[:3, 3]],
        "fov_mm": [float(s) * n for s, n in zip(grid.spacing, grid.shape, strict=True)],
        "dtype": str(np.dtype(dtype)), "uncompressed_bytes": raw,
        "method": method.describe(),
    }


def print_plans(pairs: Sequence[tuple[Path, Path]], request: ResampleRequest, *, command: str) -> None:
    """Print each pair's plan on stdout: shape, spacing, origin, FOV, size on disk (uncompressed)."""
    from niresample_cli.console import error_line
    from niresample_cli.core.errors import NiresampleError
    from niresample_cli.core.writer import _fmt_bytes
    from niresample_cli.errors import failure_message

    failed = 0
    for src, dst in pairs:
        try:
            f = plan_facts(src, dst, request)
        except NiresampleError as err:
            failed += 1
            error_line(failure_message(err, command))
            continue
        tri = "x".join
        compressed = str(dst).lower().endswith((".gz", ".zarr", ".zarr/"))
        print(f"{src} -> {dst}\n"
              f"  shape   {tri(str(v) for v in f['shape'])} ({f['dtype']}, {f['method']})\n"
              f"  spacing {tri(_num(v) for v in f['spacing'])} mm\n"
              f"  origin  {' '.join(_num(v) for v in f['origin'])} mm\n"
              f"  FOV     {tri(_num(v) for v in f['fov_mm'])} mm\n"
              f"  on disk {_fmt_bytes(f['uncompressed_bytes'])}"
              f"{' uncompressed (less once compressed)' if compressed else ''}", flush=True)
    if failed:
        raise NiresampleError(f"{failed} of {len(pairs)} files cannot be planned")
