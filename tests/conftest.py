"""Shared fixtures: the real data in ../shared/data (skipped when absent) and
small synthetic NIfTI files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO.parent / "shared" / "data"


def data_path(name: str) -> Path:
    """Path of a real file in ../shared/data, or skip the test when absent."""
    p = DATA_DIR / name
    if not p.exists():
        pytest.skip(f"real data not available: {p}")
    return p


def real_files(pattern: str = "*.nii*") -> list[Path]:
    return sorted(DATA_DIR.glob(pattern)) if DATA_DIR.is_dir() else []


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
