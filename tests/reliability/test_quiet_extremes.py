"""Issue 15 item 11: no stray lines (nibabel's log, numpy's warnings) on extreme inputs.

Every command is run as a real process, so that nibabel's logger and numpy's
warnings reach the real stderr: each stderr line must be one of niresample's own,
and with ``-q`` there must be none.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from reltools import Result, cli_subprocess

F32 = float(np.finfo(np.float32).max)
F64 = float(np.finfo(np.float64).max)


def _save(path: Path, data: np.ndarray, *, slope: float | None = None,
          inter: float = 0.0, affine: np.ndarray | None = None) -> Path:
    img = nib.Nifti1Image(data, np.eye(4) if affine is None else affine, dtype=data.dtype)
    if slope is not None:
        img.header.set_slope_inter(slope, inter)
    nib.save(img, str(path))
    return path


def _pair(tmp: Path, case: str) -> tuple[Path, Path]:
    """Two 4x4x4 images of one extreme kind, ``a`` and a mirrored ``b``."""
    if case == "float32_max":
        a = np.full((4, 4, 4), F32, np.float32)
        a[0] = -F32
        b = -a
    elif case == "float64_max":
        a = np.full((4, 4, 4), F64, np.float64)
        a[0] = -F64
        b = -a
    elif case == "int64_extremes":
        a = np.full((4, 4, 4), 2**63 - 1, np.int64)
        a[0] = -(2**63)
        b = a[::-1].copy()
    elif case == "nan_inf_mix":
        a = np.zeros((4, 4, 4), np.float64)
        a[0], a[1], a[2], a[3, :2] = np.nan, np.inf, -np.inf, 1e308
        b = a[::-1].copy()
    elif case == "scaled_int32":
        a = np.full((4, 4, 4), 2**31 - 1, np.int32)
        a[0] = -(2**31)
        b = a[::-1].copy()
        return (_save(tmp / "a.nii", a, slope=3e38), _save(tmp / "b.nii", b, slope=3e38, inter=1e38))
    else:  # pragma: no cover
        raise AssertionError(case)
    return _save(tmp / "a.nii", a), _save(tmp / "b.nii", b)


CASES = ["float32_max", "float64_max", "int64_extremes", "nan_inf_mix", "scaled_int32"]


def assert_own_lines(r: Result, *, quiet: bool, inputs: tuple[Path, ...] = ()) -> None:
    """No stderr line with -q; without it, only "niresample: ..." lines and the
    report lines of a resampling ("NAME: shape @ spacing -> ...")."""
    assert r.exit_code == 0, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    if quiet:
        assert lines == [], r.stderr
    own = ("niresample:", *(f"{p.name}: " for p in inputs))
    for ln in lines:
        assert ln.startswith(own), r.stderr


@pytest.mark.parametrize("case", CASES)
def test_info_stats_prints_only_its_own_lines(tmp_path: Path, case: str) -> None:
    a, _ = _pair(tmp_path, case)
    r = cli_subprocess("info", "--stats", a)  # info has no -q: its warnings are its own lines
    assert_own_lines(r, quiet=False)
    r = cli_subprocess("info", "--stats", "--json", a)
    assert_own_lines(r, quiet=False)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("quiet", [False, True])
def test_compare_prints_only_its_own_lines(tmp_path: Path, case: str, quiet: bool) -> None:
    a, b = _pair(tmp_path, case)
    r = cli_subprocess("compare", a, b, *(["-q"] if quiet else []))
    assert_own_lines(r, quiet=quiet)


@pytest.fixture
def long_axis_input(tmp_path: Path) -> Path:
    """A NIfTI-1 label image whose 1e-4 mm output has 40000 voxels along x: the output
    header becomes NIfTI-2 (nibabel logged "sizeof_hdr should be 540" converting it)."""
    data = np.array([0, 1, 2, 1], np.uint8).reshape(4, 1, 1)
    return _save(tmp_path / "lab.nii", data, affine=np.diag([1.0, 1e-4, 1e-4, 1.0]))


@pytest.mark.parametrize("quiet", [False, True])
def test_nifti1_to_nifti2_output_prints_no_nibabel_line(tmp_path: Path, long_axis_input: Path,
                                                        quiet: bool) -> None:
    q = ["-q"] if quiet else []
    out = tmp_path / "o.nii"
    for args in (("spacing", long_axis_input, out, "--x", "0.0001", "--order", "0"),
                 ("labels", long_axis_input, out, "--resolution", "0.0001")):
        r = cli_subprocess(*args, "--overwrite", *q)
        assert_own_lines(r, quiet=quiet, inputs=(long_axis_input,))
        assert nib.load(str(out)).shape == (40000, 1, 1)
        assert isinstance(nib.load(str(out)), nib.Nifti2Image)
    r = cli_subprocess("compare", long_axis_input, out, *q)
    assert_own_lines(r, quiet=quiet)
    r = cli_subprocess("info", "--stats", out)
    assert_own_lines(r, quiet=False)


def test_python_api_builds_headers_quietly(caplog: pytest.LogCaptureFixture) -> None:
    """A NIfTI-1 template for a NIfTI-2 header (an axis over 32767) through make_header."""
    from core.grid import Grid
    from core.writer import make_header

    make_header(nib.Nifti1Header(), Grid((40000, 1, 1), np.eye(4)), (40000, 1, 1),
                np.dtype(np.uint8))
    assert not [r for r in caplog.records if r.name.startswith("nibabel")], caplog.text
