"""Peak memory of real ``niresample`` processes on pathological grids.

Shared by test_resource_guards.py (generous bounds) and, run as a script,
prints the table in docs/reliability.md::

    python tests/reliability/peaks.py [--max-memory 64M 256M]

Peak RSS is the child's own maximum resident set (``/usr/bin/time -f %M``,
which is ``ru_maxrss`` of that child alone; see DESIGN.md on why
``RUSAGE_CHILDREN`` from Python overstates it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
TIME = shutil.which("time", path="/usr/bin:/bin") or ""


@dataclass(frozen=True)
class Case:
    name: str
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    dtype: str
    args: tuple[str, ...]   # command and options after IN OUT
    out_shape: tuple[int, int, int]


CASES = (
    Case("1x1xN, z x2", (1, 1, 200_000), (1, 1, 1), "float32",
         ("spacing", "--z", "0.5"), (1, 1, 400_000)),
    Case("Nx1x1, x x2", (200_000, 1, 1), (1, 1, 1), "float32",
         ("spacing", "--x", "0.5"), (400_000, 1, 1)),
    Case("0.1x0.1x10 mm -> 0.1 iso", (256, 256, 8), (0.1, 0.1, 10), "float32",
         ("spacing", "--iso", "0.1"), (256, 256, 800)),
    Case("z upsampled 1000x", (96, 96, 4), (1, 1, 1), "float32",
         ("spacing", "--z", "0.001"), (96, 96, 4000)),
    Case("x upsampled 1000x", (40, 32, 16), (1, 1, 1), "float32",
         ("spacing", "--x", "0.001"), (40_000, 32, 16)),
    Case("labels 1x1xN, z x4", (1, 1, 200_000), (1, 1, 1), "uint16",
         ("labels", "--z", "0.25"), (1, 1, 800_000)),
    Case("labels z upsampled 1000x", (96, 96, 4), (1, 1, 1), "uint16",
         ("labels", "--z", "0.001"), (96, 96, 4000)),
    Case("labels 0.1x0.1x10 mm gaussian", (256, 256, 8), (0.1, 0.1, 10), "uint16",
         ("labels", "--resolution", "0.1", "--sigma", "0.1"), (256, 256, 800)),
)


def make_input(case: Case, directory: Path) -> Path:
    import nibabel as nib

    rng = np.random.default_rng(0)
    data: np.ndarray
    if case.dtype == "uint16":
        data = (rng.random(case.shape) * 6).astype(np.uint16)
    else:
        data = rng.random(case.shape, dtype=np.float32)
    path = directory / f"in_{abs(hash(case.name)) % 10**8}.nii"
    cls = nib.Nifti2Image if max(case.shape) > 32767 else nib.Nifti1Image
    nib.save(cls(data, np.diag([*case.spacing, 1.0])), str(path))
    return path


@dataclass
class Peak:
    rc: int
    peak_bytes: int
    seconds: float
    out_bytes: int
    stderr: str


def run_peak(args: list[str], out: Path) -> Peak:
    """Run ``niresample ARGS`` under /usr/bin/time; its own peak RSS."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        t0 = time.perf_counter()
        p = subprocess.run(
            [TIME, "-f", "%M", "-o", tf.name, sys.executable, "-m", "niresample_cli", *args],
            capture_output=True, text=True, cwd=REPO, env={**os.environ, "COLUMNS": "100"},
        )
        dt = time.perf_counter() - t0
        kb = int(tf.read().strip().splitlines()[-1])
    size = out.stat().st_size if out.exists() else 0
    return Peak(p.returncode, kb * 1024, dt, size, p.stderr)


def measure(case: Case, directory: Path, max_memory: str) -> Peak:
    src = make_input(case, directory)
    out = directory / "out.nii"
    if out.exists():
        out.unlink()
    cmd, *opts = case.args
    peak = run_peak([cmd, str(src), str(out), *opts, "--max-memory", max_memory, "-q"], out)
    out.unlink(missing_ok=True)
    src.unlink()
    return peak


def baseline(directory: Path) -> Peak:
    """``niresample spacing`` on a 2x2x2 image: interpreter, numpy, scipy, nibabel."""
    case = Case("baseline", (2, 2, 2), (1, 1, 1), "float32", ("spacing", "--iso", "1"), (2, 2, 2))
    return measure(case, directory, "16M")


def main() -> int:
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--max-memory", nargs="+", default=["64M", "256M"])
    a = ap.parse_args()
    if not TIME:
        print("needs /usr/bin/time")
        return 1
    with tempfile.TemporaryDirectory() as d:
        base = baseline(Path(d))
        print(f"baseline (2x2x2 spacing run): peak RSS {base.peak_bytes / 2**20:.0f} MiB\n")
        print("| case | output shape | output MiB | --max-memory | peak RSS MiB | peak - baseline MiB | wall s |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for case in CASES:
            for mm in a.max_memory:
                pk = measure(case, Path(d), mm)
                out_mib = np.prod(case.out_shape) * np.dtype(case.dtype).itemsize / 2**20
                status = "" if pk.rc == 0 else f" (exit {pk.rc}: {pk.stderr.strip()[:80]})"
                print(f"| {case.name} | {'x'.join(map(str, case.out_shape))} | {out_mib:.0f} | {mm} | "
                      f"{pk.peak_bytes / 2**20:.0f} | {(pk.peak_bytes - base.peak_bytes) / 2**20:.0f} | "
                      f"{pk.seconds:.1f}{status} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
