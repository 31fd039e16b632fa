"""Voxel grids: a shape and an affine, and the target grids derived from them.

A grid maps voxel indices to world millimetres in nibabel's RAS+ convention::

    world = affine @ [i, j, k, 1]

Spacing is always the column norms of the affine (:func:`voxel_sizes`), never
its diagonal and never ``pixdim`` alone.  The field of view (FOV) is the box
between the *outer voxel edges*, i.e. voxel coordinates ``-0.5 .. n - 0.5``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .errors import GridError, NiresampleError

__all__ = [
    "Anchor",
    "ANCHORS",
    "Grid",
    "MAX_AXIS_VOXELS",
    "voxel_sizes",
    "voxel_map",
    "axis_aligned_map",
]

Anchor = Literal["center", "origin", "corner"]
ANCHORS: tuple[str, ...] = ("center", "origin", "corner")

#: Largest number of voxels allowed along one output axis (NIfTI-2 stores int64,
#: but nothing real needs more and it guards against absurd requests).
MAX_AXIS_VOXELS = 2**31 - 1
#: Largest number of voxels of a grid (256 TiB at one byte a voxel; inputs have the
#: same bound).  Counted in Python integers, so no product wraps around.
MAX_GRID_VOXELS = 2**48

_AXIS_LETTERS = (("L", "R"), ("P", "A"), ("I", "S"))


def voxel_sizes(affine: np.ndarray) -> np.ndarray:
    """Voxel spacing in mm: the column norms of the affine's 3x3 part.

    Parameters
    ----------
    affine : (4, 4) or (3, 3) array_like
        Voxel-to-world affine.

    Returns
    -------
    spacing : (3,) ndarray of float64

    Examples
    --------
    >>> import numpy as np
    >>> a = np.diag([2.0, 3.0, 4.0, 1.0])
    >>> voxel_sizes(a).tolist()
    [2.0, 3.0, 4.0]
    """
    m = np.asarray(affine, dtype=np.float64)[:3, :3]
    return np.sqrt(np.sum(m * m, axis=0))


def _validate_affine(affine: object) -> np.ndarray:
    try:
        a = np.array(affine, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise GridError(f"affine: expected a 4x4 numeric array, got {affine!r}") from err
    if a.shape != (4, 4):
        raise GridError(f"affine: expected shape (4, 4), got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise GridError("affine: contains NaN or infinite values")
    if not np.allclose(a[3], [0.0, 0.0, 0.0, 1.0]):
        raise GridError(f"affine: last row must be [0, 0, 0, 1], got {a[3].tolist()}")
    sizes = voxel_sizes(a)
    if np.any(sizes == 0):
        raise GridError(f"affine: column(s) {np.flatnonzero(sizes == 0).tolist()} are all zero")
    # Relative conditioning test: direction cosines must span 3D.
    det = abs(np.linalg.det(a[:3, :3] / sizes))
    if not det > 1e-6:
        raise GridError("affine: singular (its columns do not span 3D space)")
    a.setflags(write=False)
    return a


def _validate_shape(shape: object, name: str = "shape") -> tuple[int, int, int]:
    try:
        vals = [int(v) for v in shape]  # type: ignore[attr-defined]
        exact = all(float(v) == int(v) for v in shape)  # type: ignore[attr-defined]
    except (TypeError, ValueError, OverflowError) as err:
        raise GridError(f"{name}: expected three positive integers, got {shape!r}", param=name) from err
    if len(vals) != 3 or not exact:
        raise GridError(f"{name}: expected three positive integers, got {shape!r}", param=name)
    if any(v < 1 for v in vals):
        raise GridError(f"{name}: every axis needs at least 1 voxel, got {tuple(vals)}", param=name)
    total = math.prod(vals)
    if any(v > MAX_AXIS_VOXELS for v in vals):
        raise GridError(f"{name}: {tuple(vals)} exceeds {MAX_AXIS_VOXELS} voxels on an axis "
                        f"({total:.3g} voxels, {_binary_size(total)} at one byte each)", param=name)
    if total > MAX_GRID_VOXELS:
        # Before anything is planned or allocated: an absurd spacing or shape (issue 15).
        raise GridError(
            f"{name}: {'x'.join(str(v) for v in vals)} is {total:.3g} voxels ({_binary_size(total)} "
            f"at one byte each), over the limit of {MAX_GRID_VOXELS:.3g} (2^48); nothing was allocated",
            param=name,
        )
    return (vals[0], vals[1], vals[2])


def _binary_size(n: int) -> str:
    """``'1.5 PiB'``: a byte count of any size, exact to 3 digits (Python integers in)."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB"):
        if value < 1024:
            return f"{value:.3g} {unit}"
        value /= 1024
    return f"{value:.3g} YiB"


def as_triple(
    values: object, name: str, *, allow_none: bool = False, allow_zero: bool = False,
    error: type[NiresampleError] = GridError,
) -> tuple[float | None, ...]:
    """Validate a per-axis value at the door: a scalar becomes a triple.

    Every value must be finite and positive (or ``>= 0`` with ``allow_zero``);
    ``None`` entries are kept with ``allow_none``.  Raises ``error`` (a
    :class:`GridError` unless told otherwise) naming ``name`` and the axis.
    """
    if values is None:
        raise error(f"{name}: a value is required", param=name)
    if isinstance(values, str):  # "2" is one number, not the sequence ("2",)
        try:
            values = float(values)
        except ValueError as err:
            raise error(f"{name}: expected a number or three numbers, got {values!r}", param=name) from err
    if isinstance(values, (int, float, np.integer, np.floating)):
        seq: list[object] = [values] * 3
    else:
        try:
            seq = list(values)  # type: ignore[call-overload]
        except TypeError as err:
            raise error(f"{name}: expected a number or three numbers, got {values!r}", param=name) from err
    if len(seq) != 3:
        raise error(f"{name}: expected 1 or 3 values (x, y, z), got {len(seq)}", param=name)
    out: list[float | None] = []
    for axis, v in zip("xyz", seq, strict=True):
        if v is None and allow_none:
            out.append(None)
            continue
        try:
            f = float(v)  # type: ignore[arg-type]
        except (TypeError, ValueError) as err:
            raise error(f"{name}: {axis} must be a number, got {v!r}", param=name) from err
        if not math.isfinite(f) or f < 0 or (f == 0 and not allow_zero):
            bound = ">= 0" if allow_zero else "positive"
            raise error(f"{name}: {axis} must be finite and {bound}, got {f:.7g}", param=name)
        out.append(f)
    return tuple(out)


def _count(x: float) -> int:
    """Round a voxel count, treating floating-point near-integers as exact."""
    nearest = round(x)
    if abs(x - nearest) <= 1e-9 * max(1.0, abs(x)):
        return max(1, int(nearest))
    return max(1, int(math.floor(x + 0.5)))


@dataclass(frozen=True, eq=False)
class Grid:
    """A 3D voxel grid: spatial ``shape`` and a (4, 4) voxel-to-world ``affine``.

    Parameters
    ----------
    shape : sequence of 3 int
        Number of voxels along the three spatial axes.
    affine : (4, 4) array_like
        Voxel-to-world (RAS+, mm) affine.  Copied and made read-only.

    Raises
    ------
    GridError
        If the shape is not three positive integers, or the affine is not a
        finite, non-singular (4, 4) matrix.

    Examples
    --------
    >>> import numpy as np
    >>> g = Grid((512, 512, 300), np.diag([0.1, 0.1, 0.1, 1.0]))
    >>> h = g.with_spacing((None, None, 0.15))
    >>> h.shape, [round(float(s), 12) for s in h.spacing]
    ((512, 512, 200), [0.1, 0.1, 0.15])
    """

    shape: tuple[int, int, int]
    affine: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", _validate_shape(self.shape))
        object.__setattr__(self, "affine", _validate_affine(self.affine))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Grid):
            return NotImplemented
        return self.shape == other.shape and bool(np.array_equal(self.affine, other.affine))

    def __hash__(self) -> int:
        return hash((self.shape, self.affine.tobytes()))

    def __repr__(self) -> str:
        sp = ", ".join(f"{s:.6g}" for s in self.spacing)
        return f"Grid(shape={self.shape}, spacing=({sp}), axcodes={''.join(self.axcodes)})"

    # -- derived geometry -------------------------------------------------
    @property
    def spacing(self) -> np.ndarray:
        """(3,) voxel spacing in mm (affine column norms)."""
        return voxel_sizes(self.affine)

    @property
    def direction(self) -> np.ndarray:
        """(3, 3) direction cosines: the affine's columns divided by their norms."""
        return self.affine[:3, :3] / self.spacing

    @property
    def origin(self) -> np.ndarray:
        """(3,) world position of the centre of voxel (0, 0, 0)."""
        return self.affine[:3, 3].copy()

    @property
    def n_voxels(self) -> int:
        return math.prod(self.shape)

    @property
    def axcodes(self) -> tuple[str, str, str]:
        """Closest anatomical axis codes, e.g. ``('R', 'A', 'S')``."""
        import nibabel.orientations as nio

        codes = nio.aff2axcodes(self.affine)
        return (str(codes[0]), str(codes[1]), str(codes[2]))

    @property
    def obliquity(self) -> np.ndarray:
        """(3,) angle in degrees between each world axis and its closest voxel axis.

        The AFNI definition, as in ``nibabel.affines.obliquity``.
        """
        cosines = np.clip(np.max(np.abs(self.direction), axis=1), -1.0, 1.0)
        return np.degrees(np.arccos(cosines))

    @property
    def is_oblique(self) -> bool:
        return bool(np.max(self.obliquity) > 1e-3)

    @property
    def fov_mm(self) -> np.ndarray:
        """(3,) extent of the field of view along each voxel axis, in mm."""
        return np.asarray(self.shape, dtype=np.float64) * self.spacing

    @property
    def fov_center(self) -> np.ndarray:
        """(3,) world position of the centre of the field of view."""
        return self.to_world(np.asarray([(n - 1) / 2.0 for n in self.shape]))

    def fov_corners(self) -> np.ndarray:
        """(8, 3) world positions of the corners of the outer-voxel-edge box."""
        lo = np.full(3, -0.5)
        hi = np.asarray(self.shape, dtype=np.float64) - 0.5
        corners = np.array([[(hi if (c >> a) & 1 else lo)[a] for a in range(3)] for c in range(8)])
        return self.to_world(corners)

    def fov_bounds(self) -> np.ndarray:
        """(2, 3) world-axis-aligned bounding box (min, max) of the FOV corners."""
        c = self.fov_corners()
        return np.stack([c.min(axis=0), c.max(axis=0)])

    def to_world(self, ijk: np.ndarray) -> np.ndarray:
        """Map voxel coordinates ``(..., 3)`` to world mm ``(..., 3)``."""
        ijk = np.asarray(ijk, dtype=np.float64)
        return ijk @ self.affine[:3, :3].T + self.affine[:3, 3]

    # -- target grids -----------------------------------------------------
    def with_spacing(
        self, spacing: float | Sequence[float | None], *, anchor: Anchor = "center"
    ) -> Grid:
        """The grid with a new spacing, same direction, covering the same FOV.

        Parameters
        ----------
        spacing : float or sequence of 3 (float or None)
            New spacing in mm.  ``None`` keeps that axis' current spacing.
        anchor : {'center', 'origin', 'corner'}
            What stays fixed: the FOV centre (default), the first voxel centre
            (the ITK/script habit), or the first outer voxel edge.

        Returns
        -------
        Grid
            ``n' = max(1, round(n * s / s'))`` voxels per axis, at exactly the
            requested spacing.  When ``n * s / s'`` is whole the outer edges
            coincide with the input's for every anchor.

        Raises
        ------
        GridError
            If a spacing is not positive and finite, or the result is absurd.
        """
        requested = as_triple(spacing, "spacing", allow_none=True)
        old = self.spacing
        new = np.array([old[a] if v is None else v for a, v in enumerate(requested)])
        shape = tuple(_count(self.shape[a] * old[a] / new[a]) for a in range(3))
        return self._derived(_validate_shape(shape, "output shape"), new, anchor)

    def with_shape(self, shape: Sequence[int], *, anchor: Anchor = "center") -> Grid:
        """The grid with a new shape covering exactly the same FOV.

        The new spacing is ``s * n / n'`` so outer voxel edges are preserved
        exactly (with ``anchor='center'`` or ``'corner'``).
        """
        new_shape = _validate_shape(shape)
        new = self.spacing * np.asarray(self.shape, dtype=np.float64) / np.asarray(new_shape)
        return self._derived(new_shape, new, anchor)

    def _derived(self, shape: tuple[int, int, int], spacing: np.ndarray, anchor: str) -> Grid:
        if anchor not in ANCHORS:
            raise GridError(f"anchor: expected one of {', '.join(ANCHORS)}, got {anchor!r}")
        scale = spacing / self.spacing
        n_in = np.asarray(self.shape, dtype=np.float64)
        n_out = np.asarray(shape, dtype=np.float64)
        if anchor == "center":
            offset = (n_in - 1.0) / 2.0 - scale * (n_out - 1.0) / 2.0
        elif anchor == "origin":
            offset = np.zeros(3)
        else:  # corner: the first outer edge (-0.5) maps onto itself
            offset = -0.5 + 0.5 * scale
        m = np.eye(4)
        m[:3, :3] = np.diag(scale)
        m[:3, 3] = offset
        affine = self.affine @ m
        # Make the column norms exactly the requested spacing (no drift).
        affine[:3, :3] = self.direction * spacing
        return Grid(shape, affine)


def voxel_map(source: Grid, target: Grid) -> np.ndarray:
    """(4, 4) map from ``target`` voxel indices to ``source`` voxel indices.

    ``inv(source.affine) @ target.affine``.
    """
    return np.linalg.solve(source.affine, target.affine)


def axis_aligned_map(
    source: Grid, target: Grid, *, tol: float = 1e-7
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-axis ``(scale, offset)`` when the voxel map is diagonal, else ``None``.

    When the grids share their direction, ``i_source = scale * i_target + offset``
    on each axis independently, and resampling is separable.
    """
    m = voxel_map(source, target)
    lin = m[:3, :3]
    diag = np.diag(lin)
    off_diag = lin - np.diag(diag)
    if np.max(np.abs(off_diag)) > tol * max(1.0, float(np.max(np.abs(diag)))):
        return None
    return diag.copy(), m[:3, 3].copy()
