"""`describe_image` and `niresample info` on the real files."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from niresample_cli.app import app
from niresample_cli.core.info import describe_image

from conftest import DATA_DIR, data_path, real_files, write_nifti

REAL = [p.name for p in real_files()]
runner = CliRunner()


def _manifest() -> dict[str, dict]:
    p = DATA_DIR / "manifest.json"
    if not p.exists():
        pytest.skip("manifest.json not available")
    return {e["file"]: e for e in json.loads(p.read_text())}


@pytest.mark.parametrize("name", REAL or ["none"])
def test_header_facts_match_nibabel_and_the_manifest(name: str) -> None:
    path = data_path(name)
    entry = _manifest()[name]
    ref = nib.load(str(path))
    facts = describe_image(path)
    assert facts["shape"] == list(ref.shape)
    np.testing.assert_allclose(facts["spacing"], nib.affines.voxel_sizes(ref.affine), rtol=1e-12)
    np.testing.assert_allclose(facts["spacing"], entry["vox"], rtol=1e-4)
    assert facts["axcodes"] == entry["axcodes"]
    assert facts["qform_code"] == entry["qform_code"] and facts["sform_code"] == entry["sform_code"]
    assert facts["obliquity_deg"] == pytest.approx(entry["max_obliquity_deg"], abs=0.01)
    assert facts["memory_bytes"] == int(np.prod(ref.shape)) * ref.get_data_dtype().itemsize
    assert facts["disk_bytes"] == path.stat().st_size
    if len(ref.shape) > 3:
        assert facts["tr"] == pytest.approx(float(ref.header.get_zooms()[3]))
        assert facts["volumes"] == int(np.prod(ref.shape[3:]))
    json.dumps(facts)  # JSON-ready


@pytest.mark.parametrize("name", [n for n in REAL if "atlas" in n or "Label" in n or "lesion" in n
                                  or "HarvardOxford" in n] or ["none"])
def test_stats_count_labels_like_the_manifest(name: str) -> None:
    path = data_path(name)
    facts = describe_image(path, stats=True)
    # background (0) excluded, as in the text output and compare (issue 16 item 4)
    assert facts["stats"]["labels_nonzero"] == _manifest()[name]["n_unique_values_incl_0"] - 1
    assert facts["stats"]["max"] == _manifest()[name]["max_label"]


def test_stats_on_scaled_4d_intensities() -> None:
    path = data_path("nibabel_functional.nii")
    data = nib.load(str(path)).get_fdata()
    s = describe_image(path, stats=True)["stats"]
    assert s["min"] == pytest.approx(data.min(), rel=1e-5)
    assert s["max"] == pytest.approx(data.max(), rel=1e-5)
    assert s["mean"] == pytest.approx(data.mean(), rel=1e-5)
    assert "labels_nonzero" not in s


def test_pixdim_disagreement_is_reported_and_the_affine_wins(tmp_path: Path) -> None:
    img = nib.Nifti1Image(np.zeros((4, 4, 4), np.float32), np.diag([2.0, 2, 2, 1]))
    img.set_sform(np.diag([2.0, 2, 2, 1]), code=2)
    img.set_qform(None, code=0)
    img.header["pixdim"][1:4] = [1, 1, 1]
    p = tmp_path / "x.nii"
    img.to_filename(str(p))
    facts = describe_image(p)
    assert facts["spacing"] == [2.0, 2.0, 2.0] and facts["pixdim"] == [1.0, 1.0, 1.0]
    assert any("pixdim" in w for w in facts["warnings"])


def test_qform_sform_disagreement_is_measured_in_mm(tmp_path: Path) -> None:
    img = nib.Nifti1Image(np.zeros((4, 4, 4), np.float32), np.diag([2.0, 2, 2, 1]))
    img.set_sform(np.diag([2.0, 2, 2, 1]), code=2)
    q = np.diag([2.0, 2, 2, 1])
    q[:3, 3] = [3, 4, 0]
    img.set_qform(q, code=1)
    p = tmp_path / "x.nii"
    img.to_filename(str(p))
    facts = describe_image(p)
    assert facts["qform_sform_shift_mm"] == pytest.approx(5.0)
    assert any("qform and sform disagree" in w for w in facts["warnings"])


def test_nifti2_info(tmp_path: Path) -> None:
    p = write_nifti(tmp_path / "n2.nii", np.zeros((3, 4, 5), np.int32), np.diag([1, 2, 3, 1.0]), nifti2=True)
    facts = describe_image(p)
    assert facts["format"] == "nifti2" and facts["spacing"] == [1.0, 2.0, 3.0]


def test_cli_jsonl_one_object_per_file() -> None:
    files = [str(data_path(n)) for n in ("nibabel_example4d.nii.gz", "niivue_FLAIR.nii.gz")]
    result = runner.invoke(app, ["info", "--jsonl", *files])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert [Path(o["path"]).name for o in lines] == ["nibabel_example4d.nii.gz", "niivue_FLAIR.nii.gz"]
    assert lines[1]["obliquity_deg"] == pytest.approx(18.98, abs=0.01)


def test_cli_bad_file_one_line_error_and_others_still_shown(tmp_path: Path) -> None:
    bad = tmp_path / "bad.nii"
    bad.write_bytes(b"not an image at all" * 30)
    good = data_path("nibabel_anatomical.nii")
    result = runner.invoke(app, ["info", "--json", str(bad), str(good)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    err_lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(err_lines) == 1 and "bad.nii" in err_lines[0] and "not a NIfTI" in err_lines[0]
    assert [o["shape"] for o in json.loads(result.stdout)] == [[33, 41, 25]]  # several named: an array


def test_json_is_strict_even_for_nan_headers(tmp_path: Path) -> None:
    img = nib.Nifti1Image(np.zeros((4, 4, 4), np.float32), np.eye(4))
    img.set_qform(np.eye(4), code=1)
    img.set_sform(np.eye(4), code=1)
    img.header["pixdim"][1] = np.nan  # ignored for the sform affine, shown as null
    p = tmp_path / "n.nii"
    img.to_filename(str(p))
    result = runner.invoke(app, ["info", "--json", str(p)])
    assert result.exit_code == 0, result.output

    def refuse(token: str) -> None:
        raise ValueError(f"non-standard JSON token {token}")

    facts = json.loads(result.stdout, parse_constant=refuse)
    assert facts["pixdim"][0] is None


def test_float_noise_between_qform_and_sform_is_not_flagged(tmp_path: Path) -> None:
    from niresample_cli.commands.info import _codes

    assert "≠" not in _codes({"qform_code": 1, "sform_code": 1, "qform_sform_shift_mm": 4.3e-7})
    assert "≠" in _codes({"qform_code": 1, "sform_code": 1, "qform_sform_shift_mm": 0.5})


def test_label_count_stops_for_integer_intensities(tmp_path: Path) -> None:
    data = np.arange(70_000, dtype=np.int32).reshape(70, 100, 10)
    p = write_nifti(tmp_path / "many.nii.gz", data)
    s = describe_image(p, stats=True)["stats"]
    assert s["labels_nonzero"] is None and s["distinct_values_over"] == 65536
    assert s["max"] == 69_999
