"""completions/ is generated from the app: stale scripts fail here; bash completes for real."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_completions", REPO / "scripts" / "make_completions.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["make_completions"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_committed_completions_are_up_to_date() -> None:
    fresh = _script().render_all()
    assert set(fresh) == {"niresample.bash", "_niresample", "niresample.fish"}
    stale = [name for name, text in fresh.items()
             if not (REPO / "completions" / name).exists()
             or (REPO / "completions" / name).read_text() != text]
    assert not stale, f"completions/{stale} are stale: run  python scripts/make_completions.py"


def test_check_mode_detects_staleness(tmp_path: Path) -> None:
    mod = _script()
    assert mod.main(["--out", str(tmp_path)]) == 0
    assert mod.main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "_niresample").write_text("old")
    assert mod.main(["--check", "--out", str(tmp_path)]) == 1


def test_every_option_is_offered() -> None:
    import typer.main

    from niresample_cli.app import app

    root = typer.main.get_command(app)
    texts = {name: (REPO / "completions" / name).read_text() for name in _script().FILES.values()}
    for name, sub in root.commands.items():  # type: ignore[attr-defined]
        for text in texts.values():
            assert name in text
        for p in sub.params:
            if getattr(p, "hidden", False):  # hidden aliases (the old scripts' names) are not offered
                continue
            for opt in p.opts + p.secondary_opts:
                if opt.startswith("--"):
                    assert opt in texts["niresample.bash"] and opt in texts["_niresample"], opt
                    assert f"-l {opt[2:]}" in texts["niresample.fish"], opt


@pytest.mark.parametrize("shell,name", [("bash", "niresample.bash"), ("zsh", "_niresample"),
                                        ("fish", "niresample.fish")])
def test_syntax(shell: str, name: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} not installed")
    res = subprocess.run([shell, "-n", str(REPO / "completions" / name)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def _bash_complete(*words: str) -> list[str]:
    if shutil.which("bash") is None:
        pytest.skip("bash not installed")
    line = " ".join(f"'{w}'" for w in words)
    script = (f"source '{REPO / 'completions' / 'niresample.bash'}'; COMP_WORDS=(niresample {line}); "
              f"COMP_CWORD={len(words)}; _niresample; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
    res = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 0, res.stderr
    return res.stdout.split()


def test_bash_completes_commands_options_and_choices() -> None:
    assert _bash_complete("sp") == ["spacing"]
    assert "--fail-on" in _bash_complete("compare", "--fa")
    assert _bash_complete("compare", "x.nii", "--fail-on", "") == ["lost-labels", "new-labels", "fov-shift"]
    assert _bash_complete("spacing", "--anchor", "c") == ["center", "corner"]
    assert "examples/anatomical.nii" in _bash_complete("info", "examples/ana")
    assert _bash_complete("spacing", "--max-memory", "") == []
