"""Bad NRRD, TIFF and OME-Zarr inputs through the real CLI (issue 13): one line naming the
file and the problem, exit 1, no traceback, nothing written."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reltools import assert_one_line_error, cli, files_in

from niresample_cli.core.errors import NiresampleError
from niresample_cli.core.info import describe_image

nrrd = pytest.importorskip("nrrd")
tifffile = pytest.importorskip("tifffile")
pytest.importorskip("zarr")

_HEADER = ("NRRD0004\ntype: uint16\nendian: little\ndimension: 3\nspace: left-posterior-superior\n"
           "sizes: 6 5 4\nspace directions: (1,0,0) (0,1,0) (0,0,2)\nencoding: {enc}\n"
           "space origin: (0,0,0)\n\n")
_DATA = np.arange(6 * 5 * 4, dtype="<u2").tobytes()


def _nrrd(path: Path, data: bytes, enc: str = "raw", header: str = _HEADER) -> Path:
    path.write_bytes(header.format(enc=enc).encode() + data)
    return path


def _slices(folder: Path, shapes: list[tuple[int, int]], dtypes: list[str]) -> Path:
    folder.mkdir()
    for i, (shape, dtype) in enumerate(zip(shapes, dtypes, strict=True)):
        tifffile.imwrite(folder / f"s_{i}.tif", np.zeros(shape, dtype=dtype))
    return folder


def _no_multiscales(path: Path) -> Path:
    import zarr

    root = zarr.open_group(str(path), mode="w", zarr_format=2)
    root.create_array("0", shape=(4, 5, 6), dtype="uint8")
    return path


def _build(case: str, tmp: Path) -> tuple[Path, tuple[str, ...]]:
    if case == "nrrd_truncated_raw":
        return _nrrd(tmp / "t.nrrd", _DATA[:-50]), ("t.nrrd", "truncated")
    if case == "nrrd_truncated_gzip":
        return _nrrd(tmp / "tg.nrrd", gzip.compress(_DATA)[:-30], "gzip"), ("tg.nrrd", "truncated")
    if case == "nrrd_sizes_vs_data":
        return _nrrd(tmp / "s.nrrd", _DATA + b"\0" * 60), ("s.nrrd", "need 240 bytes")
    if case == "nrrd_gzip_sizes_vs_data":
        return (_nrrd(tmp / "sg.nrrd", gzip.compress(_DATA + b"\0" * 60), "gzip"),
                ("sg.nrrd", "need 240 bytes"))
    if case == "nrrd_bad_header":
        return _nrrd(tmp / "h.nrrd", _DATA, header="NRRD0004\ntype: uint16\n\n"), ("h.nrrd", "sizes")
    if case == "tiff_folder_shapes":
        return (_slices(tmp / "shapes", [(5, 6), (5, 6), (5, 7)], ["uint8"] * 3),
                ("shapes", "s_2.tif", "share shape and dtype"))
    if case == "tiff_folder_dtypes":
        return (_slices(tmp / "dtypes", [(5, 6), (5, 6)], ["uint8", "uint16"]),
                ("dtypes", "s_1.tif", "uint16"))
    if case == "tiff_no_voxel_size":
        tifffile.imwrite(tmp / "plain.tif", np.zeros((4, 5, 6), dtype="uint8"), photometric="minisblack")
        return tmp / "plain.tif", ("plain.tif", "--voxel-size")
    if case == "zarr_no_multiscales":
        return _no_multiscales(tmp / "nm.zarr"), ("nm.zarr", "multiscales")
    raise AssertionError(case)


CASES = ["nrrd_truncated_raw", "nrrd_truncated_gzip", "nrrd_sizes_vs_data", "nrrd_gzip_sizes_vs_data",
         "nrrd_bad_header", "tiff_folder_shapes", "tiff_folder_dtypes", "tiff_no_voxel_size",
         "zarr_no_multiscales"]
COMMANDS = {
    "info": lambda src, out: ["info", "--stats", src],
    "spacing": lambda src, out: ["spacing", src, out, "--iso", "1.5", "-q"],
    "labels": lambda src, out: ["labels", src, out, "--resolution", "1.5", "-q"],
    "compare": lambda src, out: ["compare", src, out.parent.parent / "good.nrrd"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("case", CASES)
def test_bad_format_gives_one_line_and_writes_nothing(case: str, command: str, tmp_path: Path) -> None:
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    src, words = _build(case, src_dir)
    _nrrd(tmp_path / "good.nrrd", _DATA)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    for out in (out_dir / "o.nii.gz", out_dir / "o.ome.zarr", out_dir / "o.tif"):
        r = cli(*COMMANDS[command](src, out))
        # a missing voxel size is a usage mistake (give --voxel-size): exit 2 (info: 1, per file)
        assert_one_line_error(r, *words, code=2 if case == "tiff_no_voxel_size" and command != "info" else 1)
        assert files_in(out_dir) == set(), "nothing may be written, not even a temporary"
        if command in ("info", "compare"):
            break


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, len(_HEADER) + 200), flips=st.lists(st.tuples(st.integers(0, 400),
                                                                        st.integers(1, 255)), max_size=4),
       enc=st.sampled_from(["raw", "gzip"]))
def test_fuzzed_nrrd_raises_only_niresample_errors(tmp_path: Path, cut: int,
                                                   flips: list[tuple[int, int]], enc: str) -> None:
    """Damaged NRRD files (cut anywhere, bytes flipped in header or data) either open and
    read in full, or raise one of niresample's errors: never another exception."""
    data = gzip.compress(_DATA) if enc == "gzip" else _DATA
    raw = bytearray(_HEADER.format(enc=enc).encode() + data)
    for pos, xor in flips:
        if pos < len(raw):
            raw[pos] ^= xor
    path = tmp_path / "f.nrrd"
    path.write_bytes(bytes(raw[: len(raw) - cut]) if cut else bytes(raw))
    try:
        describe_image(path, stats=True)
    except NiresampleError:
        pass
