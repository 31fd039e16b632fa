"""core.report: slice planes against nibabel's canonical reorientation and analytic
functions, PNG pixels at known world positions, the HTML report parsed and
rendered by a real browser, and bounded reads of a virtual 40 GB image."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from niresample_cli.core.compare import compare_images
from niresample_cli.core.errors import DependencyError, OptionError, OutputError
from niresample_cli.core.grid import Grid
from niresample_cli.core.io import SourceImage
from niresample_cli.core.report import fov_views, label_color, slice_planes, write_png, write_report

from conftest import random_rotation, write_nifti

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")

VERMILLION = (0xD5, 0x5E, 0x00)
SKY = (0x56, 0xB4, 0xE9)


def affine_for(order: tuple[int, int, int], signs: tuple[int, int, int], spacing: float = 2.0,
               shape: tuple[int, int, int] = (20, 24, 16)) -> np.ndarray:
    """Voxel axis v runs along world axis order[v] with sign signs[v], FOV centred on 0."""
    aff = np.zeros((4, 4))
    aff[3, 3] = 1
    for v, (w, s) in enumerate(zip(order, signs, strict=True)):
        aff[w, v] = s * spacing
    aff[:3, 3] = -aff[:3, :3] @ ((np.asarray(shape) - 1) / 2.0)
    return aff


STORAGE = {
    "RAS": ((0, 1, 2), (1, 1, 1)),
    "LAS": ((0, 1, 2), (-1, 1, 1)),
    "LPI": ((0, 1, 2), (-1, -1, -1)),
    "SRA": ((2, 0, 1), (1, 1, 1)),   # voxel axes stored as z, x, y
    "PIL": ((1, 2, 0), (-1, -1, -1)),
}


def canonical_planes(path: Path, center_mm: tuple[float, float, float]) -> dict[str, np.ndarray]:
    """The reference: nibabel's RAS reorientation, cut and laid out by hand."""
    import nibabel as nib

    img = nib.as_closest_canonical(nib.load(str(path)))
    data = np.asarray(img.dataobj)
    ijk = np.rint(np.linalg.solve(img.affine, [*center_mm, 1.0])[:3]).astype(int)
    # rows from superior (or anterior) down; columns from the patient's left to right,
    # or (sagittal) from anterior to posterior: the nose on the left, as MR displays show it
    return {"sagittal": data[ijk[0], ::-1, :].T[::-1, :],
            "coronal": data[:, ijk[1], :].T[::-1, :],
            "axial": data[:, :, ijk[2]].T[::-1, :]}


def block_volume(aff: np.ndarray, shape: tuple[int, int, int], world: tuple[float, float, float],
                 half_mm: float = 3.0) -> np.ndarray:
    """Zeros with 100s in the voxels within half_mm (per axis) of a world point."""
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1)
    xyz = ijk @ aff[:3, :3].T + aff[:3, 3]
    inside = np.all(np.abs(xyz - np.asarray(world)) <= half_mm, axis=-1)
    return np.where(inside, 100, 0).astype(np.int16)


# -- planes: orientation and sampling ---------------------------------------------
@pytest.mark.parametrize("storage", list(STORAGE))
def test_planes_match_nibabel_canonical_whatever_the_storage_order(tmp_path: Path, storage: str) -> None:
    order, signs = STORAGE[storage]
    shape = (20, 24, 16)
    aff = affine_for(order, signs, shape=shape)
    data = np.random.default_rng(1).integers(0, 50, size=shape).astype(np.int16)
    a = write_nifti(tmp_path / "a.nii.gz", data, aff)
    # b: the same voxels stored in RAS order (nibabel's own reorientation)
    import nibabel as nib

    canon = nib.as_closest_canonical(nib.load(str(a)))
    b = write_nifti(tmp_path / "b.nii.gz", np.asarray(canon.dataobj), canon.affine)
    planes = slice_planes(a, b, labels=True)
    assert [p.view for p in planes] == ["sagittal", "coronal", "axial"]
    ref = canonical_planes(a, planes[0].center_mm)
    letters = {"sagittal": ("A", "P", "S", "I"), "coronal": ("L", "R", "S", "I"),
               "axial": ("L", "R", "A", "P")}
    for p in planes:
        np.testing.assert_array_equal(p.a, ref[p.view])
        np.testing.assert_array_equal(p.b, ref[p.view])
        assert p.b_inside.all()
        assert (p.letters["left"], p.letters["right"], p.letters["top"], p.letters["bottom"]) == letters[p.view]


def test_bright_block_lands_on_the_patients_left(tmp_path: Path) -> None:
    # LAS storage: voxel i grows towards the patient's left; the block is at x = -10 mm.
    order, signs = STORAGE["LAS"]
    shape = (31, 31, 31)
    aff = affine_for(order, signs, spacing=1.0, shape=shape)
    a = write_nifti(tmp_path / "a.nii", block_volume(aff, shape, (-10.0, 8.0, 0.0)), aff)
    axial = slice_planes(a, a, labels=False)[2]
    rows, cols = np.nonzero(axial.a > 50)
    assert cols.max() < 15 and rows.max() < 15  # left half, anterior (upper) half
    # independent: world x of display column c is -15 + c, world y of row r is 15 - r
    assert np.allclose(-15 + cols.mean(), -10.0) and np.allclose(15 - rows.mean(), 8.0)


def test_linear_sampling_reproduces_a_world_ramp_on_a_rotated_grid(tmp_path: Path) -> None:
    def ramp(xyz: np.ndarray) -> np.ndarray:
        return 2.0 * xyz[..., 0] - 3.0 * xyz[..., 1] + 0.5 * xyz[..., 2] + 7.0

    a_aff = affine_for((0, 1, 2), (1, 1, 1), spacing=2.0, shape=(16, 18, 14))
    a = write_nifti(tmp_path / "a.nii", np.zeros((16, 18, 14), np.float32), a_aff)
    rot = random_rotation(np.random.default_rng(3))
    b_shape = (60, 60, 60)
    b_aff = np.eye(4)
    b_aff[:3, :3] = rot * 0.9
    b_aff[:3, 3] = -b_aff[:3, :3] @ ((np.asarray(b_shape) - 1) / 2.0) + [0.3, -0.2, 0.1]
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in b_shape], indexing="ij"), axis=-1)
    b = write_nifti(tmp_path / "b.nii", ramp(ijk @ b_aff[:3, :3].T + b_aff[:3, 3]), b_aff)
    for p in slice_planes(a, b, labels=False):
        # world position of every display pixel, from the letters' convention alone
        assert p.b_inside.all()
        rows, cols = np.indices(p.a.shape)
        across, up = {"sagittal": (1, 2), "coronal": (0, 2), "axial": (0, 1)}[p.view]
        xyz = np.tile(np.asarray(p.center_mm), (*p.a.shape, 1))
        right = cols if p.view != "sagittal" else p.a.shape[1] - 1 - cols  # A on the left
        xyz[..., across] = a_aff[across, 3] + right * 2.0
        xyz[..., up] = a_aff[up, 3] + (p.a.shape[0] - 1 - rows) * 2.0
        np.testing.assert_allclose(p.b, ramp(xyz), rtol=0, atol=1e-3)


# -- bounded memory: a virtual 40 GB b ----------------------------------------------
class LazyVolume:
    """A uint16 volume computed on demand from its indices; counts what is read."""

    def __init__(self, shape: tuple[int, int, int]) -> None:
        self.shape = shape
        self.reads: list[int] = []

    def __getitem__(self, slicer: tuple[slice, ...]) -> np.ndarray:
        idx = [np.arange(*s.indices(n)) for s, n in zip(slicer[:3], self.shape, strict=True)]
        self.reads.append(int(np.prod([len(i) for i in idx])))
        i, j, k = np.meshgrid(*idx, indexing="ij", sparse=True)
        return ((i // 500) + 10 * (j // 500) + 100 * (k // 250)).astype(np.uint16) + 1


@pytest.mark.parametrize("rotated", [False, True])
def test_planes_of_a_virtual_40gb_image_read_only_small_boxes(tmp_path: Path, rotated: bool) -> None:
    shape = (4000, 4000, 1250)  # 40 GB of uint16
    b_aff = np.diag([0.05, 0.05, 0.16, 1.0])
    b_aff[:3, 3] = -b_aff[:3, :3] @ ((np.asarray(shape) - 1) / 2.0)
    lazy = LazyVolume(shape)
    b = SourceImage(path=tmp_path / "virtual.nii", grid=Grid(shape, b_aff), shape=shape,
                    dtype=np.dtype(np.uint16), slope=1.0, inter=0.0, header=None, fmt="nifti1",
                    _dataobj=lazy)
    a_aff = np.diag([2.0, 2.0, 2.0, 1.0])
    if rotated:
        a_aff[:3, :3] = random_rotation(np.random.default_rng(5)) * 2.0
    a_aff[:3, 3] = -a_aff[:3, :3] @ np.full(3, 24.5)
    a = write_nifti(tmp_path / "a.nii", np.ones((50, 50, 50), np.uint8), a_aff)
    planes = slice_planes(a, b, labels=True, max_memory="16M")
    budget = 16 << 20
    assert max(lazy.reads) <= budget // 2
    assert sum(lazy.reads) < 2e-3 * np.prod(shape, dtype=np.float64)  # well under 0.2 % of b
    # and the values are b's: the block id at each point's nearest voxel of b
    for p in planes:
        assert p.b_inside.any()
        vals = p.b[p.b_inside]
        found = set(np.unique(vals).tolist())
        assert len(found) > 3
        assert found <= {1 + x + 10 * y + 100 * z for x in range(8) for y in range(8) for z in range(5)}


# -- PNG pixels ----------------------------------------------------------------------
def png_rgb(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_png_pixel_is_bright_where_the_block_is(tmp_path: Path) -> None:
    order, signs = STORAGE["PIL"]
    shape = (31, 31, 31)
    aff = affine_for(order, signs, spacing=1.0, shape=shape)
    data = block_volume(aff, shape, (-8.0, 6.0, 4.0)) + 10  # left, anterior, superior
    a = write_nifti(tmp_path / "a.nii", data, aff)
    boxes = write_png(a, a, tmp_path / "s.png", labels=False, center=(-8.0, 6.0, 4.0), dpi=80)
    rgb = png_rgb((tmp_path / "s.png").read_bytes()).astype(int)
    # FOV is -15.5 .. 15.5 mm on every axis; a display fraction from a world coordinate:
    def frac(v: float) -> float:
        return (v + 15.5) / 31.0

    where = {"axial": (frac(-8.0), 1 - frac(6.0)), "coronal": (frac(-8.0), 1 - frac(4.0)),
             "sagittal": (1 - frac(6.0), 1 - frac(4.0))}  # anterior on the left
    for view, (fx, fy) in where.items():
        x0, y0, x1, y1 = boxes[f"{view}/a"]
        px, py = round(x0 + fx * (x1 - x0)), round(y0 + fy * (y1 - y0))
        assert rgb[py, px].min() > 200, (view, rgb[py, px])
        mx = round(x0 + (1 - fx) * (x1 - x0))  # mirrored across the midline: dark
        assert rgb[py, mx].max() < 60, (view, rgb[py, mx])


def test_lost_and_new_labels_are_highlighted_in_the_slices(tmp_path: Path) -> None:
    shape = (24, 24, 24)
    data = np.zeros(shape, np.uint8)
    data[2:12, 2:22, 2:22], data[12:22, 2:22, 2:22] = 1, 2
    data[8:16, 8:16, 8:16] = 3
    b_data = np.where(data == 3, 1, data).astype(np.uint8)  # 3 is lost...
    b_data[14:20, 4:10, 4:20] = 4  # ... and 4 is new
    a = write_nifti(tmp_path / "a.nii.gz", data)
    b = write_nifti(tmp_path / "b.nii.gz", b_data)
    report = compare_images(a, b)
    assert report["labels"]["lost"] == [3] and report["labels"]["new"] == [4]
    boxes = write_png(a, b, tmp_path / "l.png", report=report, dpi=80)
    rgb = png_rgb((tmp_path / "l.png").read_bytes()).astype(int)
    x0, y0, x1, y1 = boxes["axial/diff"]
    panel = rgb[y0:y1, x0:x1]
    for colour in (VERMILLION, SKY):
        assert (np.abs(panel - colour).max(axis=-1) < 8).sum() > 100, colour
    out = tmp_path / "r.html"
    write_report(a, b, out, report=report)
    page = out.read_text()
    assert '<span class="ids" id="lost-labels">3</span>' in page
    assert '<span class="ids" id="new-labels">4</span>' in page


def test_label_colours_are_stable_across_processes() -> None:
    ids = [1, 2, 17, 255, 1000, 2**40]
    here = [label_color(i) for i in ids]
    code = ("from niresample_cli.core.report import label_color\n"
            f"print([label_color(i) for i in {ids!r}])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123", "PATH": ""})
    assert out.stdout.strip() == str(here)
    assert label_color(0) == (0.0, 0.0, 0.0)
    assert len(set(label_color(i) for i in range(1, 200))) == 199
    assert all(0 <= c <= 1 for i in ids for c in label_color(i))


# -- the HTML report -----------------------------------------------------------------
class Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[dict[str, Any]] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "img":
            self.imgs.append(dict(attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def shifted_pair(tmp_path: Path, name: str = "a.nii.gz") -> tuple[Path, Path]:
    """b: a's voxels with the affine moved by half a voxel (1 mm) along x."""
    aff = affine_for((0, 1, 2), (-1, 1, 1), spacing=2.0, shape=(20, 24, 16))
    data = np.random.default_rng(2).normal(100, 20, size=(20, 24, 16)).astype(np.float32)
    b_aff = aff.copy()
    b_aff[0, 3] += 1.0
    return write_nifti(tmp_path / name, data, aff), write_nifti(tmp_path / "b.nii.gz", data, b_aff)


def test_html_parses_and_every_image_is_an_embedded_png(tmp_path: Path) -> None:
    a, b = shifted_pair(tmp_path, "a<b>&.nii.gz")
    out = tmp_path / "report.html"
    write_report(a, b, out, fail_on=["fov-shift"])
    page = out.read_text(encoding="utf-8")
    parser = Collect()
    parser.feed(page)
    parser.close()
    assert len(parser.imgs) >= 2
    for img in parser.imgs:
        src = img["src"]
        assert src.startswith("data:image/png;base64,")
        raw = base64.b64decode(src.split(",", 1)[1], validate=True)
        Image.open(io.BytesIO(raw)).verify()
        assert img.get("alt")
    assert "script" not in parser.tags and "link" not in parser.tags
    assert "http://" not in page and "https://" not in page
    assert "a&lt;b&gt;&amp;.nii.gz" in page and "a<b>&" not in page
    text = " ".join(parser.text)
    assert "checks failed" in text and "fov-shift: FOV centre moved 1 mm" in text
    assert not list(tmp_path.glob(".report.html.*"))  # no temporary file left


def test_half_voxel_shift_is_drawn_and_reported(tmp_path: Path) -> None:
    a, b = shifted_pair(tmp_path)
    report = compare_images(a, b)
    views = {v.view: v for v in fov_views(report)}
    for name in ("coronal", "axial"):  # the views that show x
        v = views[name]
        np.testing.assert_allclose(v.b[:, 0].min() - v.a[:, 0].min(), 1.0, atol=1e-9)
        np.testing.assert_allclose(v.b[:, 0].max() - v.a[:, 0].max(), 1.0, atol=1e-9)
        np.testing.assert_allclose(v.b_center - v.a_center, [1.0, 0.0], atol=1e-9)
        np.testing.assert_allclose(v.a[:, 0].max() - v.a[:, 0].min(), 40.0)  # to scale: 20 x 2 mm
    np.testing.assert_allclose(views["sagittal"].b, views["sagittal"].a, atol=1e-9)
    assert views["sagittal"].flip_x and views["sagittal"].letters["left"] == "A"  # as its slices
    out = tmp_path / "r.html"
    write_report(a, b, out, report=report)
    parser = Collect()
    parser.feed(out.read_text())
    text = " ".join(parser.text)
    # x is a's voxel axis i (LAS: i runs to the left), so both i edges move by -1 mm = -0.5 voxel
    assert "1 mm" in text and "(1, 0, 0) mm" in text
    assert "(-0.5, 0, 0) voxels of a" in text
    # the edge table names the direction a's axis i runs, so -1 mm reads as a move to the right
    assert "i (→L)" in parser.text and "j (→A)" in parser.text


def test_options_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = shifted_pair(tmp_path)
    with pytest.raises(OptionError, match="center"):
        slice_planes(a, b, center=(1.0, 2.0))
    with pytest.raises(OptionError, match="labels"):
        slice_planes(a, b, labels="yes")  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="top_labels"):
        write_report(a, b, tmp_path / "r.html", top_labels=0)
    with pytest.raises(OutputError):
        write_png(a, b, tmp_path / "missing" / "x.png")
    # a is LAS, 2 mm: x = 19 - 2i, y = 2j - 23, z = 2k - 15
    assert [q.index for q in slice_planes(a, b, center=(-11.0, 5.0, 3.0))] == [15, 14, 9]
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(DependencyError, match=r"niresample\[report\]") as err:
        write_png(a, b, tmp_path / "x.png")
    assert err.value.param == "report"


def test_importing_report_does_not_import_matplotlib() -> None:
    code = ("import sys\nimport niresample_cli.core.report\n"
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- a real browser ------------------------------------------------------------------
def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="Chromium not installed (Debian package: chromium)")
def test_chromium_renders_the_report(tmp_path: Path) -> None:
    shape = (40, 48, 36)
    data = np.zeros(shape, np.uint8)
    i, j, k = np.indices(shape)
    ball = (i - 20) ** 2 + (j - 24) ** 2 + (k - 18) ** 2 < 300
    data[ball] = 1 + i[ball] // 5
    a = write_nifti(tmp_path / "a.nii.gz", data)
    b = write_nifti(tmp_path / "b.nii.gz", np.where(data == 3, 0, data).astype(np.uint8))
    page = tmp_path / "report.html"
    write_report(a, b, page, fail_on=["lost-labels"])
    shot = tmp_path / "shot.png"
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           f"--screenshot={shot}", "--window-size=1200,2000", page.resolve().as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert shot.exists(), "Chromium wrote no screenshot"
    rgb = png_rgb(shot.read_bytes()).astype(int)
    assert rgb.shape[:2] == (2000, 1200)
    assert rgb.std() > 20  # not blank
    # the figures are the only saturated colour on the page: broken images would leave
    # alt text and tables only
    saturated = (rgb.max(axis=-1) - rgb.min(axis=-1)) > 60
    assert saturated.mean() > 0.01


# -- the embedded figures, read back from the page ----------------------------------
def embedded_imgs(page: Path) -> list[dict[str, Any]]:
    parser = Collect()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.imgs


def embedded_pngs(page: Path) -> dict[str, np.ndarray]:
    """The page's images by alt text, decoded from their data: URIs."""
    out = {}
    for img in embedded_imgs(page):
        raw = base64.b64decode(img["src"].split(",", 1)[1], validate=True)
        out[img["alt"]] = png_rgb(raw).astype(int)
    return out


def test_embedded_slice_figure_is_bright_at_the_blocks_voxels(tmp_path: Path) -> None:
    # Stored SRA (voxel axes z, x, y): the block's voxels are found through the affine alone.
    order, signs = STORAGE["SRA"]
    shape = (31, 31, 31)
    aff = affine_for(order, signs, spacing=1.0, shape=shape)
    data = block_volume(aff, shape, (7.0, -5.0, -9.0)) + 10  # right, posterior, inferior
    a = write_nifti(tmp_path / "a.nii", data, aff)
    page = tmp_path / "r.html"
    write_report(a, a, page, labels=False, center=(7.0, -5.0, -9.0), dpi=80)
    # the layout of the embedded figure is write_png's (same planes, same dpi)
    boxes = write_png(a, a, tmp_path / "s.png", labels=False, center=(7.0, -5.0, -9.0), dpi=80)
    rgb = embedded_pngs(page)["a and b in three orthogonal planes"]
    assert rgb.shape == png_rgb((tmp_path / "s.png").read_bytes()).shape

    def frac(v: float) -> float:  # FOV -15.5 .. 15.5 mm on every axis
        return (v + 15.5) / 31.0

    where = {"axial": (frac(7.0), 1 - frac(-5.0)), "coronal": (frac(7.0), 1 - frac(-9.0)),
             "sagittal": (1 - frac(-5.0), 1 - frac(-9.0))}  # anterior on the left
    for view, (fx, fy) in where.items():
        for panel in ("a", "b"):
            x0, y0, x1, y1 = boxes[f"{view}/{panel}"]
            py = round(y0 + fy * (y1 - y0))
            assert rgb[py, round(x0 + fx * (x1 - x0))].min() > 200, (view, panel)
            assert rgb[py, round(x0 + (1 - fx) * (x1 - x0))].max() < 60, (view, panel)  # mirrored: dark


def test_half_voxel_shift_is_visible_in_the_embedded_fov_drawing(tmp_path: Path) -> None:
    a, b = shifted_pair(tmp_path)  # b: 1 mm (half a voxel) towards +x; a's FOV is 40 mm along x
    page = tmp_path / "r.html"
    write_report(a, b, page)
    rgb = embedded_pngs(page)["the FOV boxes of a and b"]
    h, w, _ = rgb.shape
    band = rgb[h // 3: h // 2]  # rows through the boxes' middles, below the legend

    def columns(colour: str, k: int) -> tuple[int, int]:
        rgb_c = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
        hits = np.flatnonzero((np.abs(band[:, k * w // 3:(k + 1) * w // 3] - rgb_c).max(-1) < 40).any(0))
        return k * w // 3 + int(hits.min()), k * w // 3 + int(hits.max())

    blue, orange = "#0072B2", "#E69F00"  # a solid, b dashed
    for k, view in enumerate(("sagittal", "coronal", "axial")):
        (a_lo, a_hi), (b_lo, b_hi) = columns(blue, k), columns(orange, k)
        mm = (a_hi - a_lo) / (40.0 if view != "sagittal" else 48.0)  # pixels per mm
        expect = 0.0 if view == "sagittal" else 1.0  # the sagittal view does not show x
        assert mm > 4  # a 1 mm shift is at least 4 pixels: visible
        for moved in (b_lo - a_lo, b_hi - a_hi):
            assert abs(moved / mm - expect) < 0.35, (view, moved, mm)


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="Chromium not installed (Debian package: chromium)")
def test_chromium_loads_every_image(tmp_path: Path) -> None:
    a, b = shifted_pair(tmp_path)
    page = tmp_path / "report.html"
    write_report(a, b, page, labels=False, fail_on=["fov-shift"])
    sizes = [Image.open(io.BytesIO(base64.b64decode(img["src"].split(",", 1)[1]))).size
             for img in embedded_imgs(page)]
    # A copy of the page with a probe: the report itself has no script.
    probe = ("<script>addEventListener('load',()=>document.body.insertAdjacentHTML('beforeend',"
             "'<pre id=probe>'+JSON.stringify([...document.images].map(i=>[i.complete,"
             "i.naturalWidth,i.naturalHeight]))+'</pre>'))</script></body>")
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", probe), encoding="utf-8")
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
           "--virtual-time-budget=10000", probed.resolve().as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom)
    assert found, "Chromium ran no load event: " + dom[-500:]
    loaded = json.loads(found.group(1))
    assert len(loaded) == len(sizes) >= 2
    assert loaded == [[True, w, h] for w, h in sizes]  # every image decoded at its own size
