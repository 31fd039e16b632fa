"""The CLI's error contract outside the commands' own checks: a closed stdout,
--debug, and the exit codes of the error mapping in niresample_cli.app."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from reltools import REPO, assert_one_line_error, cli, cli_subprocess, good_nifti


def test_closed_stdout_stops_quietly(tmp_path: Path) -> None:
    """`niresample info --jsonl *.nii | head -1`: no traceback, no "internal error"."""
    src = good_nifti(tmp_path / "a.nii")
    p = subprocess.Popen([sys.executable, "-m", "niresample_cli", "info", "--jsonl",
                          *[str(src)] * 300], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         cwd=REPO, env={**os.environ, "COLUMNS": "100"})
    assert p.stdout is not None and p.stderr is not None
    first = p.stdout.readline()
    p.stdout.close()
    err = p.stderr.read().decode()
    p.wait(timeout=60)
    assert b'"shape"' in first
    assert p.returncode == 141, err
    assert err == "", err


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    r = cli_subprocess("--debug", "info", "--stats", tmp_path / "missing.nii")
    # info reports per file; a command-level error shows the traceback under --debug
    assert r.exit_code != 0
    empty = tmp_path / "empty.nii"
    empty.write_bytes(b"")
    r = cli_subprocess("--debug", "spacing", empty, tmp_path / "o.nii", "--iso", "1")
    assert r.exit_code != 0 and "Traceback" in r.stderr and "InputError" in r.stderr


def test_usage_errors_keep_exit_2(tmp_path: Path) -> None:
    src = good_nifti(tmp_path / "a.nii")
    r = cli("spacing", src, tmp_path / "o.nii", "--iso", "one")
    assert r.exit_code == 2 and "Traceback" not in r.stderr


def test_bad_max_memory_is_one_line(tmp_path: Path) -> None:
    src = good_nifti(tmp_path / "a.nii")
    for value in ("lots", "1K"):
        r = cli("spacing", src, tmp_path / "o.nii", "--iso", "1", "--max-memory", value)
        assert_one_line_error(r, "--max-memory", code=2)
    assert not (tmp_path / "o.nii").exists()


def test_file_names_that_look_like_markup_are_printed_verbatim(tmp_path: Path) -> None:
    """rich markup in a message would swallow "[bold]" and crash on "[/]"."""
    (tmp_path / "sub-01[bold].nii").write_bytes(b"")
    r = cli("spacing", tmp_path / "sub-01[bold].nii", tmp_path / "o.nii", "--iso", "1")
    assert_one_line_error(r, "sub-01[bold].nii: empty file")
    r = cli("info", tmp_path / "x[/]y.nii")
    assert_one_line_error(r, "x[/]y.nii: no such file")
