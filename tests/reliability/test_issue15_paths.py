"""Issue 15, data loss: inputs are protected by file identity (symlinked folders, hard
links, the reference of ``--like``), a Zarr output never replaces a folder that is not
a store niresample could have written, ``--resume`` refuses a changed input, and a
mixed-case suffix written is read back."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from reltools import assert_one_line_error, cli, good_nifti

zarr = pytest.importorskip("zarr")


def _digest(path: Path) -> str:
    """A digest of a file or of every file of a folder (names and bytes)."""
    h = hashlib.sha256()
    if path.is_file():
        h.update(path.read_bytes())
        return h.hexdigest()
    for p in sorted(path.rglob("*")):
        h.update(str(p.relative_to(path)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """``real/`` with an input, and ``link -> real``."""
    real = tmp_path / "real"
    real.mkdir()
    good_nifti(real / "in.nii")
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    return real, tmp_path / "link"


# -- 1. path identity ---------------------------------------------------------------------

def test_zarr_input_through_symlinked_folder_is_not_overwritten(tree: tuple[Path, Path]) -> None:
    real, link = tree
    assert cli("spacing", real / "in.nii", real / "in.ome.zarr", "--iso", "3", "-q").exit_code == 0
    before = _digest(real / "in.ome.zarr")
    r = cli("spacing", link / "in.ome.zarr", real / "in.ome.zarr", "--iso", "4", "--overwrite")
    assert_one_line_error(r, "in.ome.zarr", "input")
    assert _digest(real / "in.ome.zarr") == before


@pytest.mark.parametrize("out_ext", [".nii.gz", ".ome.zarr"])
def test_output_into_an_input_zarr_store_refused(tree: tuple[Path, Path], out_ext: str) -> None:
    real, link = tree
    assert cli("spacing", real / "in.nii", real / "in.ome.zarr", "--iso", "3", "-q").exit_code == 0
    before = _digest(real / "in.ome.zarr")
    r = cli("spacing", real / "in.ome.zarr", link / "in.ome.zarr" / f"o{out_ext}", "--iso", "4")
    assert_one_line_error(r, "inside the input")
    assert _digest(real / "in.ome.zarr") == before


def test_like_reference_is_protected_through_a_symlinked_folder(tree: tuple[Path, Path]) -> None:
    real, link = tree
    labels = np.arange(8 * 9 * 10, dtype=np.uint8).reshape(8, 9, 10) % 5
    good_nifti(real / "lab.nii", labels)
    good_nifti(real / "ref.nii", labels)
    before = _digest(real / "ref.nii")
    for out in (real / "ref.nii", link / "ref.nii"):
        r = cli("labels", real / "lab.nii", out, "--like", real / "ref.nii", "--overwrite")
        assert_one_line_error(r, "ref.nii", "input")
    r = cli("spacing", real / "in.nii", link / "ref.nii", "--iso", "3", "--overwrite")
    assert r.exit_code == 0  # not a read path here: replacing it was asked for
    assert _digest(real / "ref.nii") != before


def test_hard_link_to_the_reference_is_protected(tmp_path: Path) -> None:
    labels = np.arange(8 * 9 * 10, dtype=np.uint8).reshape(8, 9, 10) % 5
    good_nifti(tmp_path / "lab.nii", labels)
    good_nifti(tmp_path / "ref.nii", labels)
    os.link(tmp_path / "ref.nii", tmp_path / "hard.nii")
    before = _digest(tmp_path / "ref.nii")
    r = cli("labels", tmp_path / "lab.nii", tmp_path / "hard.nii", "--like", tmp_path / "ref.nii",
            "--overwrite")
    assert_one_line_error(r, "hard.nii", "input")
    assert _digest(tmp_path / "ref.nii") == before


def test_batch_output_folder_symlinked_to_the_inputs(tree: tuple[Path, Path]) -> None:
    """``-o link`` where link -> the inputs' folder: a's output is b's input."""
    real, link = tree
    good_nifti(real / "in_resampled.nii")
    before = _digest(real / "in_resampled.nii")
    r = cli("spacing", real / "in.nii", real / "in_resampled.nii", "-o", link, "--iso", "3",
            "--overwrite", "--name", "{stem}_resampled.nii")
    assert r.exit_code != 0
    assert "replace an input" in r.stderr
    assert _digest(real / "in_resampled.nii") == before
    assert sorted(p.name for p in real.iterdir()) == ["in.nii", "in_resampled.nii"]


def test_batch_output_that_is_the_input_through_the_link(tree: tuple[Path, Path]) -> None:
    real, link = tree
    before = _digest(real / "in.nii")
    r = cli("spacing", real / "in.nii", "-o", link, "--iso", "3", "--overwrite", "--name", "{name}")
    assert r.exit_code != 0
    assert "replace an input" in r.stderr
    assert _digest(real / "in.nii") == before


# -- 2. a Zarr output replaces only a Zarr store --------------------------------------------

def test_zarr_output_folder_holding_the_input_is_kept(tmp_path: Path) -> None:
    store = tmp_path / "data.zarr"
    store.mkdir()
    good_nifti(store / "in.nii")
    before = _digest(store)
    r = cli("spacing", store / "in.nii", store, "--iso", "3", "--overwrite")
    assert_one_line_error(r, "data.zarr")
    assert _digest(store) == before


@pytest.mark.parametrize("content", ["notes", "group+notes", "subfolder"])
def test_zarr_output_over_a_folder_that_is_not_a_store_refused(tmp_path: Path, content: str) -> None:
    good_nifti(tmp_path / "in.nii")
    out = tmp_path / "out.zarr"
    out.mkdir()
    if "group" in content:
        (out / ".zgroup").write_text('{"zarr_format": 2}')
    if "notes" in content:
        (out / "notes.txt").write_text("my thesis")
    if content == "subfolder":
        (out / "raw").mkdir()
        (out / "raw" / "scan.dcm").write_bytes(b"\0" * 10)
    before = _digest(out)
    r = cli("spacing", tmp_path / "in.nii", out, "--iso", "3", "--overwrite")
    assert_one_line_error(r, "out.zarr", "not a Zarr store")
    assert _digest(out) == before


def test_zarr_output_replaces_its_own_store_and_an_empty_folder(tmp_path: Path) -> None:
    good_nifti(tmp_path / "in.nii")
    out = tmp_path / "out.ome.zarr"
    assert cli("spacing", tmp_path / "in.nii", out, "--iso", "3", "-q").exit_code == 0
    assert cli("spacing", tmp_path / "in.nii", out, "--iso", "4", "-q", "--overwrite").exit_code == 0
    assert zarr.open_group(str(out), mode="r")["0"].shape[-1] == 4  # 8 voxels of 2 mm at 4 mm
    empty = tmp_path / "empty.zarr"
    empty.mkdir()
    assert cli("spacing", tmp_path / "in.nii", empty, "--iso", "4", "-q", "--overwrite").exit_code == 0
    assert (empty / ".zattrs").exists()


# -- 3. resume refuses a changed input ----------------------------------------------------

class _Interrupting:
    """A slab function reading a file's bytes, interrupted after ``after`` calls."""

    def __init__(self, src: Path, after: int | None) -> None:
        self.src, self.after, self.calls = src, after, 0

    def __getstate__(self) -> dict[str, object]:
        return {"src": self.src, "after": None, "calls": 0}

    def __call__(self, volume: int, z0: int, z1: int) -> np.ndarray:
        if self.after is not None and self.calls >= self.after:
            raise KeyboardInterrupt
        self.calls += 1
        return np.full((8, 8, z1 - z0), self.src.read_bytes()[-1], dtype=np.uint8, order="F")


@pytest.mark.parametrize("change", ["content", "size"])
def test_resume_refuses_a_changed_input(tmp_path: Path, change: str) -> None:
    from _stream_kw import write_output

    from niresample_cli.core.errors import OptionError
    from niresample_cli.core.grid import Grid

    src = tmp_path / "in.nii"
    src.write_bytes(bytes(range(256)) * 64)
    out = tmp_path / "o.zarr"
    grid = Grid((8, 8, 16), np.eye(4))
    kw = dict(grid=grid, dtype=np.dtype("uint8"), slabs=[(0, 16)], chunks=4, jobs=1,
              inputs=(src,))
    with pytest.raises(KeyboardInterrupt):
        write_output(out, slab_fn=_Interrupting(src, 2), **kw)
    stat = src.stat()
    raw = bytearray(src.read_bytes())
    if change == "content":  # same size, same mtime: only the sampled bytes tell
        raw[100] ^= 0xFF
        src.write_bytes(bytes(raw))
        os.utime(src, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    else:
        src.write_bytes(bytes(raw) + b"\0")
    with pytest.raises(OptionError, match="resume: the input .*in.nii.* changed") as err:
        write_output(out, slab_fn=_Interrupting(src, None), resume=True, **kw)
    assert err.value.param == "resume"
    assert not out.exists()
    # unchanged input: resume works
    src.write_bytes(bytes(range(256)) * 64)
    out2 = tmp_path / "o2.zarr"
    with pytest.raises(KeyboardInterrupt):
        write_output(out2, slab_fn=_Interrupting(src, 2), **kw)
    write_output(out2, slab_fn=_Interrupting(src, None), resume=True, **kw)
    assert np.all(np.asarray(zarr.open_array(store=str(out2 / "0"), mode="r")[...]) == 255)


# -- 7. mixed-case suffixes ---------------------------------------------------------------

@pytest.mark.parametrize("name", ["q.Nii.Gz", "q.NII", "q.nii.GZ"])
def test_mixed_case_suffix_is_written_and_read_back(tmp_path: Path, name: str) -> None:
    src = good_nifti(tmp_path / "base.nii")
    out = tmp_path / name
    r = cli("spacing", src, out, "--iso", "3", "--compare")
    assert r.exit_code == 0, r.stderr
    raw = out.read_bytes()
    if name.lower().endswith(".gz"):
        assert raw[:2] == b"\x1f\x8b"
        raw = gzip.decompress(raw)
    img = nib.Nifti1Image.from_bytes(raw)  # nibabel reads what we wrote
    assert np.allclose(img.header.get_zooms()[:3], 3.0)
    r = cli("info", out)
    assert r.exit_code == 0, r.stderr
    r = cli("spacing", out, tmp_path / "back.nii", "--iso", "2")
    assert r.exit_code == 0, r.stderr
