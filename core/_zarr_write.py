"""Chunked OME-Zarr output, streamed atomically and resumably.

:func:`write_zarr` checks the options (:mod:`._zarr_plan`), prepares the
temporary store (:mod:`._zarr_resume`), creates the arrays and metadata here,
and runs one task per chunk row (:mod:`._zarr_pyramid`) on :mod:`._dask`.
Chunks default to 128^3, compressed with Blosc-zstd.  The metadata layout is
described in :mod:`._zarr_meta`.
"""

from __future__ import annotations

import base64
import io
import math
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._dask import run_tasks, validate_scheduler
from ._zarr_meta import (
    EXTRA_AXES,
    NGFF_VERSION,
    STATE_DIR,
    NgffLayout,
    ngff_transforms,
    not_replaceable,
    require_zarr,
)
from ._zarr_plan import (
    as_jobs,
    as_method,
    as_pyramid,
    engine_bytes_per_slice,
    make_codec,
    plan_chunks,
)
from ._zarr_pyramid import RowTask, level_shapes
from ._zarr_resume import as_output_error, commit, fingerprint, prepare_temporary
from .budget import parse_memory
from .errors import InputError, OptionError, OutputError, OutputExistsError
from .grid import Grid
from .paths import check_not_an_input, content_identity
from .requests import Compute, OutputOptions
from .result import OutputSpec
from .writer import make_header

__all__ = ["write_zarr", "check_zarr_target"]


def write_zarr(
    path: Path,
    spec: OutputSpec,
    slab_fn: Callable[[int, int, int], np.ndarray],
    slabs: Sequence[tuple[int, int]] | None = None,
    *,
    options: OutputOptions,
    compute: Compute,
    inputs: Sequence[Path] = (),
    progress: Callable[[int, int], None] | None = None,
    pyramid_method: str = "auto",
    compression: str = "zstd",
    labels: bool = False,
) -> Path:
    """Stream an output into a chunked OME-Zarr store, atomically and resumably.

    Parameters
    ----------
    path : Path
        Target ``OUT.ome.zarr`` or ``OUT.zarr`` (a directory).
    spec : OutputSpec
        The output image: grid, axes beyond the third (at most two, stored as
        ``t`` then ``c``), dtype (what ``slab_fn`` returns), the template header
        (kept as NIfTI header bytes so a Zarr input restores units, codes, TR) and
        the scaling of the stored values.
    slab_fn : callable
        ``slab_fn(volume, z0, z1) -> (nx, ny, z1 - z0)``; picklable when a
        scheduler is given.  Its result must not depend on the slab height.
    slabs : sequence of (z0, z1), optional
        The engine's slab plan for the memory budget; its height tells how much
        working memory one output slice costs the engine.
    options : OutputOptions
        ``overwrite`` (replace an existing target, swapped only once the new store
        is complete), ``chunks`` (voxels along x, y, z, default 128 each; the z
        depth is lowered when a chunk row would not fit the budget), ``pyramid``
        (downsampled levels, each halving every spatial axis), ``resume``
        (continue an interrupted run of the same output: finished chunk rows are
        skipped), ``scheduler`` (``'tcp://HOST:PORT'`` of a dask.distributed
        scheduler whose workers see the same paths, or ``'distributed'``).
    compute : Compute
        ``threads`` (local threads, default: CPU cores) and ``max_memory`` (the
        budget for all tasks in flight together).
    inputs : sequence of Path
        Inputs, never overwritten.
    progress : callable, optional
        ``progress(done_bytes, total_bytes)`` (uncompressed bytes, all levels).
    pyramid_method : {'auto', 'majority', 'mean'}
        ``'majority'`` keeps the most frequent value of each 2x2x2 block (labels:
        never a value absent from the input; ties go to the first voxel in
        block order); ``'mean'`` averages (intensities).  ``'auto'``: majority
        for integer dtypes, mean for floats.
    compression : {'zstd', 'lz4', 'none'}
        Blosc codec (its default level).
    labels : bool
        A label map: the store follows the OME-NGFF labels convention (an
        ``image-label`` entry) so viewers open it as labels.

    ``options.zarr_format`` 3 writes Zarr v3 with OME-NGFF 0.5 metadata
    (``zarr.json``, everything under ``'ome'``); 2 (default) Zarr v2 with 0.4.

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
    require_zarr()

    path = Path(path)
    grid, template, slope, inter = spec.grid, spec.template, spec.slope, spec.inter
    overwrite, resume = options.overwrite, options.resume
    dtype = np.dtype(spec.dtype).newbyteorder("=")
    extra = tuple(int(v) for v in spec.extra_shape)
    if len(extra) > 2:
        raise OptionError(
            f"OME-Zarr output holds at most 5 axes (x, y, z, t, c); this image has {3 + len(extra)}"
        )
    pyramid = as_pyramid(options.pyramid)
    method = as_method(pyramid_method, dtype)
    codec = make_codec(compression, None)
    scheduler = validate_scheduler(options.scheduler)
    budget = parse_memory(compute.max_memory)
    n_jobs = as_jobs(compute.threads)
    check_zarr_target(path, inputs=tuple(Path(p) for p in inputs), overwrite=overwrite)

    nx, ny, nz = (int(v) for v in grid.shape)
    engine_per_slice = engine_bytes_per_slice(slabs, nz, budget, nx * ny * dtype.itemsize)
    tasks_in_flight = n_jobs if scheduler is None else max(n_jobs, 2)
    cx, cy, cz = plan_chunks(options.chunks, grid.shape, dtype.itemsize, budget, tasks_in_flight,
                              engine_per_slice)
    # Slab height used inside one task: the engine's memory for it fits a share of the budget.
    # When a whole chunk row fits the engine's share, it is computed in one call and goes to
    # the chunks without a row buffer (one copy of the output less).
    if tasks_in_flight * cz * engine_per_slice <= budget:
        sub_height = cz
    else:
        sub_height = max(1, int((budget / 2) / tasks_in_flight // max(engine_per_slice, 1.0)))
    levels = level_shapes(grid.shape, pyramid)
    n_volumes = math.prod(extra)

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
        "task": fingerprint(slab_fn),
        # What the task reads, by content: a changed input must not be resumed into.
        "inputs": [{"path": str(p), "identity": content_identity(p)} for p in inputs],
    }
    zarr_format = int(options.zarr_format)
    if zarr_format != 2:
        manifest["zarr_format"] = zarr_format
    tmp = prepare_temporary(path, manifest, resume=resume)
    run_id = uuid.uuid4().hex
    done_dir = tmp / STATE_DIR / "done"
    try:
        if not (tmp / (".zattrs" if zarr_format == 2 else "zarr.json")).exists() or not resume:
            _create_store(tmp, grid=grid, extra=extra, dtype=dtype, levels=levels,
                          chunks=(cx, cy, cz), codec=codec, method=method,
                          template=template, slope=slope, inter=inter, name=path.name,
                          ngff=NgffLayout(zarr_format, labels))
        total = sum(math.prod(s) for s in levels) * n_volumes * dtype.itemsize
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
            task = RowTask(
                root=str(tmp), level=level, extra=extra, shape=shape, depth=cz,
                slab_fn=slab_fn if level == 0 else None, sub_height=sub_height,
                method=method, dtype=dtype.str, run=run_id,
            )
            run_tasks(task, todo, jobs=n_jobs, scheduler=scheduler, on_done=report)
        commit(tmp, path, overwrite=overwrite)
    except (KeyboardInterrupt, SystemExit):
        raise  # keep the temporary store: resume=True finishes it
    except BaseException as err:
        if not resume:
            shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, OSError) and not isinstance(err, (OutputError, InputError)):
            raise as_output_error(path, err) from err
        raise
    return path


def _create_store(
    root: Path, *, grid: Grid, extra: tuple[int, ...], dtype: np.dtype,
    levels: list[tuple[int, int, int]], chunks: tuple[int, int, int], codec: Any, method: str,
    template: Any, slope: float, inter: float, name: str, ngff: NgffLayout | None = None,
) -> None:
    import zarr

    ngff = ngff or NgffLayout()
    cx, cy, cz = chunks
    n_extra = len(extra)
    for level, (nx, ny, nz) in enumerate(levels):
        zarr.create_array(
            store=str(root / str(level)), shape=(*extra, nz, ny, nx),
            chunks=(*([1] * n_extra), min(cz, nz), min(cy, ny), min(cx, nx)),
            dtype=dtype, fill_value=0, overwrite=True,
            **ngff.array_kwargs(codec, [a["name"] for a in EXTRA_AXES[:n_extra]] + ["z", "y", "x"]),
        )
    axes = [dict(a) for a in EXTRA_AXES[:n_extra]] + [
        {"name": n, "type": "space", "unit": "millimeter"} for n in ("z", "y", "x")
    ]
    multiscales = [{
        **({"version": NGFF_VERSION} if ngff.zarr_format == 2 else {}),
        "name": name,
        "axes": axes,
        "datasets": [
            {"path": str(level), "coordinateTransformations": ngff_transforms(grid, level, n_extra)}
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
    ngff.write_group(root, multiscales, extra_meta)


def _header_bytes(
    template: Any, grid: Grid, extra: tuple[int, ...], dtype: np.dtype, slope: float, inter: float
) -> str | None:
    try:
        hdr = make_header(template, grid, tuple(grid.shape) + extra, dtype, slope=slope, inter=inter)
        buf = io.BytesIO()
        hdr.write_to(buf)
        return base64.b64encode(buf.getvalue()).decode("ascii")
    except Exception:
        return None


def check_zarr_target(path: Path, *, inputs: Sequence[Path] = (), overwrite: bool = False) -> None:
    """Refuse a Zarr target that is (or holds, or lies inside) an input, exists (unless
    ``overwrite``), is a folder that is not a store niresample could have written
    (:func:`._zarr_meta.not_replaceable`) or lies in a missing or read-only directory."""
    target = Path(os.path.abspath(path))
    check_not_an_input(path, inputs, replaces_folder=True)
    if target.exists() and not overwrite:
        raise OutputExistsError(f"{path}: already exists (overwrite=True replaces it)",
                                param="overwrite")
    if target.exists() and not target.is_dir():
        raise OutputError(f"{path}: exists and is not a Zarr directory")
    if target.is_dir():
        why = not_replaceable(target)
        if why:
            raise OutputError(f"{path}: {why}; refusing to replace it")
    from ._path_errors import check_output_parent

    check_output_parent(path)
