"""Lazy reading and atomic streaming writing, checked against nibabel and SimpleITK."""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from niresample_cli.core.atomic import clean_stale_temporaries
from niresample_cli.core.errors import HeaderError, InputError, OutputError, OutputExistsError
from niresample_cli.core.grid import Grid
from niresample_cli.core.io import open_image, split_ext
from niresample_cli.core.writer import NiftiWriter, check_output_path, make_header

from conftest import data_path, real_files, write_nifti

REAL = [p.name for p in real_files()]


@pytest.mark.parametrize("name", REAL or ["none"])
def test_real_files_open_lazily_with_nibabel_geometry(name: str) -> None:
    path = data_path(name)
    ref = nib.load(str(path))
    with open_image(path) as img:
        assert img.shape == ref.shape
        np.testing.assert_allclose(img.grid.affine, ref.affine, atol=1e-6)
        np.testing.assert_allclose(img.grid.spacing, nib.affines.voxel_sizes(ref.affine), rtol=1e-12)
        nz = img.grid.shape[2]
        z0, z1 = nz // 3, max(nz // 3 + 1, 2 * nz // 3)
        vol = img.n_volumes - 1
        expected = np.asarray(ref.dataobj[(slice(None), slice(None), slice(z0, z1), *img.volume_index(vol))])
        got = img.read_slab(z0, z1, volume=vol)
        np.testing.assert_allclose(got, expected.astype(got.dtype), rtol=1e-6)
        assert got.dtype.byteorder in "=|"


def test_scaled_values_are_applied_once_and_raw_is_available() -> None:
    path = data_path("nibabel_functional.nii")
    ref = nib.load(str(path))
    with open_image(path) as img:
        assert img.is_scaled and img.slope == pytest.approx(ref.dataobj.slope) and not img.is_integer
        raw = img.read_slab(0, 3, volume=5, scaled=False)
        scaled = img.read_slab(0, 3, volume=5)
    assert raw.dtype == np.int16 and scaled.dtype == np.float32
    np.testing.assert_array_equal(raw, np.asarray(ref.dataobj.get_unscaled())[..., 5])
    np.testing.assert_allclose(scaled, ref.get_fdata()[..., 5], rtol=1e-6)
    assert 600 < scaled.min() < scaled.max() < 5600


def test_volume_index_follows_nifti_order(tmp_path: Path) -> None:
    data = np.arange(2 * 3 * 4 * 2 * 3, dtype=np.int16).reshape(2, 3, 4, 2, 3)
    p = write_nifti(tmp_path / "five.nii", data)
    with open_image(p) as img:
        assert img.n_volumes == 6
        for v in range(6):
            t, u = np.unravel_index(v, (2, 3), order="F")
            np.testing.assert_array_equal(img.read_volume(v), data[..., t, u])


def test_nifti2_is_read(tmp_path: Path) -> None:
    data = np.random.default_rng(0).normal(size=(5, 6, 7)).astype(np.float32)
    aff = np.diag([1.5, 2.0, 2.5, 1.0])
    p = write_nifti(tmp_path / "n2.nii.gz", data, aff, nifti2=True)
    with open_image(p) as img:
        assert img.fmt == "nifti2"
        np.testing.assert_array_equal(img.read_volume(), data)
        np.testing.assert_allclose(img.grid.spacing, [1.5, 2.0, 2.5])


@pytest.mark.parametrize("ext", [".nrrd", ".mha"])
def test_sitk_formats_are_converted_lps_to_ras(tmp_path: Path, ext: str) -> None:
    import SimpleITK as sitk

    rng = np.random.default_rng(3)
    arr = rng.integers(0, 1000, size=(4, 5, 6)).astype(np.uint32)  # (z, y, x) in SimpleITK
    image = sitk.GetImageFromArray(arr)
    image.SetSpacing((0.5, 0.75, 1.25))
    image.SetOrigin((10.0, -20.0, 30.0))
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    image.SetDirection(tuple(q.ravel()))
    p = tmp_path / f"img{ext}"
    sitk.WriteImage(image, str(p))
    with open_image(p) as img:
        assert img.grid.shape == (6, 5, 4)
        data = img.read_volume()
        for index in [(0, 0, 0), (5, 4, 3), (2, 1, 3)]:
            lps = np.asarray(image.TransformIndexToPhysicalPoint(index))
            ras = lps * [-1, -1, 1]
            np.testing.assert_allclose(img.grid.to_world(np.asarray(index, float)), ras, atol=1e-9)
            assert data[index] == arr[index[2], index[1], index[0]]


def test_mgz_is_read(tmp_path: Path) -> None:
    data = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    aff = np.array([[-1, 0, 0, 5], [0, 0, 1, -3], [0, -1, 0, 7], [0, 0, 0, 1.0]])
    p = tmp_path / "x.mgz"
    nib.save(nib.MGHImage(data, aff), str(p))
    with open_image(p) as img:
        np.testing.assert_allclose(img.grid.affine, aff)
        np.testing.assert_array_equal(img.read_volume(), data)


def _roundtrip(src_path: Path, out: Path, height: int) -> None:
    with open_image(src_path) as src:
        hdr = make_header(src.header, src.grid, src.shape, src.dtype, slope=src.slope, inter=src.inter)
        with NiftiWriter(out, hdr) as w:
            for v in range(src.n_volumes):
                for z0 in range(0, src.grid.shape[2], height):
                    w.write(src.read_slab(z0, min(z0 + height, src.grid.shape[2]), volume=v, scaled=False))


@pytest.mark.parametrize("name", ["nibabel_functional.nii", "nibabel_example4d.nii.gz",
                                  "niivue_nifti_space_AIL.nii.gz", "nibabel_anatomical.nii"])
@pytest.mark.parametrize("ext", [".nii", ".nii.gz"])
def test_streamed_copy_is_exact_and_keeps_the_header(tmp_path: Path, name: str, ext: str) -> None:
    src = data_path(name)
    out = tmp_path / f"copy{ext}"
    _roundtrip(src, out, height=3)
    a, b = nib.load(str(src)), nib.load(str(out))
    np.testing.assert_array_equal(np.asarray(a.dataobj), np.asarray(b.dataobj))
    np.testing.assert_allclose(b.affine, a.affine, atol=1e-6)
    for key in ("qform_code", "sform_code", "xyzt_units", "intent_code", "descrip"):
        assert b.header[key] == a.header[key], key
    assert b.header.get_zooms() == pytest.approx(a.header.get_zooms(), rel=1e-6)
    assert sorted(os.listdir(tmp_path)) == [out.name]


def test_header_keeps_codes_units_tr_intent_description_and_extensions(tmp_path: Path) -> None:
    data = np.zeros((4, 4, 4, 3), np.int16)
    img = nib.Nifti1Image(data, np.diag([2, 2, 3, 1.0]))
    img.set_qform(img.affine, code=2)
    img.set_sform(img.affine, code=4)
    img.header.set_xyzt_units("mm", "msec")
    img.header.set_zooms((2, 2, 3, 1500))
    img.header.set_intent("t test", (12,))
    img.header["descrip"] = b"keep me"
    img.header.extensions.append(nib.nifti1.Nifti1Extension("comment", b"hello extension"))
    nib.save(img, str(tmp_path / "in.nii"))
    with open_image(tmp_path / "in.nii") as src:
        new = src.grid.with_spacing(1.0)
        hdr = make_header(src.header, new, new.shape + (3,), np.dtype(np.float32))
    out = nib.load(str(_write_zeros(tmp_path / "out.nii.gz", hdr)))
    h = out.header
    assert (int(h["qform_code"]), int(h["sform_code"])) == (2, 4)
    assert h.get_xyzt_units() == ("mm", "msec")
    assert h.get_zooms() == pytest.approx((1, 1, 1, 1500))
    assert h.get_intent()[0] == "t test" and h["descrip"] == b"keep me"
    assert [e.get_content() for e in h.extensions] == [b"hello extension"]
    np.testing.assert_allclose(out.affine, new.affine, atol=1e-6)
    np.testing.assert_allclose(h.get_qform(), new.affine, atol=1e-6)


def _write_zeros(path: Path, hdr: object) -> Path:
    shape = hdr.get_data_shape()  # type: ignore[attr-defined]
    with NiftiWriter(path, hdr) as w:
        for _ in range(int(np.prod(shape[3:], dtype=int)) if len(shape) > 3 else 1):
            w.write(np.zeros(shape[:3], hdr.get_data_dtype()))  # type: ignore[attr-defined]
    return path


def test_axes_over_nifti1_limit_switch_to_nifti2(tmp_path: Path) -> None:
    g = Grid((40000, 1, 2), np.eye(4))
    hdr = make_header(None, g, g.shape, np.dtype(np.uint8))
    out = nib.load(str(_write_zeros(tmp_path / "wide.nii", hdr)))
    assert isinstance(out, nib.Nifti2Image) and out.shape == (40000, 1, 2)


class Boom(Exception):
    pass


@pytest.mark.parametrize("exc", [Boom, KeyboardInterrupt])
def test_failure_mid_write_leaves_nothing(tmp_path: Path, exc: type[BaseException]) -> None:
    g = Grid((8, 8, 8), np.eye(4))
    hdr = make_header(None, g, g.shape, np.dtype(np.float32))
    target = tmp_path / "out.nii.gz"
    with pytest.raises(exc), NiftiWriter(target, hdr) as w:
        w.write(np.zeros((8, 8, 4), np.float32))
        raise exc()
    assert os.listdir(tmp_path) == []


def test_short_write_is_an_error_and_leaves_nothing(tmp_path: Path) -> None:
    g = Grid((8, 8, 8), np.eye(4))
    hdr = make_header(None, g, g.shape, np.dtype(np.float32))
    with pytest.raises(OutputError, match="wrote"), NiftiWriter(tmp_path / "o.nii", hdr) as w:
        w.write(np.zeros((8, 8, 4), np.float32))
    assert os.listdir(tmp_path) == []


def test_output_guards(tmp_path: Path) -> None:
    src = write_nifti(tmp_path / "in.nii.gz", np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(OutputError, match="is the input"):
        check_output_path(tmp_path / "." / "in.nii.gz", inputs=(src,), overwrite=True)
    os.link(src, tmp_path / "hard.nii.gz")
    with pytest.raises(OutputError, match="is the input"):
        check_output_path(tmp_path / "hard.nii.gz", inputs=(src,), overwrite=True)
    with pytest.raises(OutputExistsError, match="overwrite=True") as err:
        check_output_path(tmp_path / "hard.nii.gz", inputs=())
    assert err.value.param == "overwrite"
    with pytest.raises(OutputError, match="does not exist"):
        check_output_path(tmp_path / "nope" / "x.nii")
    check_output_path(tmp_path / "hard.nii.gz", inputs=(), overwrite=True)


def test_writer_refuses_to_clobber_a_file_that_appeared(tmp_path: Path) -> None:
    g = Grid((2, 2, 2), np.eye(4))
    hdr = make_header(None, g, g.shape, np.dtype(np.uint8))
    target = tmp_path / "o.nii"
    with pytest.raises(OutputExistsError), NiftiWriter(target, hdr) as w:
        w.write(np.ones((2, 2, 2), np.uint8))
        target.write_bytes(b"someone else's")
    assert target.read_bytes() == b"someone else's"
    assert os.listdir(tmp_path) == ["o.nii"]


def test_stale_temporaries_of_dead_processes_are_cleaned(tmp_path: Path) -> None:
    dead = tmp_path / ".out.nii.niresample-999999999.part"
    live = tmp_path / f".out.nii.niresample-{os.getpid()}.part"
    dead.write_bytes(b"x")
    live.write_bytes(b"x")
    assert clean_stale_temporaries(tmp_path) == [dead]
    assert live.exists() and not dead.exists()


@pytest.mark.parametrize(
    "content, match",
    [(b"", "empty file"), (b"hello world" * 50, "not a NIfTI"), (b"\x1f\x8b\x08garbage", "not a readable")],
)
def test_bad_files_are_input_errors(tmp_path: Path, content: bytes, match: str) -> None:
    p = tmp_path / "bad.nii.gz"
    p.write_bytes(content)
    with pytest.raises(InputError, match=match):
        open_image(p)


def test_missing_directory_truncated_and_2d(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        open_image(tmp_path / "missing.nii")
    with pytest.raises(InputError, match="directory"):
        open_image(tmp_path)
    p = write_nifti(tmp_path / "t.nii", np.zeros((10, 10, 10), np.float32))
    p.write_bytes(p.read_bytes()[:1000])
    with pytest.raises(InputError, match="truncated"):
        open_image(p)
    flat = write_nifti(tmp_path / "flat.nii", np.zeros((10, 10), np.float32))
    with pytest.raises(HeaderError, match="2D"):
        open_image(flat)


def test_truncated_gzip_fails_on_read_with_a_clear_error(tmp_path: Path) -> None:
    data = np.random.default_rng(0).normal(size=(32, 32, 32)).astype(np.float32)
    p = write_nifti(tmp_path / "t.nii.gz", data)
    raw = p.read_bytes()
    p.write_bytes(raw[: len(raw) // 2])
    with open_image(p) as img, pytest.raises(InputError, match="truncated or corrupt"):
        img.read_volume()


@pytest.mark.parametrize(
    "name, stem, ext",
    [("a.nii.gz", "a", ".nii.gz"), ("a.b.nii", "a.b", ".nii"), ("x.ome.zarr", "x", ".ome.zarr"),
     ("noext", "noext", ""), ("A.NII.GZ", "A", ".NII.GZ")],
)
def test_split_ext(name: str, stem: str, ext: str) -> None:
    assert split_ext(name) == (stem, ext)


def test_resumable_zarr_partials_are_kept_for_resume(tmp_path: Path) -> None:
    dead_store = tmp_path / ".big.ome.zarr.niresample-999999999.part"
    (dead_store / ".niresample").mkdir(parents=True)
    (dead_store / ".niresample" / "manifest.json").write_text("{}")
    assert clean_stale_temporaries(tmp_path) == []
    assert dead_store.exists()


def test_close_releases_the_file(tmp_path: Path) -> None:
    p = write_nifti(tmp_path / "c.nii.gz", np.ones((8, 8, 8), np.float32))

    def open_fds() -> set[str]:
        return {os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")}

    with open_image(p) as img:
        img.read_slab(0, 4)
        assert str(p) in open_fds()
    assert str(p) not in open_fds()


@pytest.mark.parametrize("anchor", ["origin", "corner", "center"])
def test_outputs_of_uncoded_inputs_keep_the_new_geometry(tmp_path: Path, anchor: str) -> None:
    # qform_code = sform_code = 0: the input's affine is nibabel's pixdim fallback.
    img = nib.Nifti1Image(np.zeros((6, 6, 6), np.int16), None)
    img.header.set_zooms((2.0, 2.0, 2.0))
    img.set_qform(None, code=0)
    img.set_sform(None, code=0)
    nib.save(img, str(tmp_path / "u.nii"))
    with open_image(tmp_path / "u.nii") as src:
        new = src.grid.with_spacing(3.0, anchor=anchor)  # type: ignore[arg-type]
        hdr = make_header(src.header, new, new.shape, np.dtype(np.int16))
    out = nib.load(str(_write_zeros(tmp_path / "o.nii", hdr)))
    np.testing.assert_allclose(out.affine, new.affine, atol=1e-5)


def test_temporaries_of_other_hosts_are_never_cleaned(tmp_path: Path) -> None:
    from niresample_cli.core.atomic import host_name, temporary_path

    ours = temporary_path(tmp_path / "a.nii")
    assert ours.name == f".a.nii.niresample-{host_name()}-{os.getpid()}.part"
    other_host = tmp_path / ".b.nii.niresample-othernode.cluster-999999999.part"
    dead_here = tmp_path / f".c.nii.niresample-{host_name()}-999999999.part"
    other_host.write_bytes(b"x")
    dead_here.write_bytes(b"x")
    assert clean_stale_temporaries(tmp_path) == [dead_here]
    assert other_host.exists()


# -- SourceHandle: the one picklable handle on an input ---------------------------------------


def test_source_handle_pickles_a_nifti_by_path_and_reopens_it(tmp_path: Path) -> None:
    import pickle

    from niresample_cli.core.source import SourceHandle

    data = np.random.default_rng(5).integers(0, 30000, size=(40, 30, 20)).astype(np.int16)
    p = write_nifti(tmp_path / "big.nii.gz", data, np.diag([1.0, 1.5, 2.0, 1.0]))
    with open_image(p) as src:
        handle = SourceHandle(src)
        assert handle.reopenable and handle.path == p
        blob = pickle.dumps(handle)
        assert len(blob) < data.nbytes // 20  # the path travels, not the voxels
        copy = pickle.loads(blob)
        assert copy._source is None  # reopened lazily, on first use
        got = copy.source.read_slab(3, 11)
        assert copy.source is not src and copy.source.path == p
    np.testing.assert_array_equal(got, np.asarray(nib.load(str(p)).dataobj)[:, :, 3:11])
    np.testing.assert_allclose(copy.source.grid.affine, nib.load(str(p)).affine)
    copy.close()
    assert copy._source is None
    np.testing.assert_array_equal(copy.source.read_volume(), data)  # reopens after close
    copy.close()


def test_source_handle_pickles_a_zarr_store_by_path(tmp_path: Path) -> None:
    import pickle

    zarr = pytest.importorskip("zarr")
    from niresample_cli.core.source import SourceHandle

    zyx = np.arange(4 * 5 * 6, dtype=np.uint16).reshape(4, 5, 6)
    store = tmp_path / "plain.zarr"
    arr = zarr.open_array(store=str(store), mode="w", shape=zyx.shape, dtype=zyx.dtype,
                          zarr_format=2)
    arr[:] = zyx
    handle = SourceHandle(open_image(store))
    assert handle.reopenable
    copy = pickle.loads(pickle.dumps(handle))
    assert copy._source is None
    np.testing.assert_array_equal(copy.source.read_volume(), zyx.T)  # zarr (z, y, x) is NIfTI (x, y, z)


def test_source_handle_keeps_images_held_in_memory(tmp_path: Path) -> None:
    import pickle

    from niresample_cli.core.api import source_from_nibabel
    from niresample_cli.core.source import SourceHandle

    data = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)
    # A nibabel image in memory, named after a path that does not exist.
    memory = source_from_nibabel(nib.Nifti1Image(data, np.eye(4)), tmp_path / "gone.nii")
    # An MGZ is read whole into a numpy array although its file exists.
    nib.save(nib.MGHImage(data, np.eye(4)), str(tmp_path / "whole.mgz"))
    whole = open_image(tmp_path / "whole.mgz")
    for src in (memory, whole):
        handle = SourceHandle(src)
        assert not handle.reopenable
        copy = pickle.loads(pickle.dumps(handle))
        assert copy._source is not None  # travelled whole
        np.testing.assert_array_equal(copy.source.read_volume(), data)
        copy.close()  # nothing to reopen it from: close keeps it
        np.testing.assert_array_equal(copy.source.read_volume(), data)
