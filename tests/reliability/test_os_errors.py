"""Ordinary OS conditions are one line naming the file, exit 1, never "internal error"
(issue 15 item 10)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from reltools import REPO, assert_one_line_error, cli, cli_subprocess, good_nifti


@pytest.mark.parametrize("length", [250, 260])
def test_file_names_too_long(tmp_path: Path, length: int) -> None:
    src = good_nifti(tmp_path / "a.nii")
    name = "x" * length + ".nii"
    r = cli("spacing", src, tmp_path / name, "--iso", "3")
    line = assert_one_line_error(r, "x" * 40)
    assert "internal error" not in line


def test_output_under_a_file_or_through_a_dangling_link(tmp_path: Path) -> None:
    src = good_nifti(tmp_path / "a.nii")
    r = cli("spacing", src, tmp_path / "a.nii" / "o.nii", "--iso", "3")
    assert "internal error" not in assert_one_line_error(r, "o.nii")
    (tmp_path / "dangling.nii").symlink_to(tmp_path / "nowhere" / "x.nii")
    r = cli("spacing", src, tmp_path / "dangling.nii", "--iso", "3")
    assert "internal error" not in assert_one_line_error(r, "dangling.nii")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_stdout_on_a_full_device(tmp_path: Path) -> None:
    src = good_nifti(tmp_path / "a.nii")
    with open("/dev/full", "w") as full:
        p = subprocess.run([sys.executable, "-m", "niresample_cli", "info", str(src)],
                           stdout=full, stderr=subprocess.PIPE, text=True, cwd=REPO)
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode == 1 and len(lines) == 1, p.stderr
    assert "internal error" not in lines[0] and "no space" in lines[0].lower(), p.stderr


def test_absurd_sigma_is_one_line(tmp_path: Path) -> None:
    src = good_nifti(tmp_path / "a.nii", __import__("numpy").zeros((4, 4, 4), "uint8"))
    r = cli_subprocess("labels", src, tmp_path / "o.nii", "--resolution", "1", "--sigma", "1e300", "-q")
    assert r.exit_code == 0 and r.stderr == "", r.stderr
