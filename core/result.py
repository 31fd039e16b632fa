"""What a run produces: the output's layout (:class:`OutputSpec`) and the report of one
run (:class:`RunResult`), the same for intensity and label runs.

A leaf: only :mod:`.grid` is imported (for types), so the engines, the stream and the
API all use these without cycles.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .grid import Grid
    from .source import SourceImage

__all__ = ["OutputSpec", "RunResult"]


@dataclass(frozen=True)
class OutputSpec:
    """The layout of one output: what :func:`core.stream.write_output` writes.

    Attributes
    ----------
    grid : Grid
        Output spatial grid.
    extra_shape : tuple of int
        Axes beyond the third (kept from the input).
    dtype : numpy.dtype
        Stored dtype (what the slab function returns).
    template : nibabel header, optional
        Header whose codes, units, TR, intent and description are kept.
    slope, inter : float
        Scaling stored in the output header.
    """

    grid: Grid
    extra_shape: tuple[int, ...] = ()
    dtype: Any = np.dtype(np.float32)
    template: Any = None
    slope: float = 1.0
    inter: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra_shape", tuple(int(v) for v in self.extra_shape))
        object.__setattr__(self, "dtype", np.dtype(self.dtype))

    @property
    def shape(self) -> tuple[int, ...]:
        """The full output shape (extra axes included)."""
        return tuple(int(v) for v in self.grid.shape) + self.extra_shape


@dataclass
class RunResult:
    """What one resampling did (the CLI prints it; core never prints).

    Attributes
    ----------
    input : Path or None
        The input file (None for in-memory images).
    output : Path or None
        The written file (None for in-memory results).
    input_grid, grid : Grid
        Source and output spatial grids.
    shape : tuple of int
        Full output shape (extra axes included).
    dtype : numpy.dtype
        Stored output dtype.
    method : str
        ``'order 1'`` (B-spline order) for intensity runs; ``'nearest'``,
        ``'majority'`` or ``'gaussian'`` for label runs.
    device : str
        The engine's device: ``'numpy'``, ``'cpu'`` or ``'cuda'``.
    clipped : int
        Integer voxels clipped to the dtype's range (never wrapped).
    slabs : int
        Slabs per volume.
    seconds : float
        Wall time of the run.
    warnings : tuple of str
        Anything the caller should tell the user.
    slope, inter : float
        Output header scaling.
    order : int or None
        B-spline order (None for label runs).
    anti_aliasing : bool
        Whether any axis was anti-aliased.
    separable : bool
        Whether the axis-aligned (separable) path ran.
    integer : bool
        Whether the input holds unscaled integers (labels can be compared exactly).
    """

    input: Path | None
    output: Path | None
    input_grid: Grid
    grid: Grid
    shape: tuple[int, ...]
    dtype: np.dtype
    method: str
    device: str
    clipped: int = 0
    slabs: int = 1
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()
    slope: float = 1.0
    inter: float = 0.0
    order: int | None = None
    anti_aliasing: bool = False
    separable: bool = True
    integer: bool = False

    @property
    def labels(self) -> bool:
        """Whether this was a label run."""
        return self.order is None

    def facts(self) -> dict[str, Any]:
        """Plain, JSON-ready facts (a batch summary row, one ``--json`` record).

        ``input_grid`` and ``output_grid`` hold ``shape`` (extra axes included),
        ``spacing``, ``origin`` (mm) and ``axcodes``; ``engine`` is the device word.
        """
        extra = tuple(int(v) for v in self.shape[3:])
        return {
            "input": None if self.input is None else str(self.input),
            "output": None if self.output is None else str(self.output),
            "input_grid": _grid_facts(self.input_grid, extra),
            "output_grid": _grid_facts(self.grid, extra),
            "engine": self.device,
            "seconds": float(self.seconds),
            "warnings": [str(w) for w in self.warnings],
            "shape": [int(v) for v in self.shape],
            "spacing": [float(s) for s in self.grid.spacing],
            "input_shape": [int(v) for v in self.input_grid.shape],
            "input_spacing": [float(s) for s in self.input_grid.spacing],
            "dtype": str(self.dtype),
            "method": self.method,
            "device": self.device,
            "clipped": int(self.clipped),
            "slabs": int(self.slabs),
            "integer": bool(self.integer),
        }


def _grid_facts(grid: Grid, extra: tuple[int, ...]) -> dict[str, Any]:
    return {
        "shape": [int(v) for v in grid.shape] + list(extra),
        "spacing": [float(s) for s in grid.spacing],
        "origin": [float(v) for v in grid.origin],
        "axcodes": "".join(grid.axcodes),
    }


def source_notes(source: SourceImage) -> tuple[str, ...]:
    """The opener's warnings about ``source`` (a header not taken as written), each naming the file."""
    return tuple(f"{source.path.name}: {w}" for w in source.warnings)
