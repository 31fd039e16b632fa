"""Issue 16 item 7: ``--json`` on spacing, size and labels; ``info --json``/``--jsonl``.

Every ``--json`` output must be one valid JSON document that ``python -m json.tool``
accepts, with nothing else on stdout.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from niresample_cli.app import app

from conftest import data_path, write_nifti

runner = CliRunner(env={"COLUMNS": "80", "TERM": "dumb"})


def _json_tool(text: str) -> object:
    """What ``python -m json.tool`` makes of ``text`` (it must accept it)."""
    res = subprocess.run([sys.executable, "-m", "json.tool"], input=text, capture_output=True,
                         text=True, check=False)
    assert res.returncode == 0, f"json.tool rejected stdout: {res.stderr}\n{text!r}"
    return json.loads(res.stdout)


@pytest.fixture
def four_d(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    return write_nifti(tmp_path / "f4d.nii.gz", rng.random((8, 6, 5, 2)).astype(np.float32),
                       np.diag([2.0, 2.0, 3.0, 1.0]))


def test_spacing_json_one_file_is_an_array_of_one_record(four_d: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.nii.gz"
    r = runner.invoke(app, ["spacing", str(four_d), str(out), "--iso", "1", "--json"])
    assert r.exit_code == 0, r.output
    doc = _json_tool(r.stdout)
    assert isinstance(doc, list) and len(doc) == 1
    rec = doc[0]
    ref_in, ref_out = nib.load(str(four_d)), nib.load(str(out))
    assert rec["input"] == str(four_d) and rec["output"] == str(out)
    assert rec["input_grid"]["shape"] == list(ref_in.shape)  # the 4th axis is kept
    assert rec["output_grid"]["shape"] == list(ref_out.shape)
    assert rec["output_grid"]["spacing"] == pytest.approx(list(ref_out.header.get_zooms()[:3]))
    assert rec["input_grid"]["spacing"] == pytest.approx([2.0, 2.0, 3.0])
    assert rec["output_grid"]["origin"] == pytest.approx(ref_out.affine[:3, 3].tolist())
    assert rec["output_grid"]["axcodes"] == "".join(nib.aff2axcodes(ref_out.affine))
    assert rec["method"] == "order 1" and rec["engine"]
    assert rec["seconds"] >= 0 and rec["warnings"] == []


def test_size_and_labels_json_several_files(tmp_path: Path) -> None:
    a = write_nifti(tmp_path / "a.nii", np.arange(64, dtype=np.int16).reshape(4, 4, 4) % 5)
    b = write_nifti(tmp_path / "b.nii", np.arange(64, dtype=np.int16).reshape(4, 4, 4) % 3)
    r = runner.invoke(app, ["labels", str(a), str(b), "-o", str(tmp_path / "o"), "--resolution",
                            "0.5", "--json"])
    assert r.exit_code == 0, r.output
    doc = _json_tool(r.stdout)
    assert [Path(d["input"]).name for d in doc] == ["a.nii", "b.nii"]
    assert all(d["output_grid"]["shape"] == [8, 8, 8] and d["method"] == "nearest" for d in doc)
    r = runner.invoke(app, ["size", str(a), str(tmp_path / "s.nii"), "--shape", "2", "2", "2",
                            "--json"])
    assert r.exit_code == 0, r.output
    (rec,) = _json_tool(r.stdout)  # type: ignore[misc]
    assert rec["output_grid"]["shape"] == [2, 2, 2]


def test_json_with_compare_keeps_stdout_json(tmp_path: Path) -> None:
    a = write_nifti(tmp_path / "a.nii", np.arange(64, dtype=np.int16).reshape(4, 4, 4) % 5)
    r = runner.invoke(app, ["labels", str(a), str(tmp_path / "o.nii"), "--resolution", "0.5",
                            "--json", "--compare"])
    assert r.exit_code == 0, r.output
    assert len(_json_tool(r.stdout)) == 1  # type: ignore[arg-type]
    assert "Dice" in r.stderr


def test_json_batch_with_a_failure_still_prints_valid_json(tmp_path: Path) -> None:
    a = write_nifti(tmp_path / "a.nii", np.ones((4, 4, 4), np.float32))
    bad = tmp_path / "bad.nii"
    bad.write_bytes(b"not an image")
    r = runner.invoke(app, ["spacing", str(a), str(bad), "-o", str(tmp_path / "o"), "--iso", "2",
                            "--json"])
    assert r.exit_code == 1
    doc = _json_tool(r.stdout)
    assert [d["status"] for d in doc] == ["ok", "failed"]  # type: ignore[index]
    assert doc[1]["reason"]  # type: ignore[index]


def test_info_json_is_valid_for_one_and_several_files() -> None:
    p = data_path("nibabel_anatomical.nii")
    one = runner.invoke(app, ["info", "--json", str(p)])
    assert one.exit_code == 0
    assert isinstance(_json_tool(one.stdout), dict)  # one file: its object (jq .shape)
    two = runner.invoke(app, ["info", "--json", str(p), str(p)])
    assert two.exit_code == 0
    doc = _json_tool(two.stdout)
    assert isinstance(doc, list) and len(doc) == 2
    assert doc[0]["shape"] == list(nib.load(str(p)).shape)


def test_info_jsonl_is_one_object_per_line() -> None:
    p = data_path("nibabel_anatomical.nii")
    r = runner.invoke(app, ["info", "--jsonl", str(p), str(p)])
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert len(lines) == 2 and all(isinstance(_json_tool(x), dict) for x in lines)
