"""Bad input files through the real CLI: one line naming the file and the
problem, exit 1, no traceback, nothing written (issue 7, part 1)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from reltools import (
    assert_one_line_error,
    cli,
    cli_subprocess,
    files_in,
    good_nifti,
    load,
    make_cases,
)

from niresample_cli.core.errors import NiresampleError
from niresample_cli.core.info import describe_image
from niresample_cli.core.io import open_image

CASE_NAMES = [
    "missing", "directory", "empty", "not_nifti", "not_nifti_gz", "wrong_magic",
    "truncated_nii_100", "truncated_nii_348", "truncated_nii_352", "truncated_nii_1352",
    "truncated_gz_2pct", "truncated_gz_50pct", "truncated_gz_98pct", "gzip_corrupt_block",
    "negative_dim", "zero_dim", "dim0_zero", "dim0_eight", "dim0_negative", "petabyte_dims",
    "complex64", "rgb24", "bad_datatype_code", "nan_sform", "inf_sform", "zero_column_sform",
    "nan_qform_quatern", "inf_qform_offset", "zero_pixdim_qform", "nan_pixdim_qform",
    "huge_vox_offset", "two_d",
]
COMMANDS = {
    "info": lambda src, out: ["info", "--stats", src],
    "spacing": lambda src, out: ["spacing", src, out, "--iso", "1.5", "-q"],
    "labels": lambda src, out: ["labels", src, out, "--resolution", "1.5", "-q"],
    "size": lambda src, out: ["size", src, out, "--shape", "4", "4", "4", "-q"],
    # compare writes nothing; the damaged file as B (A is a good image beside it)
    "compare": lambda src, out: ["compare", out.parent.parent / "good_a.nii", src],
}


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, tuple[str, ...]]]:
    tmp = tmp_path_factory.mktemp("bad")
    base = good_nifti(tmp_path_factory.mktemp("src") / "base.nii")
    return make_cases(tmp, base)


def test_every_case_is_built(cases: dict[str, tuple[Path, tuple[str, ...]]]) -> None:
    assert sorted(cases) == sorted(CASE_NAMES)


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("case", CASE_NAMES)
def test_bad_file_gives_one_line_and_writes_nothing(
    cases: dict[str, tuple[Path, tuple[str, ...]]], case: str, command: str, tmp_path: Path
) -> None:
    src, words = cases[case]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    good_nifti(tmp_path / "good_a.nii")
    r = cli(*COMMANDS[command](src, out_dir / "o.nii.gz"))
    assert_one_line_error(r, *words)
    assert files_in(out_dir) == set(), "nothing may be written, not even a temporary"


@pytest.mark.parametrize("case", CASE_NAMES)
def test_core_raises_only_its_own_errors(
    cases: dict[str, tuple[Path, tuple[str, ...]]], case: str
) -> None:
    src, words = cases[case]
    with pytest.raises(NiresampleError) as info:
        describe_image(src, stats=True)
    assert src.name in str(info.value)


@pytest.mark.parametrize("case", ["missing", "truncated_gz_50pct", "dim0_eight", "nan_sform",
                                  "rgb24"])
def test_real_process_gives_one_line(
    cases: dict[str, tuple[Path, tuple[str, ...]]], case: str, tmp_path: Path
) -> None:
    """The same through ``python -m niresample_cli`` (nibabel's logger and numpy
    warnings write to the real stderr, which CliRunner would not show)."""
    src, words = cases[case]
    r = cli_subprocess("spacing", src, tmp_path / "o.nii", "--iso", "1.5", "-q")
    assert_one_line_error(r, *words)
    assert files_in(tmp_path) == set()


def test_info_reports_every_bad_file_and_continues(
    cases: dict[str, tuple[Path, tuple[str, ...]]], tmp_path: Path
) -> None:
    good = good_nifti(tmp_path / "good.nii")
    bad = [cases[c][0] for c in ("empty", "dim0_eight", "nan_sform")]
    r = cli("info", bad[0], good, *bad[1:])
    assert r.exit_code == 1
    assert "Traceback" not in r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("niresample: error:")]
    assert len(errors) == 3
    assert "good.nii" in r.stdout


def _big_noise_gz(path: Path) -> Path:
    rng = np.random.default_rng(7)
    return good_nifti(path, rng.random((64, 64, 64), dtype=np.float32))


def test_gz_truncated_mid_data(tmp_path: Path) -> None:
    """Cut mid-data, the header still reads: ``info`` (header only) works, every
    command that reads voxels fails cleanly and leaves nothing behind."""
    src = _big_noise_gz(tmp_path / "big.nii")
    gz = gzip.compress(src.read_bytes(), compresslevel=1)
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(gz[: len(gz) // 2])
    assert cli("info", cut).exit_code == 0
    assert_one_line_error(cli("info", "--stats", cut), "cut.nii.gz", "truncated")
    out = tmp_path / "out"
    out.mkdir()
    assert_one_line_error(cli("spacing", cut, out / "o.nii.gz", "--iso", "3", "-q"),
                          "cut.nii.gz", "truncated")
    assert files_in(out) == set()
    with open_image(cut) as img, pytest.raises(NiresampleError):
        img.read_volume(0)


def test_gz_corrupt_block_mid_data(tmp_path: Path) -> None:
    src = _big_noise_gz(tmp_path / "big.nii")
    gz = bytearray(gzip.compress(src.read_bytes(), compresslevel=1))
    mid = len(gz) // 2
    gz[mid:mid + 64] = bytes(64)
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(bytes(gz))
    out = tmp_path / "out"
    out.mkdir()
    assert_one_line_error(cli("spacing", bad, out / "o.nii", "--iso", "3", "-q"), "bad.nii.gz")
    assert files_in(out) == set()


def test_five_d_is_resampled_per_volume(tmp_path: Path) -> None:

    data = np.arange(6 * 7 * 8 * 2 * 3, dtype=np.float32).reshape(6, 7, 8, 2, 3)
    src = good_nifti(tmp_path / "five.nii", data)
    out = tmp_path / "five_out.nii.gz"
    r = cli("spacing", src, out, "--iso", "1", "-q")
    assert r.exit_code == 0, r.stderr
    img = load(out)
    assert img.shape[3:] == (2, 3)
    got = np.asarray(img.dataobj)
    # every 3D volume resampled on its own: a constant offset between volumes is kept
    diffs = got[..., 1, 0] - got[..., 0, 0]
    assert np.allclose(diffs, data[0, 0, 0, 1, 0] - data[0, 0, 0, 0, 0], atol=1e-3)


def test_qform_sform_disagreement_warns_and_uses_the_sform(tmp_path: Path) -> None:
    import nibabel as nib

    data = np.ones((6, 7, 8), np.float32)
    s_aff = np.diag([2.0, 2.0, 2.0, 1.0])
    q_aff = s_aff.copy()
    q_aff[:3, 3] = [10, -4, 3]
    img = nib.Nifti1Image(data, s_aff)
    img.set_sform(s_aff, code=2)
    img.set_qform(q_aff, code=1)
    src = tmp_path / "qs.nii"
    nib.save(img, str(src))
    r = cli("info", src)
    assert r.exit_code == 0
    assert "qform and sform disagree" in " ".join(r.stderr.split())
    out = tmp_path / "qs_out.nii"
    assert cli("spacing", src, out, "--iso", "1", "-q").exit_code == 0
    res = load(out)
    # same field of view as the sform's: first outer edge at -1 mm
    first_edge = res.affine[:3, 3] - 0.5 * np.diag(res.affine)[:3]
    assert np.allclose(first_edge, s_aff[:3, 3] - 1.0)


def test_nan_voxels_stay_local_in_intensity_resampling(tmp_path: Path) -> None:

    data = np.full((16, 16, 16), 5.0, np.float32)
    data[8, 8, 8] = np.nan
    data[2, 3, 4] = np.inf
    src = good_nifti(tmp_path / "nan.nii", data, np.eye(4))
    out = tmp_path / "nan_out.nii"
    r = cli("spacing", src, out, "--iso", "0.5", "--order", "1", "-q")
    assert r.exit_code == 0, r.stderr
    got = np.asarray(load(out).dataobj)
    bad = ~np.isfinite(got)
    assert bad.any(), "a NaN input voxel must not silently vanish"
    # linear interpolation: only output voxels within one input voxel of the bad ones
    world = np.argwhere(bad) * 0.5 - 0.25
    near = np.minimum(np.abs(world - [8, 8, 8]).max(axis=1), np.abs(world - [2, 3, 4]).max(axis=1))
    assert near.max() < 1.0
    assert np.isfinite(got).mean() > 0.99


@pytest.mark.parametrize("order", ["2", "3", "5"])
def test_nan_voxels_stay_local_with_spline_orders(tmp_path: Path, order: str) -> None:
    data = np.full((16, 16, 16), 5.0, np.float32)
    data[8, 8, 8] = np.nan
    src = good_nifti(tmp_path / "nan.nii", data, np.eye(4))
    out = tmp_path / "nan_out.nii"
    r = cli("spacing", src, out, "--iso", "0.5", "--order", order, "-q")
    assert r.exit_code == 0, r.stderr
    got = np.asarray(load(out).dataobj)
    assert np.isfinite(got).mean() > 0.9
    # Only outputs whose spline taps reach the bad voxel are NaN; the rest keep the constant.
    assert np.allclose(got[np.isfinite(got)], 5.0, atol=1e-4)


def test_nan_voxels_in_labels_are_a_clear_error(tmp_path: Path) -> None:
    data = np.zeros((10, 10, 10), np.float32)
    data[2:5, 2:5, 2:5] = 3
    data[7, 7, 7] = np.nan
    src = good_nifti(tmp_path / "nanlab.nii", data, np.eye(4))
    out = tmp_path / "o.nii"
    assert_one_line_error(cli("labels", src, out, "--resolution", "0.5", "-q"), "nanlab.nii", "nan")
    assert not out.exists()


def test_two_d_is_refused_with_the_shape(tmp_path: Path) -> None:
    src = good_nifti(tmp_path / "slice.nii", np.zeros((64, 64), np.int16))
    line = assert_one_line_error(cli("spacing", src, tmp_path / "o.nii", "--iso", "1"),
                                 "slice.nii", "2D", "3D")
    assert "(64, 64)" in line


@pytest.mark.parametrize("command", [["spacing", "--iso", "2"], ["labels", "--resolution", "2"]])
def test_batch_reports_each_bad_file_and_writes_the_good_ones(
    cases: dict[str, tuple[Path, tuple[str, ...]]], tmp_path: Path, command: list[str]
) -> None:
    good = [good_nifti(tmp_path / f"good{i}.nii") for i in range(2)]
    bad = [cases[c][0] for c in ("wrong_magic", "truncated_nii_352")]
    out = tmp_path / "out"
    r = cli(command[0], good[0], *bad, good[1], "-o", out, *command[1:], "-q")
    assert r.exit_code == 1
    assert "Traceback" not in r.stderr
    # (labels on the noise of good_nifti also warns that it looks like an intensity image)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and "looks like an intensity" not in ln]
    assert all(ln.startswith("niresample: error:") for ln in lines), lines
    assert sum(b.name in ln for b in bad for ln in lines) == 2
    assert "2 of 4" in lines[-1]
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == 2 and all(n.startswith("good") for n in written), written


def test_fifo_input_is_refused_without_blocking(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "pipe.nii"
    os.mkfifo(fifo)
    r = cli_subprocess("spacing", fifo, tmp_path / "o.nii", "--iso", "1", timeout=60)
    assert_one_line_error(r, "pipe.nii", "not a regular file")
    assert not (tmp_path / "o.nii").exists()
