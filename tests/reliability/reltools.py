"""Shared helpers of the reliability tests (a plain module, not a conftest, so it never
shadows tests/conftest.py): run the CLI (in-process or as a real
subprocess), check the one-line error contract, and build damaged files."""

from __future__ import annotations

import gzip
import os
import struct
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from niresample_cli.app import app

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WRITER_CHILD = HERE / "_writer_child.py"

runner = CliRunner(env={"COLUMNS": "100", "TERM": "dumb"})


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


def cli(*args: object) -> Result:
    """Run ``niresample ARGS`` in-process (Typer's CliRunner)."""
    r = runner.invoke(app, [str(a) for a in args])
    return Result(r.exit_code, r.stdout, r.stderr)


def cli_subprocess(*args: object, timeout: float = 120, **kw: object) -> Result:
    """Run ``python -m niresample_cli ARGS`` as a real process."""
    env = {**os.environ, "COLUMNS": "100", "TERM": "dumb"}
    p = subprocess.run(
        [sys.executable, "-m", "niresample_cli", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO, **kw,  # type: ignore[call-overload]
    )
    return Result(p.returncode, p.stdout, p.stderr)


def assert_one_line_error(r: Result, *needles: str, code: int = 1) -> str:
    """Exit ``code``, exactly one stderr line, no traceback, every needle in it."""
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    line = lines[0]
    assert line.startswith("niresample: error:"), line
    for needle in needles:
        assert needle.lower() in line.lower(), (needle, line)
    return line


def load(path: Path) -> Any:
    """nibabel's image (typed Any: nibabel's stubs know only FileBasedImage)."""
    import nibabel as nib

    return nib.load(str(path))


def files_in(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


# -- damaged files ---------------------------------------------------------------------------

def good_nifti(path: Path, data: np.ndarray | None = None, affine: np.ndarray | None = None,
               *, qform_code: int = 1, sform_code: int = 1) -> Path:
    import nibabel as nib

    data = np.arange(8 * 9 * 10, dtype=np.float32).reshape(8, 9, 10) if data is None else data
    affine = np.diag([2.0, 2.0, 3.0, 1.0]) if affine is None else affine
    img = nib.Nifti1Image(data, affine)
    img.set_qform(affine, code=qform_code)
    img.set_sform(affine, code=sform_code)
    nib.save(img, str(path))
    return path


def patched(src: Path, dst: Path, *patches: tuple[int, str, Sequence[Any]]) -> Path:
    """Copy ``src`` (uncompressed NIfTI-1) with ``struct`` patches at byte offsets."""
    raw = bytearray(src.read_bytes())
    for offset, fmt, values in patches:
        struct.pack_into("<" + fmt, raw, offset, *values)
    dst.write_bytes(bytes(raw))
    return dst


def gz_bytes(path: Path) -> bytes:
    return gzip.compress(path.read_bytes(), compresslevel=6)


def _offset(field: str) -> int:
    """Byte offset of a NIfTI-1 header field, as nibabel's header dtype lays it out."""
    import nibabel as nib

    return int(nib.nifti1.header_dtype.fields[field][1])


# NIfTI-1 header offsets (little-endian)
DIM = _offset("dim")                # int16[8]
DATATYPE = _offset("datatype")      # int16
PIXDIM = _offset("pixdim")          # float32[8]
VOX_OFFSET = _offset("vox_offset")  # float32
SCL_SLOPE = _offset("scl_slope")    # float32
QFORM_CODE = _offset("qform_code")  # int16
SFORM_CODE = _offset("sform_code")  # int16
QUATERN_B = _offset("quatern_b")    # float32 x6: b, c, d, qoffset x, y, z
SROW_X = _offset("srow_x")          # float32[4], then srow_y, srow_z
MAGIC = _offset("magic")


@pytest.fixture
def base_nii(tmp_path: Path) -> Path:
    return good_nifti(tmp_path / "base_src.nii")


def make_cases(tmp: Path, base: Path) -> dict[str, tuple[Path, tuple[str, ...]]]:
    """Every damaged input: name -> (path, words the error must contain)."""
    import nibabel as nib

    raw = base.read_bytes()
    cases: dict[str, tuple[Path, tuple[str, ...]]] = {}

    def add(name: str, path: Path, *words: str) -> None:
        cases[name] = (path, (path.name, *words))

    add("missing", tmp / "missing.nii", "no such file")
    d = tmp / "a_dir.nii"
    d.mkdir()
    add("directory", d, "directory")
    (tmp / "empty.nii").write_bytes(b"")
    add("empty", tmp / "empty.nii", "empty")
    (tmp / "text.nii").write_text("this is not an image\n" * 40)
    add("not_nifti", tmp / "text.nii", "not a nifti")
    (tmp / "text.nii.gz").write_bytes(gzip.compress(b"hello world\n" * 100))
    add("not_nifti_gz", tmp / "text.nii.gz", "not a nifti")
    add("wrong_magic", patched(base, tmp / "magic.nii", (MAGIC, "4s", [b"abc\0"])), "magic")
    sizeof_hdr = int(nib.load(str(base)).header["sizeof_hdr"])
    vox_offset = int(nib.load(str(base)).dataobj.offset)  # where nibabel reads the data
    for cut in (100, sizeof_hdr, vox_offset, vox_offset + 1000):
        p = tmp / f"trunc_{cut}.nii"
        p.write_bytes(raw[:cut])
        add(f"truncated_nii_{cut}", p, "truncated")
    gz = gz_bytes(base)
    for frac in (0.02, 0.5, 0.98):
        p = tmp / f"trunc_{int(frac * 100)}.nii.gz"
        p.write_bytes(gz[: max(4, int(len(gz) * frac))])
        add(f"truncated_gz_{int(frac * 100)}pct", p, "truncated")
    bad = bytearray(gz)
    for i in range(len(gz) // 3, len(gz) // 3 + 8):
        bad[i] ^= 0x5A
    (tmp / "corrupt_block.nii.gz").write_bytes(bytes(bad))
    add("gzip_corrupt_block", tmp / "corrupt_block.nii.gz", "corrupt")
    add("negative_dim", patched(base, tmp / "negdim.nii", (DIM + 2, "h", [-8])), "negative")
    add("zero_dim", patched(base, tmp / "zerodim.nii", (DIM + 4, "h", [0])), "zero")
    add("dim0_zero", patched(base, tmp / "dim0_0.nii", (DIM, "h", [0])), "dim[0]")
    add("dim0_eight", patched(base, tmp / "dim0_8.nii", (DIM, "h", [8])), "dim[0]")
    add("dim0_negative", patched(base, tmp / "dim0_neg.nii", (DIM, "h", [-3])), "dim[0]")
    add("petabyte_dims", patched(base, tmp / "huge.nii",
                                 (DIM, "8h", [5, 32767, 32767, 32767, 32767, 32767, 1, 1])),
        "absurd")
    add("complex64", good_nifti(tmp / "complex.nii", np.zeros((4, 5, 6), np.complex64)),
        "unsupported data type")
    rgb = np.zeros((4, 5, 6), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    img = nib.Nifti1Image(rgb, np.eye(4))
    nib.save(img, str(tmp / "rgb.nii"))
    add("rgb24", tmp / "rgb.nii", "unsupported data type")
    add("bad_datatype_code", patched(base, tmp / "dtcode.nii", (DATATYPE, "h", [9999])),
        "not a readable")
    add("nan_sform", patched(base, tmp / "nan_sform.nii", (SROW_X, "f", [np.nan])), "nan")
    add("inf_sform", patched(base, tmp / "inf_sform.nii", (SROW_X + 20, "f", [np.inf])), "inf")
    add("zero_column_sform", patched(
        base, tmp / "zero_col_sform.nii",
        (SROW_X + 4, "f", [0.0]), (SROW_X + 20, "f", [0.0]), (SROW_X + 36, "f", [0.0])),
        "all zero")
    qonly = good_nifti(tmp / "qonly_src.nii", sform_code=0)
    add("nan_qform_quatern", patched(qonly, tmp / "nan_qform.nii", (QUATERN_B, "f", [np.nan])),
        "nan")
    add("inf_qform_offset", patched(qonly, tmp / "inf_qoffset.nii",
                                    (QUATERN_B + 12, "f", [np.inf])), "inf")
    add("zero_pixdim_qform", patched(qonly, tmp / "zero_pixdim.nii", (PIXDIM + 8, "f", [0.0])),
        "pixdim")
    add("nan_pixdim_qform", patched(qonly, tmp / "nan_pixdim.nii", (PIXDIM + 4, "f", [np.nan])),
        "pixdim")
    add("huge_vox_offset", patched(base, tmp / "voxoff.nii", (VOX_OFFSET, "f", [1e12])),
        "truncated")
    add("two_d", good_nifti(tmp / "flat2d.nii", np.zeros((6, 7), np.float32)), "2D")
    return cases


CaseMaker = Callable[[], dict[str, tuple[Path, tuple[str, ...]]]]
