"""The per-label Gaussian gives the labels recorded before its rewrite, bit for bit.

``scripts/record_gaussian_labels.py`` recorded a SHA-256 of each output with the
implementation of 2026-12-01 (tests/data label maps and a central crop of the Allen
atlas); any faster kernel must reproduce them exactly (same scores, same ties rule).
"""

from __future__ import annotations

import importlib.util
import json

import pytest

from conftest import ALLEN_SKIP, REPO, allen_path

_spec = importlib.util.spec_from_file_location("record_gaussian_labels",
                                               REPO / "scripts" / "record_gaussian_labels.py")
assert _spec is not None and _spec.loader is not None
record = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(record)

pytestmark = pytest.mark.slow

RECORDED = json.loads((REPO / "tests" / "data" / "recorded" / "gaussian_labels.json").read_text())


@pytest.mark.parametrize("name", sorted(record.CASES))
def test_gaussian_labels_equal_the_recorded_outputs(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if record.CASES[name][0] == "allen":
        path = allen_path()
        if path is None:
            pytest.skip(ALLEN_SKIP)
        monkeypatch.setattr(record, "ALLEN", path)
    out = record.run_case(name)
    assert out is not None
    rec = RECORDED[name]
    assert list(out.shape) == rec["shape"] and out.dtype.str == rec["dtype"]
    assert record.digest(out) == rec["sha256"]
