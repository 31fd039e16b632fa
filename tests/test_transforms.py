"""Transform files read into RAS maps, checked against independent references.

SimpleITK reads and applies every ITK/ANTs file (affine types, composite lists,
displacement fields); FSL, FreeSurfer and AFNI files are checked against their
documented conventions written out here and against nitransforms' own loaders.
Every transform maps output (reference) RAS points into input (moving) space.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from niresample_cli.core.errors import TransformError
from niresample_cli.core.grid import Grid
from niresample_cli.core.transforms import (
    AffineTransform,
    DisplacementField,
    TransformChain,
    map_voxels,
    parse_transform_arg,
    read_transform,
    voxel_map_chain,
)

from conftest import REPO, random_rotation, write_nifti

sitk = pytest.importorskip("SimpleITK")
nitransforms = pytest.importorskip("nitransforms")

FLIP = np.diag([-1.0, -1.0, 1.0])  # LPS <-> RAS for points
FLIP4 = np.diag([-1.0, -1.0, 1.0, 1.0])
#: SimpleITK and nibabel build a field's geometry from the float32 NIfTI header
#: differently (about 1e-7 relative); through random vectors that is a few 1e-6 mm.
FIELD_ATOL = 2e-5


# -- helpers -----------------------------------------------------------------
def sitk_points(tx: object, ras: np.ndarray) -> np.ndarray:
    """SimpleITK's TransformPoint on RAS points (converted to LPS and back)."""
    lps = ras @ FLIP
    return np.array([tx.TransformPoint(tuple(float(v) for v in q)) for q in lps]) @ FLIP  # type: ignore[attr-defined]


def random_affine_ras(rng: np.random.Generator) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = random_rotation(rng) @ np.diag(rng.uniform(0.8, 1.25, 3))
    m[:3, 3] = rng.uniform(-20, 20, 3)
    return m


def sitk_affine_from_ras(ras: np.ndarray, center: tuple[float, float, float] = (0, 0, 0)) -> object:
    """A SimpleITK AffineTransform equal to the RAS matrix, with a given LPS centre."""
    lps = FLIP4 @ ras @ FLIP4
    tx = sitk.AffineTransform(3)
    tx.SetCenter(center)
    tx.SetMatrix(tuple(lps[:3, :3].ravel()))
    c = np.asarray(center, dtype=float)
    # y = A (x - c) + t + c must equal lin x + off
    tx.SetTranslation(tuple(lps[:3, 3] - c + lps[:3, :3] @ c))
    return tx


def oblique_grid(rng: np.random.Generator, shape: tuple[int, int, int] = (20, 24, 18)) -> Grid:
    a = np.eye(4)
    a[:3, :3] = random_rotation(rng) @ np.diag(rng.uniform(0.7, 2.5, 3))
    a[:3, 3] = rng.uniform(-40, 40, 3)
    return Grid(shape, a)


def write_sitk_field(path: Path, lps_vectors: np.ndarray, grid_affine: np.ndarray) -> Path:
    """Write a displacement field the way ANTs does: ITK vector NIfTI, LPS vectors."""
    from niresample_cli.core._sitk import sitk_geometry

    img = sitk.GetImageFromArray(np.ascontiguousarray(np.transpose(lps_vectors, (2, 1, 0, 3))),
                                 isVector=True)
    origin, spacing, direction = sitk_geometry(grid_affine)
    img.SetOrigin(origin)
    img.SetSpacing(spacing)
    img.SetDirection(direction)
    sitk.WriteImage(img, str(path))
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(11)


# -- ITK / ANTs linear files against SimpleITK ---------------------------------
def _itk_transforms(rng: np.random.Generator) -> dict[str, object]:
    aff = sitk.AffineTransform(3)
    aff.SetMatrix(tuple((np.eye(3) + rng.normal(scale=0.15, size=(3, 3))).ravel()))
    aff.SetTranslation((3.0, -4.0, 5.5))
    aff.SetCenter((10.0, -5.0, 2.0))
    euler = sitk.Euler3DTransform((1.0, 2.0, 3.0), 0.1, -0.2, 0.3, (4.0, 5.0, 6.0))
    euler_zyx = sitk.Euler3DTransform((1.0, 2.0, 3.0), 0.1, -0.2, 0.3, (4.0, 5.0, 6.0))
    euler_zyx.SetComputeZYX(True)
    versor = sitk.VersorRigid3DTransform((0.1, 0.2, 0.3, 0.927))
    versor.SetCenter((1.0, 2.0, 3.0))
    versor.SetTranslation((1.0, -1.0, 2.0))
    sim = sitk.Similarity3DTransform()
    sim.SetScale(1.3)
    sim.SetRotation((0.0, 0.0, 1.0), 0.4)
    sim.SetCenter((5.0, 5.0, 5.0))
    sim.SetTranslation((1.0, 2.0, 3.0))
    sv = sitk.ScaleVersor3DTransform()
    sv.SetScale((1.1, 0.9, 1.2))
    sv.SetRotation((0.0, 1.0, 0.0), 0.3)
    sv.SetCenter((5.0, 1.0, 5.0))
    scale = sitk.ScaleTransform(3, (1.1, 2.0, 0.5))
    scale.SetCenter((3.0, 3.0, 3.0))
    return {
        "affine": aff, "euler": euler, "euler_zyx": euler_zyx, "versor": versor,
        "similarity": sim, "scale_versor": sv, "translation": sitk.TranslationTransform(3, (1, 2, 3)),
        "scale": scale, "identity": sitk.Transform(3, sitk.sitkIdentity),
    }


@pytest.mark.parametrize("ext", [".txt", ".tfm", ".mat"])
@pytest.mark.parametrize("kind", ["affine", "euler", "euler_zyx", "versor", "similarity",
                                  "scale_versor", "translation", "scale", "identity"])
def test_itk_linear_files_match_simpleitk(tmp_path: Path, rng: np.random.Generator,
                                          kind: str, ext: str) -> None:
    tx = _itk_transforms(rng)[kind]
    path = tmp_path / f"t{ext}"
    sitk.WriteTransform(tx, str(path))
    ref = sitk.ReadTransform(str(path))
    pts = rng.normal(scale=60.0, size=(50, 3))
    chain = TransformChain([path])
    assert chain.is_affine
    np.testing.assert_allclose(chain.map_points(pts), sitk_points(ref, pts), atol=1e-9)


def test_itk_composite_text_is_in_ants_order(tmp_path: Path, rng: np.random.Generator) -> None:
    tr = _itk_transforms(rng)
    comp = sitk.CompositeTransform([tr["affine"], tr["euler"], tr["similarity"]])
    path = tmp_path / "composite.txt"
    sitk.WriteTransform(comp, str(path))
    pts = rng.normal(scale=40.0, size=(30, 3))
    chain = TransformChain([str(path)])
    assert len(chain) == 1 and chain.is_affine  # three affines collapse into one
    np.testing.assert_allclose(chain.map_points(pts), sitk_points(sitk.ReadTransform(str(path)), pts),
                               atol=1e-9)
    # The same list given as three files in the same order.
    files = []
    for i, key in enumerate(("affine", "euler", "similarity")):
        files.append(tmp_path / f"{i}.txt")
        sitk.WriteTransform(tr[key], str(files[-1]))
    np.testing.assert_allclose(TransformChain(files).affine, chain.affine, atol=1e-12)


def test_ants_matrix_offset_mat_matches_simpleitk(tmp_path: Path, rng: np.random.Generator) -> None:
    """antsRegistration writes MatrixOffsetTransformBase_double_3_3 into .mat (MATLAB v4)."""
    from scipy.io import savemat

    params = np.concatenate([(np.eye(3) + rng.normal(scale=0.1, size=(3, 3))).ravel(), [2.0, -3.0, 7.0]])
    path = tmp_path / "0GenericAffine.mat"
    savemat(str(path), {"MatrixOffsetTransformBase_double_3_3": params[:, None],
                        "fixed": np.array([[1.5], [-2.0], [30.0]])}, format="4")
    pts = rng.normal(scale=50.0, size=(30, 3))
    np.testing.assert_allclose(TransformChain([path]).map_points(pts),
                               sitk_points(sitk.ReadTransform(str(path)), pts), atol=1e-9)


# -- displacement fields against SimpleITK -----------------------------------------
def _field_setup(tmp_path: Path, rng: np.random.Generator) -> tuple[Path, Grid, np.ndarray]:
    grid = oblique_grid(rng, (9, 11, 8))
    lps = rng.normal(scale=3.0, size=(*grid.shape, 3))
    path = write_sitk_field(tmp_path / "1Warp.nii.gz", lps, grid.affine)
    return path, grid, lps


def _points_around(grid: Grid, rng: np.random.Generator, n: int = 400) -> np.ndarray:
    """Points inside, on the half-voxel border and outside the field's grid."""
    span = np.asarray(grid.shape, dtype=float)
    ijk = rng.uniform(-1.5, span + 0.5, size=(n, 3))
    # exact outer voxel centres and half-voxel edges too
    edges = np.array([[-0.5, 0, 0], [-0.49, 3, 2], [span[0] - 0.51, 1, 1], [span[0] - 1, 4, 3],
                      [0, 0, 0], [2.5, span[1] - 0.5, 1]])
    return grid.to_world(np.vstack([ijk, edges]))


def test_field_matches_simpleitk_displacement_field_transform(tmp_path: Path,
                                                              rng: np.random.Generator) -> None:
    path, grid, _ = _field_setup(tmp_path, rng)
    ref = sitk.DisplacementFieldTransform(sitk.Cast(sitk.ReadImage(str(path)), sitk.sitkVectorFloat64))
    pts = _points_around(grid, rng)
    with TransformChain([path]) as chain:
        assert not chain.is_affine
        np.testing.assert_allclose(chain.map_points(pts), sitk_points(ref, pts), atol=FIELD_ATOL)


def test_field_vectors_are_ras_as_nitransforms_reads_them(tmp_path: Path,
                                                          rng: np.random.Generator) -> None:
    import nibabel as nib
    from nitransforms.io.itk import ITKDisplacementsField

    path, grid, _ = _field_setup(tmp_path, rng)
    (field,) = read_transform(path)
    assert isinstance(field, DisplacementField)
    assert field.grid == Grid(grid.shape, nib.load(str(path)).affine)
    expected = np.asarray(ITKDisplacementsField.from_image(nib.load(str(path))).dataobj)
    np.testing.assert_allclose(field.read_box(np.zeros(3, int), np.asarray(grid.shape)), expected,
                               atol=1e-12)
    lo, hi = np.array([2, 3, 1]), np.array([5, 9, 4])  # a box, read alone
    np.testing.assert_allclose(field.read_box(lo, hi), expected[2:5, 3:9, 1:4], atol=1e-12)


def test_ants_warp_then_affine_matches_simpleitk_composite(tmp_path: Path,
                                                           rng: np.random.Generator) -> None:
    """antsApplyTransforms -t 1Warp.nii.gz -t 0GenericAffine.mat: the affine touches points first."""
    path, grid, _ = _field_setup(tmp_path, rng)
    aff = _itk_transforms(rng)["similarity"]
    aff_path = tmp_path / "0GenericAffine.mat"
    sitk.WriteTransform(aff, str(aff_path))
    disp = sitk.DisplacementFieldTransform(sitk.Cast(sitk.ReadImage(str(path)), sitk.sitkVectorFloat64))
    ref = sitk.CompositeTransform([disp, sitk.ReadTransform(str(aff_path))])
    # points that land around the field after the affine
    pts = AffineTransform(TransformChain([aff_path]).affine).inverse().map_points(
        _points_around(grid, rng, 200))
    chain = TransformChain([str(path), str(aff_path)])
    np.testing.assert_allclose(chain.map_points(pts), sitk_points(ref, pts), atol=FIELD_ATOL)


def test_map_voxels_through_a_field_matches_simpleitk(tmp_path: Path, rng: np.random.Generator) -> None:
    path, fgrid, _ = _field_setup(tmp_path, rng)
    out_grid = Grid((6, 7, 5), fgrid.affine @ np.diag([1.5, 1.4, 1.3, 1.0]))
    in_grid = oblique_grid(rng, (30, 30, 30))
    pre = _itk_transforms(rng)["euler"]
    pre_path = tmp_path / "pre.txt"
    sitk.WriteTransform(pre, str(pre_path))
    post = random_affine_ras(rng)
    chain = TransformChain([post, path, pre_path])
    box = (1, 6, 0, 7, 2, 5)
    got = map_voxels(out_grid, chain, in_grid, box)
    assert got.shape == (3, 5, 7, 3) and got.dtype == np.float64
    ijk = np.stack(np.meshgrid(np.arange(1, 6), np.arange(0, 7), np.arange(2, 5), indexing="ij"),
                   axis=-1).reshape(-1, 3)
    disp = sitk.DisplacementFieldTransform(sitk.Cast(sitk.ReadImage(str(path)), sitk.sitkVectorFloat64))
    ref_tx = sitk.CompositeTransform([sitk_affine_from_ras(post), disp, sitk.ReadTransform(str(pre_path))])
    in_img = sitk.Image(list(in_grid.shape), sitk.sitkUInt8)
    out_img = sitk.Image(list(out_grid.shape), sitk.sitkUInt8)
    from niresample_cli.core._sitk import sitk_geometry

    for img, g in ((in_img, in_grid), (out_img, out_grid)):
        o, s, d = sitk_geometry(g.affine)
        img.SetOrigin(o)
        img.SetSpacing(s)
        img.SetDirection(d)
    expected = np.array([
        in_img.TransformPhysicalPointToContinuousIndex(
            ref_tx.TransformPoint(out_img.TransformContinuousIndexToPhysicalPoint([float(v) for v in q])))
        for q in ijk])
    np.testing.assert_allclose(got.reshape(3, -1).T, expected, atol=FIELD_ATOL)
    np.testing.assert_allclose(map_voxels(out_grid, chain, in_grid, ijk.astype(float)), expected, atol=FIELD_ATOL)
    assert voxel_map_chain(in_grid, out_grid, chain) is None


def test_field_outside_grid_is_identity_and_invert_is_refused(tmp_path: Path,
                                                              rng: np.random.Generator) -> None:
    path, grid, _ = _field_setup(tmp_path, rng)
    far = grid.to_world(np.array([[-3.0, 2.0, 2.0], [grid.shape[0] + 4.0, 0, 0]]))
    np.testing.assert_array_equal(TransformChain([path]).map_points(far), far)
    inverse = path.with_name("1InverseWarp.nii.gz")
    write_sitk_field(inverse, np.zeros((*grid.shape, 3)), grid.affine)
    with pytest.raises(TransformError, match="1InverseWarp.nii.gz") as info:
        TransformChain([f"[{path},1]"])
    assert "1Warp.nii.gz" in str(info.value) and info.value.param == "transform"


# -- FSL, FreeSurfer LTA, AFNI ---------------------------------------------------
def _fsl_frame(grid: Grid) -> np.ndarray:
    """FSL's scaled-voxel frame: voxel * spacing, x flipped when det(affine) > 0 (FLIRT FAQ)."""
    s = np.eye(4)
    s[:3, :3] = np.diag(grid.spacing)
    if np.linalg.det(grid.affine) > 0:
        flip = np.eye(4)
        flip[0, 0] = -1.0
        flip[0, 3] = grid.shape[0] - 1
        s = s @ flip
    return s  # voxel -> FSL mm


@pytest.mark.parametrize("in_flip,ref_flip", [(False, False), (True, False), (False, True), (True, True)])
def test_fsl_flirt_matrix_follows_fsl_convention(tmp_path: Path, rng: np.random.Generator,
                                                 in_flip: bool, ref_flip: bool) -> None:
    import nibabel as nib
    from nitransforms.linear import load as nt_load

    def grid(flip: bool, shape: tuple[int, int, int]) -> Grid:
        a = np.diag([-2.0 if flip else 2.0, 2.5, 3.0, 1.0])
        a[:3, 3] = rng.uniform(-50, 50, 3)
        return Grid(shape, a)

    moving, reference = grid(in_flip, (20, 22, 18)), grid(ref_flip, (31, 27, 25))
    flirt = random_affine_ras(rng)  # input FSL mm -> reference FSL mm
    path = tmp_path / "flirt.mat"
    np.savetxt(path, flirt, fmt="%.10f")
    chain = TransformChain([path], moving=moving, reference=reference)
    # reference voxel -> input voxel, from FSL's definition of the matrix
    vox = np.linalg.inv(_fsl_frame(moving)) @ np.linalg.inv(flirt) @ _fsl_frame(reference)
    np.testing.assert_allclose(voxel_map_chain(moving, reference, chain), vox, atol=1e-8)
    # and nitransforms' own loader agrees
    imgs = [nib.Nifti1Image(np.zeros(g.shape, np.uint8), g.affine) for g in (moving, reference)]
    nt = nt_load(str(path), fmt="fsl", moving=imgs[0], reference=imgs[1])
    # (nt.map casts points to float32: compare the matrices)
    np.testing.assert_allclose(chain.affine, nt.matrix, atol=1e-9)


def _lta_geometry(g: Grid) -> str:
    spacing = g.spacing
    cras = g.affine[:3, :3] @ (np.asarray(g.shape) / 2.0) + g.affine[:3, 3]
    cols = g.direction
    return "\n".join([
        "valid = 1  # volume info valid", "filename = x.nii.gz",
        "volume = {} {} {}".format(*g.shape),
        "voxelsize = {:.15e} {:.15e} {:.15e}".format(*spacing),
        *(f"{n}ras   = {cols[0, a]:.15e} {cols[1, a]:.15e} {cols[2, a]:.15e}"
          for a, n in enumerate("xyz")),
        "cras   = {:.15e} {:.15e} {:.15e}".format(*cras),
    ])


def _lta_text(kind: int, matrix: np.ndarray, src: Grid, dst: Grid) -> str:
    rows = "\n".join(" ".join(f"{v:.15e}" for v in row) for row in matrix)
    return (f"# transform file\ntype      = {kind} # {'LINEAR_VOX_TO_VOX' if kind == 0 else 'LINEAR_RAS_TO_RAS'}\n"
            f"nxforms   = 1\nmean      = 0.0000 0.0000 0.0000\nsigma     = 1.0000\n1 4 4\n{rows}\n"
            f"src volume info\n{_lta_geometry(src)}\ndst volume info\n{_lta_geometry(dst)}\n"
            "subject unknown\nfscale 0.100000\n")


def test_lta_vox2vox_and_ras2ras_follow_freesurfer(tmp_path: Path, rng: np.random.Generator) -> None:
    """An LTA maps src (moving) to dst (reference); vox2vox through the LTA's own geometry."""
    from nitransforms.linear import load as nt_load

    src, dst = oblique_grid(rng, (20, 22, 18)), oblique_grid(rng, (16, 17, 19))
    vox2vox = np.linalg.solve(dst.affine, random_affine_ras(rng) @ src.affine)  # src vox -> dst vox
    ras2ras = dst.affine @ vox2vox @ np.linalg.inv(src.affine)
    (tmp_path / "v.lta").write_text(_lta_text(0, vox2vox, src, dst))
    (tmp_path / "r.lta").write_text(_lta_text(1, ras2ras, src, dst))
    expected = np.linalg.inv(ras2ras)  # dst (reference) points -> src (moving) points
    for name in ("v.lta", "r.lta"):
        chain = TransformChain([tmp_path / name])
        # LTA matrices and geometry are float32 in FreeSurfer (and nitransforms)
        np.testing.assert_allclose(chain.affine, expected, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(chain.affine, nt_load(str(tmp_path / name), fmt="fs").matrix,
                                   atol=1e-9)


def test_afni_aff12_is_lps_base_to_source(tmp_path: Path, rng: np.random.Generator) -> None:
    from nitransforms.linear import load as nt_load

    ras = random_affine_ras(rng)
    lps = FLIP4 @ ras @ FLIP4
    path = tmp_path / "reg.aff12.1D"
    path.write_text("# 3dAllineate matrices (DICOM-to-DICOM, row-by-row):\n"
                    + " ".join(f"{v:.12g}" for v in lps[:3].ravel()) + "\n")
    chain = TransformChain([path])
    np.testing.assert_allclose(chain.affine, ras, atol=1e-9)
    np.testing.assert_allclose(chain.affine, nt_load(str(path), fmt="afni").matrix, atol=1e-9)


def test_afni_on_oblique_grids_matches_nitransforms(tmp_path: Path, rng: np.random.Generator) -> None:
    import nibabel as nib
    from nitransforms.linear import load as nt_load

    moving, reference = oblique_grid(rng), oblique_grid(rng)
    path = tmp_path / "reg.aff12.1D"
    path.write_text(" ".join(f"{v:.12g}" for v in random_affine_ras(rng)[:3].ravel()) + "\n")
    imgs = [nib.Nifti1Image(np.zeros(g.shape, np.uint8), g.affine) for g in (moving, reference)]
    nt = nt_load(str(path), fmt="afni", moving=imgs[0], reference=imgs[1])
    chain = TransformChain([path], moving=moving, reference=reference)
    np.testing.assert_allclose(chain.affine, nt.matrix, atol=1e-9)


def test_same_transform_in_every_format_gives_the_same_ras_matrix(tmp_path: Path,
                                                                  rng: np.random.Generator) -> None:
    from nitransforms.io.afni import AFNILinearTransform
    from nitransforms.io.fsl import FSLLinearTransform
    from nitransforms.io.lta import FSLinearTransform

    ras = random_affine_ras(rng)
    moving, reference = oblique_grid(rng), oblique_grid(rng)
    center = (12.0, -7.0, 3.0)
    sitk.WriteTransform(sitk_affine_from_ras(ras, center), str(tmp_path / "itk.txt"))
    sitk.WriteTransform(sitk_affine_from_ras(ras, center), str(tmp_path / "itk.tfm"))
    sitk.WriteTransform(sitk_affine_from_ras(ras), str(tmp_path / "ants.mat"))
    np.savetxt(tmp_path / "plain.txt", ras, fmt="%.17g")
    FSLLinearTransform.from_ras(ras, moving=moving, reference=reference).to_filename(tmp_path / "flirt.mat")
    (tmp_path / "fs.lta").write_text(FSLinearTransform.from_ras(ras).to_string())
    AFNILinearTransform.from_ras(ras).to_filename(tmp_path / "afni.aff12.1D")
    # LTA text holds float32 values; nitransforms writes AFNI matrices with %g (6 digits)
    tolerance = {"fs.lta": 1e-4, "afni.aff12.1D": 1e-4}
    for name in ("itk.txt", "itk.tfm", "ants.mat", "plain.txt", "flirt.mat", "fs.lta", "afni.aff12.1D"):
        kw = {"moving": moving, "reference": reference} if name == "flirt.mat" else {}
        got = TransformChain([tmp_path / name], **kw).affine
        np.testing.assert_allclose(got, ras, atol=tolerance.get(name, 1e-6), err_msg=name)


# -- chains: inversion, composition, voxel maps ---------------------------------------
def test_inversion_and_composition(tmp_path: Path, rng: np.random.Generator) -> None:
    a, b = random_affine_ras(rng), random_affine_ras(rng)
    pa = tmp_path / "a.txt"
    sitk.WriteTransform(sitk_affine_from_ras(a), str(pa))
    # [a,1] is the matrix inverse
    np.testing.assert_allclose(TransformChain([f"[{pa},1]"]).affine, np.linalg.inv(a), atol=1e-12)
    np.testing.assert_allclose(TransformChain([(pa, True)]).affine, np.linalg.inv(a), atol=1e-12)
    np.testing.assert_allclose(TransformChain([(f"[{pa}, 1]", True)]).affine, a, atol=1e-12)
    # A then B (B listed first, as ANTs lists it) equals the single matrix B @ A
    chain = TransformChain([b, pa])
    assert len(chain) == 1
    np.testing.assert_allclose(chain.affine, b @ a, atol=1e-12)
    pts = rng.normal(scale=30, size=(10, 3))
    step = AffineTransform(b).map_points(AffineTransform(a).map_points(pts))
    np.testing.assert_allclose(chain.map_points(pts), step, atol=1e-10)
    # an inverted composite file is inverted as a whole
    comp = tmp_path / "comp.txt"
    sitk.WriteTransform(sitk.CompositeTransform([sitk_affine_from_ras(b), sitk_affine_from_ras(a)]),
                        str(comp))
    np.testing.assert_allclose(TransformChain([(comp, True)]).affine, np.linalg.inv(b @ a), atol=1e-10)
    np.testing.assert_allclose(TransformChain([]).affine, np.eye(4))


def test_voxel_map_chain_and_affine_boxes(rng: np.random.Generator) -> None:
    in_grid, out_grid = oblique_grid(rng), oblique_grid(rng, (7, 6, 5))
    t = random_affine_ras(rng)
    chain = TransformChain([t])
    vm = voxel_map_chain(in_grid, out_grid, chain)
    assert vm is not None
    ijk = rng.uniform(0, 5, size=(40, 3))
    expected = np.linalg.solve(in_grid.affine[:3, :3],
                               (AffineTransform(t).map_points(out_grid.to_world(ijk)) - in_grid.affine[:3, 3]).T).T
    np.testing.assert_allclose(ijk @ vm[:3, :3].T + vm[:3, 3], expected, atol=1e-9)
    np.testing.assert_allclose(map_voxels(out_grid, chain, in_grid, ijk), expected, atol=1e-9)
    box = map_voxels(out_grid, chain, in_grid, (0, 7, 0, 6, 0, 5))
    full = np.stack(np.meshgrid(*(np.arange(n) for n in (7, 6, 5)), indexing="ij"), axis=-1)
    np.testing.assert_allclose(box, np.moveaxis(full @ vm[:3, :3].T + vm[:3, 3], -1, 0), atol=1e-9)
    # identity chain: the plain grid voxel map
    np.testing.assert_allclose(voxel_map_chain(in_grid, out_grid, TransformChain()),
                               np.linalg.solve(in_grid.affine, out_grid.affine), atol=1e-12)
    with pytest.raises(Exception, match="box"):
        map_voxels(out_grid, chain, in_grid, (0, 8, 0, 6, 0, 5))


# -- parsing and errors ----------------------------------------------------------------
@pytest.mark.parametrize("arg,expected", [
    ("0GenericAffine.mat", ("0GenericAffine.mat", False)),
    ("[0GenericAffine.mat,1]", ("0GenericAffine.mat", True)),
    ("[ 0GenericAffine.mat , 0 ]", ("0GenericAffine.mat", False)),
    ("[dir,with,commas/a.mat,1]", ("dir,with,commas/a.mat", True)),
    ("[a.txt]", ("a.txt", False)),
    ("[a.txt,true]", ("a.txt", True)),
])
def test_parse_transform_arg(arg: str, expected: tuple[str, bool]) -> None:
    path, invert = parse_transform_arg(arg)
    assert (str(path), invert) == expected


@pytest.mark.parametrize("arg", ["", "[a.mat,1", "[a.mat,2]", "[,1]"])
def test_parse_transform_arg_rejects(arg: str) -> None:
    with pytest.raises(TransformError) as info:
        parse_transform_arg(arg)
    assert info.value.param == "transform"


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}

    def text(name: str, body: str) -> None:
        files[name] = tmp_path / name
        files[name].write_text(body)

    files["missing.txt"] = tmp_path / "missing.txt"
    text("empty.txt", "")
    text("garbage.txt", "hello world\n")
    text("singular.txt", "1 0 0 0\n0 1 0 0\n0 0 0 0\n0 0 0 1\n")
    text("nonfinite.txt", "1 0 0 nan\n0 1 0 0\n0 0 1 0\n0 0 0 1\n")
    text("badrow.txt", "1 0 0 0\n0 1 0 0\n0 0 1 0\n0 0 1 1\n")
    text("threebythree.txt", "1 0 0\n0 1 0\n0 0 1\n")
    text("itk_bad_params.txt", "#Insight Transform File V1.0\n#Transform 0\n"
                               "Transform: AffineTransform_double_3_3\nParameters: 1 0 0\nFixedParameters: 0 0 0\n")
    text("itk_nan.txt", "#Insight Transform File V1.0\n#Transform 0\n"
                        "Transform: TranslationTransform_double_3_3\nParameters: 1 nan 0\nFixedParameters:\n")
    text("itk_bspline.txt", "#Insight Transform File V1.0\n#Transform 0\n"
                            "Transform: BSplineTransform_double_3_3\nParameters: 0\nFixedParameters: 0\n")
    text("lta_bad.lta", "type = 1\nnxforms = 1\nmean = 0 0 0\nsigma = 1\n1 4 4\n1 0 0\n")
    text("afni_two.aff12.1D", "1 0 0 0 0 1 0 0 0 0 1 0\n1 0 0 1 0 1 0 0 0 0 1 0\n")
    files["itk2d.txt"] = tmp_path / "itk2d.txt"
    sitk.WriteTransform(sitk.Euler2DTransform(), str(files["itk2d.txt"]))
    files["corrupt.mat"] = tmp_path / "corrupt.mat"
    files["corrupt.mat"].write_bytes(b"\x00\x01\x02garbage" * 10)
    files["flirt_no_grids.mat"] = tmp_path / "flirt_no_grids.mat"
    np.savetxt(files["flirt_no_grids.mat"], np.eye(4))
    files["field4d.nii.gz"] = write_nifti(tmp_path / "field4d.nii.gz", np.zeros((4, 4, 4, 3), np.float32))
    files["field2d.nii.gz"] = write_nifti(tmp_path / "field2d.nii.gz", np.zeros((4, 4, 4, 1, 2), np.float32))
    files["field_nan.nii.gz"] = write_nifti(tmp_path / "field_nan.nii.gz",
                                            np.full((4, 4, 4, 1, 3), np.nan, np.float32))
    files["truncated.nii.gz"] = tmp_path / "truncated.nii.gz"
    files["truncated.nii.gz"].write_bytes(files["field2d.nii.gz"].read_bytes()[:40])
    return files


def test_bad_transform_files_raise_transform_error_naming_the_file(tmp_path: Path) -> None:
    for name, path in _bad_files(tmp_path).items():
        with pytest.raises(TransformError) as info:
            chain = TransformChain([path])
            chain.map_points(np.zeros((1, 3)))  # a field's vectors are read lazily
        msg = str(info.value)
        assert name in msg and "\n" not in msg, (name, msg)
        assert info.value.param == "transform", name
        assert isinstance(info.value, ValueError)


def test_bad_matrices_given_as_arrays() -> None:
    with pytest.raises(TransformError, match="singular"):
        TransformChain([np.diag([1.0, 1.0, 0.0, 1.0])])
    with pytest.raises(TransformError, match="4x4"):
        TransformChain([np.eye(3)])


# -- the shipped example --------------------------------------------------------------------
def test_example_rotation_is_ten_degrees_about_the_anatomical_centre() -> None:
    import nibabel as nib

    img = nib.load(str(REPO / "examples" / "anatomical.nii"))
    grid = Grid(img.shape[:3], img.affine)
    chain = TransformChain([REPO / "examples" / "anat_rot10.txt"])
    centre = grid.fov_center
    np.testing.assert_allclose(chain.map_points(centre[None]), centre[None], atol=1e-6)
    lin = chain.affine[:3, :3]
    np.testing.assert_allclose(lin[2], [0, 0, 1], atol=1e-12)
    assert np.degrees(np.arctan2(lin[1, 0], lin[0, 0])) == pytest.approx(10.0, abs=1e-9)
    ref = sitk.ReadTransform(str(REPO / "examples" / "anat_rot10.txt"))
    pts = grid.fov_corners()
    np.testing.assert_allclose(chain.map_points(pts), sitk_points(ref, pts), atol=1e-9)
