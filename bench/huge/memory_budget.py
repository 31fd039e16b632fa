"""Peak memory follows --max-memory, not the output size.

Runs ``niresample labels`` and ``niresample spacing`` upsamplings whose output
is larger than the budget, with several ``--max-memory`` values, each in a
child process under ``/usr/bin/time -f '%e %M'`` (peak RSS of that child), and
prints a Markdown table.  Outputs are deleted right after each run.

Usage::

    python bench/huge/memory_budget.py --workdir /tmp/niresample-mem
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
NIRESAMPLE = str(Path(sys.executable).parent / "niresample")

CASES = [
    # (label, command args after 'niresample', output name, output bytes)
    ("labels Allen 25->10 um, .nii", ["labels", str(DATA / "allen_ccf2017_annotation_25um.nii.gz"),
                                      "{out}", "--resolution", "0.01"], "a.nii", 1320 * 800 * 1140 * 4),
    ("labels Allen 25->10 um, .ome.zarr", ["labels", str(DATA / "allen_ccf2017_annotation_25um.nii.gz"),
                                           "{out}", "--resolution", "0.01"], "a.ome.zarr",
     1320 * 800 * 1140 * 4),
    ("spacing MNI 1->0.3 mm linear float32, .nii.gz",
     ["spacing", str(DATA / "nilearn_mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"), "{out}",
      "--iso", "0.3", "--order", "1", "--dtype", "float32"], "m.nii.gz", 657 * 777 * 630 * 4),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/niresample-mem"))
    ap.add_argument("--budgets", nargs="+", default=["256M", "1G"])
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    print("| run | output GB | --max-memory | wall s | peak RSS MiB |")
    print("|---|---|---|---|---|")
    for label, cmd, name, nbytes in CASES:
        for budget in args.budgets:
            out = args.workdir / name
            argv = ["/usr/bin/time", "-f", "TIME %e %M", NIRESAMPLE,
                    *[c.format(out=out) for c in cmd], "--max-memory", budget, "--quiet",
                    "--overwrite"]
            res = subprocess.run(argv, capture_output=True, text=True)
            if res.returncode != 0:
                raise SystemExit(res.stderr[-2000:])
            m = re.search(r"TIME ([0-9.]+) (\d+)", res.stderr)
            assert m, res.stderr
            subprocess.run(["rm", "-rf", str(out)], check=True)
            print(f"| {label} | {nbytes / 1e9:.2f} | {budget} | {float(m.group(1)):.1f} | "
                  f"{int(m.group(2)) / 1024:.0f} |", flush=True)


if __name__ == "__main__":
    main()
