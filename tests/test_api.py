"""Python API: nibabel images in and out, files, and the two drop-in functions."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from niresample_cli.core.api import (
    resample_file,
    resample_nifti_spacing,
    resample_to_grid,
    resample_to_shape,
    resample_to_spacing,
    resampling,
    source_from_nibabel,
)
from niresample_cli.core.errors import GridError, InputError, OptionError, OutputExistsError
from niresample_cli.core.grid import Grid
from niresample_cli.core.requests import Compute, Interpolation, LabelMethod, ResampleRequest, Target

from conftest import data_path, write_nifti


def _voxel_sizes(img: nib.Nifti1Image) -> np.ndarray:
    return np.sqrt((img.affine[:3, :3] ** 2).sum(axis=0))


def _fov_corners(shape: tuple[int, ...], affine: np.ndarray) -> np.ndarray:
    lo, hi = -0.5, np.asarray(shape[:3]) - 0.5
    box = np.array([[hi[a] if (c >> a) & 1 else lo for a in range(3)] for c in range(8)])
    return box @ affine[:3, :3].T + affine[:3, 3]


def test_resample_to_spacing_from_a_path(tmp_path: Path) -> None:
    path = data_path("nibabel_example4d.nii.gz")
    img = resample_to_spacing(path, (None, None, 1.1), order=1)
    src = nib.load(str(path))
    src_vox = nib.affines.voxel_sizes(src.affine)
    assert img.shape == (*src.shape[:2], round(src.shape[2] * src_vox[2] / 1.1), *src.shape[3:])
    np.testing.assert_allclose(_voxel_sizes(img), [*src_vox[:2], 1.1], rtol=1e-6)
    np.testing.assert_allclose(_fov_corners(img.shape, img.affine),
                               _fov_corners(src.shape, src.affine), atol=1e-4)
    assert img.header.get_zooms()[3] == pytest.approx(src.header.get_zooms()[3])
    assert img.get_data_dtype() == src.get_data_dtype()
    assert int(img.header["qform_code"]) == int(src.header["qform_code"])
    assert int(img.header["sform_code"]) == int(src.header["sform_code"])


def test_resample_to_shape_keeps_the_fov_exactly() -> None:
    data = np.random.default_rng(0).random((20, 30, 16)).astype(np.float32)
    affine = np.array([[0, 0, 1.5, -3], [-0.8, 0, 0, 10], [0, 1.2, 0, 5], [0, 0, 0, 1.0]])
    img = nib.Nifti1Image(data, affine)
    out = resample_to_shape(img, (13, 45, 20))
    assert out.shape == (13, 45, 20)
    np.testing.assert_allclose(_fov_corners(out.shape, out.affine),
                               _fov_corners(img.shape, affine), atol=1e-9)
    np.testing.assert_allclose(_voxel_sizes(out), [0.8 * 20 / 13, 1.2 * 30 / 45, 1.5 * 16 / 20])


def test_resample_to_grid_accepts_nibabel_images_and_dtype() -> None:
    data = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    img = nib.Nifti1Image(data, np.eye(4))
    out = resample_to_grid(img, Grid((4, 5, 6), np.eye(4)).with_shape((8, 10, 12)), dtype="float32")
    assert out.get_data_dtype() == np.float32
    # by hand: the same field of view [-0.5, n - 0.5] cut into twice as many 0.5 mm voxels,
    # so the first centre sits at -0.5 + 0.25 on every axis
    assert out.shape == (8, 10, 12)
    np.testing.assert_allclose(out.affine, [[0.5, 0, 0, -0.25], [0, 0.5, 0, -0.25],
                                            [0, 0, 0.5, -0.25], [0, 0, 0, 1]], atol=1e-12)
    # the index ramp 30 i + 6 j + k is linear, so linear interpolation reproduces it exactly
    # wherever the output centre maps inside the source (as nibabel's affine says)
    ijk = np.stack(np.meshgrid(*map(np.arange, out.shape), indexing="ij"), -1)
    src_ijk = nib.affines.apply_affine(np.linalg.inv(img.affine) @ out.affine, ijk)
    inside = np.all((src_ijk >= 0) & (src_ijk <= np.array(data.shape) - 1), axis=-1)
    assert inside.sum() == 6 * 8 * 10
    np.testing.assert_allclose(out.get_fdata()[inside], (src_ijk @ [30.0, 6.0, 1.0])[inside], atol=1e-4)


def test_scaled_proxy_images_keep_their_scaling() -> None:
    img = nib.load(str(data_path("nibabel_functional.nii")))
    src = source_from_nibabel(img)
    assert src.slope == pytest.approx(img.dataobj.slope) and src.inter == pytest.approx(img.dataobj.inter)
    out = resample_to_spacing(img, 6.0)
    assert out.get_data_dtype() == np.int16
    assert out.dataobj.slope == pytest.approx(src.slope)
    assert 600 < out.get_fdata().mean() < 5600


def test_resample_file_streams_to_disk(tmp_path: Path) -> None:
    src = write_nifti(tmp_path / "in.nii.gz", np.ones((10, 12, 14), np.float32), np.eye(4))
    out = tmp_path / "out.nii"
    request = ResampleRequest(Target(spacing=0.5), Interpolation(order=3), Compute(max_memory="16M"))
    result = resample_file(src, out, request)
    assert result.output == out and out.exists() and result.input == src
    img = nib.load(str(out))
    assert img.shape == (20, 24, 28)
    # the result describes the file written, as nibabel reads it
    assert result.shape == img.shape and result.dtype == img.get_data_dtype()
    np.testing.assert_allclose(result.grid.affine, img.affine, atol=1e-6)
    assert result.method == "order 3" and not result.labels and result.seconds > 0
    np.testing.assert_allclose(img.get_fdata(), 1.0, rtol=1e-6)
    with pytest.raises(OutputExistsError, match="already exists"):
        resample_file(src, out, ResampleRequest(Target(spacing=0.5)))
    with pytest.raises(OptionError, match="exactly one"):
        resample_file(src, tmp_path / "x.nii", ResampleRequest(Target(spacing=0.5, shape=(3, 3, 3))))
    with pytest.raises(GridError, match="positive"):
        resample_file(src, tmp_path / "x.nii", ResampleRequest(Target(spacing=(0.5, -1, 1))))
    with pytest.raises(InputError):
        resample_file(tmp_path / "missing.nii", tmp_path / "x.nii", ResampleRequest(Target(spacing=1)))


def test_resample_file_runs_labels_and_intensity_alike(tmp_path: Path) -> None:
    data = (np.arange(6 * 5 * 4).reshape(6, 5, 4) % 7).astype(np.int16)
    src = write_nifti(tmp_path / "lab.nii", data, np.eye(4))
    out = tmp_path / "lab2.nii"
    result = resample_file(src, out, ResampleRequest(Target(spacing=0.5), LabelMethod("nearest")))
    img = nib.load(str(out))
    assert result.labels and result.method == "nearest" and result.order is None
    assert result.shape == img.shape == (12, 10, 8)
    # every output value is an input value (nibabel reads the file independently)
    assert set(np.unique(np.asarray(img.dataobj))) <= set(np.unique(data))


def test_resample_file_like_a_reference(tmp_path: Path) -> None:
    ras = data_path("niivue_nifti_space_RAS.nii.gz")
    out = tmp_path / "ail_on_ras.nii.gz"
    resample_file(data_path("niivue_nifti_space_AIL.nii.gz"), out,
                  ResampleRequest(Target(like=ras), Interpolation(order=0)))
    np.testing.assert_array_equal(nib.load(str(out)).get_fdata(), nib.load(str(ras)).get_fdata())


def test_resample_nifti_spacing_drop_in(tmp_path: Path) -> None:
    src = write_nifti(tmp_path / "in.nii.gz", np.ones((10, 10, 30), np.float32),
                      np.diag([0.1, 0.1, 0.1, 1]))
    resample_nifti_spacing(src, tmp_path / "out.nii.gz", new_z_spacing=0.15)
    img = nib.load(str(tmp_path / "out.nii.gz"))
    assert img.shape == (10, 10, 20)
    np.testing.assert_allclose(_voxel_sizes(img), [0.1, 0.1, 0.15])
    np.testing.assert_allclose(img.header.get_zooms(), [0.1, 0.1, 0.15], rtol=1e-6)
    resample_nifti_spacing(src, tmp_path / "iso.nii.gz", new_spacing=0.2)
    assert nib.load(str(tmp_path / "iso.nii.gz")).shape == (5, 5, 15)
    with pytest.raises(OptionError):
        resample_nifti_spacing(src, tmp_path / "none.nii.gz")


def test_resampling_drop_in_writes_into_a_new_directory(tmp_path: Path) -> None:
    src = write_nifti(tmp_path / "brain.nii.gz", np.ones((16, 16, 8), np.int16) * 7, np.eye(4))
    written = resampling(src, tmp_path / "new" / "dir", (32, 32, 16))
    assert written == tmp_path / "new" / "dir" / "brain_resampled.nii.gz"
    img = nib.load(str(written))
    assert img.shape == (32, 32, 16)
    np.testing.assert_allclose(_fov_corners(img.shape, img.affine),
                               _fov_corners((16, 16, 8), np.eye(4)), atol=1e-9)
    assert np.all(np.asarray(img.dataobj) == 7)
