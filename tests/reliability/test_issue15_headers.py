"""Issue 15, header traps: ``vox_offset`` 0 in a single-file .nii, transform codes out of
range, and header extensions too large to read before the data."""

from __future__ import annotations

import functools
import gzip
import struct
import time
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
from reltools import (
    QFORM_CODE,
    SFORM_CODE,
    VOX_OFFSET,
    assert_one_line_error,
    cli,
    good_nifti,
    load,
    patched,
)

AFFINE = np.array([[0.0, 2.0, 0.0, 5.0], [2.0, 0.0, 0.0, 6.0], [0.0, 0.0, 3.0, 7.0], [0, 0, 0, 1]])


def _good(tmp_path: Path) -> Path:
    data = np.arange(8 * 9 * 10, dtype=np.float32).reshape(8, 9, 10) + 1
    return good_nifti(tmp_path / "good.nii", data, AFFINE)


@pytest.mark.parametrize("offset", [0.0, 100.0])
def test_vox_offset_below_the_header_uses_the_first_legal_offset(tmp_path: Path, offset: float) -> None:
    good = _good(tmp_path)
    bad = patched(good, tmp_path / "vox0.nii", (VOX_OFFSET, "f", [offset]))
    # nibabel itself reads the header bytes as voxels (0) or refuses (100); the
    # reference is the good file.
    if offset == 0:
        assert not np.array_equal(np.asarray(load(bad).dataobj), np.asarray(load(good).dataobj))
    r = cli("spacing", bad, tmp_path / "o.nii", "--iso", "2", "--order", "0")
    assert r.exit_code == 0, r.stderr
    warn = [ln for ln in r.stderr.splitlines() if "warning" in ln]
    assert len(warn) == 1 and "vox_offset" in warn[0] and "352" in warn[0], r.stderr
    r2 = cli("spacing", good, tmp_path / "ref.nii", "--iso", "2", "--order", "0")
    assert r2.exit_code == 0
    assert np.array_equal(np.asarray(load(tmp_path / "o.nii").dataobj),
                          np.asarray(load(tmp_path / "ref.nii").dataobj))
    r = cli("info", bad)
    assert r.exit_code == 0 and "vox_offset" in r.stderr + r.stdout


@pytest.mark.parametrize("field,offset", [("sform_code", SFORM_CODE), ("qform_code", QFORM_CODE)])
@pytest.mark.parametrize("code", [300, -1, 6])
def test_invalid_transform_code_is_refused(tmp_path: Path, field: str, offset: int, code: int) -> None:
    data = np.arange(8 * 9 * 10, dtype=np.float32).reshape(8, 9, 10)
    img = nib.Nifti1Image(data, AFFINE)
    img.set_qform(np.diag([2.0, 2.0, 3.0, 1.0]), code=1)  # another geometry than the sform's
    img.set_sform(AFFINE, code=1)
    nib.save(img, str(tmp_path / "good.nii"))
    bad = patched(tmp_path / "good.nii", tmp_path / "code.nii", (offset, "h", [code]))
    # nibabel resets the code to 0 and silently uses another transform:
    if field == "sform_code":
        assert not np.allclose(load(bad).affine, AFFINE)
    for args in (["info", bad], ["spacing", bad, tmp_path / "o.nii", "--iso", "3"],
                 ["labels", bad, tmp_path / "o.nii", "--resolution", "3"]):
        r = cli(*args)
        assert_one_line_error(r, "code.nii", f"{field} = {code}")
    assert not (tmp_path / "o.nii").exists()


def _with_extension(src: Path, dst: Path, ext_bytes: int, *, gz: bool) -> Path:
    """``src`` with one header extension of ``ext_bytes`` (zeros), written as a stream
    (never held whole in memory), optionally gzip-compressed."""
    raw = src.read_bytes()
    hdr = bytearray(raw[:348])
    struct.pack_into("<f", hdr, VOX_OFFSET, float(352 + ext_bytes))
    opener: Any = functools.partial(gzip.open, compresslevel=1) if gz else open
    with opener(dst, "wb") as f:
        f.write(bytes(hdr) + b"\x01\0\0\0" + struct.pack("<ii", ext_bytes, 0))
        if gz:
            zeros = bytes(1 << 24)
            left = ext_bytes - 8
            while left > 0:
                f.write(zeros[:min(left, len(zeros))])
                left -= len(zeros)
        else:  # a sparse file: no disk used for the extension's bytes
            f.seek(ext_bytes - 8, 1)
        f.write(raw[352:])
    return dst


@pytest.mark.parametrize("gz", [False, True])
def test_huge_header_extension_is_not_read(tmp_path: Path, gz: bool) -> None:
    good = _good(tmp_path)
    # over the 64 MiB limit; 1.5 GiB uncompressed (vox_offset exact in float32)
    size = (96 << 20) if gz else (3 << 29) - 352
    big = _with_extension(good, tmp_path / ("big.nii.gz" if gz else "big.nii"), size, gz=gz)
    t0 = time.perf_counter()
    r = cli("info", big)
    seconds = time.perf_counter() - t0
    assert r.exit_code == 0, r.stderr
    assert "extension" in r.stderr + r.stdout
    assert seconds < 1.0, seconds
    if not gz:  # the data is still found after the extension
        r = cli("spacing", big, tmp_path / "o.nii", "--iso", "2", "--order", "0")
        assert r.exit_code == 0, r.stderr
        r2 = cli("spacing", good, tmp_path / "ref.nii", "--iso", "2", "--order", "0")
        assert r2.exit_code == 0
        assert np.array_equal(np.asarray(load(tmp_path / "o.nii").dataobj),
                              np.asarray(load(tmp_path / "ref.nii").dataobj))


def test_small_extensions_are_kept(tmp_path: Path) -> None:
    img = nib.load(str(_good(tmp_path)))
    img.header.extensions.append(nib.nifti1.Nifti1Extension(6, b"a comment" + b"\0" * 7))
    nib.save(img, str(tmp_path / "ext.nii"))
    r = cli("spacing", tmp_path / "ext.nii", tmp_path / "o.nii", "--iso", "3")
    assert r.exit_code == 0, r.stderr
    assert "warning" not in r.stderr
    exts = load(tmp_path / "o.nii").header.extensions
    assert len(exts) == 1 and exts[0].get_content().startswith(b"a comment")


# -- 9. absurd grids are refused before anything is allocated ---------------------------------

@pytest.mark.parametrize("args,shape", [
    (["size", "--shape", "4194304", "2097152", "2097152", "--max-output", "1K"],
     "4194304x2097152x2097152"),
    (["spacing", "--iso", "1e-6"], "8000000x9000000x10000000"),
    (["labels", "--resolution", "1e-6"], "8000000x9000000x10000000"),
])
def test_absurd_grid_refused_at_once_with_shape_and_size(tmp_path: Path, args: list[str],
                                                         shape: str) -> None:
    src = good_nifti(tmp_path / "in.nii", np.zeros((8, 9, 10), np.uint8), np.diag([1.0, 1, 1, 1]))
    t0 = time.perf_counter()
    r = cli(args[0], src, tmp_path / "o.nii", *args[1:])
    assert time.perf_counter() - t0 < 1.0
    line = assert_one_line_error(r, shape, "voxels", code=2)  # a bad option value: usage, exit 2
    assert "TiB" in line or "PiB" in line or "EiB" in line or "ZiB" in line or "YiB" in line
    assert not (tmp_path / "o.nii").exists()


def test_output_sizes_are_python_integers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from niresample_cli.core.errors import DiskSpaceError, OptionError
    from niresample_cli.core.stream import check_output_size
    from niresample_cli.core.writer import check_free_space, estimate_output_bytes

    shape = (4194304, 2097152, 2097152)  # 2**64 voxels: int64 arithmetic wraps to 0
    nbytes = estimate_output_bytes(shape, np.dtype("float32"))
    assert nbytes == 2**66 + 352
    with pytest.raises(OptionError, match="max_output"):
        check_output_size(tmp_path / "o.nii", nbytes, shape=shape, dtype=np.dtype("float32"),
                          max_output="1K")
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=10**12))
    with pytest.raises(DiskSpaceError, match=r"needs 73\.8 EB, 1\.0 TB free"):
        check_free_space(tmp_path / "o.nii", nbytes)
