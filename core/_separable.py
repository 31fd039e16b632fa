"""The separable slab function: grids that share the input's direction.

Per axis, banded rows from :mod:`core.kernels`; for output slab ``[z0, z1)``
only the input rows those ``W_z`` rows name (plus the spline pre-filter
margin) are read, then the three axes are applied in the order that keeps
intermediates smallest, and the values are cast.  Bit-for-bit independent of
the slab height for order 0 and for order 1 without anti-aliasing, otherwise
to float32 rounding (see :mod:`core.engine`).

Also home of what both slab functions share: the picklable source handle,
the clip counter and the non-finite fill before a spline pre-filter.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._coord_map import outside_axis
from ._native_passes import apply_rows, cast_to_integers
from .backends import make_backend, prefilter
from .cast import OutputType, _float_bounds, cast_values, work_dtype
from .errors import OptionError
from .grid import Grid, axis_aligned_map
from .kernels import AxisWeights, axis_weights, prefilter_margin
from .source import SourceHandle, SourceImage

__all__ = ["SeparableSlabs"]


def _fill_nonfinite(values: np.ndarray, finite: np.ndarray, *, slab_axis: int) -> np.ndarray:
    """Replace NaN/inf by the nearest finite voxel before the spline pre-filter.

    The caller makes NaN every output whose taps touch a bad voxel; filling
    with the nearest finite value (rather than 0) keeps the pre-filter from
    ringing into the finite outputs next to large NaN regions.  The nearest
    voxel is searched within the same slice first (the slab axis is weighted
    heavily), so the fill does not depend on where slabs are cut.
    """
    if not finite.any():
        return np.zeros_like(values)
    from scipy.ndimage import distance_transform_edt

    sampling = [1.0] * values.ndim
    sampling[slab_axis] = 1e4
    nearest = distance_transform_edt(~finite, sampling=sampling, return_distances=False,
                                     return_indices=True)
    return values[tuple(nearest)]


def _cast(values: np.ndarray, out: OutputType) -> tuple[np.ndarray, int]:
    """:func:`core.cast.cast_values`, in one compiled pass for integer outputs when built."""
    if out.dtype.kind in "iu":
        v = values
        if out.is_scaled:
            v = (v - v.dtype.type(out.inter)) / v.dtype.type(out.slope)
        lo, hi = _float_bounds(out.dtype)
        done = cast_to_integers(v, out.dtype, lo, hi)
        if done is not None:
            return done
    return cast_values(values, out)


class _ClipCount:
    @property
    def clipped(self) -> int:
        """Integer voxels clipped so far by this object (in this process)."""
        return sum(self._clipped)  # type: ignore[attr-defined]


class SeparableSlabs(_ClipCount):
    """Slab function of the separable path: ``slabs(volume, z0, z1) -> (nx', ny', z1-z0)``.

    Picklable: it stores the input path and parameters and opens the image
    lazily in each process.  ``clipped`` counts integer voxels clipped so far
    in this process.
    """

    def __init__(
        self, source: SourceImage, target: Grid, *, order: int, anti_aliasing: bool,
        out: OutputType, device: str = "numpy", source_grid: Grid | None = None,
        fill: float | None = None,
    ) -> None:
        # source_grid: the input grid seen through an affine chain (core._coord_map.effective_grid)
        aligned = axis_aligned_map(source_grid or source.grid, target)
        if aligned is None:
            raise OptionError("internal: separable resampling needs grids with one direction")
        scale, offset = aligned
        self._z_rows = abs(float(scale[2]))  # input rows per output slice
        self._handle = SourceHandle(source)
        self.target = target
        self.order = order
        self.anti_aliasing = anti_aliasing
        self.out = out
        self.device = device
        self.n_in = tuple(source.grid.shape)
        self.weights: list[AxisWeights] = [
            axis_weights(
                self.n_in[a], scale[a] * np.arange(target.shape[a]) + offset[a], order=order,
                aa_width=abs(float(scale[a])) if anti_aliasing else 1.0,
            )
            for a in range(3)
        ]
        self.margin = prefilter_margin(order) if self.weights[2].prefilter else 0
        # Output voxels whose centre lies beyond the input's field of view (voxel
        # coordinates -0.5 .. n - 0.5, the rule of core._coord_map.outside_fov) get
        # ``fill``, not the extended edge: per axis, since the map is axis-aligned.
        # None (a grid derived from the input): the edge rule everywhere.
        self.fill = fill
        self.outside = [np.zeros(target.shape[a], dtype=bool) if fill is None else
                        outside_axis(scale[a] * np.arange(target.shape[a]) + offset[a], self.n_in[a])
                        for a in range(3)]
        self.raw = (
            all(w.gather for w in self.weights)
            and out.dtype == source.dtype
            and (out.slope, out.inter) == (source.slope, source.inter)
        )
        self.work = work_dtype(source, out)
        self._clipped: list[int] = []  # list.append is atomic: slabs run on threads

    @property
    def source(self) -> SourceImage:
        return self._handle.source

    def for_grid(self, target: Grid) -> SeparableSlabs:
        """The same resampling onto another grid (a sample of the output: core._size_sample)."""
        return SeparableSlabs(self.source, target, order=self.order, anti_aliasing=self.anti_aliasing,
                              out=self.out, device=self.device, fill=self.fill)

    # -- memory -----------------------------------------------------------
    def memory(self) -> tuple[float, float]:
        """``(bytes per output slice, fixed bytes)`` of peak working memory.

        Follows the passes in their order: the largest input + output pair of
        one pass (per output slice), the cast result, with 25% slack; the fixed
        part is the input rows every slab reads beyond its share (taps and the
        pre-filter margin).
        """
        isz = self.work.itemsize
        lines = [float(w.line_length if w.prefilter else w.n_in) for w in self.weights]
        # C axes: 0 z (input rows per output slice), 1 y, 2 x
        dims = {0: self._z_rows, 1: lines[1], 2: lines[0]}
        sizes = [dims[0] * dims[1] * dims[2]]
        for ax in self._pass_order():
            dims[ax] = 1.0 if ax == 0 else float(self.target.shape[2 - ax])
            sizes.append(dims[0] * dims[1] * dims[2])
        pairs = max(a + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        out_area = float(self.target.shape[0] * self.target.shape[1])
        per_slice = 1.25 * (isz * pairs + self.out.dtype.itemsize * out_area)
        fixed = isz * lines[0] * lines[1] * (self.weights[2].taps + 2 * self.margin + 2)
        return per_slice, fixed

    # -- one slab ---------------------------------------------------------
    def __call__(self, volume: int, z0: int, z1: int) -> np.ndarray:
        src = self.source
        wz = self.weights[2].rows(z0, z1)
        lo, hi = wz.span()
        if wz.prefilter:
            lo, hi = max(0, lo - self.margin), min(wz.line_length, hi + self.margin)
        real = np.clip(np.arange(lo, hi) - wz.pad, 0, wz.n_in - 1)
        r0, r1 = int(real[0]), int(real[-1]) + 1
        block = src.read_slab(r0, r1, volume=volume, scaled=not self.raw)
        if not self.raw:
            block = block.astype(self.work, copy=False)
        c = np.ascontiguousarray(block.T)  # (z, y, x), free for Fortran-ordered slabs
        if len(real) != r1 - r0:
            c = np.take(c, real - r0, axis=0)
        data = src._dataobj
        owned = not (isinstance(data, np.ndarray) and np.may_share_memory(c, data))
        # zero-weight taps may fall outside the rows read: keep them inside
        zindex = np.clip(wz.index - lo, 0, hi - lo - 1)
        bad = None
        if self.order >= 2 and c.dtype.kind == "f":
            # The recursive pre-filter would spread one NaN/inf over whole lines:
            # filter with those voxels at 0, and make NaN the outputs whose taps
            # touch them.
            finite = np.isfinite(c)
            if not finite.all():
                bad = (~finite).astype(c.dtype)
                c = _fill_nonfinite(c, finite, slab_axis=0)
                owned = True
            del finite
        if wz.prefilter:
            # Filter along z first, on the input rows, then keep only the rows the
            # taps use: the margin rows never reach the x and y passes.
            c = prefilter(c, [(0, 0)], self.order, owned=owned)
            owned = True
            used = zindex[wz.weight != 0] if np.any(wz.weight != 0) else zindex
            u0, u1 = int(used.min()), int(used.max()) + 1
            c = c[u0:u1]
            bad = None if bad is None else bad[u0:u1]
            zindex = np.clip(zindex - u0, 0, u1 - u0 - 1)
        rows = {0: (zindex, wz.weight, wz.gather, False, 0), 1: self._rows(1), 2: self._rows(0)}
        result = self._apply(c, rows, owned=owned)
        if bad is not None:
            touched = self._apply(bad, rows, owned=True, support=True)
            result[touched > 0] = np.nan
        values = result.T  # (nx', ny', dz), Fortran-ordered
        ox, oy, oz = self.outside[0], self.outside[1], self.outside[2][z0:z1]
        if ox.any() or oy.any() or oz.any():
            if self.raw:  # the fill may not be a stored value: cast like any other value
                values = values.astype(self.work)
            values[ox] = self.fill
            values[:, oy] = self.fill
            values[:, :, oz] = self.fill
        elif self.raw:
            return values
        raw, clipped = _cast(values, self.out)
        if clipped:
            self._clipped.append(clipped)
        return raw

    def _pass_order(self) -> list[int]:
        """The cheapest order of the three passes (C axes: 0 z, 1 y, 2 x).

        Cost of a pass: output voxels x taps x a per-tap cost; the contiguous
        axis (a gather per tap) costs about four times a CSR row axpy.
        """
        import itertools

        size = {2 - a: (self.n_in[a], self.target.shape[a]) for a in range(3)}
        taps = {2 - a: self.weights[a].taps for a in range(3)}
        unit = {0: 1.0, 1: 1.0, 2: 4.0}
        best: tuple[float, list[int]] | None = None
        for perm in itertools.permutations(range(3)):
            dims = {ax: float(size[ax][0]) for ax in range(3)}
            cost = 0.0
            for ax in perm:
                dims[ax] = float(size[ax][1])
                cost += dims[0] * dims[1] * dims[2] * taps[ax] * unit[ax]
            if best is None or cost < best[0] - 1e-9 * cost:
                best = (cost, list(perm))
        assert best is not None
        return best[1]

    def _rows(self, axis: int) -> tuple[np.ndarray, np.ndarray, bool, bool, int]:
        w = self.weights[axis]
        return (w.index, w.weight, w.gather, w.prefilter, w.pad)

    def _apply(
        self, c: np.ndarray, rows: dict[int, tuple[np.ndarray, np.ndarray, bool, bool, int]], *,
        owned: bool, support: bool = False,
    ) -> np.ndarray:
        """Run the passes on block ``c`` (C axes 0 z, 1 y, 2 x).

        ``support``: propagate an indicator instead (pad without pre-filter,
        weights 1 where a tap is used), numpy only.
        """
        backend = make_backend("numpy" if support else self.device)
        if support:
            rows = {ax: (r[0], (r[1] != 0).astype(np.float64), r[2], r[3], r[4])
                    for ax, r in rows.items()}
        need = {ax: rows[ax][3] for ax in rows}  # z was filtered by the caller
        # From whole-axis ratios, so that every slab runs the same operations.
        ratio = {2 - a: self.target.shape[a] / self.n_in[a] for a in range(3)}
        order = self._pass_order()
        # ``owned``: the block is ours to filter in place (not a view of the caller's array)
        if backend.name != "numpy":  # pre-filters stay in scipy; they commute with the passes
            todo = [(ax, rows[ax][4]) for ax in order if need[ax]]
            if todo:
                c = prefilter(c, todo, self.order)
            need = dict.fromkeys(need, False)
        data: Any = backend.to_device(c)
        for ax in order:
            if need[ax]:  # pre-filter where the block is smallest
                axes = [ax] if ratio[ax] < 1.0 else [a for a in order if need[a]]
                data = prefilter(data, [(a, rows[a][4]) for a in axes],
                                 0 if support else self.order, owned=owned)
                for a in axes:
                    need[a] = False
            index, weight, gather = rows[ax][0], rows[ax][1], rows[ax][2]
            if gather and index.shape[0] == data.shape[ax] and np.array_equal(
                index[:, 0], np.arange(index.shape[0])
            ):
                continue  # an untouched axis: no copy at all
            fast = None if gather or backend.name != "numpy" else apply_rows(data, ax, index, weight)
            data = backend.apply(data, ax, index, weight, gather) if fast is None else fast
            owned = True
        return backend.to_numpy(data)
