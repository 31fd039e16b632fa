"""Request objects (each rule once, errors naming the Python parameter), the CLI's one
error mapping (single run and batch alike), and ``spacing -j`` running processes."""

from __future__ import annotations

import pickle
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from niresample_cli.app import app
from niresample_cli.core.errors import GridError, OptionError
from niresample_cli.core.grid import Grid
from niresample_cli.core.requests import (
    Compute,
    Interpolation,
    LabelMethod,
    OutputOptions,
    ResampleRequest,
    Target,
)
from niresample_cli.errors import cli_message

from conftest import write_nifti


@pytest.mark.parametrize("kw,param", [
    ({}, "target"),
    ({"spacing": 1.0, "shape": (2, 2, 2)}, "target"),
    ({"spacing": 1.0, "anchor": "middle"}, "anchor"),
    ({"like": 3.0}, "like"),
])
def test_target_rules_name_the_parameter(kw: dict, param: str) -> None:
    with pytest.raises(OptionError) as info:
        Target(**kw)
    assert info.value.param == param and str(info.value).startswith(f"{param}:")


def test_target_values_and_grids() -> None:
    with pytest.raises(GridError, match="spacing"):
        Target(spacing=(1.0, -1.0, 1.0))
    with pytest.raises(GridError, match="shape"):
        Target(shape=(0, 4, 4))
    assert Target(spacing=0.5).spacing == (0.5, 0.5, 0.5)
    assert Target(spacing=(None, None, None), shape=(2, 3, 4)).shape == (2, 3, 4)  # no axis asked
    source = Grid((10, 10, 10), np.diag([2.0, 2.0, 2.0, 1.0]))
    assert Target(shape=(5, 5, 5)).grid_for(source).shape == (5, 5, 5)
    np.testing.assert_allclose(Target(spacing=1.0).grid_for(source).spacing, 1.0)


@pytest.mark.parametrize("kw,param", [
    ({"method": "cubic"}, "method"),
    ({"sigma": 1.0, "sigma_voxels": 1.0}, "sigma_voxels"),
    ({"method": "majority", "sigma": 1.0}, "sigma"),
    ({"method": "gaussian"}, "sigma"),
    ({"sigma": -1.0}, "sigma"),
    ({"sigma_voxels": float("nan")}, "sigma_voxels"),
])
def test_label_method_rules_name_the_parameter(kw: dict, param: str) -> None:
    with pytest.raises(OptionError) as info:
        LabelMethod(**kw)
    assert info.value.param == param


def test_label_method_sigma_implies_gaussian_and_converts_to_voxels() -> None:
    m = LabelMethod(sigma=1.0)
    assert m.method == "gaussian"
    assert m.sigma_in_voxels((0.5, 2.0, 1.0)) == (2.0, 0.5, 1.0)
    assert LabelMethod().sigma_in_voxels((1, 1, 1)) is None


@pytest.mark.parametrize("make,param", [
    (lambda: Interpolation(order=7), "order"),
    (lambda: Interpolation(dtype="complex64"), "dtype"),
    (lambda: Interpolation(dtype="notatype"), "dtype"),
    (lambda: Compute(device="tpu"), "device"),
    (lambda: Compute(max_memory="1M"), "max_memory"),
    (lambda: Compute(max_memory="lots"), "max_memory"),
    (lambda: Compute(threads=0), "threads"),
    (lambda: OutputOptions(compress_level=12), "compress_level"),
    (lambda: OutputOptions(max_output="big"), "max_output"),
    (lambda: OutputOptions(pyramid=-1), "pyramid"),
    (lambda: ResampleRequest(Target(spacing=1.0), method="linear"), "method"),  # type: ignore[arg-type]
])
def test_parts_name_the_parameter(make, param: str) -> None:
    with pytest.raises(OptionError) as info:
        make()
    assert info.value.param == param and str(info.value).startswith(f"{param}:")
    assert "--" not in str(info.value)  # core speaks Python


def test_sizes_are_bytes_and_requests_pickle() -> None:
    assert Compute(max_memory="512M").max_memory == 512 << 20
    assert OutputOptions(max_output="1K").max_output == 1024
    assert Interpolation(dtype="Float32").dtype == "float32"
    r = ResampleRequest(Target(like=Path("ref.nii")), LabelMethod(sigma=0.5), Compute(max_memory="64M"))
    assert r.labels and r.reads == (Path("ref.nii"),)
    assert pickle.loads(pickle.dumps(r)) == r
    assert OutputOptions(chunks="8", resume=True).zarr_only == ["chunks", "resume"]


# -- the CLI's one mapping ------------------------------------------------------------
def test_cli_message_maps_params_to_each_commands_flags() -> None:
    err = OptionError("max_memory: at least 16M is needed, got '1M'", param="max_memory")
    assert cli_message(err, "spacing") == "--max-memory: at least 16M is needed, got '1M'"
    sp = GridError("spacing: x must be finite and positive, got -1.0", param="spacing")
    assert cli_message(sp, "spacing").startswith("--spacing/--iso/--x/--y/--z: x must")
    assert cli_message(sp, "labels").startswith("--resolution/--spacing/--x/--y/--z: x must")
    inner = OptionError("max_memory: needs more than max_memory allows; raise max_memory",
                        param="max_memory")
    assert cli_message(inner, "labels") == \
        "--max-memory: needs more than --max-memory allows; raise --max-memory"
    path = OptionError("/data/max_memory/a.nii: no such file")  # names inside paths stay
    assert cli_message(path, "spacing") == str(path)


def _img(path: Path) -> Path:
    return write_nifti(path, np.arange(6 * 5 * 4, dtype=np.int16).reshape(6, 5, 4), np.eye(4))


def _run(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_core_error_reads_as_a_flag_in_single_runs_and_batches(tmp_path: Path, monkeypatch) -> None:
    a, b = _img(tmp_path / "a.nii"), _img(tmp_path / "b.nii")

    def refuse(*args, **kw):
        raise OptionError("max_memory: this needs more than max_memory allows", param="max_memory")

    monkeypatch.setattr("niresample_cli.core.run.resample_file", refuse)
    expected = "--max-memory: this needs more than --max-memory allows"
    single = _run("spacing", a, tmp_path / "o.nii", "--iso", 1)
    assert single.exit_code == 2 and f"niresample: error: {expected}" in single.stderr
    batch = _run("spacing", a, b, "-o", tmp_path / "out", "--iso", 1, "-q")
    assert batch.exit_code == 1
    assert f"niresample: error: {a}: {expected}" in " ".join(batch.stderr.split())
    labels = _run("labels", a, b, "-o", tmp_path / "out2", "-r", 1, "-q")
    assert f"niresample: error: {a}: {expected}" in " ".join(labels.stderr.split())


def test_bad_option_touches_nothing(tmp_path: Path) -> None:
    a = _img(tmp_path / "a.nii")
    r = _run("spacing", a, a, "-o", tmp_path / "new", "--iso", 1, "--max-memory", "1M")
    assert r.exit_code == 2 and "--max-memory: at least 16M" in r.stderr
    assert not (tmp_path / "new").exists()


def test_spacing_jobs_run_in_processes(tmp_path: Path, monkeypatch) -> None:
    import concurrent.futures as cf

    kinds: list[str] = []
    real = cf.ProcessPoolExecutor

    class Spy(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kw):
            kinds.append("process")
            super().__init__(*args, **kw)

    monkeypatch.setattr(cf, "ProcessPoolExecutor", Spy)
    ins = [_img(tmp_path / f"{n}.nii") for n in "abc"]
    r = _run("spacing", *ins, "-o", tmp_path / "out", "--iso", 0.5, "-j", 2, "-q")
    assert r.exit_code == 0, r.output
    assert kinds == ["process"]
    for p in ins:
        out = nib.load(str(tmp_path / "out" / f"{p.stem}_resampled.nii"))
        assert out.shape == (12, 10, 8)
        np.testing.assert_allclose(np.sqrt((out.affine[:3, :3] ** 2).sum(0)), 0.5)
