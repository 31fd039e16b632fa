"""Fuzzing real headers (issue 7, part 2): whatever the damage, only
niresample's own errors leave core.  Bounded here (a few seconds); the long
run is ``python tests/reliability/fuzz_long.py --minutes 5``."""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzzlib import SEEDS, apply, build, exercise, load_seed, mutations
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import data_path

_CACHE: dict[str, tuple[bytes, bool]] = {}


def _seed(name: str) -> tuple[bytes, bool]:
    if name not in _CACHE:
        data_path(name)  # skips without the real data
        _CACHE[name] = load_seed(name)
    return _CACHE[name]


@pytest.mark.parametrize("name", SEEDS)
def test_seeds_open_cleanly(name: str, tmp_path: Path) -> None:
    raw, gz = _seed(name)
    assert exercise(build(tmp_path / ("s.nii.gz" if gz else "s.nii"), raw, gz)) == "ok"


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=st.sampled_from(SEEDS), ops=mutations())
def test_mutated_headers_raise_only_niresample_errors(
    name: str, ops: list[tuple[object, ...]], tmp_path: Path
) -> None:
    raw, gz = _seed(name)
    path = build(tmp_path / ("m.nii.gz" if gz else "m.nii"), apply(raw, ops), gz)
    assert exercise(path) in ("ok", "error")
