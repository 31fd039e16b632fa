"""One per-label Gaussian on a central crop of the Allen atlas (x2, sigma one output voxel), in
memory: the figure for comparing the compiled kernel with the numpy path, e.g.::

    farm-bench -n 3 -- python bench/gauss_crop.py 200 \\
        --vs "env NIRESAMPLE_PURE_PYTHON=1 python bench/gauss_crop.py 200"

Prints the seconds of the resampling alone and the SHA-256 of the labels (equal on both paths).
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np

from niresample_cli.core.labels import resample_labels

ALLEN = Path(os.environ.get("NIRESAMPLE_ALLEN", Path(__file__).resolve().parents[2] / "shared" / "data"
                            / "allen_ccf2017_annotation_25um.nii.gz"))


def main() -> None:
    edge = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    img = nib.load(str(ALLEN))
    x0, y0, z0 = 264 - edge // 2, 140 - edge // 2, 228 - edge // 2
    crop = img.slicer[x0:x0 + edge, y0:y0 + edge, z0:z0 + edge]
    crop = nib.Nifti1Image(np.asarray(crop.dataobj), crop.affine)
    t = time.perf_counter()
    out = np.asarray(resample_labels(crop, spacing=0.0125, sigma=0.0125, device="numpy").dataobj)
    secs = time.perf_counter() - t
    sha = hashlib.sha256(np.asfortranarray(out).tobytes(order="F")).hexdigest()[:16]
    path = "numpy" if os.environ.get("NIRESAMPLE_PURE_PYTHON", "") not in ("", "0") else "compiled"
    print(f"crop {edge}^3 -> {out.shape}: {secs:.2f} s ({path}), labels sha256 {sha}")


if __name__ == "__main__":
    main()
