"""`niresample labels` through Typer's CliRunner: options, outputs, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from niresample_cli.app import app

from conftest import data_path, write_nifti

runner = CliRunner()
ENV = {"COLUMNS": "100"}
AAL = "derived_dk_las_2mm_uint16.nii.gz"


def _invoke(*args: object):
    return runner.invoke(app, ["labels", *map(str, args)], env=ENV)


def _one_error_line(res) -> str:
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1, res.output
    assert lines[0].startswith("niresample: error:")
    assert "Traceback" not in res.output
    return lines[0]


def test_resolution_writes_labels_with_kept_dtype_and_values(tmp_path: Path) -> None:
    src = data_path(AAL)
    out = tmp_path / "aal_1mm.nii.gz"
    res = _invoke(src, out, "--resolution", 1)
    assert res.exit_code == 0, res.output
    assert "nearest" in res.output
    img, ref = nib.load(str(out)), nib.load(str(src))
    assert img.shape == tuple(2 * n for n in ref.shape)  # 2 mm -> 1 mm, FOV kept
    np.testing.assert_allclose(nib.affines.voxel_sizes(img.affine), [1, 1, 1])
    assert img.get_data_dtype() == ref.get_data_dtype()
    assert set(np.unique(np.asarray(img.dataobj))) <= set(np.unique(np.asarray(ref.dataobj)))


def test_sigma_implies_gaussian_and_matches_the_api(tmp_path: Path) -> None:
    from niresample_cli.core.labels import resample_labels

    src = data_path("nimare_HarvardOxford-cort-maxprob-thr25-2mm.nii.gz")
    out = tmp_path / "ho.nii"
    # --threads 2: at most three slab pieces at once, so 16M fits on any machine.
    res = _invoke(src, out, "--spacing", 1.5, 1.5, 1.5, "--sigma", 1.5, "--max-memory", "16M",
                  "--threads", 2)
    assert res.exit_code == 0, res.output
    assert "gaussian" in res.output
    api = resample_labels(src, spacing=1.5, sigma=1.5, device="numpy")
    np.testing.assert_array_equal(np.asarray(nib.load(str(out)).dataobj), np.asarray(api.dataobj))


def test_majority_and_shape_and_like(tmp_path: Path) -> None:
    src = data_path(AAL)
    res = _invoke(src, tmp_path / "m.nii", "--shape", 25, 31, 25, "--method", "majority")
    assert res.exit_code == 0, res.output
    assert nib.load(str(tmp_path / "m.nii")).shape == (25, 31, 25)
    like = data_path("nimare_tpl-MNI152NLin6Asym_res-02_T1w.nii.gz")
    res = _invoke(src, tmp_path / "l.nii", "--like", like, "--x", 1)
    assert res.exit_code == 2  # usage (issue 15 item 12)
    res = _invoke(src, tmp_path / "l.nii", "--like", like)
    assert res.exit_code == 0, res.output
    assert nib.load(str(tmp_path / "l.nii")).shape == nib.load(str(like)).shape


@pytest.mark.parametrize("args,match", [
    (["--resolution", 1, "--sigma", -1], "--sigma"),
    (["--resolution", 1, "--sigma", "nan"], "--sigma"),
    (["--resolution", 1, "--spacing", 1, 1, 1], "one of"),
    ([], "exactly one"),
    (["--resolution", 1, "--method", "gaussian"], "--sigma"),
    (["--resolution", 1, "--method", "majority", "--sigma", 1], "gaussian"),
    (["--resolution", -2], "spacing"),
])
def test_bad_options_give_one_line(tmp_path: Path, args: list, match: str) -> None:
    res = _invoke(data_path(AAL), tmp_path / "o.nii", *args)
    assert res.exit_code == 2, res.output
    assert match in _one_error_line(res)
    assert not (tmp_path / "o.nii").exists()


def test_cuda_without_gpu_is_one_line(tmp_path: Path) -> None:
    from niresample_cli.core.device import cuda_available

    if cuda_available():
        pytest.skip("a CUDA GPU is present")
    res = _invoke(data_path(AAL), tmp_path / "o.nii", "--resolution", 1, "--device", "cuda")
    assert res.exit_code == 1
    assert "cuda" in _one_error_line(res).lower()


def test_torch_cpu_device_gives_the_same_file(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    src = data_path(AAL)
    assert _invoke(src, tmp_path / "a.nii", "-r", 1.2, "--sigma", 1).exit_code == 0
    assert _invoke(src, tmp_path / "b.nii", "-r", 1.2, "--sigma", 1, "--device", "torch-cpu").exit_code == 0
    a = np.asarray(nib.load(str(tmp_path / "a.nii")).dataobj)
    b = np.asarray(nib.load(str(tmp_path / "b.nii")).dataobj)
    np.testing.assert_array_equal(a, b)


def test_float_image_needs_whole_values(tmp_path: Path) -> None:
    data = np.zeros((6, 6, 6), np.float32)
    data[1:4, 1:4, 1:4] = 2.5
    src = write_nifti(tmp_path / "f.nii", data)
    res = _invoke(src, tmp_path / "o.nii", "-r", 0.5)
    assert res.exit_code == 1
    assert "--force-float-labels" in _one_error_line(res)
    res = _invoke(src, tmp_path / "o.nii", "-r", 0.5, "--force-float-labels")
    assert res.exit_code == 0, res.output
    out = nib.load(str(tmp_path / "o.nii"))
    assert out.get_data_dtype() == np.float32
    assert set(np.unique(np.asarray(out.dataobj)).tolist()) <= {0.0, 2.5}


def test_batch_into_a_directory(tmp_path: Path) -> None:
    a = write_nifti(tmp_path / "a.nii.gz", np.arange(64, dtype=np.uint8).reshape(4, 4, 4) % 5)
    b = write_nifti(tmp_path / "b.nii.gz", np.arange(64, dtype=np.int16).reshape(4, 4, 4) % 3)
    out = tmp_path / "out"
    res = _invoke(a, b, "-o", out, "-r", 0.5, "--quiet")
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["a_resampled.nii.gz", "b_resampled.nii.gz"]
    assert nib.load(str(out / "b_resampled.nii.gz")).get_data_dtype() == np.int16
    res = _invoke(a, b, "-o", out, "-r", 0.5, "--quiet")
    assert res.exit_code == 1  # outputs exist and --overwrite was not given
    res = _invoke(a, b, "-o", out, "-r", 0.5, "--skip-existing", "--quiet")
    assert res.exit_code == 0, res.output


def test_compare_prints_the_label_report(tmp_path: Path) -> None:
    pytest.importorskip("niresample_cli.core.compare")
    res = _invoke(data_path(AAL), tmp_path / "o.nii", "-r", 1, "--sigma", 1, "--compare")
    assert res.exit_code == 0, res.output
    assert "lost: none" in res.output and "new:  none" in res.output


def test_help_does_not_import_torch_or_simpleitk() -> None:
    code = ("import sys; from typer.testing import CliRunner; from niresample_cli.app import app; "
            "r = CliRunner().invoke(app, ['labels', '--help']); assert r.exit_code == 0, r.output; "
            "assert '--sigma' in r.output; "
            "print([m for m in ('torch', 'SimpleITK', 'scipy') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_zarr_output_equals_nifti_output(tmp_path: Path) -> None:
    pytest.importorskip("zarr")
    from niresample_cli.core.io import open_image

    src = data_path("nimare_HarvardOxford-cort-maxprob-thr25-2mm.nii.gz")
    assert _invoke(src, tmp_path / "o.nii", "-r", 1.5, "--sigma", 1).exit_code == 0
    res = _invoke(src, tmp_path / "o.ome.zarr", "-r", 1.5, "--sigma", 1)
    assert res.exit_code == 0, res.output
    with open_image(tmp_path / "o.ome.zarr") as z:
        np.testing.assert_array_equal(z.read_volume(scaled=False),
                                      np.asarray(nib.load(str(tmp_path / "o.nii")).dataobj))


@pytest.mark.parametrize("kind", ["float", "scaled"])
def test_compare_accepts_float_and_scaled_label_maps(tmp_path: Path, kind: str) -> None:
    pytest.importorskip("niresample_cli.core.compare")
    data = np.zeros((8, 8, 8), np.float32 if kind == "float" else np.int16)
    data[2:6, 1:5, 3:7] = 3
    extra = {"scl_slope": 2.0, "scl_inter": 1.0} if kind == "scaled" else {}
    src = write_nifti(tmp_path / "l.nii", data, **extra)
    res = _invoke(src, tmp_path / "o.nii", "-r", 0.5, "--compare")
    assert res.exit_code == 0, res.output
    assert "o.nii" in res.output


def test_quiet_compare_prints_nothing(tmp_path: Path) -> None:
    pytest.importorskip("niresample_cli.core.compare")
    src = write_nifti(tmp_path / "l.nii", np.arange(64, dtype=np.uint8).reshape(4, 4, 4) % 3)
    res = _invoke(src, tmp_path / "o.nii", "-r", 0.5, "--compare", "--quiet")
    assert res.exit_code == 0, res.output
    assert res.output.strip() == ""
    assert (tmp_path / "o.nii").exists()


@pytest.mark.parametrize("args", [["-r", -2], ["--x", "nan"], ["--shape", 0, 4, 4],
                                  ["-r", 1, "--max-memory", "1K"]])
def test_bad_values_are_refused_before_the_output_directory_is_made(
        tmp_path: Path, args: list) -> None:
    src = write_nifti(tmp_path / "l.nii", np.ones((4, 4, 4), np.uint8))
    res = _invoke(src, "-o", tmp_path / "new", *args)
    assert res.exit_code == 2, res.output
    _one_error_line(res)
    assert not (tmp_path / "new").exists()


def test_batch_reports_the_files_done_when_another_fails(tmp_path: Path) -> None:
    import functools
    import pickle

    from niresample_cli.commands._output import RunView, resample_one
    from niresample_cli.core.requests import LabelMethod, ResampleRequest, Target

    good = write_nifti(tmp_path / "good.nii", np.arange(64, dtype=np.uint8).reshape(4, 4, 4) % 3)
    bad = write_nifti(tmp_path / "bad.nii", np.full((4, 4, 4), 0.5, np.float32))
    res = _invoke(good, bad, "-o", tmp_path / "out", "-r", 0.5)
    assert res.exit_code == 1
    assert "good.nii: 4×4×4 @ 1×1×1 mm -> 8×8×8 @ 0.5×0.5×0.5 mm" in res.output
    request = ResampleRequest(Target(spacing=0.5), LabelMethod())
    pickle.dumps(functools.partial(resample_one, request=request, view=RunView(command="labels", compare=True)))
