"""Is this image a label map?  A streamed check of its values."""

from __future__ import annotations

import numpy as np

from .errors import LabelError
from .source import SourceImage

__all__ = ["check_label_values"]


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
                first = float(vals[bad].flat[0])  # a Python float: no np.float32(...) repr
                raise LabelError(
                    f"force_float_labels: {source.path} is a float image with non-whole values "
                    f"(e.g. {first:.7g}), not a label map; force_float_labels=True treats its "
                    "values as labels anyway",
                    param="force_float_labels",
                )
