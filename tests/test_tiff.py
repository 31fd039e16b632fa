"""TIFF stacks, slice folders and the streaming TIFF writer, checked against tifffile."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

tifffile = pytest.importorskip("tifffile")

from niresample_cli.core import _tiff_write  # noqa: E402
from niresample_cli.core._tiff import natural_key, open_tiff, open_tiff_folder, write_tiff  # noqa: E402
from niresample_cli.core.errors import InputError, OptionError, OutputExistsError  # noqa: E402
from niresample_cli.core.grid import Grid  # noqa: E402


def _stack(shape: tuple[int, ...] = (9, 5, 6), dtype: str = "uint16") -> np.ndarray:
    """A (pages, rows, columns) stack with distinct values."""
    return np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape).astype(dtype)


def _ours(zyx: np.ndarray) -> np.ndarray:
    """tifffile's (z, y, x) as niresample's [x, y, z]."""
    return np.transpose(zyx, (2, 1, 0))


@pytest.mark.parametrize("compression", [None, "zlib"])
def test_imagej_stack_values_and_voxel_size(tmp_path: Path, compression: str | None) -> None:
    data = _stack()
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, data, imagej=True, resolution=(1 / 0.5, 1 / 0.25), compression=compression,
                     metadata={"spacing": 2.0, "unit": "um", "axes": "ZYX"})
    with open_tiff(path) as src:
        assert src.shape == (6, 5, 9)
        assert src.fmt == "tiff"
        np.testing.assert_allclose(src.grid.spacing, [0.5e-3, 0.25e-3, 2e-3], rtol=1e-6)
        np.testing.assert_allclose(src.grid.affine, np.diag([0.5e-3, 0.25e-3, 2e-3, 1.0]), rtol=1e-6)
        np.testing.assert_array_equal(src.read_volume(), _ours(data))
        np.testing.assert_array_equal(src.read_slab(3, 7, x=slice(1, 4), y=slice(2, 5)),
                                      _ours(data)[1:4, 2:5, 3:7])
        assert any("ImageJ" in n for n in src.notes)
        assert any("no orientation" in n for n in src.notes)
        assert isinstance(src._dataobj._mm, np.ndarray) == (compression is None)


def test_ome_voxel_size_with_units(tmp_path: Path) -> None:
    data = _stack((7, 4, 3), "float32")
    path = tmp_path / "a.ome.tif"
    tifffile.imwrite(path, data, ome=True, photometric="minisblack", metadata={
        "axes": "ZYX", "PhysicalSizeX": 0.5, "PhysicalSizeXUnit": "µm", "PhysicalSizeY": 800,
        "PhysicalSizeYUnit": "nm", "PhysicalSizeZ": 0.002, "PhysicalSizeZUnit": "mm"})
    with open_tiff(path) as src:
        np.testing.assert_allclose(src.grid.spacing, [0.5e-3, 0.8e-3, 2e-3], rtol=1e-9)
        np.testing.assert_array_equal(src.read_volume(), _ours(data))
        assert any("OME" in n for n in src.notes)


def test_bigtiff_hyperstack_extra_axis_and_big_endian(tmp_path: Path) -> None:
    data = _stack((3, 8, 5, 4), "int16")  # T, Z, Y, X
    path = tmp_path / "big.tif"
    tifffile.imwrite(path, data.astype(">i2"), bigtiff=True, photometric="minisblack",
                     metadata={"axes": "TZYX"})
    with open_tiff(path, voxel_size=(1, 2, 3)) as src:
        assert src.shape == (4, 5, 8, 3)
        expected = np.transpose(data, (3, 2, 1, 0))
        for vol in (2, 0):
            np.testing.assert_array_equal(src.read_slab(2, 6, volume=vol), expected[:, :, 2:6, vol])
        np.testing.assert_allclose(src.grid.spacing, [1, 2, 3])
        assert any("given" in n for n in src.notes)


def test_compressed_slab_reads_only_its_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _stack((40, 16, 16))
    path = tmp_path / "z.tif"
    tifffile.imwrite(path, data, compression="zlib", photometric="minisblack", metadata={"axes": "ZYX"})
    asked: list[list[int]] = []
    real = tifffile.TiffFile.asarray

    def spy(self: object, key: list[int] | None = None, **kw: object) -> np.ndarray:
        asked.append(list(key or []))
        return real(self, key=key, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(tifffile.TiffFile, "asarray", spy)
    with open_tiff(path, voxel_size=1) as src:
        np.testing.assert_array_equal(src.read_slab(30, 33), _ours(data)[:, :, 30:33])
    assert asked == [[30, 31, 32]]


def test_uncompressed_slab_is_memory_mapped(tmp_path: Path) -> None:
    data = _stack((64, 256, 256), "float32")  # 16 MiB
    path = tmp_path / "m.tif"
    tifffile.imwrite(path, data, photometric="minisblack", metadata={"axes": "ZYX"})
    with open_tiff(path, voxel_size=(1, 1, 1)) as src:
        tracemalloc.start()
        try:
            slab = src.read_slab(60, 62)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    np.testing.assert_array_equal(slab, _ours(data)[:, :, 60:62])
    assert peak < 2 * slab.nbytes + 2**20, peak


def test_missing_voxel_size_says_how_to_give_it(tmp_path: Path) -> None:
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, _stack(), photometric="minisblack")
    with pytest.raises(OptionError, match=r"voxel_size: .*plain\.tif.*x, y, z.*give voxel_size \(x y z with a unit") \
            as info:
        open_tiff(path)
    assert info.value.param == "voxel_size"
    # ImageJ x/y without z spacing: z is named as missing
    ij = tmp_path / "ij.tif"
    tifffile.imwrite(ij, _stack(), imagej=True, resolution=(2, 2), metadata={"unit": "um", "axes": "ZYX"})
    with pytest.raises(OptionError, match=r"for z .*gives x=0\.0005 mm"):
        open_tiff(ij)
    with pytest.raises(OptionError, match="voxel_size: y must be finite and positive"):
        open_tiff(ij, voxel_size=(1, -1, 1))


def test_colour_and_not_a_tiff_are_refused(tmp_path: Path) -> None:
    rgb = tmp_path / "rgb.tif"
    tifffile.imwrite(rgb, np.zeros((4, 5, 3), np.uint8), photometric="rgb")
    with pytest.raises(InputError, match=r"rgb\.tif: colour TIFF"):
        open_tiff(rgb, voxel_size=1)
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"not a tiff at all")
    with pytest.raises(InputError, match=r"junk\.tif: not a readable TIFF"):
        open_tiff(junk, voxel_size=1)


def _slices(folder: Path, data: np.ndarray, names: list[str], **kw: object) -> None:
    folder.mkdir()
    for page, name in zip(data, names, strict=True):
        tifffile.imwrite(folder / name, page, **kw)


def test_folder_in_natural_order(tmp_path: Path) -> None:
    data = _stack((12, 4, 5))
    names = [f"slice_{i}.tif" for i in range(12)]  # slice_10 sorts before slice_2 as text
    _slices(tmp_path / "s", data, names)
    (tmp_path / "s" / "notes.txt").write_text("not a slice")
    with open_tiff_folder(tmp_path / "s", voxel_size=(0.01, 0.01, 0.02)) as src:
        assert src.fmt == "tiff-slices"
        assert src.shape == (5, 4, 12)
        np.testing.assert_array_equal(src.read_volume(), _ours(data))
        np.testing.assert_array_equal(src.read_slab(9, 12, x=slice(1, 3)), _ours(data)[1:3, :, 9:12])
    assert [p.name for p in sorted(map(Path, ["b10.tif", "b2.tif", "a.tif", "B3.TIF"]), key=natural_key)] \
        == ["a.tif", "b2.tif", "B3.TIF", "b10.tif"]


def test_folder_voxel_size_from_first_slice_imagej(tmp_path: Path) -> None:
    data = _stack((3, 4, 5))
    _slices(tmp_path / "s", data, ["z001.tif", "z002.tif", "z003.tif"], imagej=True,
            resolution=(1 / 0.3, 1 / 0.4), metadata={"unit": "micron", "spacing": 5.0})
    with open_tiff_folder(tmp_path / "s") as src:
        np.testing.assert_allclose(src.grid.spacing, [0.3e-3, 0.4e-3, 5e-3], rtol=1e-6)


@pytest.mark.parametrize("odd", ["shape", "dtype"])
def test_folder_with_a_mismatched_slice(tmp_path: Path, odd: str) -> None:
    data = _stack((4, 6, 7))
    _slices(tmp_path / "s", data, [f"s{i:02d}.tif" for i in range(4)])
    bad = data[2, :5] if odd == "shape" else data[2].astype(np.float32)
    tifffile.imwrite(tmp_path / "s" / "s02.tif", bad)
    with pytest.raises(InputError, match=r"slice s02\.tif is .* the first slice s00\.tif is 7x6 uint16") \
            as info:
        open_tiff_folder(tmp_path / "s", voxel_size=1)
    assert "\n" not in str(info.value)


def test_empty_folder_and_missing_voxel_size(tmp_path: Path) -> None:
    (tmp_path / "e").mkdir()
    with pytest.raises(InputError, match="no .tif/.tiff files"):
        open_tiff_folder(tmp_path / "e", voxel_size=1)
    _slices(tmp_path / "s", _stack((2, 3, 3)), ["a.tif", "b.tif"])
    with pytest.raises(OptionError, match="voxel_size"):
        open_tiff_folder(tmp_path / "s")


def _grid(shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> Grid:
    return Grid(shape, np.diag([*spacing, 1.0]))


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "float32", "uint32", "float64"])
def test_write_tiff_round_trip(tmp_path: Path, dtype: str) -> None:
    vol = _ours(_stack((11, 6, 7), dtype))  # [x, y, z] = (7, 6, 11)
    grid = _grid(vol.shape, (0.002, 0.003, 0.005))
    calls: list[tuple[int, int, int]] = []

    def slab_fn(volume: int, z0: int, z1: int) -> np.ndarray:
        calls.append((volume, z0, z1))
        return vol[:, :, z0:z1]

    out = write_tiff(tmp_path / "o.tif", grid=grid, dtype=vol.dtype, slab_fn=slab_fn,
                     slabs=[(0, 4), (4, 8), (8, 11)])
    assert calls == [(0, 0, 4), (0, 4, 8), (0, 8, 11)]
    with tifffile.TiffFile(out) as tif:
        np.testing.assert_array_equal(tif.asarray(), np.transpose(vol, (2, 1, 0)))
        assert tif.series[0].dtype == np.dtype(dtype)
        if tif.is_imagej:  # Fiji reads the scale from these
            meta = tif.imagej_metadata
            assert meta["unit"] == "um"
            assert meta["spacing"] == pytest.approx(5.0)
            xres, yres = tif.pages.first.resolution
            assert (1 / xres, 1 / yres) == pytest.approx((2.0, 3.0), rel=1e-6)
        else:
            assert dtype in ("uint32", "float64") and tif.is_ome
            assert 'PhysicalSizeZ="5.0"' in tif.ome_metadata
    assert [p.name for p in tmp_path.iterdir()] == ["o.tif"]  # no temporary left
    with open_tiff(out) as back:
        np.testing.assert_array_equal(back.read_volume(), vol)
        np.testing.assert_allclose(back.grid.spacing, grid.spacing, rtol=1e-6)


def test_write_bigtiff_over_the_limit_uses_ome(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_tiff_write, "_BIGTIFF_BYTES", 100)
    vol = _ours(_stack((5, 6, 7), "uint16"))
    out = write_tiff(tmp_path / "b.tif", grid=_grid(vol.shape, (0.001, 0.001, 0.004)), dtype=vol.dtype,
                     slab_fn=lambda v, z0, z1: vol[:, :, z0:z1])
    with tifffile.TiffFile(out) as tif:
        assert tif.is_bigtiff and tif.is_ome
        np.testing.assert_array_equal(tif.asarray(), np.transpose(vol, (2, 1, 0)))
    with open_tiff(out) as back:
        np.testing.assert_allclose(back.grid.spacing, [0.001, 0.001, 0.004], rtol=1e-9)


def test_write_4d_as_time_points(tmp_path: Path) -> None:
    vols = np.stack([_ours(_stack((4, 3, 5), "float32")) + 1000 * t for t in range(2)], axis=-1)
    out = write_tiff(tmp_path / "t.tif", grid=_grid(vols.shape[:3], (1, 1, 1)), dtype=vols.dtype,
                     extra_shape=(2,), slab_fn=lambda v, z0, z1: vols[:, :, z0:z1, v])
    with tifffile.TiffFile(out) as tif:
        assert tif.series[0].axes == "TZYX"
        np.testing.assert_array_equal(tif.asarray(), np.transpose(vols, (3, 2, 1, 0)))


def test_write_slices_folder_round_trip(tmp_path: Path) -> None:
    vol = _ours(_stack((12, 4, 5), "uint32"))
    grid = _grid(vol.shape, (0.01, 0.02, 0.05))
    target = tmp_path / "out"
    write_tiff(target, grid=grid, dtype=vol.dtype, slices=True, slab_fn=lambda v, z0, z1: vol[:, :, z0:z1])
    names = sorted(p.name for p in target.iterdir())
    assert names[0] == "slice_0000.tif" and len(names) == 12
    np.testing.assert_array_equal(tifffile.imread(target / "slice_0011.tif"), vol[:, :, 11].T)
    with open_tiff_folder(target) as back:
        np.testing.assert_array_equal(back.read_volume(), vol)
        np.testing.assert_allclose(back.grid.spacing, grid.spacing, rtol=1e-6)
    with pytest.raises(OutputExistsError):
        write_tiff(target, grid=grid, dtype=vol.dtype, slices=True, slab_fn=lambda v, z0, z1: vol[:, :, z0:z1])
    write_tiff(target, grid=grid, dtype=vol.dtype, slices=True, overwrite=True,
               slab_fn=lambda v, z0, z1: vol[:, :, z0:z1] * 0)
    assert not tifffile.imread(target / "slice_0003.tif").any()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    vol = _ours(_stack((6, 4, 5)))

    def failing(v: int, z0: int, z1: int) -> np.ndarray:
        if z0 >= 3:
            raise RuntimeError("engine failed")
        return vol[:, :, z0:z1]

    for slices in (False, True):
        with pytest.raises(RuntimeError, match="engine failed"):
            write_tiff(tmp_path / ("d" if slices else "f.tif"), grid=_grid(vol.shape, (1, 1, 1)),
                       dtype=vol.dtype, slab_fn=failing, slabs=[(0, 3), (3, 6)], slices=slices)
    assert list(tmp_path.iterdir()) == []


def test_write_refuses_existing_and_bad_extra(tmp_path: Path) -> None:
    vol = _ours(_stack((2, 2, 2)))
    (tmp_path / "x.tif").write_bytes(b"keep")
    with pytest.raises(OutputExistsError):
        write_tiff(tmp_path / "x.tif", grid=_grid(vol.shape, (1, 1, 1)), dtype=vol.dtype,
                   slab_fn=lambda v, z0, z1: vol[:, :, z0:z1])
    assert (tmp_path / "x.tif").read_bytes() == b"keep"
    with pytest.raises(OptionError, match="extra_shape") as info:
        write_tiff(tmp_path / "y", grid=_grid(vol.shape, (1, 1, 1)), dtype=vol.dtype, slices=True,
                   extra_shape=(2,), slab_fn=lambda v, z0, z1: vol[:, :, z0:z1])
    assert info.value.param == "extra_shape"
