"""Compare two images: grids, values and labels, streamed slab by slab.

:func:`compare_images` answers "what did resampling do to my image?": how the
grid and its field of view moved, how the intensity statistics changed, and
for label maps which labels were lost or appeared, how their volumes changed
and how well they overlap (Dice) once the second image is mapped back onto
the first image's grid by nearest neighbour.

Neither image is ever loaded whole: every statistic is accumulated slab by
slab along the last spatial axis, and the nearest-neighbour mapping reads
only the rows of ``b`` that each slab of ``a`` needs.  Peak memory follows
``max_memory``, not the image size.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ._compare_checks import (
    FAIL_CONDITIONS,
    failed_checks,
    parse_fail_on,
)
from ._compare_map import _Mapper
from ._compare_stats import (
    HIST_BINS,
    MAX_LABELS,
    PERCENTILES,
    _Counter,
    _DiceCounts,
    _unique_counts,
    _ValueStats,
    validate_fill,
)
from ._inputs import InputOptions
from .errors import LabelError, OptionError
from .grid import Grid, axis_aligned_map, voxel_map
from .info import fov_shift, slab_height
from .io import SourceImage, open_image

__all__ = ["compare_images", "failed_checks", "parse_fail_on", "FAIL_CONDITIONS", "PERCENTILES", "MAX_LABELS", "AUTO_LABELS",
           "HIST_BINS"]


#: With ``labels=None``, integer images with more distinct values than this
#: are taken for intensity images (an int16 MRI has thousands of values).
AUTO_LABELS = 1000

ProgressFn = Callable[[int, int], None]

# Working bytes per voxel of an ``a`` slab: the slab, its float64 copy and
# histogram indices; for rotated grids also the voxel indices and mapped
# coordinates (int64 triples) of the nearest-neighbour gather.
_BYTES_PER_VOXEL = 64
_BYTES_PER_VOXEL_ROTATED = 160

# Slabs larger than this only get slower (cache misses; measured on two real
# atlases: 1.3 s at 16-64 MiB vs 3.2 s with one 1 GiB slab), so max_memory
# can lower the working set but never raise it above this.
_SLAB_CAP = 64 << 20


# --------------------------------------------------------------------------
# the comparison
# --------------------------------------------------------------------------
def _grid_facts(img: SourceImage) -> dict[str, Any]:
    g = img.grid
    return {
        "path": str(img.path),
        "format": img.fmt,
        "shape": list(img.shape),
        "dtype": str(img.dtype),
        "value_dtype": str(img.value_dtype),
        "scaled": img.is_scaled,
        "slope": img.slope,
        "inter": img.inter,
        "volumes": img.n_volumes,
        "spacing": g.spacing.tolist(),
        "origin": g.origin.tolist(),
        "direction": g.direction.tolist(),
        "axcodes": "".join(g.axcodes),
        "obliquity_deg": float(np.max(g.obliquity)),
        "fov_mm": g.fov_mm.tolist(),
        "fov_center": g.fov_center.tolist(),
        "voxel_volume_mm3": float(np.prod(g.spacing)),
    }


def _fov_facts(a: Grid, b: Grid) -> dict[str, Any]:
    """FOV centre and outer-edge shifts of ``b`` relative to ``a``.

    Edges are measured along ``a``'s voxel axes: ``b``'s outer-edge box is
    mapped into ``a``'s voxel coordinates, and its low/high extent on each
    axis is compared with ``a``'s (``-0.5`` and ``n - 0.5``).
    """
    world = fov_shift(a, b)
    m = voxel_map(a, b)
    corners_b = b.fov_corners()
    in_a = (corners_b - a.affine[:3, 3]) @ np.linalg.inv(a.affine[:3, :3]).T
    lo_a = np.full(3, -0.5)
    hi_a = np.asarray(a.shape, dtype=np.float64) - 0.5
    lo_vox = _clean(in_a.min(axis=0) - lo_a)
    hi_vox = _clean(in_a.max(axis=0) - hi_a)
    center_vox = _clean(np.linalg.solve(a.affine[:3, :3], b.fov_center - a.fov_center))
    sp = a.spacing
    edges = [
        {"axis": ax, "low_mm": float(lo_vox[ax] * sp[ax]), "high_mm": float(hi_vox[ax] * sp[ax]),
         "low_vox": float(lo_vox[ax]), "high_vox": float(hi_vox[ax])}
        for ax in range(3)
    ]
    same_direction = bool(np.allclose(a.direction, b.direction, atol=1e-6))
    return {
        "same_grid": a.shape == b.shape and bool(np.allclose(a.affine, b.affine, atol=1e-6)),
        "same_direction": same_direction,
        "rotation_deg": _angle_between(a.direction, b.direction),
        "center_shift_mm": world["center_shift_mm"],
        "center_shift": world["center_shift"],
        "center_shift_vox": center_vox.tolist(),
        "edges": edges,
        "max_edge_shift": float(max(max(abs(e["low_mm"]), abs(e["high_mm"])) for e in edges)),
        "world_edge_shift_mm": world["edge_shift_mm"],
        "voxel_map": m.tolist(),
    }


def _clean(x: np.ndarray) -> np.ndarray:
    """Zero the float noise (below a nanometre or a billionth of a voxel)."""
    return np.where(np.abs(x) < 1e-9, 0.0, x)


def _angle_between(da: np.ndarray, db: np.ndarray) -> float:
    """Rotation angle (degrees) taking one direction matrix to the other."""
    r = db @ da.T
    c = (float(np.trace(r)) - 1.0) / 2.0
    return float(math.degrees(math.acos(max(-1.0, min(1.0, c)))))


#: Turns a slab of a float-stored label map into int64 labels (refusing non-whole values).
_Whole = Callable[[np.ndarray], np.ndarray]


def _whole_labels(img: SourceImage) -> _Whole:
    """The check of ``labels=True`` for an image not stored as plain integers: every
    value must be whole and finite (the rule of :func:`core.labels` for float labels)."""

    def whole(slab: np.ndarray) -> np.ndarray:
        finite = np.isfinite(slab)
        bad = ~finite | (np.where(finite, slab, 0) != np.round(np.where(finite, slab, 0)))
        if bad.any():
            first = float(slab[bad].flat[0])
            raise LabelError(
                f"labels: {img.path} holds {'scaled ' if img.is_scaled else ''}{img.dtype} values "
                f"that are not whole (e.g. {first:.6g}), not labels", param="labels")
        return slab.astype(np.int64)

    return whole


def _slabs(nz: int, h: int) -> Iterator[tuple[int, int]]:
    for z0 in range(0, nz, h):
        yield z0, min(nz, z0 + h)


def _validate(labels: bool | None, max_memory: str | int | None) -> int:
    from .budget import parse_memory

    if labels not in (None, True, False):
        raise OptionError(f"labels: expected None, True or False, got {labels!r}", param="labels")
    return parse_memory(max_memory)


def compare_images(
    a: str | os.PathLike[str],
    b: str | os.PathLike[str],
    *,
    labels: bool | None = None,
    max_memory: str | int | None = None,
    progress: ProgressFn | None = None,
    fill: float | None = None,
    options: InputOptions | None = None,
) -> dict[str, Any]:
    """Compare image ``b`` with image ``a`` (typically: a resampled output with its input).

    Parameters
    ----------
    a, b : str or PathLike
        The reference image and the image compared with it.
    labels : bool or None
        Compare label sets, volumes and Dice.  ``None`` (default): when both
        images hold unscaled integers with at most :data:`AUTO_LABELS`
        distinct values (``True`` allows up to :data:`MAX_LABELS`).
    max_memory : str or int or None
        Memory budget for the slabs (``'512M'``); default as for resampling.
    progress : callable or None
        ``progress(done_bytes, total_bytes)`` as the voxels are read.
    fill : number or None
        The value ``b`` was given outside ``a``'s field of view (``labels --fill``).
        When ``a`` does not hold it, it is ``b``'s background, like 0: not a label of
        ``b``, never "new" (``fill_b_voxels`` counts it).
    options : InputOptions, optional
        How ``a`` (the reference, typically the input) is read when its
        format needs it: orientation and space unit of a NRRD, voxel size of a
        TIFF, OME-Zarr level.  ``b`` (typically niresample's output, which
        records its geometry) is read as it is.

    Returns
    -------
    dict
        JSON-ready: ``a`` and ``b`` (grid facts: shape, dtype, spacing,
        origin, direction, axcodes, FOV...), ``fov`` (centre shift in mm and
        in voxels of ``a``, each outer-edge shift along ``a``'s axes, rotation
        between the grids), ``stats`` (``a`` and ``b``: min, max, mean, std,
        percentiles, nonzero mean) and ``labels`` (``None`` for intensity
        images; else counts, lost/new ids, per-label voxels, volumes in mm^3,
        relative volume change and Dice, mean and worst Dice).

    Raises
    ------
    InputError, HeaderError
        When either file cannot be read as an image.
    OptionError
        For a bad ``labels`` or ``max_memory``.

    Notes
    -----
    Everything is streamed: the slabs in flight use at most ``max_memory``
    (and never more than 64 MiB, which is faster than larger slabs).  One
    slice of ``a`` is the smallest unit read.  When ``b`` is rotated or
    permuted relative to ``a``, each slab of ``a`` may need rows from all of
    ``b``'s slices; they are read in bounded chunks, but a compressed ``b``
    is then decompressed more than once.

    * Statistics cover every volume of a 4D+ image; NaN/inf are counted and
      left out.  Percentiles are numpy's ``linear`` percentiles read from a
      streamed histogram of at most :data:`HIST_BINS` bins: exact for integer
      images whose value range is below that, otherwise within
      ``percentile_bin_width`` (reported) of the exact value.
    * Label 0 is background: it is left out of the label sets and of Dice.  So is
      ``fill`` in ``b`` when ``a`` does not hold it (a fill that is a label of ``a``
      stays a label).
      Label ids stay integers throughout (never float32).
    * Dice compares ``a`` with ``b`` mapped onto ``a``'s grid by nearest
      neighbour (:func:`core.kernels.nearest_index`, ties go up: the voxel the
      label resampler picks); ``a`` voxels outside ``b`` count as 0.  For
      4D label images, volumes are paired when both have the same number,
      otherwise only the first volumes are compared (``dice_volumes``).
    * Per-label volumes come from each image's own grid: voxel count times
      the voxel volume.

    Examples
    --------
    >>> report = compare_images("atlas.nii.gz", "atlas_0.5mm.nii.gz")  # doctest: +SKIP
    >>> report["labels"]["lost"], report["labels"]["dice_mean"]  # doctest: +SKIP
    ([], 0.97...)
    """
    budget = min(_validate(labels, max_memory), _SLAB_CAP)
    fill = validate_fill(fill)
    with open_image(a, options=options) as img_a, open_image(b) as img_b:
        limit = MAX_LABELS
        if labels is None:
            labels = img_a.is_integer and img_b.is_integer
            limit = AUTO_LABELS
        # labels=True also takes float-stored (or scaled) label maps whose values are
        # whole, as `labels` does: their slabs are checked and counted as int64.
        whole_a = _whole_labels(img_a) if labels and not img_a.is_integer else None
        whole_b = _whole_labels(img_b) if labels and not img_b.is_integer else None
        # One pass over each file's voxels; the mapping's reads of b are not
        # counted, so the ticks add up to exactly this total.
        total = img_a.nbytes + img_b.nbytes
        done = [0]

        def tick(nbytes: int) -> None:
            done[0] += nbytes
            if progress is not None:
                progress(done[0], total)

        report: dict[str, Any] = {
            "a": _grid_facts(img_a),
            "b": _grid_facts(img_b),
            "fov": _fov_facts(img_a.grid, img_b.grid),
        }
        stats_a, counts_a, dice = _pass_a(img_a, img_b, limit=limit if labels else 0, budget=budget,
                                          tick=tick, whole=(whole_a, whole_b))
        a_overflow = counts_a is not None and counts_a.overflow
        stats_b, counts_b = _pass_b(img_b, limit=limit if labels and not a_overflow else 0,
                                    budget=budget, tick=tick, whole=whole_b)
        report["stats"] = {"a": _exact_stats(stats_a.result(), img_a, counts_a),
                           "b": _exact_stats(stats_b.result(), img_b, counts_b)}
        report["labels"] = None
        if labels:
            report["labels"] = _label_report(img_a, img_b, counts_a, counts_b, dice, fill)
        return report


def _exact_stats(stats: dict[str, Any], img: SourceImage, counts: _Counter | None) -> dict[str, Any]:
    """Integer images report integers: min and max exactly, and, where the values were
    counted (label maps), numpy's ``linear`` percentiles from the exact counts instead
    of the streamed histogram's bin centres."""
    if img.is_integer and stats["min"] is not None:
        stats["min"], stats["max"] = int(stats["min"]), int(stats["max"])
    if counts is None or counts.overflow or not counts.counts:
        return stats
    values = sorted(counts.counts)
    cum = np.cumsum([counts.counts[v] for v in values])
    total = int(cum[-1])

    def at(rank: int) -> int:
        return int(values[int(np.searchsorted(cum, rank, side="right"))])

    pct: dict[str, float | int] = {}
    for q in PERCENTILES:
        rank = q / 100.0 * (total - 1)
        r0 = math.floor(rank)
        v0, v1 = at(r0), at(min(r0 + 1, total - 1))
        frac = rank - r0
        pct[f"{q:g}"] = v0 if frac == 0 or v0 == v1 else v0 + frac * (v1 - v0)
    stats["percentiles"] = pct
    stats["percentile_bin_width"] = 0.0
    return stats


def _pass_a(img_a: SourceImage, img_b: SourceImage, *, limit: int, budget: int,
            tick: Callable[[int], None], whole: tuple[_Whole | None, _Whole | None] = (None, None),
            ) -> tuple[_ValueStats, _Counter | None, _DiceCounts | None]:
    stats = _ValueStats(integer=img_a.dtype.kind in "iu" and not img_a.is_scaled)
    counts = _Counter(limit) if limit else None
    dice = _DiceCounts(limit) if limit else None
    mapper = _Mapper(img_a.grid, img_b.grid, budget) if limit else None
    per_voxel = float(_BYTES_PER_VOXEL)
    if mapper is not None and not mapper.separable:
        per_voxel = float(_BYTES_PER_VOXEL_ROTATED)
    if mapper is not None:
        per_voxel += (mapper.b_voxels_per_a_voxel() + 1) * img_b.value_dtype.itemsize
    h = slab_height(img_a.grid, per_voxel, budget)
    pairs = img_a.n_volumes == img_b.n_volumes
    slice_bytes = img_a.grid.shape[0] * img_a.grid.shape[1] * img_a.dtype.itemsize
    for v in range(img_a.n_volumes):
        for z0, z1 in _slabs(img_a.grid.shape[2], h):
            slab = img_a.read_slab(z0, z1, volume=v)
            stats.add(slab)
            if counts is not None and whole[0] is not None:
                slab = whole[0](slab)
            if counts is not None and not counts.overflow:
                found = _unique_counts(slab)
                counts.merge(*found)
                if counts.overflow:
                    mapper = None  # too many values to be labels: stop mapping
            if mapper is not None and dice is not None and (pairs or v == 0):
                mapped = mapper.map_slab(img_b, v, z0, z1)
                if whole[1] is not None:
                    mapped = whole[1](mapped)
                dice.a.merge(*found)  # the slab's counts, taken once above
                dice.mapped.add(mapped)
                dice.both.add(slab[slab == mapped])
            tick((z1 - z0) * slice_bytes)
        if dice is not None and (pairs or v == 0):
            dice.volumes += 1
    return stats, counts, dice


def _pass_b(img_b: SourceImage, *, limit: int, budget: int, tick: Callable[[int], None],
            whole: _Whole | None = None) -> tuple[_ValueStats, _Counter | None]:
    stats = _ValueStats(integer=img_b.dtype.kind in "iu" and not img_b.is_scaled)
    counts = _Counter(limit) if limit else None
    h = slab_height(img_b.grid, float(_BYTES_PER_VOXEL), budget)
    slice_bytes = img_b.grid.shape[0] * img_b.grid.shape[1] * img_b.dtype.itemsize
    for v in range(img_b.n_volumes):
        for z0, z1 in _slabs(img_b.grid.shape[2], h):
            slab = img_b.read_slab(z0, z1, volume=v)
            stats.add(slab)
            if counts is not None:
                counts.add(slab if whole is None else whole(slab))
            tick((z1 - z0) * slice_bytes)
    return stats, counts


def _label_report(img_a: SourceImage, img_b: SourceImage, counts_a: _Counter | None,
                  counts_b: _Counter | None, dice: _DiceCounts | None,
                  fill: float | None = None) -> dict[str, Any]:
    assert counts_a is not None and dice is not None
    if counts_b is None or any(c.overflow for c in (counts_a, counts_b, dice.a, dice.mapped, dice.both)):
        limit = counts_a.limit
        hint = "; --labels forces it" if limit < MAX_LABELS else ""
        return {"skipped": f"over {limit} values: an intensity image{hint}"}
    ca = {k: v for k, v in counts_a.counts.items() if k != 0}
    cb = {k: v for k, v in counts_b.counts.items() if k != 0}
    # b's fill outside a's FOV is b's background when a lacks it (labels --fill)
    fill_voxels = cb.pop(fill, 0) if fill is not None and fill not in ca else 0  # type: ignore[call-overload]
    va = float(np.prod(img_a.grid.spacing))
    vb = float(np.prod(img_b.grid.spacing))
    rows = []
    dices: list[tuple[float, int]] = []
    for label in sorted(set(ca) | set(cb)):
        na, nb = ca.get(label, 0), cb.get(label, 0)
        inter = dice.both.counts.get(label, 0)
        denom = dice.mapped.counts.get(label, 0) + dice.a.counts.get(label, 0)
        d = 2.0 * inter / denom if denom else None
        if d is not None:
            dices.append((d, label))
        rows.append({
            "label": label,
            "a_voxels": na,
            "b_voxels": nb,
            "a_mm3": na * va,
            "b_mm3": nb * vb,
            "volume_change": (nb * vb - na * va) / (na * va) if na else None,
            "dice": d,
        })
    worst = min(dices) if dices else None
    return {
        "a_labels": len(ca),
        "b_labels": len(cb),
        "lost": sorted(set(ca) - set(cb)),
        "new": sorted(set(cb) - set(ca)),
        "background_a_voxels": counts_a.counts.get(0, 0),
        "background_b_voxels": counts_b.counts.get(0, 0),
        "fill": fill,
        "fill_b_voxels": fill_voxels,
        "per_label": rows,
        "dice_mean": float(np.mean([d for d, _ in dices])) if dices else None,
        "dice_worst": None if worst is None else {"label": worst[1], "dice": worst[0]},
        "dice_volumes": dice.volumes,
        "mapping": "separable" if axis_aligned_map(img_b.grid, img_a.grid) is not None
        else "general",
    }
