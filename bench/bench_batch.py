"""Batches: per-file overhead of one ``niresample spacing`` over many files vs a shell loop.

Writes ``--files`` small float32 volumes (64^3 at 1 mm), then times whole processes:

* ``batch -j 1`` and ``batch -j 2``: one ``niresample spacing f1 ... fN -o DIR --iso 0.7``
  (start-up paid once; ``-j 2`` runs the files in worker processes);
* ``loop``: one ``niresample spacing f OUT --iso 0.7`` process per file (``sh`` loop).

Per-file overhead of the batch = (batch wall - N x the compute of one file) / N, with
the compute of one file measured in-process (warm).  Repeats run round-robin; medians.

Usage::

    python bench/bench_batch.py [--files 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _inputs(d: Path, n: int) -> list[Path]:
    import nibabel as nib

    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        p = d / f"in_{i:04d}.nii.gz"
        nib.save(nib.Nifti1Image(rng.random((64, 64, 64), dtype=np.float32), np.eye(4)), str(p))
        paths.append(p)
    return paths


def _wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def _warm_compute(path: Path, out: Path) -> float:
    from niresample_cli.core.requests import Compute, Interpolation, OutputOptions, ResampleRequest, Target
    from niresample_cli.core.run import resample_file

    req = ResampleRequest(Target(spacing=0.7), Interpolation(order=1), Compute(),
                          OutputOptions(overwrite=True))
    resample_file(path, out, req)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        resample_file(path, out, req)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    exe = str(Path(sys.executable).with_name("niresample"))
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        paths = _inputs(d, args.files)
        compute = _warm_compute(paths[0], d / "warm.nii.gz")
        loop = "; ".join(f"{exe} spacing {q} {d / 'loop' / q.name} --iso 0.7 --quiet --overwrite"
                         for q in paths)
        (d / "loop").mkdir()
        runs = {
            "batch -j 1": [exe, "spacing", *map(str, paths), "-o", str(d / "b1"), "--iso", "0.7",
                           "--quiet", "--overwrite", "-j", "1"],
            "batch -j 2": [exe, "spacing", *map(str, paths), "-o", str(d / "b2"), "--iso", "0.7",
                           "--quiet", "--overwrite", "-j", "2"],
            "loop of single calls": ["sh", "-c", loop],
        }
        times: dict[str, list[float]] = {k: [] for k in runs}
        for _ in range(args.repeats):
            for k, cmd in runs.items():
                times[k].append(_wall(cmd))
    n = args.files
    print(f"# bench_batch: {n} files of 64^3 float32 -> 0.7 mm; warm compute of one file"
          f" {1000 * compute:.1f} ms (in-process median)\n")
    print("| run | median wall s | per file ms | overhead per file ms (wall/N - compute) |")
    print("|---|---:|---:|---:|")
    for k, t in times.items():
        med = statistics.median(t)
        print(f"| {k} | {med:.2f} | {1000 * med / n:.1f} | {1000 * (med / n - compute):.1f} |")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
