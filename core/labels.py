"""Label maps: exact nearest-neighbour, majority and per-label Gaussian resampling.

Label ids are never interpolated: every output value is a value of the input.

* ``nearest`` is a pure index gather.  When the target grid shares the input's
  direction (``spacing``, ``shape``, or a ``like`` reference with the same
  axes) the voxel map is separable and each axis is one index vector::

      i = floor(scale * i' + offset + 0.5)        # ITK rounds halves up

  Output voxels whose centre lies outside the input field of view get 0
  (background), as ITK's resampler does.  Any other reference grid goes through
  the full (4, 4) voxel map, slab by slab.
* ``majority`` (downsampling): the most frequent label among the input voxel
  centres inside each output voxel's box; ties go to the nearest-neighbour label,
  else to the smallest tied id.
* ``gaussian``: each label's indicator on the nearest-neighbour output grid is
  smoothed with a Gaussian of ``sigma`` mm (edges replicated, no wrap-around),
  and each voxel takes the label with the largest smoothed value; ties go to the
  nearest-neighbour label, else to the smallest tied id.  The work is done block
  by block on the labels present within the kernel's reach, each label within
  its bounding box, so the cost follows boundary area and local label count.

Exactness across backends and slab sizes: Gaussian weights are rounded to
integers summing to ``2**17`` per axis, so every smoothed value is an integer
below ``2**53`` and exact in float64 whatever the summation order.  numpy and
torch (cpu or cuda), any block or slab size, give identical labels.

Integer labels with ``scl_slope``/``scl_inter`` are resampled on their stored
integers and keep their scaling, so output values are input values.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._labels_numpy import (
    BLOCK,
    dense_codes,
    free_sentinel,
    gather,
    gather_points,
    majority_codes,
    smooth_labels_blocks,
)
from .errors import LabelError, OptionError
from .grid import Grid, axis_aligned_map, voxel_map
from .io import SourceImage, open_image
from .requests import Compute, LabelMethod, OutputOptions, ResampleRequest, Target
from .result import OutputSpec, RunResult

__all__ = [
    "LABEL_METHODS",
    "LabelSlabs",
    "label_target_grid",
    "check_label_values",
    "gaussian_weights",
    "resample_labels",
    "resample_labels_file",
    "resample_label_image",
    "smooth_labels_blocks",
    "majority_codes",
]

LABEL_METHODS = ("nearest", "majority", "gaussian")

#: Gaussian taps are integers summing to 2**17 per axis: three passes stay below 2**53.
_WEIGHT_BITS = 17
#: Gaussian kernels reach ``truncate * sigma`` voxels (scipy's default rule).
_TRUNCATE = 4.0
_EPS = 1e-9
#: Working bytes per slab when no --max-memory is given.
_DEFAULT_SLAB_BYTES = 256 << 20


# -- validation ---------------------------------------------------------------
# The rules (exactly one of spacing/shape/like, method and sigma) live in
# core.requests (Target, LabelMethod); this keeps the old entry point.
def label_target_grid(
    source: Grid,
    *,
    spacing: float | Sequence[float | None] | None = None,
    shape: Sequence[int] | None = None,
    like: Grid | None = None,
    anchor: str = "center",
) -> Grid:
    """The output grid from exactly one of ``spacing``, ``shape`` or ``like``.

    Parameters
    ----------
    source : Grid
        The input's grid.
    spacing : float or sequence of 3 (float or None), optional
        New spacing in mm (``None`` keeps an axis).
    shape : sequence of 3 int, optional
        New shape, field of view kept.
    like : Grid, optional
        A reference grid, used as is.
    anchor : {'center', 'origin', 'corner'}
        See :meth:`Grid.with_spacing`.

    Returns
    -------
    Grid

    Raises
    ------
    OptionError
        None or several of ``spacing``, ``shape``, ``like`` given.
    GridError
        Invalid spacing or shape.
    """
    from .requests import Target

    return Target(spacing=spacing, shape=shape, like=like, anchor=anchor).grid_for(source)  # type: ignore[arg-type]


def check_label_values(source: SourceImage, *, force: bool = False) -> None:
    """Refuse a float image whose values are not all whole numbers.

    Streams the image slab by slab.  Integer images always pass.

    Raises
    ------
    LabelError
        A float (or float-scaled) image with a non-whole or non-finite value,
        unless ``force``.
    """
    if force or source.dtype.kind in "iu":
        # Integers (scaled or not) are resampled on their stored values.
        return
    nz = source.grid.shape[2]
    per_slice = max(1, source.grid.shape[0] * source.grid.shape[1] * 8)
    step = max(1, (64 << 20) // per_slice)
    for v in range(source.n_volumes):
        for z0 in range(0, nz, step):
            vals = source.read_slab(z0, min(nz, z0 + step), volume=v, scaled=True)
            bad = ~np.isfinite(vals)
            bad |= np.where(bad, False, vals != np.round(vals))
            if bad.any():
                first = vals[bad].flat[0]
                raise LabelError(
                    f"{source.path}: a float image with non-whole values (e.g. {first!r}) is not a "
                    "label map; use --force-float-labels to treat its values as labels anyway"
                )


def gaussian_weights(sigma_voxels: float) -> np.ndarray:
    """Integer Gaussian taps ``(2r + 1,)`` summing to about ``2**17``.

    ``r = int(4 * sigma + 0.5)`` as in :func:`scipy.ndimage.gaussian_filter`.
    Integer taps keep every smoothed value exact in float64.
    """
    r = int(_TRUNCATE * float(sigma_voxels) + 0.5)
    if r == 0 or sigma_voxels <= 0:
        return np.array([float(1 << _WEIGHT_BITS)])
    x = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / float(sigma_voxels)) ** 2)
    return np.round(g / g.sum() * (1 << _WEIGHT_BITS))


# -- the slab function ---------------------------------------------------------
def _nn_axis(scale: float, offset: float, n_out: int, n_in: int) -> np.ndarray:
    """Nearest input index per output index along one axis; -1 outside the FOV."""
    x = scale * np.arange(n_out, dtype=np.float64) + offset
    idx = np.floor(x + 0.5 + _EPS).astype(np.int64)
    inside = (x >= -0.5 - _EPS) & (x < n_in - 0.5 + _EPS)
    return np.where(inside, np.clip(idx, 0, n_in - 1), -1)


def _footprint_axis(scale: float, offset: float, n_out: int, n_in: int,
                    nn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Input index window ``(n_out, w)`` and its validity for the majority vote.

    The window holds the input voxel centres ``x`` with ``c - s/2 <= x < c + s/2``
    (``c`` the output centre in input voxels, ``s`` the scale); an axis without any
    such centre (upsampling) uses the nearest-neighbour index alone.
    """
    c = scale * np.arange(n_out, dtype=np.float64) + offset
    half = abs(scale) / 2.0
    lo = np.ceil(c - half - _EPS).astype(np.int64)
    hi = np.ceil(c + half - _EPS).astype(np.int64)
    lo = np.clip(lo, 0, n_in)
    hi = np.clip(hi, 0, n_in)
    empty = hi <= lo
    lo = np.where(empty, np.maximum(nn, 0), lo)
    hi = np.where(empty, np.maximum(nn, 0) + 1, hi)
    w = int(np.max(hi - lo))
    idx = lo[:, None] + np.arange(w)[None, :]
    valid = idx < hi[:, None]
    return np.minimum(idx, n_in - 1), valid


class LabelSlabs:
    """Picklable slab function computing label output slabs (the stream contract).

    ``LabelSlabs(...)(volume, z0, z1)`` returns output slab ``[z0, z1)`` of one
    volume as an ``(nx', ny', z1 - z0)`` array of the input's stored dtype.  It
    stores the input *path* (or an in-memory :class:`SourceImage`) and opens the
    image lazily in each process; the result never depends on the slab height.

    Parameters
    ----------
    source : SourceImage or path
        The label image (stored values are used, scaling is kept aside).
    grid : Grid
        Output grid.
    method : {'nearest', 'majority', 'gaussian'}
    sigma_voxels : (3,) float, optional
        Gaussian sigma in output voxels (gaussian only).
    device : {'numpy', 'cpu', 'cuda'}
        A resolved device (:func:`niresample_cli.core.device.resolve_device`).
    """

    def __init__(self, source: SourceImage | str | os.PathLike[str], grid: Grid, *,
                 method: str = "nearest", sigma_voxels: Sequence[float] | None = None,
                 device: str = "numpy") -> None:
        if isinstance(source, SourceImage):
            self.path: Path | None = source.path if source.path.exists() and \
                source.fmt.startswith("nifti") else None
            self._source: SourceImage | None = source
            src_grid = source.grid
        else:
            self.path = Path(source)
            self._source = None
            src_grid = self.source.grid
        self.in_shape = tuple(int(v) for v in src_grid.shape)
        self.grid = grid
        self.method = method
        self.device = device
        self.sigma_voxels = tuple(float(s) for s in sigma_voxels) if sigma_voxels is not None \
            else (0.0, 0.0, 0.0)
        self.weights = [gaussian_weights(s) for s in self.sigma_voxels]
        self.radius = tuple((len(w) - 1) // 2 for w in self.weights)
        sep = axis_aligned_map(src_grid, grid)
        self.separable = sep is not None
        if sep is not None:
            scale, offset = sep
            self.scale = scale
            self.offset = offset
            self.nn = [_nn_axis(float(scale[a]), float(offset[a]), grid.shape[a], self.in_shape[a])
                       for a in range(3)]
        else:
            self.map = voxel_map(src_grid, grid)
            if method == "majority":
                raise OptionError(
                    "--method majority needs a target grid with the input's axes "
                    "(a --like reference that is rotated relative to the input is not supported; "
                    "use nearest or gaussian)"
                )
        if method == "majority":
            assert sep is not None
            self.windows = [_footprint_axis(float(sep[0][a]), float(sep[1][a]), grid.shape[a],
                                            self.in_shape[a], self.nn[a]) for a in range(3)]

    # -- pickling: drop open file handles ------------------------------------
    @property
    def source(self) -> SourceImage:
        if self._source is None:
            assert self.path is not None
            self._source = open_image(self.path)
        return self._source

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if self.path is not None:
            state["_source"] = None
        return state

    def close(self) -> None:
        if self._source is not None and self.path is not None:
            self._source.close()
            self._source = None

    # -- memory ----------------------------------------------------------------
    def bytes_per_slice(self, itemsize: int) -> float:
        """Working bytes per output slice (input rows, output, intermediates)."""
        nx, ny, nz = self.grid.shape
        out = nx * ny * itemsize
        if self.separable:
            zin = max(1.0, abs(float(self.scale[2])))
            xin = self.in_shape[0] * self.in_shape[1] * itemsize
            rows = xin * zin
        else:
            rows = self.in_shape[0] * self.in_shape[1] * itemsize * 2.0
        if self.method == "nearest":
            return rows + 2.5 * out + (0 if self.separable else nx * ny * 40)
        if self.method == "majority":
            w = int(np.prod([self.windows[a][0].shape[1] for a in range(3)]))
            return rows * 3 + nx * ny * w * (4 + 4 + 8 + 1) + 2 * out
        # gaussian: input rows and their codes; per output voxel the NN codes, the
        # result codes, the id lookup and the output (itemsize + up to 4 B each)
        return rows * 3 + nx * ny * (2 * itemsize + 16)

    def fixed_bytes(self, itemsize: int) -> float:
        """Working bytes independent of the slab height (halo slices, blocks)."""
        nx, ny, _ = self.grid.shape
        if self.method != "gaussian":
            return 0.0
        halo = 2 * self.radius[2] * (nx * ny * itemsize + self.bytes_per_slice(itemsize) / 3)
        b = [BLOCK + 2 * r for r in self.radius]
        block = float(np.prod(b)) * (itemsize + 4 + 8 * 4)
        return halo + block

    # -- computation -------------------------------------------------------------
    def __call__(self, volume: int, z0: int, z1: int) -> np.ndarray:
        if self.method == "nearest":
            return self.nearest(volume, np.arange(z0, z1))
        if self.method == "majority":
            return self._majority(volume, z0, z1)
        return self._gaussian(volume, z0, z1)

    def nearest(self, volume: int, zs: np.ndarray) -> np.ndarray:
        """Nearest-neighbour labels at output z indices ``zs`` (any order, repeats allowed)."""
        if self.separable:
            return self._nearest_separable(volume, zs)
        return self._nearest_general(volume, zs)

    def _read_rows(self, volume: int, z_lo: int, z_hi: int, x: slice = slice(None),
                   y: slice = slice(None)) -> np.ndarray:
        return self.source.read_slab(z_lo, z_hi, volume=volume, x=x, y=y, scaled=False)

    def fill(self, volume: int, z0: int, z1: int, out: np.ndarray) -> None:
        """Compute slab ``[z0, z1)`` straight into ``out`` (an F-ordered view), saving a copy."""
        if self.method == "nearest" and self.separable and self.device == "numpy":
            self._nearest_separable(volume, np.arange(z0, z1), out=out)
        else:
            out[...] = self(volume, z0, z1)

    def _nearest_separable(self, volume: int, zs: np.ndarray,
                           out: np.ndarray | None = None) -> np.ndarray:
        src = self.source
        ix, iy = self.nn[0], self.nn[1]
        iz = self.nn[2][zs]
        nx, ny = self.grid.shape[0], self.grid.shape[1]
        valid_z = iz >= 0
        if not valid_z.any():
            if out is None:
                return np.zeros((nx, ny, len(zs)), dtype=src.dtype, order="F")
            out[...] = 0
            return out
        z_lo, z_hi = int(iz[valid_z].min()), int(iz[valid_z].max()) + 1
        rows = self._read_rows(volume, z_lo, z_hi)
        idx = [np.maximum(ix, 0), np.maximum(iy, 0), np.where(valid_z, iz - z_lo, 0)]
        out = gather(rows, idx, self.device, out=out)
        if (ix < 0).any() or (iy < 0).any() or not valid_z.all():
            out[ix < 0] = 0
            out[:, iy < 0] = 0
            out[:, :, ~valid_z] = 0
        return out

    def _nearest_general(self, volume: int, zs: np.ndarray) -> np.ndarray:
        src = self.source
        nx, ny = self.grid.shape[0], self.grid.shape[1]
        n_in = np.asarray(self.in_shape)
        out = np.zeros((nx, ny, len(zs)), dtype=src.dtype, order="F")
        m = self.map
        # Chunk along z so that coordinates (3 x float64 per voxel) stay small.
        step = max(1, (32 << 20) // max(1, nx * ny * 40))
        i, j = np.meshgrid(np.arange(nx, dtype=np.float64), np.arange(ny, dtype=np.float64),
                           indexing="ij")
        for c0 in range(0, len(zs), step):
            zc = zs[c0:c0 + step]
            inside = np.ones((nx, ny, len(zc)), dtype=bool)
            idx = []
            for a in range(3):
                x = (m[a, 0] * i)[:, :, None] + (m[a, 1] * j)[:, :, None] \
                    + (m[a, 2] * zc.astype(np.float64))[None, None, :] + m[a, 3]
                inside &= (x >= -0.5 - _EPS) & (x < n_in[a] - 0.5 + _EPS)
                idx.append(np.clip(np.floor(x + 0.5 + _EPS).astype(np.int64), 0, n_in[a] - 1))
            if not inside.any():
                continue
            lo = [int(idx[a][inside].min()) for a in range(3)]
            hi = [int(idx[a][inside].max()) + 1 for a in range(3)]
            box = self._read_rows(volume, lo[2], hi[2], x=slice(lo[0], hi[0]), y=slice(lo[1], hi[1]))
            vals = gather_points(box, [np.where(inside, idx[a] - lo[a], 0) for a in range(3)])
            out[:, :, c0:c0 + len(zc)] = np.where(inside, vals, 0)
        return out

    def _majority(self, volume: int, z0: int, z1: int) -> np.ndarray:
        src = self.source
        (wx, vx), (wy, vy), (wz, vz) = self.windows
        wz, vz = wz[z0:z1], vz[z0:z1]
        nn = [np.maximum(self.nn[0], 0), np.maximum(self.nn[1], 0), np.maximum(self.nn[2][z0:z1], 0)]
        z_lo = int(min(wz.min(), nn[2].min()))
        z_hi = int(max(wz.max(), nn[2].max())) + 1
        rows = self._read_rows(volume, z_lo, z_hi)
        win = [wx, wy, wz - z_lo]
        shape = (len(wx), len(wy), z1 - z0)
        sentinel = free_sentinel(rows) if self.device == "numpy" else None
        if rows.size and rows.min() == rows.max():
            out = np.full(shape, rows.flat[0], dtype=src.dtype, order="F")
        elif sentinel is not None:
            # Vote on the ids themselves; an id the slab lacks marks the padding taps.
            nn_vals = gather(rows, [nn[0], nn[1], nn[2] - z_lo], "numpy")
            out = np.asfortranarray(majority_codes(rows, win, [vx, vy, vz], nn_vals, sentinel))
        else:
            values, inv = np.unique(rows, return_inverse=True)
            codes = inv.reshape(rows.shape).astype(np.int32)
            nn_codes = gather(codes, [nn[0], nn[1], nn[2] - z_lo], "numpy")
            if self.device == "numpy":
                mode = majority_codes(codes, win, [vx, vy, vz], nn_codes, len(values))
            else:
                from . import _labels_torch as lt

                mode = lt.majority(codes, win, [vx, vy, vz], nn_codes, len(values),
                                   device=self.device)
            out = np.asfortranarray(values[mode])
        outside = [self.nn[0] < 0, self.nn[1] < 0, self.nn[2][z0:z1] < 0]
        if any(o.any() for o in outside):  # beyond the input's field of view: background
            out[outside[0]] = 0
            out[:, outside[1]] = 0
            out[:, :, outside[2]] = 0
        return out

    def _gaussian(self, volume: int, z0: int, z1: int) -> np.ndarray:
        nz = self.grid.shape[2]
        rz = self.radius[2]
        zs = np.clip(np.arange(z0 - rz, z1 + rz), 0, nz - 1)
        coded = self._nearest_codes(volume, zs)
        if coded is None:
            values, codes = dense_codes(self.nearest(volume, zs))
        else:
            values, codes = coded
        if self.device == "numpy":
            res = smooth_labels_blocks(codes, self.weights, z_halo=rz, codes=True)
        else:
            from . import _labels_torch as lt

            res = lt.smooth_labels(codes, self.weights, z_halo=rz, device=self.device, codes=True)
        return np.asfortranarray(values[res - 1])

    def _nearest_codes(self, volume: int, zs: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Nearest-neighbour *codes* gathered from the input rows' codes (relabelling
        the input, not the larger output); None when some voxel lies outside the input."""
        if not self.separable:
            return None
        ix, iy, iz = self.nn[0], self.nn[1], self.nn[2][zs]
        if (ix < 0).any() or (iy < 0).any() or (iz < 0).any():
            return None
        z_lo = int(iz.min())
        rows = self._read_rows(volume, z_lo, int(iz.max()) + 1)
        values, codes_in = dense_codes(rows)
        return values, gather(codes_in, [ix, iy, iz - z_lo], "numpy")


# -- the API -----------------------------------------------------------------------------
def _prepare(source: SourceImage, request: ResampleRequest) -> LabelSlabs:
    """The slab function of a label ``request`` on ``source`` (checked, not run)."""
    from .device import resolve_device

    method = request.method
    assert isinstance(method, LabelMethod)
    dev = resolve_device(request.compute.device)
    grid = request.target.grid_for(source.grid)
    fn = LabelSlabs(source, grid, method=method.method,
                    sigma_voxels=method.sigma_in_voxels(grid.spacing), device=dev)
    # Last: it streams the whole image, so every cheap refusal comes first.
    check_label_values(source, force=method.force_float_labels)
    return fn


def _plan(slab_fn: LabelSlabs, dtype: np.dtype, max_memory: str | int | None, *,
          jobs: int | None = None) -> list[tuple[int, int]]:
    """Slab heights from the budget; by default at most ``_DEFAULT_SLAB_BYTES`` of work
    per slab (larger slabs were not faster, only heavier).

    ``jobs`` is the thread count given to :func:`.stream.write_output` (``None``:
    its default); ``1`` for a sequential loop such as :func:`_collect`.

    Raises
    ------
    OptionError
        When ``max_memory`` is given and the Gaussian's fixed cost (blocks and
        halo slices of every slab piece computed at once) alone exceeds it.

    Notes
    -----
    Without ``max_memory`` the budget grows to fit that fixed cost (plus one
    slice per piece), so a large sigma still runs by default.
    """
    from ._dask import default_jobs
    from .budget import parse_memory, plan_slabs
    from .writer import _fmt_bytes

    budget = parse_memory(max_memory)
    item = np.dtype(dtype).itemsize
    nz = slab_fn.grid.shape[2]
    per_slice, fixed = slab_fn.bytes_per_slice(item), slab_fn.fixed_bytes(item)
    # As write_output does (and engine.plan_resample assumes): `threads` slabs are
    # computed ahead, each planned slab cut in threads + 1 pieces that share the
    # budget but each pay the fixed cost.
    threads = min(int(jobs or default_jobs()), default_jobs())
    pieces = min(threads + 1 if threads > 1 else 1, nz)
    if max_memory is None:
        # By default the slab work also stays within twice the output volume, so
        # small outputs do not cost many times their size (Gaussian work per slice
        # is about ten outputs' worth); never below 16 MiB.
        volume_bytes = float(np.prod(slab_fn.grid.shape)) * item
        budget = int(min(budget, _DEFAULT_SLAB_BYTES, max(16 << 20, 2 * volume_bytes)))
        budget = max(budget, int(pieces * (fixed + per_slice)) + 1)
    elif pieces * fixed > budget:
        raise OptionError(
            f"max_memory: this Gaussian (sigma) needs {_fmt_bytes(pieces * fixed)} of working "
            f"memory for its blocks and halo slices"
            + (f" ({pieces} slab pieces at once; fewer threads lower that)" if pieces > 1 else "")
            + f", more than max_memory allows ({_fmt_bytes(budget)}); raise max_memory or "
            "lower the sigma",
            param="max_memory",
        )
    return plan_slabs(nz, per_slice, max(int(budget - pieces * fixed), 1), min_height=pieces)


def _collect(fn: LabelSlabs, source: SourceImage, slabs: Sequence[tuple[int, int]]) -> np.ndarray:
    """:func:`.stream.collect_output`'s loop, computing each slab in place (no slab copy)."""
    extra = tuple(source.shape[3:])
    out = np.empty(tuple(fn.grid.shape) + extra, dtype=source.dtype, order="F")
    for v in range(source.n_volumes):
        vidx = source.volume_index(v)
        for z0, z1 in slabs:
            key: tuple[Any, ...] = (slice(None), slice(None), slice(z0, z1), *vidx)
            fn.fill(v, z0, z1, out[key])
    return out


def _result(source: SourceImage, fn: LabelSlabs, slabs: int, output: Path | None) -> RunResult:
    in_memory = str(source.path).startswith("<")
    return RunResult(
        input=None if in_memory else Path(source.path), output=output, input_grid=source.grid,
        grid=fn.grid, shape=tuple(fn.grid.shape) + tuple(source.shape[3:]), dtype=source.dtype,
        method=fn.method, device=fn.device, slabs=slabs, slope=source.slope, inter=source.inter,
        order=None, separable=fn.separable, integer=source.is_integer,
    )


def label_array(source: SourceImage, request: ResampleRequest) -> tuple[np.ndarray, RunResult]:
    """Run a label ``request`` on ``source`` into one in-memory array (stored dtype).

    Raises
    ------
    OptionError, GridError, LabelError, DeviceError
    """
    fn = _prepare(source, request)
    slabs = _plan(fn, source.dtype, request.compute.max_memory, jobs=1)  # _collect: one slab at a time
    return _collect(fn, source, slabs), _result(source, fn, len(slabs), None)


def label_file(in_path: str | os.PathLike[str], out_path: str | os.PathLike[str],
               request: ResampleRequest, *,
               progress: Callable[[int, int], None] | None = None) -> RunResult:
    """Stream a label ``request`` from ``in_path`` to ``out_path`` (bounded memory).

    Raises
    ------
    InputError, OptionError, GridError, LabelError, DeviceError, OutputError
    """
    from .stream import write_output

    source = open_image(in_path)
    try:
        fn = _prepare(source, request)
        slabs = _plan(fn, source.dtype, request.compute.max_memory, jobs=request.compute.threads)
        spec = OutputSpec(grid=fn.grid, extra_shape=tuple(source.shape[3:]), dtype=source.dtype,
                          template=source.header, slope=source.slope, inter=source.inter)
        written = write_output(
            Path(out_path), spec, fn, slabs, options=request.output, compute=request.compute,
            inputs=(Path(in_path), *request.reads), progress=progress,
        )
    finally:
        source.close()
    result = _result(source, fn, len(slabs), Path(written))
    result.input = Path(in_path)
    return result


def _label_request(**kw: Any) -> ResampleRequest:
    """A label request from the keyword arguments of the functions below."""
    from ._nibabel import as_like

    return ResampleRequest(
        Target(spacing=kw["spacing"], shape=kw["shape"], like=as_like(kw["like"]), anchor=kw["anchor"]),
        LabelMethod(kw["method"], sigma=kw["sigma"], sigma_voxels=kw["sigma_voxels"],
                    force_float_labels=kw["force_float_labels"]),
        Compute(device=kw["device"], max_memory=kw["max_memory"]),
        OutputOptions(overwrite=kw.get("overwrite", False), compress_level=kw.get("compress_level")),
    )


def resample_labels(
    img: Any,
    *,
    spacing: float | Sequence[float | None] | None = None,
    shape: Sequence[int] | None = None,
    like: Any = None,
    method: str = "nearest",
    sigma: float | Sequence[float] | None = None,
    sigma_voxels: float | Sequence[float] | None = None,
    anchor: str = "center",
    device: str | None = None,
    max_memory: str | int | None = None,
    force_float_labels: bool = False,
) -> Any:
    """Resample a label map; every output value is an input value.

    Parameters
    ----------
    img : path, nibabel image or SourceImage
        The label image (3D, or 4D: each volume).
    spacing : float or sequence of 3 (float or None), optional
        Output spacing in mm.
    shape : sequence of 3 int, optional
        Output shape (field of view kept).
    like : path, nibabel image, SourceImage or Grid, optional
        Reference grid (any direction).
    method : {'nearest', 'majority', 'gaussian'}
        ``sigma`` alone implies ``'gaussian'``.
    sigma : float or 3 floats, optional
        Gaussian sigma in mm, in output space.
    sigma_voxels : float or 3 floats, optional
        Gaussian sigma in output voxels (instead of ``sigma``).
    anchor : {'center', 'origin', 'corner'}
        What the new grid keeps fixed (see :meth:`Grid.with_spacing`).
    device : {None, 'numpy', 'auto', 'cpu', 'cuda'}
        ``None`` (default) or ``'numpy'``: numpy/scipy, no torch needed;
        ``'auto'``: CUDA when present, else numpy; ``'cpu'``/``'cuda'``: torch
        (needs the ``torch`` extra).  All give identical labels; on a CPU the
        numpy path is the faster one (about 1.7x for gaussian here).
    max_memory : str or int, optional
        Working-memory budget per slab, e.g. ``'512M'``.
    force_float_labels : bool
        Accept a float image with non-whole values.

    Returns
    -------
    nibabel.Nifti1Image or nibabel.Nifti2Image
        Output labels with the exact output affine in qform and sform, the
        input's qform/sform codes kept (NIfTI-2 for a NIfTI-2 input).

    Raises
    ------
    OptionError, GridError, LabelError, DeviceError

    Notes
    -----
    The output dtype is the input's stored dtype.  A scaled input keeps its
    ``scl_slope``/``scl_inter``: ``dataobj`` holds the stored values and
    ``get_fdata()`` the scaled ones, which are input values.

    Examples
    --------
    >>> out = resample_labels("aal.nii.gz", spacing=1.0)  # doctest: +SKIP
    >>> smooth = resample_labels("aal.nii.gz", spacing=0.5, sigma=0.5)  # doctest: +SKIP
    """
    from .run import resample_image

    request = _label_request(spacing=spacing, shape=shape, like=like, method=method, sigma=sigma,
                             sigma_voxels=sigma_voxels, anchor=anchor, device=device,
                             max_memory=max_memory, force_float_labels=force_float_labels)
    return resample_image(img, request)


def resample_labels_file(
    in_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    spacing: float | Sequence[float | None] | None = None,
    shape: Sequence[int] | None = None,
    like: Any = None,
    method: str = "nearest",
    sigma: float | Sequence[float] | None = None,
    sigma_voxels: float | Sequence[float] | None = None,
    anchor: str = "center",
    device: str | None = None,
    max_memory: str | int | None = None,
    force_float_labels: bool = False,
    overwrite: bool = False,
    compress_level: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Resample a label file to ``out_path``, streaming slabs (bounded memory).

    Parameters are those of :func:`resample_labels`, plus:

    Parameters
    ----------
    out_path : path
        ``.nii``/``.nii.gz`` (or ``.zarr``/``.ome.zarr``); written atomically.
    overwrite : bool
        Replace an existing output.
    compress_level : int, optional
        gzip level for ``.nii.gz``.
    progress : callable, optional
        ``progress(done_bytes, total_bytes)``.

    Returns
    -------
    RunResult
        What was done (``method``, ``device``, grids, ``slabs``...).  For Zarr
        options, build a :class:`~core.requests.ResampleRequest` and call
        :func:`core.run.resample_file`.

    Raises
    ------
    InputError, OptionError, GridError, LabelError, DeviceError, OutputError
    """
    from .run import resample_file

    request = _label_request(spacing=spacing, shape=shape, like=like, method=method, sigma=sigma,
                             sigma_voxels=sigma_voxels, anchor=anchor, device=device,
                             max_memory=max_memory, force_float_labels=force_float_labels,
                             overwrite=overwrite, compress_level=compress_level)
    return resample_file(in_path, out_path, request, progress=progress)


def resample_label_image(
    nifti: Any,
    resolution_out: float | Sequence[float],
    sigma: float | None = None,
    device: str = "cpu",
) -> Any:
    """Drop-in for the per-label Gaussian scripts' ``resample_label_image``.

    Parameters
    ----------
    nifti : nibabel image or path
        The label image.
    resolution_out : float or sequence of 3 float
        Output spacing in mm.
    sigma : float, optional
        Gaussian sigma in mm (output space); ``None`` for nearest neighbour.
    device : {'cpu', 'cuda'}
        Where to compute: ``'cpu'`` runs the numpy/scipy path (the fastest on a
        CPU; identical labels to torch), ``'cuda'`` the torch backend on the GPU.

    Returns
    -------
    nibabel.Nifti1Image
        With the correctly rescaled affine (centred field of view).

    Examples
    --------
    >>> img = resample_label_image(nib.load("atlas.nii.gz"), 0.5, sigma=0.5)  # doctest: +SKIP
    """
    dev = "numpy" if str(device).lower() == "cpu" else device
    return resample_labels(nifti, spacing=resolution_out, sigma=sigma, device=dev)
