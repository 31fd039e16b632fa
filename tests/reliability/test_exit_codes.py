"""Exit codes (issue 15 item 12, issue 16 item 4): every usage mistake exits 2, whoever
catches it (the parser, a request part, a command's combination rule); every input,
output or runtime failure exits 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from reltools import SROW_X, assert_one_line_error, cli, good_nifti, patched


@pytest.mark.parametrize("args", [
    ("spacing", "--iso", "abc"),                 # the parser
    ("spacing", "--iso", "0"),                   # Target (GridError naming spacing)
    ("spacing", "--iso", "-1"),
    ("spacing", "--iso", "1", "--dtype", "bogus"),  # Interpolation (OptionError)
    ("spacing", "--iso", "1", "--z", "2"),       # the command's combination rule
    ("spacing",),                                # no spacing given
    ("size", "--shape", "0", "4", "4"),
    ("labels", "--resolution", "1", "--method", "majority", "--sigma", "1"),
    ("labels",),                                 # no target given
    ("labels", "--resolution", "1", "--max-memory", "lots"),
])
def test_usage_mistakes_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    src = good_nifti(tmp_path / "a.nii")
    command, *opts = args
    r = cli(command, src, tmp_path / "o.nii", *opts)
    assert r.exit_code == 2, (r.exit_code, r.stderr)
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "o.nii").exists()


def test_one_line_usage_errors_still_one_line(tmp_path: Path) -> None:
    src = good_nifti(tmp_path / "a.nii")
    r = cli("spacing", src, tmp_path / "o.nii", "--iso", "0")
    assert_one_line_error(r, "--spacing/--iso", code=2)
    r = cli("spacing", src, tmp_path / "o.nii", "--iso", "1", "--dtype", "bogus")
    assert_one_line_error(r, "--dtype", code=2)


def test_input_failures_exit_1(tmp_path: Path) -> None:
    r = cli("spacing", tmp_path / "missing.nii", tmp_path / "o.nii", "--iso", "1")
    assert_one_line_error(r, "missing.nii", code=1)
    # a GridError that comes from a file (its affine), not from an option: exit 1
    src = good_nifti(tmp_path / "a.nii")
    bad = patched(src, tmp_path / "nan_sform.nii", (SROW_X, "f", [float("nan")]))
    r = cli("spacing", bad, tmp_path / "o.nii", "--iso", "1")
    assert_one_line_error(r, "nan_sform.nii", code=1)
    r = cli("labels", tmp_path / "missing.nii", tmp_path / "o.nii", "--resolution", "1")
    assert_one_line_error(r, "missing.nii", code=1)
