"""The optional compiled kernels (setup.py, core/_native.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from niresample_cli.core._native import load

NAMES = ("_cinterp", "_clabels", "_cseparable")


@pytest.mark.parametrize("name", NAMES)
def test_built_where_required(name: str) -> None:
    """CI sets NIRESAMPLE_REQUIRE_NATIVE: there the kernels must have been compiled."""
    if not os.environ.get("NIRESAMPLE_REQUIRE_NATIVE") and load(name) is None:
        pytest.skip("compiled kernels not built here (no C compiler at install time)")
    mod = load(name)
    assert mod is not None, f"{name} was not built: is a C compiler installed?"
    assert mod.abi() >= 1


@pytest.mark.parametrize("name", NAMES)
def test_pure_python_switch(name: str) -> None:
    """NIRESAMPLE_PURE_PYTHON=1 turns every compiled kernel off (the fallbacks run)."""
    code = f"from niresample_cli.core._native import load; print(load({name!r}) is None)"
    env = {**os.environ, "NIRESAMPLE_PURE_PYTHON": "1"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert res.stdout.strip() == "True"
