"""The streaming resampling engine for intensity images.

:func:`plan_resample` decides how to produce a target grid from a source
image and returns a picklable slab function for :mod:`core.stream`:

* same direction (``axis_aligned_map`` is diagonal, flips included): the
  separable path.  Per axis, banded rows from :mod:`core.kernels`; for output
  slab ``[z0, z1)`` only the input rows those ``W_z`` rows name (plus the
  spline pre-filter margin) are read, then the three axes are applied in the
  order that keeps intermediates smallest, and the values are cast.
* any other direction (``like`` a rotated or permuted reference): for each
  output slab the source coordinates of its voxels are computed, only their
  bounding box (plus the spline margin) is read, and
  :func:`scipy.ndimage.map_coordinates` (``mode='nearest'``) interpolates
  them (order 0 is an exact index gather).

Both give results that do not depend on the slab height: bit-for-bit for
order 0 and for order 1 without anti-aliasing (every slab runs the same
operations per output row), otherwise to float32 rounding (BLAS may block
sums differently for another slab size; the pre-filter margin of
:func:`core.kernels.prefilter_margin` makes cut slabs match whole lines).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .backends import make_backend, prefilter
from .cast import OutputType, cast_values, output_type, work_dtype
from .errors import OptionError
from .grid import Grid, axis_aligned_map, voxel_map
from .io import SourceImage, open_image
from .kernels import SPLINE_PAD, AxisWeights, axis_weights, check_order, prefilter_margin
from .result import OutputSpec, RunResult

if TYPE_CHECKING:
    from .requests import Compute, OutputOptions

__all__ = [
    "ResamplePlan",
    "ResampleResult",
    "SeparableSlabs",
    "MappedSlabs",
    "plan_resample",
    "resample_to_file",
    "resample_to_array",
]




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

class _SourceHandle:
    """Holds the input path and opens it lazily in each process (picklable)."""

    def __init__(self, source: SourceImage) -> None:
        self.path = Path(source.path)
        self._source: SourceImage | None = source
        # In-memory images (nibabel objects, NRRD/MGZ read whole) cannot be reopened.
        self._keep = isinstance(source._dataobj, np.ndarray) or not self.path.exists()

    @property
    def source(self) -> SourceImage:
        if self._source is None:
            self._source = open_image(self.path)
        return self._source

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if not self._keep:
            state["_source"] = None
        return state


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
        out: OutputType, device: str = "numpy",
    ) -> None:
        aligned = axis_aligned_map(source.grid, target)
        if aligned is None:
            raise OptionError("internal: separable resampling needs grids with one direction")
        scale, offset = aligned
        self._z_rows = abs(float(scale[2]))  # input rows per output slice
        self._handle = _SourceHandle(source)
        self.target = target
        self.order = order
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
        if self.raw:
            return values
        raw, clipped = cast_values(values, self.out)
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
            data = backend.apply(data, ax, index, weight, gather)
            owned = True
        return backend.to_numpy(data)


class MappedSlabs(_ClipCount):
    """Slab function of the general (rotated or permuted grids) path.

    For each output slab the source voxel coordinates are computed from
    ``voxel_map``; only their bounding box (plus the spline margin) is read.
    """

    def __init__(
        self, source: SourceImage, target: Grid, *, order: int, out: OutputType,
    ) -> None:
        self._handle = _SourceHandle(source)
        self.target = target
        self.order = order
        self.out = out
        self.n_in = tuple(source.grid.shape)
        self.matrix = voxel_map(source.grid, target)
        self.margin = prefilter_margin(order) + (SPLINE_PAD if order >= 2 else 0)
        self.raw = order == 0 and out.dtype == source.dtype and (
            (out.slope, out.inter) == (source.slope, source.inter)
        )
        self.work = work_dtype(source, out)
        self._clipped: list[int] = []  # list.append is atomic: slabs run on threads

    @property
    def source(self) -> SourceImage:
        return self._handle.source

    #: Source voxels one tile may read (set from the memory budget by plan_resample).
    box_voxels: int = 16 << 20

    def memory(self) -> tuple[float, float]:
        """``(bytes per output slice, fixed bytes)``: coordinates, values and the
        output per slice; the fixed part is one tile's source box (and its work
        copy), bounded by :attr:`box_voxels` whatever the rotation."""
        isz = self.work.itemsize
        area = float(self.target.shape[0] * self.target.shape[1])
        per_slice = area * (3 * 8 + 2 * isz + 2 * self.out.dtype.itemsize)
        fixed = 3.0 * isz * self.box_voxels
        return per_slice, fixed

    def _box(self, tx: int, ty: int, h: int) -> float:
        """Source voxels read for an output tile of tx x ty x h voxels."""
        lin = np.abs(self.matrix[:3, :3])
        reach = 2 * ((self.order + 1) / 2.0 + self.margin) + 2
        return float(np.prod([
            min(n, lin[a, 0] * (tx - 1) + lin[a, 1] * (ty - 1) + lin[a, 2] * (h - 1) + reach)
            for a, n in enumerate(self.n_in)
        ]))

    def _tiles(self, h: int) -> list[tuple[int, int, int, int]]:
        """Output tiles (x0, x1, y0, y1) of a slab whose source boxes fit box_voxels:
        a slab through a rotated grid can touch most of the input, a tile cannot."""
        nx, ny, _ = self.target.shape
        tx, ty = nx, ny
        while self._box(tx, ty, h) > self.box_voxels and (tx > 8 or ty > 8):
            if tx >= ty:
                tx = max(8, (tx + 1) // 2)
            else:
                ty = max(8, (ty + 1) // 2)
        return [(x0, min(nx, x0 + tx), y0, min(ny, y0 + ty))
                for y0 in range(0, ny, ty) for x0 in range(0, nx, tx)]

    def __call__(self, volume: int, z0: int, z1: int) -> np.ndarray:
        nx, ny, _ = self.target.shape
        tiles = self._tiles(z1 - z0)
        if len(tiles) == 1:
            return self._tile(volume, 0, nx, 0, ny, z0, z1)
        out = np.empty((nx, ny, z1 - z0), dtype=self.out.dtype, order="F")
        for x0, x1, y0, y1 in tiles:
            out[x0:x1, y0:y1] = self._tile(volume, x0, x1, y0, y1, z0, z1)
        return out

    def _tile(self, volume: int, x0: int, x1: int, y0: int, y1: int, z0: int, z1: int) -> np.ndarray:
        m = self.matrix
        i = np.arange(x0, x1, dtype=np.float64)[:, None, None]
        j = np.arange(y0, y1, dtype=np.float64)[None, :, None]
        k = np.arange(z0, z1, dtype=np.float64)[None, None, :]
        coords = np.stack([
            np.broadcast_to(m[a, 0] * i + m[a, 1] * j + m[a, 2] * k + m[a, 3], (x1 - x0, y1 - y0, z1 - z0))
            for a in range(3)
        ])
        reach = (self.order + 1) / 2.0 + self.margin
        lo = np.empty(3, dtype=np.int64)
        hi = np.empty(3, dtype=np.int64)
        for a in range(3):
            n = self.n_in[a]
            lo[a] = min(max(math.floor(float(coords[a].min()) - reach), 0), n - 1)
            hi[a] = max(min(math.ceil(float(coords[a].max()) + reach) + 1, n), lo[a] + 1)
        src = self.source
        block = src.read_slab(
            int(lo[2]), int(hi[2]), volume=volume, scaled=not self.raw,
            x=slice(int(lo[0]), int(hi[0])), y=slice(int(lo[1]), int(hi[1])),
        )
        coords -= lo[:, None, None, None]
        if self.order == 0:
            idx = [
                np.clip(np.floor(coords[a] + 0.5 + 1e-9), 0, block.shape[a] - 1).astype(np.intp)
                for a in range(3)
            ]
            values = block[idx[0], idx[1], idx[2]]
            if self.raw:
                return np.asfortranarray(values)
            values = values.astype(self.work, copy=False)
        else:
            from scipy.ndimage import binary_dilation, map_coordinates

            work = block.astype(self.work, copy=False)
            finite = np.isfinite(work) if self.order >= 2 else None
            touched = None
            if finite is not None and not finite.all():
                # as in the separable path: NaN/inf stay local instead of spreading
                # through the pre-filter; a voxel is touched when a tap reaches one
                r = (self.order + 1) // 2
                reach_bad = binary_dilation(~finite, structure=np.ones((2 * r + 1,) * 3, bool))
                touched = map_coordinates(reach_bad.astype(np.float32), coords, order=0,
                                          mode="nearest") > 0
                # (z, y, x) order, as in the separable path: same neighbour choices
                work = _fill_nonfinite(work.T, finite.T, slab_axis=0).T
            values = map_coordinates(
                work, coords, order=self.order, mode="nearest",
                prefilter=self.order >= 2, output=self.work,
            )
            if touched is not None:
                values[touched] = np.nan
        raw, clipped = cast_values(np.asfortranarray(values), self.out)
        if clipped:
            self._clipped.append(clipped)
        return raw


SlabFunction = SeparableSlabs | MappedSlabs


@dataclass
class ResamplePlan:
    """Everything :mod:`core.stream` needs to produce one output.

    Attributes
    ----------
    source : SourceImage
    target : Grid
    slab_fn : SeparableSlabs or MappedSlabs
    slabs : list of (z0, z1)
    out : OutputType
    extra_shape : tuple of int
        Axes beyond the third, kept from the source.
    order : int
    anti_aliasing : bool
        Whether any axis was anti-aliased.
    separable : bool
    device : str
    """

    source: SourceImage
    target: Grid
    slab_fn: SlabFunction
    slabs: list[tuple[int, int]]
    out: OutputType
    extra_shape: tuple[int, ...]
    order: int
    anti_aliasing: bool
    separable: bool
    device: str


#: The result of a run; one type for intensity and label runs (see :mod:`.result`).
ResampleResult = RunResult


def plan_resample(
    source: SourceImage,
    target: Grid,
    *,
    order: int = 1,
    anti_aliasing: bool | None = None,
    dtype: object = None,
    device: str | None = None,
    max_memory: str | int | None = None,
) -> ResamplePlan:
    """Decide how to resample ``source`` onto ``target`` and size the slabs.

    Parameters
    ----------
    source : SourceImage
        The input, opened lazily (:func:`core.io.open_image`).
    target : Grid
        Output grid (any direction).
    order : int
        B-spline order 0..5 (0 nearest, 1 linear, 3 cubic).
    anti_aliasing : bool or None
        Widen the kernel on downsampled axes (area averaging, see
        :mod:`core.kernels`).  None means on for order >= 1.  Applies to the
        separable path (same direction); the rotated path does not anti-alias.
    dtype : str or numpy.dtype, optional
        Output dtype (default: the input's stored dtype).
    device : {'numpy', 'cpu', 'cuda', 'auto'} or None
        Backend of the separable path (torch for cpu/cuda).
    max_memory : str or int, optional
        Working-memory budget, e.g. ``'512M'`` (default:
        :func:`core.budget.parse_memory`).

    Returns
    -------
    ResamplePlan

    Raises
    ------
    OptionError, DeviceError
    """
    from .budget import parse_memory, plan_slabs
    from .device import resolve_device

    order = check_order(order)
    dev = resolve_device(device)
    budget = parse_memory(max_memory)
    out = output_type(source, dtype)
    aa = order >= 1 if anti_aliasing is None else bool(anti_aliasing) and order >= 1
    aligned = axis_aligned_map(source.grid, target)
    slab_fn: SlabFunction
    if aligned is not None:
        slab_fn = SeparableSlabs(source, target, order=order, anti_aliasing=aa, out=out, device=dev)
        used_aa = aa and bool(np.any(np.abs(aligned[0]) > 1.0 + 1e-9))
    else:
        slab_fn = MappedSlabs(source, target, order=order, out=out)
        # A tenth of the budget per tile's source box: each of the stream's
        # pieces holds one box and its work copy, next to its coordinates.
        slab_fn.box_voxels = int(max(1 << 18, budget // (10 * slab_fn.work.itemsize)))
        used_aa = False
    per_slice, fixed = slab_fn.memory()
    if max_memory is None:
        budget = _default_budget(budget, source, target, out)
    # The stream computes `jobs` slabs ahead on threads, cutting each planned slab
    # in jobs + 1: those pieces share the budget, but each pays the fixed rows.
    from ._dask import default_jobs

    pieces = default_jobs() + 1 if default_jobs() > 1 else 1
    slabs = plan_slabs(target.shape[2], per_slice, max(int(budget - pieces * fixed), 1),
                       min_height=min(pieces, target.shape[2]))
    return ResamplePlan(
        source=source, target=target, slab_fn=slab_fn, slabs=slabs, out=out,
        extra_shape=tuple(source.shape[3:]), order=order, anti_aliasing=used_aa,
        separable=aligned is not None, device=dev,
    )


#: Outputs above this size get a default budget scaled to the data (see below).
_LARGE_OUTPUT = 10**9
_MIN_BUDGET = 256 << 20


def _default_budget(budget: int, source: SourceImage, target: Grid, out: OutputType) -> int:
    """Without ``--max-memory``, large outputs stream in slabs of about 1/8 of the data.

    For outputs over 1 GB the working memory is ``max(256 MiB, (input + output
    volume bytes) / 8)``, never above the default budget, which keeps the peak
    below a quarter of input + output (measured in docs/benchmarks.md) at a
    small cost in speed; smaller outputs use the default budget.
    """
    out_bytes = target.n_voxels * out.dtype.itemsize
    if out_bytes <= _LARGE_OUTPUT:
        return budget
    in_bytes = source.grid.n_voxels * source.dtype.itemsize
    return int(min(budget, max(_MIN_BUDGET, (in_bytes + out_bytes) // 8)))


def _result(plan: ResamplePlan, output: Path | None) -> RunResult:
    source = plan.source
    return RunResult(
        input=None if _in_memory(source) else Path(source.path), output=output,
        input_grid=source.grid, grid=plan.target,
        shape=tuple(plan.target.shape) + plan.extra_shape, dtype=plan.out.dtype,
        method=f"order {plan.order}", device=plan.device, clipped=plan.slab_fn.clipped,
        slabs=len(plan.slabs), slope=plan.out.slope, inter=plan.out.inter, order=plan.order,
        anti_aliasing=plan.anti_aliasing, separable=plan.separable, integer=source.is_integer,
    )


def _in_memory(source: SourceImage) -> bool:
    return str(source.path).startswith("<")


def output_spec(plan: ResamplePlan) -> OutputSpec:
    """The layout of ``plan``'s output (for :func:`core.stream.write_output`)."""
    return OutputSpec(grid=plan.target, extra_shape=plan.extra_shape, dtype=plan.out.dtype,
                      template=plan.source.header, slope=plan.out.slope, inter=plan.out.inter)


def resample_to_file(
    plan: ResamplePlan,
    path: str | Path,
    *,
    options: OutputOptions | None = None,
    compute: Compute | None = None,
    progress: Callable[[int, int], None] | None = None,
    inputs: Sequence[Path] = (),
) -> RunResult:
    """Stream ``plan`` to ``path`` (atomic; NIfTI or Zarr by extension).

    Parameters
    ----------
    plan : ResamplePlan
    path : str or Path
    options : OutputOptions, optional
        How the output is written (default: :class:`OutputOptions()`).
    compute : Compute, optional
        ``threads`` and ``max_memory`` of the writer (Zarr chunk rows).
    progress : callable, optional
        ``progress(done_bytes, total_bytes)``.
    inputs : sequence of Path
        Further inputs (a reference image) that must never be overwritten.

    Raises
    ------
    OutputError, OutputExistsError, DiskSpaceError
        Before any work, when the output cannot be written.
    """
    from .requests import Compute, OutputOptions
    from .stream import write_output

    written = write_output(
        Path(path), output_spec(plan), plan.slab_fn, plan.slabs,
        options=options or OutputOptions(), compute=compute or Compute(),
        inputs=(Path(plan.source.path), *inputs), progress=progress,
    )
    return _result(plan, Path(written))


def resample_to_array(plan: ResamplePlan) -> tuple[np.ndarray, RunResult]:
    """Run ``plan`` into one in-memory array (stored dtype, Fortran order)."""
    from .stream import collect_output

    data = collect_output(
        grid=plan.target, extra_shape=plan.extra_shape, dtype=plan.out.dtype,
        slab_fn=plan.slab_fn, slabs=plan.slabs,
    )
    return data, _result(plan, None)
