"""A small CLI run imports no pydantic nor other modules it does not use (issue 12 item 1), and the direct conversion of
plain option values gives typer's own result or error on every parameter of every command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main
from typer._click import Context
from typer._coercion import build_runtime_param as typer_build

from niresample_cli.app import app

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

_SMALL_RUN = """
import sys
from niresample_cli.app import main
sys.argv = ["niresample", "spacing", sys.argv[1], sys.argv[2], *sys.argv[3:], "--overwrite", "--quiet"]
try:
    main()
except SystemExit as e:
    assert not e.code, e.code
unneeded = ("pydantic", "pydantic_core", "numpy.ma", "niresample_cli.core.transforms", "scipy.ndimage",
            "scipy.sparse", "SimpleITK")
print(sorted(m for m in sys.modules if m in unneeded or m.startswith(tuple(u + "." for u in unneeded))))
"""


@pytest.mark.parametrize("how", [["--iso", "1"], ["--like", "REF"]])
def test_a_small_run_imports_no_pydantic_nor_unused_modules(tmp_path: Path, how: list[str]) -> None:
    src = str(EXAMPLES / "anatomical.nii")
    how = [src if h == "REF" else h for h in how]  # --like: a Path option given as a string
    out = subprocess.run([sys.executable, "-c", _SMALL_RUN, src, str(tmp_path / "x.nii.gz"), *how],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr
    assert (tmp_path / "x.nii.gz").stat().st_size > 0


_VALUES: list[Any] = [
    None, "1", "0", "-3", "17", "2.5", "-0.5", "1e-3", ".5", "007", " 5", "1_0", "inf", "nan",
    "abc", "", "center", "CENTER", "origin", "auto", "cpu", "nii", "x.nii.gz", "-",
    0, 1, 2.5, True, False, ("1", "2", "3"), ("1", "2"), ("a", "b", "c"), ["a.nii", "b.nii"], (),
]


def _outcome(runtime: Any, value: Any, param: Any, ctx: Context) -> tuple[str, str]:
    try:
        got = runtime.coerce(value, param=param, ctx=ctx)
    except Exception as err:  # the error typer reports
        return ("error " + type(err).__name__, str(getattr(err, "message", err)))
    return (type(got).__name__, repr(got))


def _params() -> list[tuple[str, Any, Any]]:
    cmd = typer.main.get_command(app)
    out = []
    for name, sub in cmd.commands.items():  # type: ignore[attr-defined]
        out += [(name, sub, p) for p in sub.params]
    return out


@pytest.mark.parametrize("name,sub,param", _params(), ids=lambda v: v if isinstance(v, str) else "")
def test_direct_conversion_equals_typers(name: str, sub: Any, param: Any) -> None:
    from typer import core as typer_core

    fast = typer_core.build_runtime_param
    assert getattr(fast, "_niresample_fast", False), "niresample_cli._typer_fast.install() did not run"
    ctx = Context(sub, info_name=name)
    values = list(_VALUES) + [param.default]
    choices = param.type_descriptor.choices
    if choices:
        values += [getattr(c, "value", c) for c in choices] + list(choices)
    for value in values:
        want = _outcome(typer_build(param.type_descriptor), value, param, ctx)
        got = _outcome(fast(param.type_descriptor), value, param, ctx)
        assert got == want, (param.name, value)


_ARGV = [
    ["spacing"], ["spacing", "--help"], ["spacing", "-h"], ["spacing", "in.nii"],
    ["spacing", "in.nii", "out.nii", "--iso", "abc"], ["spacing", "in.nii", "out.nii", "--bogus"],
    ["spacing", str(EXAMPLES / "anatomical.nii"), "OUT", "--iso", "1", "--order", "9"],
    ["spacing", str(EXAMPLES / "anatomical.nii"), "OUT", "--iso", "1", "--anchor", "nowhere"],
    ["spacing", str(EXAMPLES / "anatomical.nii"), "OUT", "--iso", "2", "--dry-run"],
    ["size", "--help"], ["size", "x.nii", "y.nii", "--shape", "1", "2"], ["labels", "--help"],
    ["compare", "--help"], ["compare", "a.nii"], ["info", "--help"], ["info", str(EXAMPLES / "anatomical.nii")],
    ["info", "missing.nii"],
]


@pytest.mark.parametrize("argv", _ARGV, ids=lambda a: " ".join(a)[:40])
def test_one_command_app_behaves_as_the_whole_app(argv: list[str], tmp_path: Path) -> None:
    """main() runs an app of the named command alone (typer then builds one command's
    parameters); its output and exit code are the whole app's."""
    from typer.testing import CliRunner

    from niresample_cli.app import _app_for

    args = [str(tmp_path / "o.nii") if a == "OUT" else a for a in argv]
    one = _app_for(args)
    assert one is not app and [c.name for c in one.registered_commands] == [argv[0]]
    env = {"COLUMNS": "100", "NO_COLOR": "1"}
    want = CliRunner().invoke(app, args, prog_name="niresample", env=env)
    got = CliRunner().invoke(one, args, prog_name="niresample", env=env)
    assert (got.exit_code, got.output) == (want.exit_code, want.output)


def test_root_options_and_unknown_commands_run_the_whole_app() -> None:
    from niresample_cli.app import _app_for

    for args in ([], ["--help"], ["--version"], ["--debug", "spacing"], ["spacingg"], ["-h"]):
        assert _app_for(args) is app
