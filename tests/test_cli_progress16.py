"""Issue 16 item 10: progress bars and tables in 80 columns, ``--help`` without type noise."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from niresample_cli.app import app

from conftest import write_nifti

runner = CliRunner(env={"COLUMNS": "80", "TERM": "dumb"})
LONG = "sub-0123_ses-baseline_acq-mprage_T1w"  # 36 characters, as in the report


def _render(progress: Any) -> list[str]:
    console = Console(width=80, record=True, force_terminal=False, color_system=None)
    console.print(progress.make_tasks_table(progress.tasks))
    return [ln for ln in console.export_text().splitlines() if ln.strip()]


def test_single_bar_never_wraps_a_long_name() -> None:
    from niresample_cli.console import make_progress

    progress = make_progress(quiet=False)
    task = progress.add_task(LONG + ".nii.gz", total=3_000_000_000)
    progress.update(task, completed=1_234_567_890)
    lines = _render(progress)
    assert len(lines) == 1, lines
    assert len(lines[0]) <= 80 and "…" in lines[0] and "41%" in lines[0]


def test_batch_bar_never_wraps_and_names_the_running_files() -> None:
    from niresample_cli.console import make_batch_progress, running_label

    progress = make_batch_progress(quiet=False)
    label = running_label([f"{LONG}_{i}.nii.gz" for i in range(4)])
    task = progress.add_task(label, total=40)
    progress.update(task, completed=7)
    lines = _render(progress)
    assert len(lines) == 1 and len(lines[0]) <= 80, lines
    assert running_label(["a.nii", "b.nii"]) == "a.nii, b.nii"
    assert running_label(["a.nii", "b.nii", LONG]).endswith("+1")


def test_eta_waits_for_a_tenth() -> None:
    from niresample_cli.console import _eta_column

    col = _eta_column()
    early = SimpleNamespace(total=100.0, finished=False, percentage=8.0, time_remaining=111.0,
                            finished_time=None)
    late = SimpleNamespace(total=100.0, finished=False, percentage=50.0, time_remaining=125.0,
                           finished_time=None)
    assert col.render(early).plain == "-:--:--"
    assert col.render(late).plain == "0:02:05"


def test_done_line_prints_after_the_bar_is_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.progress import Progress

    from niresample_cli import console
    from niresample_cli.commands._output import RunView, resample_one
    from niresample_cli.commands.spacing import intensity_request, spacing_target
    from niresample_cli.core.requests import Compute, OutputOptions

    src = write_nifti(tmp_path / "a.nii", np.ones((6, 6, 6), np.float32))
    progress = Progress(disable=True)
    cb = console.progress_callback(progress, "a.nii")
    drawn: list[bool] = []  # the screen shows a full bar: redrawn (refresh) at total
    update = progress.update

    def spy(task: Any, **kw: Any) -> None:
        update(task, **kw)
        t = progress.tasks[0]
        if kw.get("refresh") and t.total and t.completed == t.total:
            drawn.append(True)

    monkeypatch.setattr(progress, "update", spy)
    seen: list[bool] = []
    monkeypatch.setattr(console.err, "print", lambda *a, **k: seen.append(bool(drawn)))
    request = intensity_request(spacing_target(None, None, None, None, 2.0, None, "center"),
                                order=1, no_antialias=False, dtype=None, compute=Compute(),
                                output=OutputOptions())
    resample_one(src, tmp_path / "o.nii", cb, request=request, view=RunView(command="spacing"))
    assert seen == [True]


def test_summary_never_splits_a_file_name(tmp_path: Path) -> None:
    names = [f"{LONG}_run-{i}_desc-preprocessed_bold.nii" for i in range(2)]
    for n in names:
        write_nifti(tmp_path / n, np.ones((4, 4, 4), np.float32))
    r = runner.invoke(app, ["spacing", *(str(tmp_path / n) for n in names), "-o",
                            str(tmp_path / "out"), "--iso", "2"])
    assert r.exit_code == 0, r.output
    summary = r.stderr[r.stderr.index("ok, 0 skipped"):].splitlines()
    for n in names:
        # the start and the end of each name stay on one line (cut in the middle if at all)
        assert any(ln.lstrip().startswith(n[:12]) and ".nii" in ln for ln in summary), summary
    assert all(len(ln) <= 80 for ln in summary)


@pytest.mark.parametrize("command", ["spacing", "size", "labels", "compare", "info"])
def test_help_shows_no_type_noise(command: str) -> None:
    r = runner.invoke(app, [command, "--help"])
    assert r.exit_code == 0
    for noise in ("<bool>", "<list[", "<path>", "<float>", "<int", "<str>", "{A}", "{a}", "{PATH}",
                  "{files}"):
        assert noise not in r.stdout, (noise, command)
    usage = r.stdout.split("Usage:")[1].splitlines()[0]
    assert "{" not in usage
    assert "Examples:" in r.stdout


def test_labels_help_lays_out_examples_like_the_others() -> None:
    text = runner.invoke(app, ["labels", "--help"]).stdout
    examples = text.split("Examples:")[1].split("╭")[0]
    lines = [ln for ln in examples.splitlines() if ln.strip()]
    assert lines and all(ln.strip().startswith("niresample labels") for ln in lines), lines
