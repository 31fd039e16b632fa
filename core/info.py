"""Facts about an image file: from the header alone, or streamed voxel stats."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ._inputs import InputOptions
from ._quiet import quiet_nibabel as _quiet_nibabel
from .grid import Grid
from .io import SourceImage, open_image

__all__ = ["describe_image", "iter_slabs", "slab_height", "fov_shift"]

_STATS_SLAB_BYTES = 64 * 2**20
#: Distinct values counted before an integer image is taken for intensities
#: (the set would otherwise grow with the image).
_MAX_LABELS = 65536


def slab_height(grid: Grid, bytes_per_voxel: float, budget: int) -> int:
    """Slab height (along the last axis) whose slabs fit in ``budget`` bytes."""
    per_slice = grid.shape[0] * grid.shape[1] * max(bytes_per_voxel, 1e-9)
    return int(max(1, min(grid.shape[2], budget // max(per_slice, 1))))


def iter_slabs(
    image: SourceImage, *, scaled: bool = True, budget: int = _STATS_SLAB_BYTES
) -> Iterator[np.ndarray]:
    """Yield the image's voxels slab by slab, every volume, in file order."""
    nz = image.grid.shape[2]
    h = slab_height(image.grid, image.dtype.itemsize * 2, budget)
    for v in range(image.n_volumes):
        for z0 in range(0, nz, h):
            yield image.read_slab(z0, min(nz, z0 + h), volume=v, scaled=scaled)


def fov_shift(a: Grid, b: Grid) -> dict[str, Any]:
    """How far ``b``'s field of view is from ``a``'s, in mm.

    Returns the shift of the FOV centre, and the largest shift of the
    world-axis-aligned bounding box edges.
    """
    center = b.fov_center - a.fov_center
    edges = b.fov_bounds() - a.fov_bounds()
    return {
        "center_shift_mm": center.tolist(),
        "center_shift": float(np.linalg.norm(center)),
        "edge_shift_mm": edges.tolist(),
        "max_edge_shift": float(np.max(np.abs(edges))),
    }


def _header_facts(img: SourceImage) -> tuple[dict[str, Any], list[str]]:
    hdr = img.header
    facts: dict[str, Any] = {}
    warnings: list[str] = []
    if hdr is None or not hasattr(hdr, "get_qform"):
        return facts, warnings
    pixdim = [float(v) for v in hdr["pixdim"][1:4]]
    facts["pixdim"] = pixdim
    if not np.allclose(pixdim, img.grid.spacing, rtol=1e-4, atol=1e-6):
        warnings.append(
            "pixdim "
            + "x".join(f"{v:.6g}" for v in pixdim)
            + " disagrees with the affine's spacing "
            + "x".join(f"{v:.6g}" for v in img.grid.spacing)
            + " (the affine is used)"
        )
    qcode, scode = int(hdr["qform_code"]), int(hdr["sform_code"])
    facts["qform_code"], facts["sform_code"] = qcode, scode
    facts["qform_sform_shift_mm"] = None
    if qcode > 0 and scode > 0:
        try:
            with _quiet_nibabel():
                q = Grid(img.grid.shape, hdr.get_qform())
                s = Grid(img.grid.shape, hdr.get_sform())
            shift = float(np.max(np.linalg.norm(q.fov_corners() - s.fov_corners(), axis=1)))
        except Exception:
            shift = float("nan")
        facts["qform_sform_shift_mm"] = shift
        if not shift <= 1e-3:
            warnings.append(f"qform and sform disagree by up to {shift:.3g} mm (sform is used)")
    if qcode == 0 and scode == 0:
        warnings.append("qform_code and sform_code are both 0: orientation is unknown")
    # Unknown unit or intent codes are facts to report, not reasons to fail.
    try:
        units = hdr.get_xyzt_units()
    except (KeyError, ValueError):
        code = int(hdr["xyzt_units"])
        units = (f"unknown code {code & 0x07}", f"unknown code {code & 0x38}")
        warnings.append(f"xyzt_units {code} holds unknown unit codes")
    facts["units"] = {"space": units[0], "time": units[1]}
    facts["description"] = hdr["descrip"].item().decode("latin-1", "replace").strip("\x00 ")
    try:
        facts["intent"] = str(hdr.get_intent()[0])
    except (KeyError, ValueError):
        facts["intent"] = f"unknown code {int(hdr['intent_code'])}"
    facts["scl_slope"], facts["scl_inter"] = img.slope, img.inter
    return facts, warnings


def _voxel_stats(img: SourceImage, progress: Callable[[int, int], None] | None) -> dict[str, Any]:
    lo, hi = np.inf, -np.inf
    total = 0.0
    count = 0
    nonfinite = 0
    labels: set[int] | None = set() if img.is_integer else None
    many = False
    for nslab, slab in enumerate(iter_slabs(img), start=1):
        finite = np.isfinite(slab) if slab.dtype.kind == "f" else None
        vals = slab[finite] if finite is not None else slab
        nonfinite += int(slab.size - vals.size)
        if vals.size:
            # .item(): Python ints for integer data (exact, 614454277 not 6.14454e+08)
            lo = min(lo, vals.min().item())
            hi = max(hi, vals.max().item())
            with np.errstate(over="ignore", invalid="ignore"):  # +-1e308 data: the sum is inf
                total += float(vals.sum(dtype=np.float64))
            count += vals.size
        if labels is not None:
            labels.update(np.unique(slab).tolist())
            if len(labels) > _MAX_LABELS:  # an integer intensity image: stop counting
                labels = None
                many = True
        if progress is not None:
            progress(nslab, 0)
    out: dict[str, Any] = {
        "min": lo if count else None,
        "max": hi if count else None,
        "mean": total / count if count else None,
        "nonfinite_voxels": nonfinite,
    }
    # One count everywhere (text, --json, compare): label ids other than 0, the background.
    if labels is not None:
        out["labels_nonzero"] = len(labels - {0})
    elif many:
        out["labels_nonzero"] = None  # more than _MAX_LABELS distinct values: not a label map
        out["distinct_values_over"] = _MAX_LABELS
    return out


def describe_image(
    path: str | os.PathLike[str], *, stats: bool = False,
    progress: Callable[[int, int], None] | None = None, options: InputOptions | None = None,
) -> dict[str, Any]:
    """Facts about one image, as a JSON-ready dict.

    Parameters
    ----------
    path : str or PathLike
    stats : bool
        Also stream every voxel: value range, mean, non-finite count, and the
        label count of integer images.  Without it only the header is read.
    options : InputOptions, optional
        How to read formats other than NIfTI (orientation, voxel size,
        pyramid level, NRRD space unit).

    Returns
    -------
    dict
        ``path, format, shape, dtype, spacing, axcodes, obliquity_deg, origin,
        fov_mm, fov_center, tr, disk_bytes, memory_bytes, warnings``, ``notes`` (only
        when the reader assumed or was told something: TIFF orientation, NRRD
        overrides, the pyramid level) and the
        header facts (``pixdim``, ``qform_code``, ``sform_code``,
        ``qform_sform_shift_mm``, ``units``...).

    Raises
    ------
    InputError, HeaderError
        When the file cannot be opened as an image.
    """
    with open_image(path, options=options) as img:
        g = img.grid
        facts: dict[str, Any] = {
            "path": str(path),
            "format": img.fmt,
            "shape": list(img.shape),
            "dtype": str(img.dtype),
            "spacing": g.spacing.tolist(),
            "axcodes": "".join(g.axcodes),
            "obliquity_deg": float(np.max(g.obliquity)),
            "origin": g.origin.tolist(),
            "fov_mm": g.fov_mm.tolist(),
            "fov_center": g.fov_center.tolist(),
            "affine": g.affine.tolist(),
            "tr": img.tr,
            "volumes": img.n_volumes,
            "disk_bytes": _disk_size(Path(path)),
            "memory_bytes": img.nbytes,
        }
        if img.notes:  # what the reader assumed or was told (orientation, voxel size, level)
            facts["notes"] = list(img.notes)
        header_facts, warnings = _header_facts(img)
        warnings = [*img.warnings, *warnings]  # what the opener did not take as written
        facts.update(header_facts)
        if stats:
            facts["stats"] = _voxel_stats(img, progress)
            if facts["stats"]["nonfinite_voxels"]:
                warnings.append(f"{facts['stats']['nonfinite_voxels']} NaN/inf voxel values")
        facts["warnings"] = warnings
        return facts


def _disk_size(p: Path) -> int:
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return p.stat().st_size
