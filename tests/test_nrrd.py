"""Streaming NRRD input, checked against pynrrd (values) and SimpleITK (geometry)."""

from __future__ import annotations

import gzip
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

nrrd = pytest.importorskip("nrrd")

from niresample_cli.core._nrrd import open_nrrd  # noqa: E402
from niresample_cli.core.errors import HeaderError, InputError, OptionError  # noqa: E402

from conftest import data_path  # noqa: E402

OBLIQUE = np.array([[0.5, 0.0, 0.05], [0.02, 0.7, 0.1], [0.0, -0.03, 1.2]])
ORIGIN = np.array([1.5, -2.0, 3.25])


def _sitk_ras_affine(path: Path) -> np.ndarray:
    """RAS+ affine of SimpleITK's reading (its LPS origin/direction flipped here)."""
    import SimpleITK as sitk

    img = sitk.ReadImage(str(path))
    lps = np.diag([-1.0, -1.0, 1.0])
    d = np.asarray(img.GetDirection()).reshape(3, 3)
    a = np.eye(4)
    a[:3, :3] = lps @ d @ np.diag(img.GetSpacing())
    a[:3, 3] = lps @ np.asarray(img.GetOrigin())
    return a


def _write(path: Path, data: np.ndarray, **fields: Any) -> Path:
    header: dict[str, Any] = {"space": "left-posterior-superior", "space directions": OBLIQUE,
                              "space origin": ORIGIN, "encoding": "raw"}
    header.update(fields)
    nrrd.write(str(path), data, header, detached_header=path.suffix == ".nhdr", compression_level=1)
    return path


def _ramp(shape: tuple[int, ...], dtype: str = "int16") -> np.ndarray:
    return np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape).astype(dtype)


@pytest.mark.parametrize("encoding", ["raw", "gzip"])
@pytest.mark.parametrize(
    "space", ["left-posterior-superior", "right-anterior-superior", "left-anterior-superior",
              "scanner-xyz", "3D-right-handed", "LPS", "RAS"],
)
def test_geometry_matches_simpleitk(tmp_path: Path, encoding: str, space: str) -> None:
    path = _write(tmp_path / "a.nrrd", _ramp((5, 6, 7)), encoding=encoding, space=space)
    with open_nrrd(path) as src:
        np.testing.assert_allclose(src.grid.affine, _sitk_ras_affine(path), atol=1e-12)
        assert src.fmt == "nrrd"
        assert src.shape == (5, 6, 7)


@pytest.mark.parametrize("encoding", ["raw", "gzip", "bzip2"])
@pytest.mark.parametrize("endian", ["little", "big"])
@pytest.mark.parametrize("dtype", ["uint8", "int16", "uint32", "float32", "float64"])
def test_values_match_pynrrd(tmp_path: Path, encoding: str, endian: str, dtype: str) -> None:
    path = _write(tmp_path / "a.nrrd", _ramp((6, 5, 9), dtype), encoding=encoding, endian=endian)
    ref, _ = nrrd.read(str(path))
    with open_nrrd(path) as src:
        assert src.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(src.read_volume(), ref)
        # slabs out of order (backwards restarts the compressed stream), sub-boxes
        for z0, z1 in [(6, 9), (0, 2), (3, 4), (2, 8)]:
            np.testing.assert_array_equal(src.read_slab(z0, z1), ref[:, :, z0:z1])
        np.testing.assert_array_equal(src.read_slab(1, 5, x=slice(2, 5), y=slice(1, 4)),
                                      ref[2:5, 1:4, 1:5])


@pytest.mark.parametrize("encoding", ["raw", "gzip"])
def test_detached_header(tmp_path: Path, encoding: str) -> None:
    data = _ramp((4, 5, 6), "uint16")
    path = _write(tmp_path / "d.nhdr", data, encoding=encoding)
    assert "data file" in nrrd.read_header(str(path))
    with open_nrrd(path) as src:
        np.testing.assert_array_equal(src.read_volume(), data)
        np.testing.assert_allclose(src.grid.affine, _sitk_ras_affine(path), atol=1e-12)


@pytest.mark.parametrize("encoding", ["raw", "gzip"])
@pytest.mark.parametrize("list_axis", [0, 3])
def test_4d_list_axis_goes_last(tmp_path: Path, encoding: str, list_axis: int) -> None:
    spatial = np.moveaxis(_ramp((5, 6, 7, 3), "float32"), 3, list_axis)
    dirs = np.full((4, 3), np.nan)
    dirs[[a for a in range(4) if a != list_axis]] = OBLIQUE
    kinds = ["domain"] * 4
    kinds[list_axis] = "list"
    path = _write(tmp_path / "v.nrrd", spatial, encoding=encoding, **{"space directions": dirs,
                                                                       "kinds": kinds})
    ref, _ = nrrd.read(str(path))
    expected = np.moveaxis(ref, list_axis, 3)
    with open_nrrd(path) as src:
        assert src.shape == (5, 6, 7, 3)
        assert src.n_volumes == 3
        for vol in (2, 0, 1):
            np.testing.assert_array_equal(src.read_volume(vol), expected[..., vol])
            np.testing.assert_array_equal(src.read_slab(2, 5, volume=vol), expected[:, :, 2:5, vol])
        # the 3D geometry is the one of the spatial axes alone
        _write(tmp_path / "s.nrrd", _ramp((5, 6, 7)))
        np.testing.assert_allclose(src.grid.affine, _sitk_ras_affine(tmp_path / "s.nrrd"), atol=1e-12)


def test_orientation_override_and_space_unit_reproduce_the_allen_nifti(tmp_path: Path) -> None:
    import nibabel as nib

    ref = nib.load(str(data_path("allen_ccf2017_annotation_25um.nii.gz")))
    data = np.asarray(ref.dataobj[:, :, :120])  # left part: same affine, a faster test
    # the header as Allen writes it: nominal LPS, 25 (µm, no unit), gzip
    path = _write(tmp_path / "annotation_25.nrrd", data, encoding="gzip",
                  **{"space directions": np.diag([25.0, 25.0, 25.0]), "space origin": np.zeros(3)})
    with open_nrrd(path, orientation="PIR", space_unit="um") as src:
        np.testing.assert_allclose(src.grid.affine, ref.affine, atol=1e-12)
        assert "".join(src.grid.axcodes) == "PIR"
        assert any("PIR" in note for note in src.notes)
        nz = src.grid.shape[2]
        for z0, z1 in [(0, 40), (70, 100), (nz - 3, nz)]:
            np.testing.assert_array_equal(src.read_slab(z0, z1), data[:, :, z0:z1])
    with open_nrrd(path) as plain:  # without the override: the header's LPS, in mm
        assert "".join(plain.grid.axcodes) == "LPS"
        np.testing.assert_allclose(plain.grid.spacing, [25.0, 25.0, 25.0])
        assert plain.notes == ()


def test_space_units_in_header_are_converted(tmp_path: Path) -> None:
    path = _write(tmp_path / "u.nrrd", _ramp((3, 4, 5)), **{"space units": ["um", "um", "um"]})
    with open_nrrd(path) as src:
        np.testing.assert_allclose(src.grid.spacing, np.linalg.norm(OBLIQUE, axis=1) / 1000)
        np.testing.assert_allclose(src.grid.affine[:3, 3], [-1.5e-3, 2e-3, 3.25e-3])


@pytest.mark.parametrize("bad", ["PI", "PIRX", "PPR", "XYZ", ""])
def test_bad_orientation_names_the_parameter(tmp_path: Path, bad: str) -> None:
    path = _write(tmp_path / "a.nrrd", _ramp((3, 4, 5)))
    with pytest.raises(OptionError, match="orientation") as info:
        open_nrrd(path, orientation=bad)
    assert info.value.param == "orientation"


def test_bad_space_unit_names_the_parameter(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.nrrd", _ramp((3, 4, 5)))
    with pytest.raises(OptionError, match="space_unit") as info:
        open_nrrd(path, space_unit="furlong")
    assert info.value.param == "space_unit"


def _cut(path: Path, nbytes: int) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[:-nbytes])


@pytest.mark.parametrize("encoding", ["raw", "gzip", "bzip2"])
def test_truncated_data_is_one_line_naming_the_file(tmp_path: Path, encoding: str) -> None:
    rng = np.random.default_rng(0)
    path = _write(tmp_path / "t.nrrd", rng.integers(0, 2**16, (20, 20, 20)).astype("uint16"),
                  encoding=encoding)
    _cut(path, 300)
    with pytest.raises(InputError, match=r"t\.nrrd: truncated") as info:
        open_nrrd(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("encoding", ["raw", "gzip"])
def test_sizes_disagreeing_with_data_length(tmp_path: Path, encoding: str) -> None:
    data = _ramp((4, 5, 6), "uint16")
    path = _write(tmp_path / "m.nrrd", data, encoding=encoding)
    with open(path, "rb") as f:
        nrrd.read_header(f)
        start = f.tell()
    head = path.read_bytes()[:start].replace(b"sizes: 4 5 6", b"sizes: 4 5 5")
    path.write_bytes(head + path.read_bytes()[start:])
    with pytest.raises(HeaderError, match=r"m\.nrrd: NRRD sizes \[4, 5, 5\].*holds"):
        open_nrrd(path)


def test_gzip_of_the_wrong_length_is_truncated(tmp_path: Path) -> None:
    path = _write(tmp_path / "g.nhdr", _ramp((4, 5, 6), "uint16"), encoding="gzip")
    data_file = tmp_path / "g.raw.gz"
    data_file.write_bytes(gzip.compress(np.zeros(100, np.uint16).tobytes()))
    with pytest.raises(InputError, match=r"g\.raw\.gz: truncated NRRD data"):
        open_nrrd(path)


def test_unsupported_encoding_and_missing_data_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.nrrd", _ramp((3, 4, 5)), encoding="ascii")
    with pytest.raises(HeaderError, match=r"a\.nrrd: NRRD encoding 'ascii' is not supported"):
        open_nrrd(path)
    hdr = _write(tmp_path / "d.nhdr", _ramp((3, 4, 5)))
    (tmp_path / "d.raw").unlink()
    with pytest.raises(InputError, match=r"d\.nhdr: NRRD data file .*missing"):
        open_nrrd(hdr)


def test_not_a_nrrd_and_2d(tmp_path: Path) -> None:
    junk = tmp_path / "junk.nrrd"
    junk.write_bytes(b"hello world\n\x00\x01")
    with pytest.raises(HeaderError, match=r"junk\.nrrd: not a readable NRRD header"):
        open_nrrd(junk)
    flat = tmp_path / "flat.nrrd"
    nrrd.write(str(flat), _ramp((4, 5)), {"space": "RAS", "space directions": np.eye(2, 3)})
    with pytest.raises(HeaderError, match="2 spatial axes"):
        open_nrrd(flat)
    with pytest.raises(InputError, match="no such file"):
        open_nrrd(tmp_path / "absent.nrrd")


@pytest.mark.parametrize("encoding", ["raw", "gzip"])
def test_one_slab_reads_bounded_memory(tmp_path: Path, encoding: str) -> None:
    shape = (256, 256, 256)  # 64 MiB of uint32
    data = np.broadcast_to(np.arange(256, dtype=np.uint32), shape)
    path = _write(tmp_path / "big.nrrd", np.ascontiguousarray(data), encoding=encoding)
    with open_nrrd(path) as src:
        tracemalloc.start()
        try:
            slab = src.read_slab(250, 254)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        np.testing.assert_array_equal(slab, data[:, :, 250:254])
    # one slab is 1 MiB; the compressed path keeps a 1 MiB skip buffer
    assert peak < 8 * 2**20, peak


def test_raw_slab_reads_only_its_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from niresample_cli.core import _nrrd_data

    path = _write(tmp_path / "c.nrrd", _ramp((16, 16, 64), "int32"))
    reads: list[int] = []
    real = _nrrd_data._pread_into

    def counting(fd: int, view: memoryview, pos: int) -> int:
        n = real(fd, view, pos)
        reads.append(n)
        return n

    monkeypatch.setattr(_nrrd_data, "_pread_into", counting)
    with open_nrrd(path) as src:
        src.read_slab(10, 12)
    assert sum(reads) == 16 * 16 * 2 * 4


@pytest.mark.parametrize(
    "fields",
    [{"spacings": np.array([0.5, 0.7, 1.2])},
     {"space dimension": 3, "space directions": OBLIQUE, "space origin": ORIGIN},
     {"space": "3D-left-handed", "space directions": OBLIQUE, "space origin": ORIGIN}],
    ids=["spacings-only", "no-space", "3D-left-handed"],
)
def test_headers_without_anatomical_space_follow_simpleitk(tmp_path: Path, fields: dict[str, Any]) -> None:
    path = tmp_path / "n.nrrd"
    nrrd.write(str(path), _ramp((3, 4, 5)), fields)
    with open_nrrd(path) as src:
        np.testing.assert_allclose(src.grid.affine, _sitk_ras_affine(path), atol=1e-12)
        assert src.notes  # the assumption is stated
