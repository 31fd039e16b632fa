"""Does an input look like a label map or like an intensity image?  A cheap guess.

Interpolating a label map (order > 0) mixes neighbouring ids into new ones, and the
label engine on a T1 keeps thousands of grey values as "labels"; neither fails, both are
silent mistakes.  This module decides, from the header and a small sample, which kind an
input looks like, so a run can say so on one line (:func:`run_warnings`).

* A NIfTI intent of ``label`` or ``neuroname`` means a label map.
* Otherwise three slices (at 30, 50 and 70 % of the depth) are read (strided when large) and the guess rests on
  two facts of the sample: its number of distinct values, and how often two
  neighbouring voxels (not both 0) hold the same value.  Label maps are whole numbers
  in uniform regions (70-95 % equal neighbours in the atlases of tests/data); MRI,
  even 8-bit, has noise (under 20 %).

Measured on tests/data: the Desikan-Killiany, Harvard-Oxford, torso and lesion maps
look like labels; every T1, FLAIR, DWI, fMRI and PCASL image does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .requests import ResampleRequest
    from .source import SourceImage

__all__ = ["Sniff", "sniff", "run_warnings"]

#: At most this many distinct values for a label map (the Allen atlas has about 670).
MAX_LABELS = 1000
#: Fewer distinct values than this: a mask or a few labels, whatever the neighbours.
_FEW = 4
#: Equal-neighbour fraction from which whole-valued data reads as regions, not noise.
_REGIONS = 0.3
#: A label run on more distinct values than this (or noisy ones) warns.
_NOISY = 0.1
_MIN_NOISY_VALUES = 64
#: Voxels read at most for the sample.
_SAMPLE_VOXELS = 1 << 21


@dataclass(frozen=True)
class Sniff:
    """What the header and a sample say about an image.

    Attributes
    ----------
    intent : str or None
        ``'label'`` or ``'neuroname'`` from a NIfTI header, else None.
    distinct : int
        Distinct values in the sample.
    whole : bool
        Whether every sampled value is a whole number.
    same_neighbours : float
        Fraction of neighbouring voxel pairs (not both 0) holding the same value.
    """

    intent: str | None
    distinct: int
    whole: bool
    same_neighbours: float

    @property
    def looks_like_labels(self) -> bool:
        if self.intent is not None:
            return True
        return self.whole and 1 < self.distinct <= MAX_LABELS and (
            self.distinct <= _FEW or self.same_neighbours >= _REGIONS)

    @property
    def looks_like_intensities(self) -> bool:
        if self.intent is not None:
            return False
        return (not self.whole or self.distinct > MAX_LABELS
                or (self.distinct > _MIN_NOISY_VALUES and self.same_neighbours < _NOISY))

    def why(self) -> str:
        """``'NIfTI intent LABEL'`` / ``'43 distinct whole values in uniform regions'``."""
        if self.intent is not None:
            return f"NIfTI intent {self.intent.upper()}"
        if self.looks_like_labels:
            return f"{self.distinct} distinct whole values in uniform regions"
        return f"{self.distinct}{'+' if self.distinct > MAX_LABELS else ''} distinct values in a sample"


def _intent(source: SourceImage) -> str | None:
    header = source.header
    try:
        name = str(header.get_intent()[0]).lower() if header is not None else ""
    except Exception:  # not a NIfTI header (NRRD, MGH, Zarr templates)
        return None
    return name if name in ("label", "neuroname") else None


def sniff(source: SourceImage) -> Sniff:
    """Guess the kind of ``source`` from its header and three spread slices (volume 0)."""
    intent = _intent(source)
    if intent is not None:
        return Sniff(intent, 0, True, 1.0)
    nx, ny, nz = source.grid.shape
    zs = sorted({int(round(f * (nz - 1))) for f in (0.3, 0.5, 0.7)})
    step = max(1, int(np.ceil(np.sqrt(nx * ny * len(zs) / _SAMPLE_VOXELS))))
    vals = np.concatenate([
        np.asarray(source.read_slab(z, z + 1, x=slice(None, None, step), y=slice(None, None, step),
                                    scaled=True)) for z in zs], axis=2)
    with np.errstate(invalid="ignore"):
        finite = vals[np.isfinite(vals)] if vals.dtype.kind == "f" else vals
        whole = bool(finite.size == vals.size and np.all(finite == np.round(finite)))
    # sorted neighbours, not np.unique: its first call imports numpy.ma (10 ms of a small run)
    ordered = np.sort(finite, axis=None)
    distinct = int(np.count_nonzero(ordered[1:] != ordered[:-1])) + 1 if finite.size else 0
    same = total = 0
    for axis in (0, 1):
        a = np.moveaxis(vals, axis, 0)
        left, right = a[1:], a[:-1]
        mask = (left != 0) | (right != 0)
        same += int(np.count_nonzero((left == right) & mask))
        total += int(np.count_nonzero(mask))
    return Sniff(None, distinct, whole, same / total if total else 1.0)


def run_warnings(source: SourceImage, request: ResampleRequest) -> tuple[str, ...]:
    """The warning (if any) for running ``request`` on ``source``.

    An intensity request with ``order > 0`` on what looks like a label map, or a label
    request on what looks like an intensity image.  Python names (``resample_labels``,
    ``order=0``) in the text; the CLI shows its own.
    """
    order = getattr(request.method, "order", None)
    if not request.labels and not order:
        return ()
    try:
        found = sniff(source)
    except Exception:  # a guess must never fail a run; reading errors surface later
        return ()
    name = source.path.name if hasattr(source.path, "name") else str(source.path)
    if not request.labels and found.looks_like_labels:
        return (f"{name} looks like a label map ({found.why()}): order {order} interpolation "
                "makes new label values; resample label maps with resample_labels (or order=0)",)
    if request.labels and found.looks_like_intensities:
        return (f"{name} looks like an intensity image ({found.why()}), not a label map; "
                "resample intensities with resample_to_spacing or resample_to_shape",)
    return ()
