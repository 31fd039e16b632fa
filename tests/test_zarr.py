"""OME-Zarr output and Zarr input (issue 5).

References are independent of our writer: zarr-python reads what we wrote,
``Grid.to_world`` checks the OME-NGFF transforms, a brute-force loop checks
the 2x2x2 majority/mean, nibabel-free synthetic patterns check voxel values.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from _stream_kw import write_output

from niresample_cli.core import _zarr_meta, _zarr_plan, _zarr_pyramid, _zarr_write
from niresample_cli.core.budget import plan_slabs
from niresample_cli.core.errors import (
    DiskSpaceError,
    HeaderError,
    InputError,
    OptionError,
    OutputError,
    OutputExistsError,
)
from niresample_cli.core.grid import Grid
from niresample_cli.core.io import open_image
from niresample_cli.core.stream import collect_output

zarr = pytest.importorskip("zarr")

OBLIQUE = np.array([[0.0, 0.0, 0.025, 1.0], [-0.025, 0.0, 0.0, 2.0], [0.0, -0.025, 0.0, 3.0],
                    [0.0, 0.0, 0.0, 1.0]])


class Pattern:
    """A picklable slab function: a deterministic label-like pattern.

    Voxel value depends on the global voxel index only, so any slab height
    gives the same volume.  ``fail_after`` raises (or interrupts) after that
    many calls, to simulate a crash mid-way.
    """

    def __init__(self, shape: tuple[int, int, int], dtype: str = "uint32", *,
                 fail_after: int | None = None, interrupt: bool = False) -> None:
        self.shape = shape
        self.dtype = dtype
        self.fail_after = fail_after
        self.interrupt = interrupt
        self.calls: list[tuple[int, int, int]] = []

    def __getstate__(self) -> dict[str, object]:
        # Failure injection is not part of what is computed: keep it out of the
        # pickle, hence out of the resume fingerprint.
        state = dict(self.__dict__)
        state.update(calls=[], fail_after=None, interrupt=False)
        return state

    def __call__(self, volume: int, z0: int, z1: int) -> np.ndarray:
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            if self.interrupt:
                raise KeyboardInterrupt
            raise RuntimeError("simulated failure")
        self.calls.append((volume, z0, z1))
        nx, ny, _ = self.shape
        x = np.arange(nx)[:, None, None]
        y = np.arange(ny)[None, :, None]
        z = np.arange(z0, z1)[None, None, :]
        vals = (x // 7 + (y // 5) * 3 + (z // 3) * 11 + volume * 1000) % 650
        if np.dtype(self.dtype).kind == "f":
            vals = vals * 0.5 + np.sin(x + y * 0.1 + z * 0.01)
        return np.asfortranarray(vals.astype(self.dtype))


def _write(path: Path, shape=(60, 50, 40), affine=OBLIQUE, extra=(), dtype="uint32", fn=None,
           **kw):
    grid = Grid(shape, affine)
    fn = fn if fn is not None else Pattern(shape, dtype)
    slabs = plan_slabs(shape[2], shape[0] * shape[1] * 16, 1 << 20)
    write_output(path, grid=grid, extra_shape=extra, dtype=np.dtype(dtype), slab_fn=fn,
                 slabs=slabs, **kw)
    ref = collect_output(grid=grid, extra_shape=extra, dtype=np.dtype(dtype),
                         slab_fn=Pattern(shape, dtype), slabs=[(0, shape[2])])
    return grid, ref


def _zarr_level(path: Path, level: int = 0) -> np.ndarray:
    """Read a level with zarr-python and put it in NIfTI order (x, y, z, ...)."""
    arr = np.asarray(zarr.open_array(store=str(path / str(level)), mode="r")[...])
    return np.moveaxis(arr, list(range(arr.ndim)), list(range(arr.ndim))[::-1]) if arr.ndim == 3 \
        else np.transpose(arr, (arr.ndim - 1, arr.ndim - 2, arr.ndim - 3, *range(arr.ndim - 3)))


def _no_temporaries(directory: Path) -> bool:
    return not any(".niresample-" in p.name for p in directory.iterdir())


def test_roundtrip_values_grid_and_zarr_reader(tmp_path: Path) -> None:
    out = tmp_path / "out.ome.zarr"
    grid, ref = _write(out, chunks=16, jobs=2)
    assert np.array_equal(_zarr_level(out), ref)
    with open_image(out) as img:
        assert img.fmt == "zarr"
        assert img.grid.shape == grid.shape
        assert np.array_equal(img.grid.affine, grid.affine)
        assert np.array_equal(img.read_volume(), ref)
        assert np.array_equal(img.read_slab(7, 29), ref[:, :, 7:29])
        assert np.array_equal(img.read_slab(3, 9, x=slice(5, 17), y=slice(2, 40)),
                              ref[5:17, 2:40, 3:9])
        assert int(img.header["sform_code"]) == 1
    assert _no_temporaries(tmp_path)
    assert not (out / ".niresample").exists()


def test_slab_height_does_not_matter(tmp_path: Path) -> None:
    a, b = tmp_path / "a.zarr", tmp_path / "b.zarr"
    shape = (40, 30, 33)
    _write(a, shape=shape, chunks=8, max_memory="16M")
    _write(b, shape=shape, chunks=(8, 8, 32), jobs=1)
    assert np.array_equal(_zarr_level(a), _zarr_level(b))


def test_chunks_default_and_explicit(tmp_path: Path) -> None:
    out = tmp_path / "c.zarr"
    _write(out, shape=(150, 40, 140))
    meta = json.loads((out / "0" / ".zarray").read_text())
    assert meta["chunks"] == [128, 40, 128]  # (z, y, x), capped by the shape
    assert meta["zarr_format"] == 2 and meta["compressor"]["cname"] == "zstd"
    out2 = tmp_path / "d.zarr"
    _write(out2, shape=(30, 20, 10), chunks=(16, 8, 4))
    assert json.loads((out2 / "0" / ".zarray").read_text())["chunks"] == [4, 8, 16]


def test_chunk_depth_lowered_to_fit_memory() -> None:
    # 2280 x 1600 uint32 slices (Allen at 5 um): 128 of them are 1.9 GB per task.
    cx, cy, cz = _zarr_plan.plan_chunks(None, (2280, 1600, 2640), 4, 1 << 30, 2, 3 * 2280 * 1600 * 4)
    assert (cx, cy) == (128, 128)
    assert 2 * cz * 2280 * 1600 * 4 <= (1 << 30) / 2
    with pytest.raises(OptionError, match="^chunks: .*max_memory allows") as err:
        _zarr_plan.plan_chunks(128, (2280, 1600, 2640), 4, 1 << 30, 2, 1.0)
    assert err.value.param == "chunks"


def test_ngff_transforms_map_voxels_to_world(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    affine = np.diag([0.5, 0.75, 2.0, 1.0])
    affine[:3, 3] = [-10.0, 4.5, 7.25]
    out = tmp_path / "w.ome.zarr"
    grid, _ = _write(out, shape=(20, 18, 16), affine=affine, pyramid=2)
    attrs = json.loads((out / ".zattrs").read_text())
    ms = attrs["multiscales"][0]
    assert ms["version"] == "0.4"
    assert [a["name"] for a in ms["axes"]] == ["z", "y", "x"]
    assert all(a["unit"] == "millimeter" and a["type"] == "space" for a in ms["axes"])
    for level, ds in enumerate(ms["datasets"]):
        scale = np.asarray(ds["coordinateTransformations"][0]["scale"])[::-1]
        trans = np.asarray(ds["coordinateTransformations"][1]["translation"])[::-1]
        f = 2 ** level
        for ijk in rng.integers(0, 8, size=(5, 3)):
            # level voxel ijk is the centre of level-0 voxels f*ijk .. f*ijk + f - 1
            centre0 = f * ijk + (f - 1) / 2
            assert np.allclose(trans + scale * ijk, grid.to_world(centre0))


def test_ngff_translation_in_image_frame_for_rotated_grid(tmp_path: Path) -> None:
    out = tmp_path / "r.zarr"
    grid, _ = _write(out, shape=(10, 12, 14), affine=OBLIQUE)
    ds = json.loads((out / ".zattrs").read_text())["multiscales"][0]["datasets"][0]
    scale = np.asarray(ds["coordinateTransformations"][0]["scale"])[::-1]
    trans = np.asarray(ds["coordinateTransformations"][1]["translation"])[::-1]
    assert np.allclose(scale, grid.spacing)
    # Rotating the NGFF frame by the direction gives world coordinates back.
    ijk = np.array([3.0, 5.0, 7.0])
    assert np.allclose(grid.direction @ (trans + scale * ijk), grid.to_world(ijk))


def _brute_downsample(block: np.ndarray, method: str) -> np.ndarray:
    out_shape = tuple((n + 1) // 2 for n in block.shape)
    out = np.empty(out_shape, dtype=block.dtype)
    for i, j, k in np.ndindex(out_shape):
        vals = block[2 * i: 2 * i + 2, 2 * j: 2 * j + 2, 2 * k: 2 * k + 2].ravel()
        if method == "mean":
            out[i, j, k] = vals.mean()
        else:
            counts = Counter(vals.tolist())
            best = max(counts.values())
            out[i, j, k] = next(v for v in vals.tolist() if counts[v] == best)
    return out


@pytest.mark.parametrize("shape", [(6, 4, 8), (5, 7, 3), (1, 2, 9)])
def test_downsample_majority_matches_brute_force(shape: tuple[int, int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    block = rng.choice(np.array([0, 3, 17, 650], dtype=np.uint32), size=shape)
    got = _zarr_pyramid.downsample2(block, method="majority")
    if all(n % 2 == 0 for n in shape):
        assert np.array_equal(got, _brute_downsample(block, "majority"))
    assert set(np.unique(got)) <= set(np.unique(block))


def test_downsample_mean_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    block = rng.normal(size=(6, 4, 10)).astype(np.float32)
    assert np.allclose(_zarr_pyramid.downsample2(block, method="mean"),
                       _brute_downsample(block, "mean"), atol=1e-6)
    odd = rng.normal(size=(5, 3, 7))
    got = _zarr_pyramid.downsample2(odd, method="mean")
    assert np.isclose(got[-1, -1, -1], odd[4, 2, 6])  # a lone corner voxel is its own mean
    assert np.isclose(got[0, -1, 0], odd[0:2, 2, 0:2].mean())


def test_label_pyramid_never_invents_labels(tmp_path: Path) -> None:
    out = tmp_path / "p.ome.zarr"
    _, ref = _write(out, shape=(37, 30, 25), pyramid=3, chunks=8)
    labels = set(np.unique(ref).tolist())
    shapes = [(37, 30, 25), (19, 15, 13), (10, 8, 7), (5, 4, 4)]
    for level, shape in enumerate(shapes):
        data = _zarr_level(out, level)
        assert data.shape == shape
        assert set(np.unique(data).tolist()) <= labels
    assert _zarr_meta.zarr_levels(out) == ["0", "1", "2", "3"]
    ms = json.loads((out / ".zattrs").read_text())["multiscales"][0]
    assert ms["type"] == "majority"


def test_pyramid_level_equals_block_majority_of_level0(tmp_path: Path) -> None:
    out = tmp_path / "q.zarr"
    _, ref = _write(out, shape=(24, 16, 20), pyramid=1, chunks=4)
    # independent of chunking: the 2x2x2 majority of the whole level 0
    assert np.array_equal(_zarr_level(out, 1), _brute_downsample(ref, "majority"))


def test_float_pyramid_is_mean(tmp_path: Path) -> None:
    out = tmp_path / "f.zarr"
    _, ref = _write(out, shape=(16, 12, 10), dtype="float32", pyramid=1, chunks=4)
    assert np.allclose(_zarr_level(out, 1), _brute_downsample(ref, "mean"), atol=1e-5)


def test_4d_output_has_time_axis(tmp_path: Path) -> None:
    out = tmp_path / "t.ome.zarr"
    grid = Grid((12, 10, 9), np.diag([2.0, 2.0, 2.0, 1.0]))
    fn = Pattern((12, 10, 9))
    write_output(out, grid=grid, extra_shape=(3,), dtype=np.dtype("uint32"), slab_fn=fn,
                 slabs=[(0, 4), (4, 9)], chunks=4)
    ms = json.loads((out / ".zattrs").read_text())["multiscales"][0]
    assert [a["name"] for a in ms["axes"]] == ["t", "z", "y", "x"]
    with open_image(out) as img:
        assert img.shape == (12, 10, 9, 3)
        for v in range(3):
            assert np.array_equal(img.read_volume(v), fn(v, 0, 9))


def test_too_many_axes_refused(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="at most 5 axes"):
        _write(tmp_path / "x.zarr", shape=(4, 4, 4), extra=(2, 2, 2))


def test_existing_target_refused_then_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "e.zarr"
    _write(out, shape=(8, 8, 8))
    with pytest.raises(OutputExistsError, match="overwrite=True") as err:
        _write(out, shape=(8, 8, 8))
    assert err.value.param == "overwrite"
    _write(out, shape=(10, 9, 8), overwrite=True)
    assert _zarr_level(out).shape == (10, 9, 8)
    assert _no_temporaries(tmp_path)


def test_failure_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "fail.ome.zarr"
    with pytest.raises(RuntimeError, match="simulated"):
        _write(out, shape=(20, 20, 40), chunks=4, jobs=1, fn=Pattern((20, 20, 40), fail_after=3))
    assert not out.exists()
    assert _no_temporaries(tmp_path)


def test_interrupted_run_resumes_and_skips_finished_rows(tmp_path: Path) -> None:
    out = tmp_path / "big.ome.zarr"
    shape = (20, 20, 40)
    first = Pattern(shape, fail_after=4, interrupt=True)
    with pytest.raises(KeyboardInterrupt):
        _write(out, shape=shape, chunks=4, jobs=1, fn=first, pyramid=1)
    assert not out.exists()
    partial = [p for p in tmp_path.iterdir() if ".niresample-" in p.name]
    assert len(partial) == 1
    done = sorted(p.name for p in (partial[0] / ".niresample" / "done" / "0").iterdir())
    assert len(done) == 4
    second = Pattern(shape)
    _, ref = _write(out, shape=shape, chunks=4, jobs=1, fn=second, pyramid=1, resume=True)
    assert np.array_equal(_zarr_level(out), ref)
    assert np.array_equal(_zarr_level(out, 1), _brute_downsample(ref, "majority"))
    recomputed = {z0 for _, z0, _ in second.calls}
    assert recomputed.isdisjoint(range(0, 16))  # rows 0..3 (z 0..15) were skipped
    assert _no_temporaries(tmp_path)


def test_resume_with_other_settings_refused(tmp_path: Path) -> None:
    out = tmp_path / "r.zarr"
    shape = (16, 16, 24)
    with pytest.raises(KeyboardInterrupt):
        _write(out, shape=shape, chunks=4, jobs=1, fn=Pattern(shape, fail_after=2, interrupt=True))
    with pytest.raises(OptionError, match="^resume: .*chunks") as err:
        _write(out, shape=shape, chunks=8, jobs=1, resume=True)
    assert err.value.param == "resume"
    # without resume the stale partial is dropped and the run starts over
    _, ref = _write(out, shape=shape, chunks=8, jobs=1)
    assert np.array_equal(_zarr_level(out), ref)
    assert _no_temporaries(tmp_path)


def test_disk_space_refused_with_needed_and_free(tmp_path: Path, monkeypatch) -> None:
    import shutil as _shutil

    real = _shutil.disk_usage
    monkeypatch.setattr(_shutil, "disk_usage",
                        lambda p: real(p)._replace(free=1000))
    with pytest.raises(DiskSpaceError, match=r"needs .* free"):
        _write(tmp_path / "d.zarr", shape=(64, 64, 64))
    assert not (tmp_path / "d.zarr").exists()
    _write(tmp_path / "d.zarr", shape=(64, 64, 64), force=True)
    assert (tmp_path / "d.zarr" / ".zattrs").exists()


def test_zarr_input_from_another_writer(tmp_path: Path) -> None:
    """An OME-NGFF store without niresample's attributes: grid from scale/translation."""
    root = tmp_path / "foreign.ome.zarr"
    data = np.arange(5 * 6 * 7, dtype=np.int16).reshape(5, 6, 7)  # (z, y, x)
    g = zarr.open_group(store=str(root), mode="w", zarr_format=2)
    g.create_array("s0", data=data, chunks=(2, 3, 4))
    g.attrs["multiscales"] = [{
        "version": "0.4",
        "axes": [{"name": n, "type": "space", "unit": "micrometer"} for n in "zyx"],
        "datasets": [{"path": "s0", "coordinateTransformations": [
            {"type": "scale", "scale": [30.0, 20.0, 10.0]},
            {"type": "translation", "translation": [300.0, 200.0, 100.0]}]}],
    }]
    with open_image(root) as img:
        assert img.shape == (7, 6, 5)
        assert np.allclose(img.grid.spacing, [0.01, 0.02, 0.03])
        assert np.allclose(img.grid.to_world([0, 0, 0]), [0.1, 0.2, 0.3])
        assert np.array_equal(img.read_volume(), data.T)
        assert img.dtype == np.int16


def test_read_slab_touches_only_its_chunks(tmp_path: Path) -> None:
    out = tmp_path / "s.zarr"
    _, ref = _write(out, shape=(16, 16, 32), chunks=8)
    # Corrupt every chunk of z rows 2 and 3 (z 16..31): slabs above them still read.
    for zdir in ("2", "3"):
        for chunk in (out / "0" / zdir).rglob("*"):
            if chunk.is_file():
                chunk.write_bytes(b"garbage")
    with open_image(out) as img:
        assert np.array_equal(img.read_slab(0, 16), ref[:, :, :16])
        with pytest.raises(InputError):
            img.read_slab(10, 20)


def test_bad_zarr_inputs(tmp_path: Path) -> None:
    empty = tmp_path / "empty.zarr"
    empty.mkdir()
    with pytest.raises(InputError):
        open_image(empty)
    g = zarr.open_group(store=str(tmp_path / "flat.zarr"), mode="w", zarr_format=2)
    g.create_array("0", shape=(4, 4), dtype="uint8")
    g.attrs["multiscales"] = [{"version": "0.4", "axes": [{"name": "y", "type": "space"},
                                                          {"name": "x", "type": "space"}],
                               "datasets": [{"path": "0"}]}]
    with pytest.raises(HeaderError, match="axes"):
        open_image(tmp_path / "flat.zarr")


def test_target_checks(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        _zarr_write.check_zarr_target(tmp_path / "nope" / "x.zarr")
    f = tmp_path / "file.zarr"
    f.write_text("x")
    with pytest.raises(OutputError, match="not a Zarr directory"):
        _zarr_write.check_zarr_target(f, overwrite=True)


def test_another_live_run_is_not_clobbered(tmp_path: Path) -> None:
    out = tmp_path / "live.zarr"
    other = tmp_path / f".live.zarr.niresample-{os.getppid()}.part"
    other.mkdir()
    try:
        with pytest.raises(OutputError, match="another niresample run"):
            _write(out, shape=(8, 8, 8))
    finally:
        shutil.rmtree(other)


def test_chunks_from_text() -> None:
    assert _zarr_plan.as_chunks("64") == (64, 64, 64)
    assert _zarr_plan.as_chunks("64,32,16") == (64, 32, 16)
    assert _zarr_plan.as_chunks("8x8x4") == (8, 8, 4)
    for bad in ("a,b", "0", "1,2", (1, -2, 3)):
        with pytest.raises(OptionError, match="^chunks: ") as err:
            _zarr_plan.as_chunks(bad)  # type: ignore[arg-type]
        assert err.value.param == "chunks"


@pytest.mark.parametrize("command", [["labels", "--resolution", "0.6"], ["spacing", "--iso", "0.6"]])
def test_cli_writes_ome_zarr_equal_to_nifti(tmp_path: Path, command: list[str]) -> None:
    """`niresample labels|spacing IN OUT.ome.zarr` streams the same values as `.nii`."""
    import nibabel as nib
    from typer.testing import CliRunner

    from niresample_cli.app import app

    rng = np.random.default_rng(5)
    data = rng.integers(0, 6, size=(14, 12, 10)).astype(np.int16)
    affine = np.diag([1.0, 1.0, 1.5, 1.0])
    affine[:3, 3] = [-3.0, 2.0, 5.0]
    src = tmp_path / "in.nii.gz"
    img = nib.Nifti1Image(data, affine)
    img.set_sform(affine, code=1)
    nib.save(img, str(src))
    runner = CliRunner(env={"COLUMNS": "100", "TERM": "dumb"})
    name, *opts = command
    for out in ("o.nii", "o.ome.zarr"):
        r = runner.invoke(app, [name, str(src), str(tmp_path / out), "--quiet", *opts])
        assert r.exit_code == 0, r.output
    ref = nib.load(str(tmp_path / "o.nii"))
    with open_image(tmp_path / "o.ome.zarr") as z:
        assert np.array_equal(z.read_volume(scaled=False), np.asarray(ref.dataobj))
        assert np.allclose(z.grid.affine, ref.affine, atol=1e-6)
    r = runner.invoke(app, [name, str(src), str(tmp_path / "o.ome.zarr"), "--quiet", *opts])
    assert r.exit_code == 1 and "already exists" in r.output


def test_missing_zarr_extra_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib.util

    from niresample_cli.core._zarr_meta import require_zarr
    from niresample_cli.core.errors import DependencyError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "zarr" else real(name, *a))
    with pytest.raises(DependencyError, match=r"pip install 'niresample\[zarr\]'"):
        require_zarr()


@pytest.mark.parametrize("damage", ["affine", "datasets", "scale"])
def test_malformed_metadata_is_a_header_error(tmp_path: Path, damage: str) -> None:
    from niresample_cli.core.errors import HeaderError

    grid = Grid((8, 6, 4), np.diag([2.0, 2.0, 2.0, 1.0]))
    data = np.arange(8 * 6 * 4, dtype=np.float32).reshape(8, 6, 4)
    store = tmp_path / "m.ome.zarr"
    write_output(store, grid=grid, extra_shape=(), dtype=np.dtype(np.float32),
                 slab_fn=lambda v, z0, z1: data[:, :, z0:z1], slabs=[(0, 4)])
    attrs = json.loads((store / ".zattrs").read_text())
    if damage == "affine":
        attrs["niresample"]["affine"] = "garbage"
    else:
        del attrs["niresample"]
        ms = attrs["multiscales"][0]
        if damage == "datasets":
            ms["datasets"] = []
        else:
            ms["datasets"][0]["coordinateTransformations"] = [{"type": "scale", "scale": [1.0]}]
    (store / ".zattrs").write_text(json.dumps(attrs))
    with pytest.raises(HeaderError, match="malformed"):
        open_image(store)


def test_thin_outputs_fit_the_budget(tmp_path: Path) -> None:
    grid = Grid((16, 16, 2), np.eye(4))
    data = np.ones((16, 16, 2), np.float32)
    store = tmp_path / "thin.ome.zarr"
    write_output(store, grid=grid, extra_shape=(), dtype=np.dtype(np.float32), jobs=2,
                 slab_fn=lambda v, z0, z1: data[:, :, z0:z1], slabs=[(0, 2)])
    with open_image(store) as img:
        assert img.read_volume().shape == (16, 16, 2)
