"""The CLI starts fast: --help imports neither torch nor SimpleITK."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from niresample_cli import __version__
from niresample_cli.app import app

HEAVY = ("torch", "SimpleITK", "scipy", "dask", "zarr", "distributed")


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from niresample_cli.app import app\n"
        "r = CliRunner().invoke(app, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "for sub in ['spacing', 'size', 'labels', 'compare', 'info']:\n"
        "    r = CliRunner().invoke(app, [sub, '--help'])\n"
        "    assert r.exit_code == 0, (sub, r.output)\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_module_entry_point_and_version() -> None:
    out = subprocess.run([sys.executable, "-m", "niresample_cli", "--version"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"niresample {__version__}"


def test_all_subcommands_are_registered() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "120"})
    for sub in ("spacing", "size", "labels", "compare", "info"):
        assert sub in result.output


def test_debug_shows_the_traceback_and_default_does_not(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.nii"
    bad.write_bytes(b"x" * 400)
    plain = subprocess.run([sys.executable, "-m", "niresample_cli", "info", str(bad)],
                           capture_output=True, text=True)
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    assert len(plain.stderr.strip().splitlines()) == 1
    debug = subprocess.run([sys.executable, "-m", "niresample_cli", "--debug", "info", str(bad)],
                           capture_output=True, text=True)
    assert debug.returncode != 0 and "Traceback" in debug.stderr
