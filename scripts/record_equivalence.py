"""Record the outputs of the fixed equivalence runs (tests/equivalence_cases.py).

Run before a refactor, commit ``tests/data/equivalence/``; ``tests/test_equivalence.py``
then checks that the code still produces the same outputs.

    python scripts/record_equivalence.py
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from equivalence_cases import BASELINE, CASES, build_inputs, read_output, run_case  # noqa: E402


def main() -> None:
    BASELINE.mkdir(parents=True, exist_ok=True)
    manifest = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        build_inputs(folder)
        for name, argv, out_name, kind in CASES:
            (folder / name).mkdir()
            out = folder / name / (out_name or "none")
            code, stdout = run_case(argv, folder, out)
            if code != 0:
                raise SystemExit(f"{name}: exit {code}\n{stdout}")
            if kind == "json":
                text = stdout.replace(str(folder), "{d}")
                (BASELINE / f"{name}.json").write_text(text)
                manifest[name] = {"kind": kind, "sha256": hashlib.sha256(text.encode()).hexdigest()}
                continue
            arrays = read_output(out)
            np.savez_compressed(BASELINE / f"{name}.npz", **{k: np.asarray(v) for k, v in arrays.items()})
            manifest[name] = {
                "kind": kind, "argv": argv,
                "sha256": {k: hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()
                           for k, v in arrays.items() if isinstance(v, np.ndarray)},
            }
            print(name, "ok")
    (BASELINE / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
