"""The per-label Gaussian gives the labels recorded before its rewrite, bit for bit.

``scripts/record_gaussian_labels.py`` recorded a SHA-256 of each output with the
implementation of 2026-12-01 (tests/data label maps and a central crop of the Allen
atlas); any faster kernel must reproduce them exactly (same scores, same ties rule).
"""

from __future__ import annotations

import json

import pytest

from conftest import REPO, load_recorder, run_recorded_case

record = load_recorder()

pytestmark = pytest.mark.slow

RECORDED = json.loads((REPO / "tests" / "data" / "recorded" / "gaussian_labels.json").read_text())


@pytest.mark.parametrize("name", sorted(record.CASES))
def test_gaussian_labels_equal_the_recorded_outputs(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    out = run_recorded_case(record, name, monkeypatch)
    rec = RECORDED[name]
    assert list(out.shape) == rec["shape"] and out.dtype.str == rec["dtype"]
    assert record.digest(out) == rec["sha256"]
