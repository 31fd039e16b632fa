"""The real test data ships with the repository: every file that tests/data/manifest.json
lists is there, byte for byte (sha256), and nothing unlisted hides beside it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from conftest import ALLEN, DATA_DIR, data_path

MANIFEST = json.loads((DATA_DIR / "manifest.json").read_text())
#: the Allen atlas the `allen` tests expect (not shipped; see tests/data/README.md)
ALLEN_SHA256 = "d99916f78692e51065c4f0c4bee63b72d51aad698b92c4f47efa0dda48c82a81"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["file"] for e in MANIFEST])
def test_listed_file_exists_with_its_sha256(entry: dict) -> None:
    path = DATA_DIR / entry["file"]
    assert path.is_file(), f"{path} listed in manifest.json but missing"
    assert path.stat().st_size == entry["bytes"]
    assert _sha256(path) == entry["sha256"]


def test_every_shipped_file_is_listed_and_documented() -> None:
    listed = {e["file"] for e in MANIFEST}
    assert len(listed) == len(MANIFEST), "a file is listed twice"
    shipped = {p.name for p in DATA_DIR.iterdir() if p.is_file()} - {"manifest.json", "README.md"}
    assert shipped == listed
    readme = (DATA_DIR / "README.md").read_text()
    for name in listed:
        assert f"`{name}`" in readme, f"{name} has no provenance row in tests/data/README.md"
    for entry in MANIFEST:
        if entry.get("kind") != "licence":
            assert entry["source"] and entry["license"], entry["file"]
    assert ALLEN not in listed  # Allen Institute terms: optional, never shipped


@pytest.mark.allen
def test_optional_allen_atlas_is_the_expected_file() -> None:
    assert _sha256(data_path(ALLEN)) == ALLEN_SHA256
