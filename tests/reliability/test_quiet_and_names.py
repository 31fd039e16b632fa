"""No stray lines with -q, control characters escaped (issue 15 item 11)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from reltools import cli, cli_subprocess, good_nifti

ESC_NAME = "a\x1b[31mred\x07.nii"


def test_control_characters_in_names_are_escaped(tmp_path: Path) -> None:
    r = cli("spacing", tmp_path / ESC_NAME, tmp_path / "o.nii", "--iso", "1")
    assert r.exit_code == 1
    assert "\x1b" not in r.stderr and "\x07" not in r.stderr
    assert "\\x1b[31mred\\x07.nii" in r.stderr


def test_control_characters_in_report_lines_are_escaped(tmp_path: Path) -> None:
    src = good_nifti(tmp_path / ESC_NAME)
    r = cli("spacing", src, tmp_path / "o\x1b.nii", "--iso", "3")
    assert r.exit_code == 0, r.stderr
    assert "\x1b" not in r.stderr + r.stdout
    assert "\\x1b" in r.stderr
    r = cli("spacing", src, src, "-o", tmp_path / "many", "--iso", "3")  # summary table
    assert "\x1b" not in r.stderr + r.stdout


def test_quiet_prints_nothing_for_odd_but_valid_inputs(tmp_path: Path) -> None:
    import nibabel as nib

    # a NIfTI-2 file read as NIfTI-1 by a helper would log "sizeof_hdr should be 540"
    data = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    p2 = tmp_path / "n2.nii"
    nib.save(nib.Nifti2Image(data, np.eye(4)), str(p2))
    for args in (("spacing", p2, tmp_path / "o.nii", "--iso", "2", "-q"),
                 ("labels", p2, tmp_path / "l.nii", "--resolution", "2", "-q", "--overwrite")):
        r = cli_subprocess(*args)
        assert r.exit_code == 0 and r.stderr == "" and r.stdout == "", r.stderr
    big = tmp_path / "big.nii"
    vals = np.array([[[2**62, -2**62, 2**62 - 1]] * 3] * 3, dtype=np.int64)
    nib.save(nib.Nifti1Image(vals, np.eye(4), dtype=np.int64), str(big))
    r = cli_subprocess("info", "--stats", big)
    assert r.exit_code == 0 and "Warning" not in r.stderr and "overflow" not in r.stderr, r.stderr
    r = cli_subprocess("compare", big, big, "-q")
    assert r.exit_code == 0 and r.stderr == "", r.stderr



def test_torch_cpu_prints_no_warning(tmp_path: Path) -> None:
    """uint8 label rows read from a file are read-only; torch warned about them."""
    import pytest

    pytest.importorskip("torch")
    src = good_nifti(tmp_path / "l.nii", np.arange(8 * 9 * 10).reshape(8, 9, 10).astype(np.uint8) % 5)
    for extra in (["--resolution", "0.5"], ["--method", "majority", "--resolution", "3"]):
        r = cli_subprocess("labels", src, tmp_path / "o.nii", "--device", "cpu", "-q", "--overwrite",
                           *extra)
        assert r.exit_code == 0 and r.stderr == "", r.stderr
