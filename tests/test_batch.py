"""Batch runs: naming, skip-existing, failures isolated, -j in processes and threads."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from niresample_cli.app import _guarded
from niresample_cli.batch import output_name, plan_pairs, run_paths
from niresample_cli.core.errors import InputError, NiresampleError, OptionError
from niresample_cli.options import JobsOpt, NameOpt, OutputDirOpt, PathsArg, QuietOpt, SkipExistingOpt

from conftest import write_nifti


def negate_job(src: Path, dst: Path, progress: Any, *, factor: int = -1) -> dict[str, Any]:
    """A picklable job: multiply the image by ``factor`` (nibabel in, nibabel out)."""
    import nibabel as nib

    from niresample_cli.core.io import open_image

    if "bad" in src.name:
        raise InputError(f"{src}: not a readable NIfTI file (test)")
    if "bug" in src.name:
        raise ZeroDivisionError("a bug")
    with open_image(src) as img:
        data = img.read_volume() * factor
        affine = img.grid.affine
    nib.save(nib.Nifti1Image(data, affine), str(dst))
    if progress is not None:
        progress(1, 1)
    return {"pid": os.getpid()}


def _inputs(tmp_path: Path, names: list[str], sub: str = "in") -> list[Path]:
    src = tmp_path / sub
    src.mkdir()
    out = []
    for i, name in enumerate(names):
        p = src / name
        if "bad" in name:
            p.write_bytes(b"not an image")
        else:
            write_nifti(p, np.full((3, 4, 5), i + 1, dtype=np.int16))
        out.append(p)
    return out


# -- naming --------------------------------------------------------------------
def test_output_name_template() -> None:
    assert output_name(Path("/x/sub-01_T1w.nii.gz")) == "sub-01_T1w_resampled.nii.gz"
    assert output_name(Path("a.nii"), "{stem}_1mm{ext}") == "a_1mm.nii"
    assert output_name(Path("a.nrrd"), "{stem}{ext}") == "a.nii.gz"
    assert output_name(Path("a.nii.gz"), "r_{name}") == "r_a.nii.gz"
    with pytest.raises(OptionError, match="unknown field"):
        output_name(Path("a.nii"), "{basename}.nii")
    with pytest.raises(OptionError, match="not a path"):
        output_name(Path("a.nii"), "sub/{stem}.nii")


def test_plan_pairs(tmp_path: Path) -> None:
    a, b = _inputs(tmp_path, ["a.nii.gz", "b.nii"])
    assert plan_pairs([a, tmp_path / "o.nii"], output_dir=None) == [(a, tmp_path / "o.nii")]
    out = tmp_path / "out"
    pairs = plan_pairs([a, b], output_dir=out, name="{stem}_x{ext}")
    assert out.is_dir()
    assert [d for _, d in pairs] == [out / "a_x.nii.gz", out / "b_x.nii"]
    # the last positional path is the output directory
    assert plan_pairs([a, b, out], output_dir=None)[1] == (b, out / "b_resampled.nii")
    with pytest.raises(OptionError, match="output directory"):
        plan_pairs([a, b, tmp_path / "nope"], output_dir=None)
    with pytest.raises(OptionError, match="expected IN OUT"):
        plan_pairs([a], output_dir=None)
    other = tmp_path / "other"
    other.mkdir()
    twin = write_nifti(other / "a.nii.gz", np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(OptionError, match="would both be written"):
        plan_pairs([a, twin], output_dir=out)
    with pytest.raises(OptionError, match="replace an input"):
        plan_pairs([a, b], output_dir=a.parent, name="{name}")


# -- running ---------------------------------------------------------------------
def test_one_failure_does_not_stop_the_others(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = _inputs(tmp_path, ["a.nii.gz", "bad.nii", "bug.nii", "c.nii.gz"])
    pairs = plan_pairs(files, output_dir=tmp_path / "out")
    with pytest.raises(NiresampleError, match="2 of 4 files failed"):
        run_paths(pairs, negate_job, quiet=False)
    assert pairs[0][1].exists() and pairs[3][1].exists()
    assert not pairs[1][1].exists() and not pairs[2][1].exists()
    err = capsys.readouterr().err
    for word in ("2 ok", "2 failed", "bad.nii", "not a readable NIfTI", "internal error", "ZeroDivisionError"):
        assert word in " ".join(err.split()), word


def test_results_and_skip_existing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = _inputs(tmp_path, ["a.nii.gz", "b.nii.gz", "c.nii.gz"])
    pairs = plan_pairs(files, output_dir=tmp_path / "out")
    pairs[1][1].write_bytes(b"already here")
    res = run_paths(pairs, negate_job, quiet=True, skip_existing=True)
    assert [r["status"] for r in res] == ["ok", "skipped", "ok"]
    assert [r["input"] for r in res] == [str(p) for p in files]
    assert pairs[1][1].read_bytes() == b"already here"
    assert capsys.readouterr().err == ""  # quiet: no summary
    import nibabel as nib

    assert np.all(np.asarray(nib.load(str(pairs[2][1])).dataobj) == -3)


def test_single_file_errors_propagate(tmp_path: Path) -> None:
    (bad,) = _inputs(tmp_path, ["bad.nii"])
    with pytest.raises(InputError, match="test"):
        run_paths([(bad, tmp_path / "o.nii")], negate_job, quiet=True)


def test_parallel_processes(tmp_path: Path) -> None:
    files = _inputs(tmp_path, ["a.nii", "b.nii", "bad.nii", "d.nii"])
    pairs = plan_pairs(files, output_dir=tmp_path / "out")
    job = functools.partial(negate_job, factor=2)
    with pytest.raises(NiresampleError, match="1 of 4"):
        run_paths(pairs, job, quiet=True, jobs=2)
    import nibabel as nib

    for i in (0, 1, 3):
        assert np.all(np.asarray(nib.load(str(pairs[i][1])).dataobj) == 2 * (i + 1))
    files2 = _inputs(tmp_path, ["e.nii", "f.nii"], sub="in2")
    res = run_paths(plan_pairs(files2, output_dir=tmp_path / "out2"), job, quiet=True, jobs=2)
    assert all(r["status"] == "ok" for r in res)
    assert all(r["pid"] != os.getpid() for r in res)  # really in worker processes


def test_parallel_threads_for_unpicklable_jobs(tmp_path: Path) -> None:
    files = _inputs(tmp_path, ["a.nii", "b.nii", "c.nii"])
    pairs = plan_pairs(files, output_dir=tmp_path / "out")
    res = run_paths(pairs, lambda s, d, p: negate_job(s, d, p, factor=5), quiet=True, jobs=3)
    assert [r["status"] for r in res] == ["ok"] * 3
    assert all(r["pid"] == os.getpid() for r in res)


def test_negative_jobs_rejected(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="jobs"):
        run_paths([], negate_job, quiet=True, jobs=-1)


# -- through a Typer command, as spacing/size/labels use it -------------------------
def _cli() -> typer.Typer:
    app = typer.Typer()

    def negate(paths: PathsArg, output_dir: OutputDirOpt = None, name: NameOpt = "{stem}_neg{ext}",
               skip_existing: SkipExistingOpt = False, jobs: JobsOpt = 1, quiet: QuietOpt = False) -> None:
        pairs = plan_pairs(paths, output_dir=output_dir, name=name)
        run_paths(pairs, negate_job, quiet=quiet, skip_existing=skip_existing, jobs=jobs)

    app.command()(_guarded(negate))
    return app


def test_cli_batch_exit_codes_and_summary(tmp_path: Path) -> None:
    runner = CliRunner()
    files = _inputs(tmp_path, ["a.nii.gz", "bad.nii", "c.nii.gz"])
    out = tmp_path / "out"
    res = runner.invoke(_cli(), [*map(str, files), "-o", str(out)], env={"COLUMNS": "100"})
    assert res.exit_code == 1
    assert "1 of 3 files failed" in res.stderr
    assert "2 ok, 0 skipped, 1 failed" in res.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a_neg.nii.gz", "c_neg.nii.gz"]
    res = runner.invoke(_cli(), [str(files[0]), str(files[2]), str(out), "--skip-existing", "-j", "2"])
    assert res.exit_code == 0, res.output
    assert "0 ok, 2 skipped" in res.stderr
    res = runner.invoke(_cli(), [str(files[0]), str(tmp_path / "single.nii")])
    assert res.exit_code == 0 and (tmp_path / "single.nii").exists()
    res = runner.invoke(_cli(), [str(files[1]), str(tmp_path / "single2.nii")])
    assert res.exit_code == 1 and res.stderr.count("\n") == 1
    res = runner.invoke(_cli(), [str(files[0]), "-o", str(out), "--name", "{nope}"])
    assert res.exit_code == 2 and "unknown field" in res.stderr


def test_executor_choice(tmp_path: Path) -> None:
    files = _inputs(tmp_path, ["a.nii", "b.nii"])
    pairs = plan_pairs(files, output_dir=tmp_path / "out")
    res = run_paths(pairs, negate_job, quiet=True, jobs=2, executor="thread")
    assert all(r["pid"] == os.getpid() for r in res)
    with pytest.raises(OptionError, match="picklable"):
        run_paths(pairs, lambda s, d, p: {}, quiet=True, jobs=2, executor="process")
    with pytest.raises(OptionError, match="executor"):
        run_paths(pairs, negate_job, quiet=True, jobs=2, executor="fork")
