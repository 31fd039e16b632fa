"""Numerical faults (issue 7, part 5): casts clip (and say so) instead of
wrapping, labels above 2^24 never pass through float32, scl_slope/scl_inter
are applied exactly once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from reltools import (
    cli,
    good_nifti,
    load,
)

from conftest import data_path


def _load(path: Path) -> np.ndarray:

    return np.asarray(load(path).dataobj)


# -- integer overflow -------------------------------------------------------------------------

def test_narrowing_dtype_clips_and_warns(tmp_path: Path) -> None:
    data = np.zeros((8, 8, 8), np.int16)
    data[2:6, 2:6, 2:6] = 1000
    data[0, 0, :] = -1000
    src = good_nifti(tmp_path / "i16.nii", data, np.eye(4))
    out = tmp_path / "i8.nii"
    r = cli("spacing", src, out, "--iso", "1", "--order", "0", "--dtype", "int8")
    assert r.exit_code == 0, r.stderr
    assert "clip" in r.stderr.lower()
    got = _load(out)
    assert got.dtype == np.int8
    # wrapping would give 1000 -> -24 and -1000 -> 24
    np.testing.assert_array_equal(got, np.clip(data, -128, 127))


def test_cubic_overshoot_on_uint8_is_clipped_not_wrapped(tmp_path: Path) -> None:
    data = np.zeros((4, 4, 24), np.uint8)
    data[..., 12:] = 255
    src = good_nifti(tmp_path / "step.nii", data, np.eye(4))
    u8, f32 = tmp_path / "u8.nii", tmp_path / "f32.nii"
    for out, extra in ((u8, []), (f32, ["--dtype", "float32"])):
        r = cli("spacing", src, out, "--z", "0.25", "--order", "3", *extra)
        assert r.exit_code == 0, r.stderr
    ref = _load(f32)
    assert ref.min() < -0.5 and ref.max() > 255.5, "the cubic kernel overshoots a step"
    got = _load(u8).astype(np.int32)
    np.testing.assert_array_equal(got, np.clip(np.rint(ref), 0, 255).astype(np.int32))
    # overshoot saturates instead of wrapping (256 -> 0, -1 -> 255)
    assert (got[ref > 255.5] == 255).all() and (got[ref < -0.5] == 0).all()


def test_labels_keep_their_dtype_and_spacing_clips(tmp_path: Path) -> None:
    data = np.zeros((6, 6, 6), np.uint16)
    data[1:3, 1:3, 1:3] = 40000
    src = good_nifti(tmp_path / "lab.nii", data, np.eye(4))
    r = cli("spacing", src, tmp_path / "o.nii", "--iso", "1", "--order", "0", "--dtype", "int8")
    # spacing clips with a warning; labels keep the dtype (there is no --dtype at all)
    assert r.exit_code == 0 and "clip" in r.stderr.lower()
    r = cli("labels", src, tmp_path / "l.nii", "--resolution", "0.5", "-q")
    assert r.exit_code == 0, r.stderr
    assert set(np.unique(_load(tmp_path / "l.nii")).tolist()) == {0, 40000}


# -- labels above 2^24 ------------------------------------------------------------------------

BIG_IDS = [2**24 + 1, 2**24 + 3, 182305693, 614454277, 2**32 - 1]


def _not_float32(values: np.ndarray) -> np.ndarray:
    return values[values.astype(np.float32).astype(np.uint64) != values.astype(np.uint64)]


@pytest.fixture(scope="module")
def big_ids(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(5)
    data = np.zeros((20, 18, 16), np.uint32)
    for k, v in enumerate(BIG_IDS):
        lo = rng.integers(0, 12, size=3)
        data[lo[0]:lo[0] + 6, lo[1]:lo[1] + 5, lo[2] + k % 2:lo[2] + 4] = v
    assert len(_not_float32(np.array(BIG_IDS))) == len(BIG_IDS)
    return good_nifti(tmp_path_factory.mktemp("big") / "big_ids.nii.gz", data,
                      np.diag([0.5, 0.5, 0.7, 1]))


@pytest.mark.parametrize("args", [
    ["labels", "--resolution", "0.3"],
    ["labels", "--resolution", "1.1", "--method", "majority"],
    ["labels", "--resolution", "0.4", "--sigma", "0.6"],
    ["spacing", "--iso", "0.3", "--order", "0"],
], ids=["nearest", "majority", "gaussian", "spacing-order0"])
def test_ids_above_2_24_survive_exactly(big_ids: Path, tmp_path: Path, args: list[str]) -> None:
    out = tmp_path / "o.nii.gz"
    r = cli(args[0], big_ids, out, *args[1:], "-q")
    assert r.exit_code == 0, r.stderr
    got = _load(out)
    assert got.dtype == np.uint32
    values = set(np.unique(got).tolist())
    assert values <= {0, *BIG_IDS}, values - {0, *BIG_IDS}
    assert len(values) >= 4


@pytest.fixture(scope="module")
def allen_block(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[int]]:
    """An 80^3 block of the real Allen CCF annotation holding 14 ids above 2^24."""
    import nibabel as nib

    img = load(data_path("allen_ccf2017_annotation_25um.nii.gz"))
    block = img.slicer[260:340, 160:240, 188:268]
    path = tmp_path_factory.mktemp("allen") / "allen_block.nii.gz"
    nib.save(block, str(path))
    return path, set(np.unique(np.asarray(block.dataobj)).tolist())


@pytest.mark.parametrize("args", [
    ["labels", "--resolution", "0.04"],
    ["labels", "--resolution", "0.1", "--method", "majority"],
    ["labels", "--resolution", "0.03", "--sigma", "0.03"],
    ["spacing", "--iso", "0.04", "--order", "0"],
], ids=["nearest", "majority", "gaussian", "spacing-order0"])
@pytest.mark.allen
def test_allen_ids_never_pass_through_float32(allen_block: tuple[Path, set[int]], tmp_path: Path,
                                              args: list[str]) -> None:
    src, ids = allen_block
    big_in = np.array(sorted(v for v in ids if v > 2**24), dtype=np.uint64)
    assert len(_not_float32(big_in)) >= 10
    out = tmp_path / "o.nii.gz"
    r = cli(args[0], src, out, *args[1:], "-q")
    assert r.exit_code == 0, r.stderr
    got = set(np.unique(_load(out)).tolist())
    assert got <= ids, f"values absent from the input: {sorted(got - ids)[:5]}"
    big_out = np.array(sorted(v for v in got if v > 2**24), dtype=np.uint64)
    assert len(_not_float32(big_out)) >= 5


# -- scaling applied once ---------------------------------------------------------------------

@pytest.mark.parametrize("ext", [".nii", ".nii.gz"])
def test_scl_slope_inter_applied_once(tmp_path: Path, ext: str) -> None:
    """nibabel_functional.nii (int16, slope 0.0754, inter 3100.76) through spacing
    onto its own grid: the stored values, read back by nibabel, are the input's."""

    src = data_path("nibabel_functional.nii")
    out = tmp_path / f"f{ext}"
    r = cli("spacing", src, out, "--spacing", "4", "4", "8", "-q")
    assert r.exit_code == 0, r.stderr
    want = load(src).get_fdata()
    got = load(out).get_fdata()
    assert got.shape == want.shape
    # applied twice would give about want * 0.075 + 3100; never applied, the raw ints
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)
    assert 600 < got.min() < 700 and 5500 < got.max() < 5600
