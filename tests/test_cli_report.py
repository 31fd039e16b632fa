"""The visual report from the CLI: `compare --report/--png`, and `--report` of spacing,
size and labels (one report per file in a batch), through Typer's CliRunner; the
missing-matplotlib error comes before any resampling work."""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from niresample_cli.app import app

from conftest import write_nifti

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")

runner = CliRunner()
ENV = {"COLUMNS": "100"}
VERMILLION = (0xD5, 0x5E, 0x00)
SKY = (0x56, 0xB4, 0xE9)


def _invoke(*args: object) -> Any:
    return runner.invoke(app, [str(a) for a in args], env=ENV)


class Page(HTMLParser):
    """The images and the text of an HTML page (parsed, never searched as a string)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.imgs: list[dict[str, Any]] = []
        self.spans: dict[str, str] = {}
        self.text: list[str] = []
        self._span: str | None = None
        self.feed(path.read_text(encoding="utf-8"))
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.imgs.append(dict(attrs))
        if tag == "span":
            self._span = dict(attrs).get("id")

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._span:
            self.spans[self._span] = data
            self._span = None

    @property
    def words(self) -> str:
        return " ".join(self.text)


def label_pair(tmp_path: Path) -> tuple[Path, Path]:
    """b loses label 3 (merged into 1) and gains label 4."""
    data = np.zeros((24, 24, 24), np.uint8)
    data[2:12, 2:22, 2:22], data[12:22, 2:22, 2:22] = 1, 2
    data[8:16, 8:16, 8:16] = 3
    b_data = np.where(data == 3, 1, data).astype(np.uint8)
    b_data[14:20, 4:10, 4:20] = 4
    return write_nifti(tmp_path / "a.nii.gz", data), write_nifti(tmp_path / "b.nii.gz", b_data)


def intensity(tmp_path: Path, name: str, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    data = rng.normal(100, 20, size=(16, 18, 12)).astype(np.float32)
    return write_nifti(tmp_path / name, data, np.diag([2.0, 2.0, 3.0, 1.0]))


def colour_pixels(png: Path, colour: tuple[int, int, int]) -> int:
    rgb = np.asarray(Image.open(png).convert("RGB")).astype(int)
    return int((np.abs(rgb - colour).max(axis=-1) < 8).sum())


# -- compare --------------------------------------------------------------------------
def test_compare_writes_report_and_png_with_the_fail_on_verdict(tmp_path: Path) -> None:
    a, b = label_pair(tmp_path)
    html, png = tmp_path / "r.html", tmp_path / "s.png"
    res = _invoke("compare", a, b, "--report", html, "--png", png, "--fail-on", "lost-labels", "--json")
    assert res.exit_code == 3, res.output
    assert json.loads(res.stdout)["labels"]["lost"] == [3]  # stdout stays pure JSON
    page = Page(html)
    assert page.spans["lost-labels"] == "3" and page.spans["new-labels"] == "4"
    assert "checks failed (1 of 1)" in page.words and "lost-labels" in page.words
    assert all(img["src"].startswith("data:image/png;base64,") for img in page.imgs)
    Image.open(png).verify()
    # lost (vermillion) and new (sky blue) labels highlighted: compare's decision reached the figure
    assert colour_pixels(png, VERMILLION) > 100 and colour_pixels(png, SKY) > 100


def test_compare_png_alone_and_passing_verdict(tmp_path: Path) -> None:
    a = intensity(tmp_path, "a.nii.gz")
    png, html = tmp_path / "only.png", tmp_path / "r.html"
    res = _invoke("compare", a, a, "--png", png, "--quiet")
    assert res.exit_code == 0, res.output
    assert png.exists() and not html.exists()
    Image.open(png).verify()
    res = _invoke("compare", a, a, "--report", html, "--fail-on", "fov-shift", "--quiet")
    assert res.exit_code == 0, res.output
    assert "checks passed: none of fov-shift holds" in Page(html).words


# -- spacing, size, labels --------------------------------------------------------------
def test_labels_report_compares_input_and_output_as_labels(tmp_path: Path) -> None:
    a, _ = label_pair(tmp_path)
    out, html = tmp_path / "out.nii.gz", tmp_path / "labels.html"
    res = _invoke("labels", a, out, "--resolution", 2, "--report", html)
    assert res.exit_code == 0, res.output
    assert out.exists() and html.exists()
    page = Page(html)
    assert str(a) in page.words and str(out) in page.words
    assert "Labels" in page.words and page.spans["lost-labels"] == "none"
    assert len(page.imgs) == 3  # slices, FOV, per-label Dice


def test_spacing_batch_writes_one_report_per_file_into_a_directory(tmp_path: Path) -> None:
    ins = [intensity(tmp_path, f"s{i}.nii.gz", seed=i) for i in range(2)]
    res = _invoke("spacing", *ins, "-o", tmp_path / "out", "--iso", 3, "--report", f"{tmp_path / 'rep'}/")
    assert res.exit_code == 0, res.output
    made = sorted(p.name for p in (tmp_path / "rep").iterdir())
    assert made == ["s0_report.html", "s1_report.html"]
    page = Page(tmp_path / "rep" / "s1_report.html")
    assert str(ins[1]) in page.words and "s1_resampled.nii.gz" in page.words


def test_size_report_template_names_each_file(tmp_path: Path) -> None:
    ins = [intensity(tmp_path, f"t{i}.nii.gz", seed=i) for i in range(2)]
    template = str(tmp_path / "{stem}_check.html")
    res = _invoke("size", *ins, "-o", tmp_path / "out", "--shape", 8, 9, 6, "--report", template,
                  "-j", 2)  # the report target travels to worker processes
    assert res.exit_code == 0, res.output
    for i in range(2):
        assert str(ins[i]) in Page(tmp_path / f"t{i}_check.html").words


def test_one_report_file_for_a_batch_is_refused_before_any_work(tmp_path: Path) -> None:
    ins = [intensity(tmp_path, f"u{i}.nii.gz", seed=i) for i in range(2)]
    res = _invoke("spacing", *ins, "-o", tmp_path / "out", "--iso", 3, "--report", tmp_path / "r.html")
    assert res.exit_code == 2, res.output  # a usage mistake (--report)
    assert "--report" in res.output and "{stem}" in res.output
    assert not (tmp_path / "out").exists()


def test_report_in_a_missing_directory_is_refused_before_any_work(tmp_path: Path) -> None:
    src = intensity(tmp_path, "v.nii.gz")
    out = tmp_path / "v_out.nii.gz"
    res = _invoke("spacing", src, out, "--iso", 3, "--report", tmp_path / "nowhere" / "r.html")
    assert res.exit_code == 2, res.output  # a usage mistake (--report)
    assert "--report" in res.output and "nowhere" in res.output
    assert not out.exists()


# -- without matplotlib ---------------------------------------------------------------
@pytest.mark.parametrize("command", [
    ["labels", "{a}", "{out}", "--resolution", "2", "--report", "{html}"],
    ["spacing", "{a}", "{out}", "--iso", "2", "--report", "{html}"],
    ["size", "{a}", "{out}", "--shape", "8", "8", "8", "--report", "{html}"],
    ["compare", "{a}", "{a}", "--report", "{html}"],
])
def test_missing_matplotlib_is_one_line_naming_the_extra_before_any_work(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:
    a, _ = label_pair(tmp_path)
    out, html = tmp_path / "out.nii.gz", tmp_path / "r.html"
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError
    res = _invoke(*(c.format(a=a, out=out, html=html) for c in command))
    assert res.exit_code == 1, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1, res.output
    assert lines[0].startswith("niresample: error: --report")
    assert "pip install 'niresample[report]'" in lines[0]
    assert not out.exists() and not html.exists()


def test_missing_matplotlib_names_png_when_only_png_is_asked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = label_pair(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    res = _invoke("compare", a, b, "--png", tmp_path / "x.png")
    assert res.exit_code == 1, res.output
    assert res.output.startswith("niresample: error: --png") and "niresample[report]" in res.output
    assert "grid" not in res.output  # refused before comparing


def test_help_does_not_import_matplotlib() -> None:
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom niresample_cli.app import app\n"
            "for sub in ([], ['spacing'], ['size'], ['labels'], ['compare']):\n"
            "    assert CliRunner().invoke(app, [*sub, '--help']).exit_code == 0\n"
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


def test_report_and_png_show_in_help() -> None:
    res = _invoke("compare", "--help")
    assert "--report" in res.output and "--png" in res.output
    for sub in ("spacing", "size", "labels"):
        assert "--report" in _invoke(sub, "--help").output, sub
