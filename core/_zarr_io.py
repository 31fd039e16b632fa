"""Chunked OME-Zarr output and Zarr input.

Output layout (OME-NGFF 0.4 on Zarr format 2, which napari-ome-zarr,
neuroglancer, BigDataViewer/MoBIE and zarr-python all read)::

    OUT.ome.zarr/
        .zgroup  .zattrs        # multiscales metadata + niresample's exact affine
        0/                      # full resolution, axes ([t,] [c,] z, y, x)
        1/ ... N/               # optional pyramid, each level halved per spatial axis

The spatial axes are stored z, y, x (x fastest), which is exactly NIfTI's
voxel order, so a NIfTI slab ``(nx, ny, dz)`` in Fortran order is written
without a copy.  Chunks default to 128^3, compressed with Blosc-zstd.

OME-NGFF has no rotation.  ``scale`` is the voxel spacing (mm) and
``translation`` is the first voxel centre expressed in the image's own axis
frame (``direction.T @ origin``), which is world RAS mm for an image whose
axes are aligned with RAS and is exact up to that rotation otherwise.  The
full 4x4 affine and the NIfTI header are stored under ``.zattrs['niresample']``
so :func:`open_zarr` restores the exact :class:`~.grid.Grid`.

Every chunk row (all chunks of one z range of one volume) is an independent
task run by :mod:`._dask`; it computes its slabs with the engine's slab
function and writes its chunks straight into the store.  The store is built
in a temporary directory ``.<name>.niresample-<host>-<pid>.part`` renamed onto the
target when complete.  After a chunk row is written a marker file records it,
so ``resume=True`` continues an interrupted run, skipping finished rows.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
import pickle
import shutil
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import (
    HeaderError,
    InputError,
    NiresampleError,
    OptionError,
    OutputError,
    OutputExistsError,
)
from .grid import Grid

__all__ = ["write_zarr", "open_zarr", "check_zarr_target", "downsample2", "DEFAULT_CHUNK", "zarr_levels"]

#: Default chunk edge (voxels) along each spatial axis.
DEFAULT_CHUNK = 128
_STATE_DIR = ".niresample"
_MANIFEST = "manifest.json"
_NGFF_VERSION = "0.4"
_UNITS_MM = {"millimeter": 1.0, "micrometer": 1e-3, "nanometer": 1e-6, "meter": 1e3,
             "centimeter": 10.0, "angstrom": 1e-7, "picometer": 1e-9}
_EXTRA_AXES = ({"name": "t", "type": "time", "unit": "second"}, {"name": "c", "type": "channel"})


# -- output ------------------------------------------------------------------------------


def _require_zarr() -> None:
    """Zarr support is the optional ``zarr`` extra: say what to install."""
    import importlib.util

    from .errors import DependencyError

    missing = [m for m in ("zarr", "numcodecs", "dask") if importlib.util.find_spec(m) is None]
    if missing:
        raise DependencyError(
            f"Zarr input/output needs {', '.join(missing)}: pip install 'niresample[zarr]'"
        )

def write_zarr(
    path: Path,
    *,
    grid: Grid,
    extra_shape: Sequence[int] = (),
    dtype: np.dtype,
    slab_fn: Callable[[int, int, int], np.ndarray],
    slabs: Sequence[tuple[int, int]] | None = None,
    template: Any = None,
    slope: float = 1.0,
    inter: float = 0.0,
    inputs: Sequence[Path] = (),
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    chunks: int | str | Sequence[int] | None = None,
    pyramid: int = 0,
    pyramid_method: str = "auto",
    resume: bool = False,
    jobs: int | None = None,
    scheduler: str | None = None,
    max_memory: str | int | None = None,
    compression: str = "zstd",
    compression_level: int | None = None,
) -> Path:
    """Stream an output into a chunked OME-Zarr store, atomically and resumably.

    Parameters
    ----------
    path : Path
        Target ``OUT.ome.zarr`` or ``OUT.zarr`` (a directory).
    grid : Grid
        Output spatial grid.
    extra_shape : sequence of int
        Axes beyond the third: at most two (stored as ``t`` then ``c``).
    dtype : numpy.dtype
        Output dtype, what ``slab_fn`` returns.
    slab_fn : callable
        ``slab_fn(volume, z0, z1) -> (nx, ny, z1 - z0)``; picklable when
        ``scheduler`` is given.  Its result must not depend on the slab height.
    slabs : sequence of (z0, z1), optional
        The engine's slab plan for ``max_memory``; its height tells how much
        working memory one output slice costs the engine.
    template : nibabel header, optional
        Kept (as NIfTI header bytes) so a Zarr input restores units, codes, TR.
    slope, inter : float
        Scaling of the stored values, kept in the metadata.
    inputs : sequence of Path
        Inputs, never overwritten.
    overwrite : bool
        Replace an existing target (swapped only once the new store is complete).
    progress : callable, optional
        ``progress(done_bytes, total_bytes)`` (uncompressed bytes, all levels).
    chunks : int or (cx, cy, cz) or str, optional
        Chunk shape in voxels along x, y, z (default 128 each); text ``'64'``
        or ``'64,128,128'`` is accepted.  The z depth is
        lowered (halved) when a chunk row would not fit ``max_memory``.
    pyramid : int
        Number of downsampled levels to add (each halves every spatial axis).
    pyramid_method : {'auto', 'majority', 'mean'}
        ``'majority'`` keeps the most frequent value of each 2x2x2 block (labels:
        never a value absent from the input; ties go to the first voxel in
        block order); ``'mean'`` averages (intensities).  ``'auto'``: majority
        for integer dtypes, mean for floats.
    resume : bool
        Continue a run of the same output that was interrupted (its temporary
        directory is kept on interruption): finished chunk rows are skipped.
    jobs : int, optional
        Local threads (default: CPU cores).
    scheduler : str, optional
        ``'tcp://HOST:PORT'`` of a dask.distributed scheduler (workers must
        see the same paths), or ``'distributed'`` for the dask config's.
    max_memory : str or int, optional
        Memory budget for all tasks in flight together (default as
        :func:`.stream.parse_memory`).
    compression : {'zstd', 'lz4', 'none'}
        Blosc codec.
    compression_level : int, optional
        Blosc level 1-9 (default 3 for zstd, 5 for lz4).

    Returns
    -------
    Path
        The written store.

    Raises
    ------
    OptionError, OutputError, OutputExistsError, DiskSpaceError

    Notes
    -----
    The stored dtype is ``dtype``; the temporary directory is removed when a
    task fails, and kept (hidden, never at the target name) when the run is
    interrupted (Ctrl-C, SIGTERM, SIGKILL) so that ``resume=True`` can finish
    it; a later run without ``resume`` removes it.
    """
    _require_zarr()
    from ._dask import run_tasks, validate_scheduler
    from .stream import parse_memory

    path = Path(path)
    dtype = np.dtype(dtype).newbyteorder("=")
    extra = tuple(int(v) for v in extra_shape)
    if len(extra) > 2:
        raise OptionError(
            f"OME-Zarr output holds at most 5 axes (x, y, z, t, c); this image has {3 + len(extra)}"
        )
    pyramid = _as_pyramid(pyramid)
    method = _as_method(pyramid_method, dtype)
    codec = _codec(compression, compression_level)
    scheduler = validate_scheduler(scheduler)
    budget = parse_memory(max_memory)
    n_jobs = _as_jobs(jobs)
    check_zarr_target(path, inputs=tuple(Path(p) for p in inputs), overwrite=overwrite)

    nx, ny, nz = (int(v) for v in grid.shape)
    engine_per_slice = _engine_bytes_per_slice(slabs, nz, budget, nx * ny * dtype.itemsize)
    tasks_in_flight = n_jobs if scheduler is None else max(n_jobs, 2)
    cx, cy, cz = _plan_chunks(chunks, grid.shape, dtype.itemsize, budget, tasks_in_flight,
                              engine_per_slice)
    # Slab height used inside one task: the engine's memory for it fits a share of the budget.
    # When a whole chunk row fits the engine's share, it is computed in one call and goes to
    # the chunks without a row buffer (one copy of the output less).
    if tasks_in_flight * cz * engine_per_slice <= budget:
        sub_height = cz
    else:
        sub_height = max(1, int((budget / 2) / tasks_in_flight // max(engine_per_slice, 1.0)))
    levels = _level_shapes(grid.shape, pyramid)
    n_volumes = int(np.prod(extra, dtype=np.int64)) if extra else 1

    manifest = {
        "format": "niresample-zarr-1",
        "shape": [nx, ny, nz],
        "extra_shape": list(extra),
        "dtype": dtype.str,
        "chunks": [cx, cy, cz],
        "levels": [list(s) for s in levels],
        "method": method,
        "affine": grid.affine.tolist(),
        "codec": codec.get_config(),
        "task": _fingerprint(slab_fn),
    }
    tmp = _prepare_temporary(path, manifest, resume=resume)
    run_id = uuid.uuid4().hex
    done_dir = tmp / _STATE_DIR / "done"
    try:
        if not (tmp / ".zattrs").exists() or not resume:
            _create_store(tmp, grid=grid, extra=extra, dtype=dtype, levels=levels,
                          chunks=(cx, cy, cz), codec=codec, method=method,
                          template=template, slope=slope, inter=inter, name=path.name)
        total = sum(int(np.prod(s, dtype=np.int64)) for s in levels) * n_volumes * dtype.itemsize
        state = {"done": 0}
        lock = threading.Lock()

        def report(nbytes: int) -> None:
            with lock:
                state["done"] += int(nbytes)
                if progress is not None:
                    progress(min(state["done"], total), total)

        for level, shape in enumerate(levels):
            rows = math.ceil(shape[2] / cz)
            todo: list[tuple[int, int]] = []
            row_bytes = shape[0] * shape[1] * dtype.itemsize
            for v in range(n_volumes):
                for r in range(rows):
                    if (done_dir / str(level) / f"{v}.{r}").exists():
                        report(row_bytes * (min(shape[2], (r + 1) * cz) - r * cz))
                    else:
                        todo.append((v, r))
            task = _RowTask(
                root=str(tmp), level=level, extra=extra, shape=shape, depth=cz,
                slab_fn=slab_fn if level == 0 else None, sub_height=sub_height,
                method=method, dtype=dtype.str, run=run_id,
            )
            run_tasks(task, todo, jobs=n_jobs, scheduler=scheduler, on_done=report)
        _commit(tmp, path, overwrite=overwrite)
    except (KeyboardInterrupt, SystemExit):
        raise  # keep the temporary store: resume=True finishes it
    except BaseException as err:
        if not resume:
            shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, OSError) and not isinstance(err, (OutputError, InputError)):
            raise _as_output_error(path, err) from err
        raise
    return path


def zarr_levels(path: Path) -> list[str]:
    """Paths of the multiscale levels of an OME-Zarr store, finest first."""
    attrs = _read_json(Path(path) / ".zattrs")
    ms = _multiscales(attrs)
    return [str(d["path"]) for d in ms["datasets"]] if ms else []


@dataclass(frozen=True)
class _RowTask:
    """Compute and write every chunk of one z row of one volume of one level.

    Picklable: dask.distributed sends it to workers, which open the store by
    path and write their chunks themselves; only a byte count comes back.
    """

    root: str
    level: int
    extra: tuple[int, ...]
    shape: tuple[int, int, int]
    depth: int
    slab_fn: Any
    sub_height: int
    method: str
    dtype: str
    run: str  # unique per write: keys the per-process cache of open arrays

    def __call__(self, item: tuple[int, int]) -> int:
        volume, row = item
        nx, ny, nz = self.shape
        z0, z1 = row * self.depth, min(nz, (row + 1) * self.depth)
        vidx = tuple(int(i) for i in np.unravel_index(volume, self.extra, order="F")) if self.extra else ()
        data = self._compute(volume, z0, z1) if self.level == 0 else self._downsample(vidx, z0, z1)
        _write_row(os.path.join(self.root, str(self.level)), vidx, row, data)
        marker = Path(self.root) / _STATE_DIR / "done" / str(self.level) / f"{volume}.{row}"
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_bytes(b"")
        return int(data.nbytes)

    def _compute(self, volume: int, z0: int, z1: int) -> np.ndarray:
        """Output rows ``[z0, z1)`` as a C-ordered (dz, ny, nx) array."""
        nx, ny, _ = self.shape
        dtype = np.dtype(self.dtype)
        buf: np.ndarray | None = None
        for a in range(z0, z1, self.sub_height):
            b = min(z1, a + self.sub_height)
            slab = np.asarray(self.slab_fn(volume, a, b))
            if slab.shape != (nx, ny, b - a):
                raise OutputError(
                    f"internal error: slab function returned {slab.shape} for rows {a}:{b}, "
                    f"expected {(nx, ny, b - a)}"
                )
            if a == z0 and b == z1:  # the whole row at once: no buffer
                return np.ascontiguousarray(slab.T, dtype=dtype)
            if buf is None:
                buf = np.empty((z1 - z0, ny, nx), dtype=dtype)
            buf[a - z0: b - z0] = slab.T  # (nx, ny, dz) Fortran == (dz, ny, nx) C
        assert buf is not None
        return buf

    def _downsample(self, vidx: tuple[int, ...], z0: int, z1: int) -> np.ndarray:
        """Level rows ``[z0, z1)`` from the finer level, one finer chunk row at a time."""
        src = _open_level(self.root, self.level - 1, self.run)
        nz_src = int(src.shape[-3])
        dtype = np.dtype(self.dtype)
        out = np.empty((z1 - z0, self.shape[1], self.shape[0]), dtype=dtype)
        step = max(2, self.depth - self.depth % 2)
        for a in range(2 * z0, min(2 * z1, nz_src), step):
            b = min(a + step, 2 * z1, nz_src)
            block = np.asarray(src[(*vidx, slice(a, b), slice(None), slice(None))])
            reduced = downsample2(block, method=self.method)
            out[a // 2 - z0: a // 2 - z0 + reduced.shape[0]] = reduced
        return out


def downsample2(block: np.ndarray, *, method: str) -> np.ndarray:
    """Halve every axis of a 3D block: 2x2x2 majority or mean.

    Odd edges are padded by repeating the last plane, which weights the real
    voxels of a partial block equally (so the mean is theirs and the majority
    is among them).

    Parameters
    ----------
    block : (a, b, c) ndarray
    method : {'majority', 'mean'}

    Returns
    -------
    (ceil(a/2), ceil(b/2), ceil(c/2)) ndarray of ``block.dtype``.
    ``'majority'`` returns only values present in ``block``; ties go to the
    first voxel of the block in C order.
    """
    pad = [(0, n % 2) for n in block.shape]
    if any(p[1] for p in pad):
        block = np.pad(block, pad, mode="edge")
    a, b, c = (n // 2 for n in block.shape)
    cube = block.reshape(a, 2, b, 2, c, 2).transpose(0, 2, 4, 1, 3, 5).reshape(a, b, c, 8)
    if method == "mean":
        mean = cube.mean(axis=-1, dtype=np.float64)
        if block.dtype.kind in "iu":
            info = np.iinfo(block.dtype)
            return np.clip(np.rint(mean), info.min, info.max).astype(block.dtype)
        return mean.astype(block.dtype)
    counts = np.zeros((a, b, c, 8), dtype=np.uint8)
    for i in range(8):
        counts[..., i] = (cube == cube[..., i: i + 1]).sum(axis=-1, dtype=np.uint8)
    best = counts.argmax(axis=-1)
    return np.take_along_axis(cube, best[..., None], axis=-1)[..., 0]


def _write_row(array_dir: str, vidx: tuple[int, ...], row: int, data: np.ndarray) -> None:
    """Encode and write every chunk of one z row, each file atomically.

    Zarr format 2 stores a chunk as the codec's bytes of the C-ordered chunk,
    edge chunks padded to the full chunk shape with the fill value, under the
    key ``i/j/k`` (``dimension_separator: '/'``).  Writing the files directly
    skips zarr-python's read-modify-write machinery (~2.5x slower here).  A
    chunk cut short by a kill is harmless: the row's marker is written after
    all its chunks, so a resumed run rewrites the whole row, and the store is
    only renamed onto the target once complete.
    """
    import numcodecs

    meta = json.loads(Path(array_dir, ".zarray").read_text())
    codec = numcodecs.get_codec(meta["compressor"]) if meta.get("compressor") else None
    cz, cy, cx = meta["chunks"][-3:]
    fill = meta.get("fill_value") or 0
    dz, ny, nx = data.shape
    head = [str(i) for i in vidx] + [str(row)]
    for jy, y0 in enumerate(range(0, ny, cy)):
        folder = os.path.join(array_dir, *head, str(jy))
        os.makedirs(folder, exist_ok=True)
        for jx, x0 in enumerate(range(0, nx, cx)):
            block = data[:, y0:y0 + cy, x0:x0 + cx]
            if block.shape != (cz, cy, cx):
                full = np.full((cz, cy, cx), fill, dtype=data.dtype)
                full[: block.shape[0], : block.shape[1], : block.shape[2]] = block
                block = full
            raw = np.ascontiguousarray(block, dtype=np.dtype(meta["dtype"]))
            payload = codec.encode(raw) if codec is not None else raw.tobytes()
            with open(os.path.join(folder, str(jx)), "wb") as f:
                f.write(payload)


_LEVEL_CACHE: dict[tuple[str, int, str], Any] = {}
_LEVEL_LOCK = threading.Lock()


def _open_level(root: str, level: int, run: str) -> Any:
    import zarr

    key = (root, level, run)
    with _LEVEL_LOCK:
        arr = _LEVEL_CACHE.get(key)
        if arr is None:
            arr = zarr.open_array(store=os.path.join(root, str(level)), mode="r+", zarr_format=2)
            if len(_LEVEL_CACHE) > 64:
                _LEVEL_CACHE.clear()
            _LEVEL_CACHE[key] = arr
    return arr


# -- planning ------------------------------------------------------------------------------

def _as_pyramid(pyramid: int | None) -> int:
    n = 0 if pyramid is None else int(pyramid)
    if n < 0 or n > 16:
        raise OptionError(f"--pyramid: expected 0 to 16 levels, got {pyramid}")
    return n


def _as_method(method: str | None, dtype: np.dtype) -> str:
    m = (method or "auto").lower()
    if m == "auto":
        return "majority" if dtype.kind in "iub" else "mean"
    if m not in ("majority", "mean"):
        raise OptionError(f"pyramid method: expected 'majority' or 'mean', got {method!r}")
    return m


def _as_jobs(jobs: int | None) -> int:
    from ._dask import default_jobs

    if jobs is None:
        return default_jobs()
    if int(jobs) < 1:
        raise OptionError(f"--jobs: expected a positive number of threads, got {jobs}")
    return int(jobs)


def _as_chunks(chunks: int | str | Sequence[int] | None) -> tuple[int, int, int]:
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
        raise OptionError(f"--chunks: expected one or three positive sizes (x, y, z), got {chunks!r}")
    return vals[0], vals[1], vals[2]


def _engine_bytes_per_slice(
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


def _plan_chunks(
    chunks: int | str | Sequence[int] | None, shape: Sequence[int], itemsize: int, budget: int,
    tasks: int, engine_per_slice: float,
) -> tuple[int, int, int]:
    """Chunk shape (x, y, z) whose row buffers of all tasks fit half the budget."""
    cx, cy, cz = _as_chunks(chunks)
    nx, ny, nz = (int(v) for v in shape)
    cx, cy, cz = min(cx, nx), min(cy, ny), min(cz, nz)
    plane = nx * ny * itemsize
    explicit = chunks is not None
    while cz > 1 and tasks * cz * plane > budget / 2:
        if explicit:
            raise OptionError(
                f"--chunks: a chunk depth of {cz} slices needs {tasks * cz * plane / 1e9:.2f} GB "
                f"for {tasks} tasks of {nx}x{ny} slices; --max-memory allows "
                f"{budget / 1e9:.2f} GB (lower the z chunk, --jobs, or raise --max-memory)"
            )
        cz = max(1, cz // 2)
    if tasks * (cz * plane + engine_per_slice) > budget:
        raise OptionError(
            f"--max-memory: {budget / 1e9:.2f} GB cannot hold {tasks} tasks of one "
            f"{nx}x{ny} output slice each; raise --max-memory or lower --jobs"
        )
    return cx, cy, cz


def _level_shapes(shape: Sequence[int], pyramid: int) -> list[tuple[int, int, int]]:
    levels = [tuple(int(v) for v in shape)]
    for _ in range(pyramid):
        levels.append(tuple((v + 1) // 2 for v in levels[-1]))
    return levels  # type: ignore[return-value]


def _codec(compression: str, level: int | None) -> Any:
    import numcodecs

    name = (compression or "zstd").lower()
    if name in ("none", "raw"):
        return numcodecs.Blosc(cname="lz4", clevel=0)
    if name not in ("zstd", "lz4", "lz4hc", "zlib", "blosclz"):
        raise OptionError(f"compression: expected zstd, lz4 or none, got {compression!r}")
    lvl = (3 if name == "zstd" else 5) if level is None else int(level)
    if not 0 <= lvl <= 9:
        raise OptionError(f"compression level: expected 0 to 9, got {level}")
    return numcodecs.Blosc(cname=name, clevel=lvl, shuffle=numcodecs.Blosc.SHUFFLE)


class _HashWriter:
    """A file-like sink for pickle that only updates a digest (no copy of an
    in-memory volume is made to fingerprint it)."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return len(data)


def _fingerprint(slab_fn: Any) -> str | None:
    """A digest of the pickled slab function (its input path and parameters);
    None when it cannot be pickled (then ``resume`` is refused)."""
    sink = _HashWriter()
    try:
        pickle.Pickler(sink, protocol=5).dump(slab_fn)
    except Exception:
        return None
    return sink.digest.hexdigest()


# -- store and temporary directory ---------------------------------------------------------

def _ngff_transforms(grid: Grid, level: int, n_extra: int) -> list[dict[str, Any]]:
    spacing = np.asarray(grid.spacing, dtype=np.float64)
    origin = np.asarray(grid.affine[:3, 3], dtype=np.float64)
    # First voxel centre in the image's own axis frame; exact for any rotation.
    trans = np.asarray(grid.direction, dtype=np.float64).T @ origin
    f = 2.0 ** level
    scale = spacing * f
    trans = trans + spacing * (f - 1) / 2
    lead = [1.0] * n_extra
    return [
        {"type": "scale", "scale": lead + [float(v) for v in scale[::-1]]},
        {"type": "translation", "translation": [0.0] * n_extra + [float(v) for v in trans[::-1]]},
    ]


def _create_store(
    root: Path, *, grid: Grid, extra: tuple[int, ...], dtype: np.dtype,
    levels: list[tuple[int, int, int]], chunks: tuple[int, int, int], codec: Any, method: str,
    template: Any, slope: float, inter: float, name: str,
) -> None:
    import zarr

    cx, cy, cz = chunks
    n_extra = len(extra)
    for level, (nx, ny, nz) in enumerate(levels):
        zarr.create_array(
            store=str(root / str(level)), shape=(*extra, nz, ny, nx),
            chunks=(*([1] * n_extra), min(cz, nz), min(cy, ny), min(cx, nx)),
            dtype=dtype, zarr_format=2, compressors=codec, fill_value=0,
            chunk_key_encoding={"name": "v2", "separator": "/"}, overwrite=True,
        )
    axes = [dict(a) for a in _EXTRA_AXES[:n_extra]] + [
        {"name": n, "type": "space", "unit": "millimeter"} for n in ("z", "y", "x")
    ]
    multiscales = [{
        "version": _NGFF_VERSION,
        "name": name,
        "axes": axes,
        "datasets": [
            {"path": str(level), "coordinateTransformations": _ngff_transforms(grid, level, n_extra)}
            for level in range(len(levels))
        ],
        "type": method if len(levels) > 1 else "none",
        "metadata": {"description": f"2x2x2 block {method} per level", "method": "niresample"},
    }]
    extra_meta: dict[str, Any] = {
        "affine": grid.affine.tolist(),
        "voxel_order": "zarr axes (..., z, y, x) are NIfTI voxel axes (i, j, k) reversed",
        "slope": float(slope),
        "inter": float(inter),
    }
    header = _header_bytes(template, grid, extra, dtype, slope, inter)
    if header is not None:
        extra_meta["nifti_header"] = header
    _write_json(root / ".zgroup", {"zarr_format": 2})
    _write_json(root / ".zattrs", {"multiscales": multiscales, "niresample": extra_meta})


def _header_bytes(
    template: Any, grid: Grid, extra: tuple[int, ...], dtype: np.dtype, slope: float, inter: float
) -> str | None:
    try:
        from .writer import make_header

        hdr = make_header(template, grid, tuple(grid.shape) + extra, dtype, slope=slope, inter=inter)
        buf = io.BytesIO()
        hdr.write_to(buf)
        return base64.b64encode(buf.getvalue()).decode("ascii")
    except Exception:
        return None


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2))
    os.replace(tmp, path)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: unreadable Zarr metadata ({err})") from err


def check_zarr_target(path: Path, *, inputs: Sequence[Path] = (), overwrite: bool = False) -> None:
    """Refuse a Zarr target that is an input, exists (unless ``overwrite``) or
    lies in a missing or read-only directory."""
    target = Path(os.path.abspath(path))
    for src in inputs:
        if Path(os.path.abspath(src)) == target:
            raise OutputError(f"{path}: output is the input; refusing to overwrite an input")
    if target.exists() and not overwrite:
        raise OutputExistsError(f"{path}: already exists (use --overwrite to replace it)")
    if target.exists() and not target.is_dir():
        raise OutputError(f"{path}: exists and is not a Zarr directory")
    if not target.parent.is_dir():
        raise OutputError(f"{path}: output directory {target.parent} does not exist")
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: output directory {target.parent} is not writable")


def _partials(path: Path) -> list[Path]:
    from .writer import TEMP_PATTERN

    found = []
    for entry in path.parent.iterdir() if path.parent.is_dir() else []:
        m = TEMP_PATTERN.match(entry.name)
        if m and m.group("name") == path.name and entry.is_dir():
            found.append(entry)
    return found


def _prepare_temporary(path: Path, manifest: dict[str, Any], *, resume: bool) -> Path:
    """The temporary store for this run: a resumable one adopted, else a fresh one."""
    from .writer import TEMP_PATTERN, temp_owner_gone, temporary_path

    tmp = temporary_path(path)
    adopted = None
    for old in _partials(path):
        m = TEMP_PATTERN.match(old.name)
        if old != tmp and m is not None and not temp_owner_gone(m) and not (
            resume and m.group("host") not in (None, TEMP_PATTERN.match(tmp.name).group("host"))  # type: ignore[union-attr]
        ):
            where = f" on {m.group('host')}" if m.group("host") else ""
            raise OutputError(
                f"{path}: another niresample run (pid {m.group('pid')}{where}) is writing it"
                + ("" if not where else f"; if that run is gone, use --resume or remove {old.name}")
            )
        if resume and adopted is None:
            if manifest.get("task") is None:
                raise OptionError(
                    "--resume: this run cannot be fingerprinted (its task does not pickle), so a "
                    "partial output cannot be matched to it; run without --resume"
                )
            old_manifest = _read_json(old / _STATE_DIR / _MANIFEST)
            if old_manifest != json.loads(json.dumps(manifest)):
                diff = sorted(k for k in manifest if old_manifest.get(k) != json.loads(json.dumps(manifest))[k])
                raise OptionError(
                    f"--resume: the partial output {old.name} was made with other settings "
                    f"({', '.join(diff) or 'unknown'}); run without --resume to start over"
                )
            if old != tmp:
                os.rename(old, tmp)
            adopted = tmp
        elif old != adopted:
            shutil.rmtree(old, ignore_errors=True)
    if adopted is not None:
        return adopted
    try:
        (tmp / _STATE_DIR).mkdir(parents=True)
        _write_json(tmp / _STATE_DIR / _MANIFEST, manifest)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _as_output_error(path, err) from err
    return tmp


def _commit(tmp: Path, path: Path, *, overwrite: bool) -> None:
    shutil.rmtree(tmp / _STATE_DIR, ignore_errors=True)
    if path.exists():
        if not overwrite:
            raise OutputExistsError(f"{path}: appeared while writing (another process?); kept it untouched")
        trash = path.parent / f".{path.name}.old.niresample-{os.getpid()}.part"
        os.rename(path, trash)
        os.rename(tmp, path)
        shutil.rmtree(trash, ignore_errors=True)
        return
    os.rename(tmp, path)


def _as_output_error(path: Path, err: OSError) -> OutputError:
    import errno

    from .errors import DiskSpaceError

    if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return DiskSpaceError(f"{path}: disk full while writing")
    return OutputError(f"{path}: cannot write ({err.strerror or err})")


# -- input -------------------------------------------------------------------------------

class _ZarrSlabs:
    """Index a Zarr array (..., z, y, x) with NIfTI slicers (x, y, z, *volume)."""

    def __init__(self, arr: Any, n_extra: int) -> None:
        self.arr = arr
        self.n_extra = n_extra

    def __getitem__(self, slicer: tuple[Any, ...]) -> np.ndarray:
        x, y, z, *vol = slicer
        try:
            data = np.asarray(self.arr[(*vol, z, y, x)])
        except Exception as err:  # codecs raise RuntimeError/ValueError on corrupt chunks
            first = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
            raise InputError(f"{self.arr.store}: unreadable Zarr chunk ({first})") from err
        return data.T  # (dz, ny, nx) C == (nx, ny, dz) Fortran


def _multiscales(attrs: dict[str, Any]) -> dict[str, Any] | None:
    ms = attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")
    return ms[0] if isinstance(ms, list) and ms else None


def _affine_from_ngff(ms: dict[str, Any], dataset: dict[str, Any], names: list[dict[str, Any]]) -> np.ndarray:
    n = len(names)
    scale = np.ones(n)
    trans = np.zeros(n)
    for transforms in (dataset.get("coordinateTransformations", []),
                       ms.get("coordinateTransformations", [])):
        for t in transforms:
            kind = t.get("type")
            if kind not in ("scale", "translation"):
                continue
            v = np.asarray(t[kind], dtype=np.float64)
            if v.shape != (n,) or not np.all(np.isfinite(v)):
                raise ValueError(f"{kind} {t[kind]!r} needs {n} finite values (one per axis)")
            if kind == "scale":
                scale, trans = scale * v, trans * v
            else:
                trans = trans + v
    unit = np.array([_UNITS_MM.get(str(a.get("unit", "millimeter")), 1.0) for a in names])
    sp, tr = (scale * unit)[-3:][::-1], (trans * unit)[-3:][::-1]
    affine = np.eye(4)
    affine[:3, :3] = np.diag(sp)
    affine[:3, 3] = tr
    return affine


def open_zarr(path: str | os.PathLike[str]) -> Any:
    """Open a Zarr store (OME-NGFF multiscales, or a plain array) lazily.

    The finest level is read.  The grid comes from niresample's stored affine
    when present (exact round trip), else from the OME-NGFF scale and
    translation (axis aligned, units converted to mm).  Reading a slab reads
    only the chunks that hold it.

    Returns
    -------
    SourceImage

    Raises
    ------
    InputError
        Not a readable Zarr store.
    HeaderError
        Fewer than three spatial axes, more than five axes, unsupported dtype.
    """
    _require_zarr()

    p = Path(path)
    try:
        import zarr

        node = zarr.open(store=str(p), mode="r")
    except Exception as err:
        raise InputError(f"{p}: not a readable Zarr store ({str(err).splitlines()[0][:160]})") from err
    try:
        return _source_from_node(p, node)
    except (NiresampleError, KeyboardInterrupt):
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as err:
        raise HeaderError(
            f"{p}: malformed Zarr/OME-NGFF metadata ({type(err).__name__}: {str(err)[:120]})"
        ) from err


def _source_from_node(p: Path, node: Any) -> Any:
    """A SourceImage from an opened Zarr node (metadata parsed here, any failure
    becomes a HeaderError in :func:`open_zarr`)."""
    from .io import SourceImage, _check_dtype, _check_shape, _make_grid, _template_header

    attrs: dict[str, Any] = dict(node.attrs)
    ms = _multiscales(attrs)
    arr: Any
    if hasattr(node, "shape"):
        arr, axes = node, None
    elif ms is not None:
        dataset = ms["datasets"][0]
        try:
            arr = node[str(dataset["path"])]
        except Exception as err:
            raise InputError(f"{p}: multiscales level {dataset['path']!r} is missing") from err
        axes = ms.get("axes")
    else:
        raise InputError(f"{p}: a Zarr group without OME-NGFF multiscales metadata")
    ndim = len(arr.shape)
    if ndim < 3 or ndim > 5:
        raise HeaderError(f"{p}: Zarr array of {ndim} axes; expected 3 spatial axes (+ t, c)")
    names = [a if isinstance(a, dict) else {"name": str(a)} for a in (axes or [])]
    if names:
        kinds = [a.get("type", "space" if a.get("name") in ("x", "y", "z") else "") for a in names]
        if kinds[-3:] != ["space"] * 3 or "space" in kinds[:-3]:
            raise HeaderError(f"{p}: expected the last three axes to be spatial, got {kinds}")
    raw_meta = attrs.get("niresample")
    meta: dict[str, Any] = dict(raw_meta) if isinstance(raw_meta, dict) else {}
    n_extra = ndim - 3
    shape = tuple(int(v) for v in arr.shape[-3:][::-1]) + tuple(int(v) for v in arr.shape[:n_extra])
    _check_shape(p, shape)
    dtype = _check_dtype(p, np.dtype(arr.dtype))
    if "affine" in meta:
        affine = np.asarray(meta["affine"], dtype=np.float64)
    elif ms is not None and names:
        affine = _affine_from_ngff(ms, ms["datasets"][0], names)
    else:
        affine = np.eye(4)
    if affine.shape != (4, 4):
        raise HeaderError(f"{p}: stored affine is not 4x4")
    header = _stored_header(meta, shape, dtype) or _template_header(affine, shape, dtype)
    slope = float(meta.get("slope", 1.0))
    inter = float(meta.get("inter", 0.0))
    return SourceImage(
        path=p, grid=_make_grid(p, shape, affine), shape=shape, dtype=dtype,
        slope=slope if np.isfinite(slope) and slope != 0 else 1.0,
        inter=inter if np.isfinite(inter) else 0.0,
        header=header, fmt="zarr", _dataobj=_ZarrSlabs(arr, n_extra),
    )


def _stored_header(meta: dict[str, Any], shape: tuple[int, ...], dtype: np.dtype) -> Any:
    raw = meta.get("nifti_header")
    if not raw:
        return None
    try:
        import nibabel as nib

        data = base64.b64decode(raw)
        cls = nib.Nifti2Header if len(data) >= 540 and int.from_bytes(data[:4], "little") == 540 \
            else nib.Nifti1Header
        hdr = cls.from_fileobj(io.BytesIO(data))
        hdr.set_data_shape(shape)
        hdr.set_data_dtype(dtype)
        return hdr
    except Exception:
        return None
