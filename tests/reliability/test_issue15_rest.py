"""Issue 15, the rest: anti-aliasing kernels wider than the input axis (item 9) and the
last "internal error"s of item 10 (long NRRD/Zarr axes, odd `-o` paths, corrupt Zarr chunks).

References are independent of the code under test: the full (unclamped) box kernel summed
onto edge-clipped indices, numerical integration of np.interp, and nibabel."""

from __future__ import annotations

import math
import resource
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from niresample_cli.core.kernels import SPLINE_PAD, axis_weights, bspline_integral


# -- item 9: anti-aliasing kernels clamped to the axis -----------------------------------
def _full_dense(n_in: int, x: np.ndarray, order: int, aa: float) -> np.ndarray:
    """Dense (n_out, line) matrix of the *whole* box kernel, every tap clipped to the line
    (edge replication), straight from the definition: mean of the spline over the box."""
    pad = SPLINE_PAD if order >= 2 else 0
    line = n_in + 2 * pad
    h = (order + 1) / 2.0
    m = np.zeros((len(x), line))
    for r, xr in enumerate(x):
        u = xr + pad
        for j in range(math.floor(u - h - aa / 2) - 1, math.ceil(u + h + aa / 2) + 2):
            t = u - j
            w = (bspline_integral(np.array(t + aa / 2), order)
                 - bspline_integral(np.array(t - aa / 2), order)) / aa
            m[r, min(max(j, 0), line - 1)] += float(w)
    return m / m.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("order", [1, 2, 3, 5])
@pytest.mark.parametrize("n_in", [1, 2, 5])
@pytest.mark.parametrize("aa", [7.5, 40.0, 333.3])
def test_box_wider_than_the_axis_equals_the_full_kernel(order: int, n_in: int, aa: float) -> None:
    x = np.array([-3.7, -0.5, 0.0, 0.4 * n_in, n_in - 1.0, n_in + 2.2, 0.5 * aa])
    w = axis_weights(n_in, x, order=order, aa_width=aa)
    assert w.taps <= w.line_length
    np.testing.assert_allclose(w.dense(), _full_dense(n_in, x, order, aa), rtol=0, atol=1e-12)


def test_linear_box_matches_numerical_integration() -> None:
    """Order 1: the mean of np.interp (edge-constant outside) over the box."""
    rng = np.random.default_rng(3)
    data = rng.random(6)
    for aa, xr in [(30.0, 2.3), (30.0, -9.0), (100.0, 50.0), (8.0, 4.9)]:
        w = axis_weights(6, np.array([xr]), order=1, aa_width=aa)
        got = float(w.dense()[0] @ data)
        t = np.linspace(xr - aa / 2, xr + aa / 2, 2_000_001)
        want = float(np.trapezoid(np.interp(t, np.arange(6), data), t) / aa)
        assert got == pytest.approx(want, abs=1e-6)


def test_a_billionfold_downsampling_is_quick_and_small(tmp_path: Path) -> None:
    """A 64^3 image of 1e-9 mm voxels to --iso 1 planned a 1e9-tap kernel (7.45 GiB)."""
    rng = np.random.default_rng(0)
    data = rng.random((64, 64, 64)).astype(np.float32)
    src = tmp_path / "tiny.nii"
    nib.save(nib.Nifti1Image(data, np.diag([1e-9, 1e-9, 1e-9, 1.0])), str(src))
    out = tmp_path / "o.nii"

    def limit() -> None:  # 2 GiB of address space: the old plan could never fit
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "niresample_cli", "spacing", str(src), str(out), "--iso", "1"],
        capture_output=True, text=True, timeout=120, preexec_fn=limit)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - t0 < 30
    img = nib.load(str(out))
    # The box (1e9 input voxels wide) covers the whole axis; outside it the image is its edge
    # value, so each axis weighs its first and last voxel by the box's share on each side.
    u = (np.linalg.inv(nib.load(str(src)).affine) @ img.affine @ [0, 0, 0, 1])[:3]
    got = np.asarray(img.dataobj, dtype=np.float64).ravel()[0]
    lo = 0.5 - u / 1e9  # share of the box left of the axis (to O(64 / 1e9))
    want = 0.0
    for c in np.ndindex(2, 2, 2):
        wgt = np.prod([lo[a] if c[a] == 0 else 1 - lo[a] for a in range(3)])
        want += wgt * data[tuple(63 * np.array(c))]
    assert img.shape[:3] == (1, 1, 1)
    assert got == pytest.approx(want, abs=1e-4)


# -- item 10 (a): an axis over NIfTI-1's 32767 voxels from a header-less input ------------
def _long_nrrd(path: Path) -> np.ndarray:
    """A 40000x2x2 raw NRRD (x fastest); returns the array in (x, y, z) order."""
    data = np.arange(40000 * 4, dtype=np.float32).reshape(2, 2, 40000)
    head = (b"NRRD0004\ntype: float\ndimension: 3\nsizes: 40000 2 2\n"
            b"space: left-posterior-superior\nspace directions: (1,0,0) (0,1,0) (0,0,1)\n"
            b"space origin: (0,0,0)\nendian: little\nencoding: raw\n\n")
    path.write_bytes(head + data.tobytes())
    return data.transpose(2, 1, 0)


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_long_axis_from_nrrd_writes_nifti2(tmp_path: Path, suffix: str) -> None:
    from typer.testing import CliRunner

    from niresample_cli.app import app

    want = _long_nrrd(tmp_path / "long.nrrd")
    out = tmp_path / f"o{suffix}"
    res = CliRunner().invoke(app, ["spacing", str(tmp_path / "long.nrrd"), str(out), "--iso", "1"])
    assert res.exit_code == 0, res.output
    img = nib.load(str(out))
    assert isinstance(img, nib.Nifti2Image)
    assert img.shape == (40000, 2, 2)
    np.testing.assert_array_equal(np.asarray(img.dataobj), want)


# -- item 10 (b): odd output paths ----------------------------------------------------------
def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "niresample_cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def _one_line(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for w in words:
        assert w in lines[0], lines[0]
    assert "internal error" not in lines[0] and "appeared while writing" not in lines[0]
    return lines[0]


@pytest.fixture
def odd_places(tmp_path: Path) -> Path:
    for name in ("in.nii", "in2.nii"):
        nib.save(nib.Nifti1Image(np.ones((4, 4, 4), np.float32), np.eye(4)), str(tmp_path / name))
    (tmp_path / "afile.nii").write_bytes(b"not a folder")
    (tmp_path / "dang.nii").symlink_to("nowhere/x.nii")
    (tmp_path / "loop.nii").symlink_to("loop.nii")
    return tmp_path


def test_output_onto_a_dangling_symlink(odd_places: Path) -> None:
    line = _one_line(_cli("spacing", "in.nii", "dang.nii", "--iso", "2", cwd=odd_places),
                     "dang.nii", "symbolic link", "nowhere/x.nii")
    assert "does not exist" in line
    assert (odd_places / "dang.nii").is_symlink() and not (odd_places / "nowhere").exists()


def test_output_onto_a_symlink_loop(odd_places: Path) -> None:
    _one_line(_cli("spacing", "in.nii", "loop.nii", "--iso", "2", cwd=odd_places),
              "loop.nii", "symbolic link loop")


@pytest.mark.parametrize("out", ["afile.nii/x.nii", "afile.nii/x.nii.gz", "afile.nii/d/x.ome.zarr"])
def test_output_under_a_regular_file(odd_places: Path, out: str) -> None:
    line = _one_line(_cli("spacing", "in.nii", out, "--iso", "2", cwd=odd_places),
                     out, "afile.nii is a file, not a directory")
    assert "does not exist" not in line
    assert (odd_places / "afile.nii").read_bytes() == b"not a folder"


@pytest.mark.parametrize("folder, words", [("afile.nii/sub", ("afile.nii is a file, not a directory",)),
                                            ("loop.nii/sub", ("loop.nii", "symbolic link loop"))])
def test_batch_folder_under_a_file_or_loop(odd_places: Path, folder: str, words: tuple[str, ...]) -> None:
    _one_line(_cli("spacing", "in.nii", "in2.nii", "-o", folder, "--iso", "2", cwd=odd_places),
              folder, *words)


# -- item 10 (c): corrupt Zarr chunks -------------------------------------------------------
@pytest.fixture
def corrupt_store(tmp_path: Path) -> Path:
    data = np.random.default_rng(1).random((40, 40, 40)).astype(np.float32)
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(tmp_path / "z.nii"))
    proc = _cli("spacing", "z.nii", "m.ome.zarr", "--iso", "1", "-q", "--chunks", "8", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    chunks = sorted(p for p in (tmp_path / "m.ome.zarr" / "0").rglob("*")
                    if p.is_file() and not p.name.startswith("."))
    assert len(chunks) == 125
    rng = np.random.default_rng(2)
    for p in chunks[:60]:  # garbage where blosc frames were
        p.write_bytes(rng.integers(0, 256, 100, dtype=np.uint8).tobytes())
    return tmp_path


@pytest.mark.parametrize("args", [("info", "m.ome.zarr", "--stats"),
                                  ("spacing", "m.ome.zarr", "o.nii", "--iso", "2"),
                                  ("spacing", "m.ome.zarr", "o.nii", "--iso", "2", "-j", "2")])
def test_corrupt_zarr_chunks_are_one_line(corrupt_store: Path, args: tuple[str, ...]) -> None:
    _one_line(_cli(*args, cwd=corrupt_store), "m.ome.zarr", "unreadable Zarr chunk")
    assert not (corrupt_store / "o.nii").exists()
