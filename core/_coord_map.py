"""One coordinate map per run: output voxel indices to input voxel indices.

``inv(A_in) @ T_1 @ ... @ T_n @ A_out`` (section 7 of the design).  Two cases:

* an affine chain collapses to one (4, 4) matrix; it is folded into the input
  grid (:func:`effective_grid`: the grid whose voxel map to the output is that
  matrix), so the separable, general and label engines run on it unchanged and
  an identity chain changes nothing, bit for bit;
* a chain with a displacement field is a :class:`CoordMap`: the general
  engines ask it for the input coordinates of one output box at a time, and it
  reads only the field box those points need.

Also here: the field-of-view rule of the general path (:func:`outside_fov`)
and the anti-aliasing widths from a map's local Jacobian (:func:`aa_sigma`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .grid import Grid
from .kernels import NEAREST_EPS

__all__ = ["CoordMap", "effective_grid", "resolve_chain", "outside_fov", "outside_axis", "aa_sigma"]


def effective_grid(input_grid: Grid, chain: Any) -> Grid:
    """The input grid seen from the output space through an affine ``chain``.

    Its affine is ``inv(T) @ A_in``, so ``voxel_map(effective, out)`` is
    ``inv(A_in) @ T @ A_out``.  An empty chain returns ``input_grid`` itself.
    """
    if not len(chain):
        return input_grid
    return Grid(input_grid.shape, np.linalg.solve(chain.affine, input_grid.affine))


def resolve_chain(input_grid: Grid, output_grid: Grid,
                  specs: tuple[Any, ...]) -> tuple[Grid, CoordMap | None]:
    """Read the chain ``specs`` (``Target.transforms``) between two grids, once per run.

    Returns ``(grid, None)`` for an affine (or empty) chain, ``grid`` being the
    :func:`effective_grid`; ``(input_grid, CoordMap)`` when it holds a field.

    Raises
    ------
    TransformError
        For a bad transform file (before anything is written).
    """
    if not specs:
        return input_grid, None
    from .transforms import TransformChain

    chain = TransformChain(list(specs), moving=input_grid, reference=output_grid)
    if chain.is_affine:
        return effective_grid(input_grid, chain), None
    return input_grid, CoordMap(input_grid, output_grid, specs, chain)


def outside_fov(coords: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``(nx, ny, nz)`` bool: points beyond voxel coordinates ``-0.5 .. n - 0.5`` on any axis.

    The nearest-index rule's tolerance (:data:`core.kernels.NEAREST_EPS`) widens
    the box, so a point on an outer voxel edge counts as inside.
    """
    out = np.zeros(coords.shape[1:], dtype=bool)
    for a in range(3):
        out |= outside_axis(coords[a], shape[a])
    return out


def outside_axis(c: np.ndarray, n: int) -> np.ndarray:
    """Bool of the same shape: coordinates ``c`` beyond ``-0.5 .. n - 0.5`` on an axis of ``n`` voxels."""
    return (c < -0.5 - NEAREST_EPS) | (c >= n - 0.5 + NEAREST_EPS)


def aa_sigma(jacobian: np.ndarray) -> np.ndarray:
    """Gaussian pre-smoothing (input voxels, per input axis) for a map with this Jacobian.

    ``jacobian`` is the (3, 3) derivative of input voxel coordinates by output
    voxel coordinates.  An output voxel covers, along input axis ``a``, a length
    whose square is ``(J J^T)[a, a]`` (1 for a rotation, ``s**2`` when the axis
    shrinks by ``s``); the input is smoothed with the variance a box of that
    width adds to one voxel: ``sigma_a = sqrt(max(0, (J J^T)[a, a] - 1) / 12)``,
    the same area average the separable path uses on a scaled axis.  Widths
    below 1/8 voxel are 0 (scipy's Gaussian of that width has no taps besides
    the centre): rotations and near-identity warps are not smoothed.
    """
    jj = np.einsum("ij,ij->i", jacobian, jacobian)
    sigma = np.sqrt(np.maximum(jj - 1.0, 0.0) / 12.0)
    return np.where(sigma < 0.125, 0.0, sigma)


class CoordMap:
    """Input voxel coordinates of output boxes through a chain with displacement fields.

    Parameters
    ----------
    input_grid, output_grid : Grid
    specs : tuple
        :attr:`core.requests.Target.transforms` (kept to reopen the fields after pickling).
    chain : TransformChain, optional
        The chain already read from ``specs`` (read lazily when missing).

    Notes
    -----
    Picklable: the chain (open field files) is dropped and read again from
    ``specs`` in the process that unpickles it.
    """

    def __init__(self, input_grid: Grid, output_grid: Grid, specs: tuple[Any, ...],
                 chain: Any = None) -> None:
        self.input_grid = input_grid
        self.output_grid = output_grid
        self.specs = specs
        self._chain = chain

    @property
    def chain(self) -> Any:
        if self._chain is None:
            from .transforms import TransformChain

            self._chain = TransformChain(list(self.specs), moving=self.input_grid,
                                         reference=self.output_grid)
        return self._chain

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_chain"] = None
        return state

    def close(self) -> None:
        if self._chain is not None:
            self._chain.close()

    def box(self, x0: int, x1: int, y0: int, y1: int, z0: int, z1: int) -> np.ndarray:
        """``(3, nx, ny, nz)`` float64 input coordinates of the output box (half-open)."""
        from .transforms import map_voxels

        return map_voxels(self.output_grid, self.chain, self.input_grid, (x0, x1, y0, y1, z0, z1))

    def jacobian(self, ijk: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """(3, 3) derivative of the map at output voxel ``ijk`` (central differences, 1 voxel)."""
        from .transforms import map_voxels

        c = np.asarray(ijk, dtype=np.float64)
        pts = np.array([c + d for d in (*np.eye(3) * 0.5, *np.eye(3) * -0.5)])
        m = map_voxels(self.output_grid, self.chain, self.input_grid, pts)
        return (m[:3] - m[3:]).T

    def linear(self) -> np.ndarray:
        """A (3, 3) linear part for planning tiles: the Jacobian at the output centre."""
        return self.jacobian((np.asarray(self.output_grid.shape) - 1) / 2.0)
