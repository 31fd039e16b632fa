"""Cold calls: the first resampling in a fresh process, niresample vs SimpleITK.

A CLI run is always a first call, so this measures what a user waits for: each
sample is a fresh child process that imports the library (not timed), builds a
192^3 float32 volume at 1 mm (not timed), then times its *first* call of
``resample_to_spacing(img, 0.7, order=N)`` (niresample, anti-aliasing off, so
the grid and kernel match SimpleITK's) or ``sitk.ResampleImageFilter`` onto
the same grid, and a second, warm call.  Peers run side by side: every repeat
runs each method once (round-robin), and the table prints medians.

Also timed from outside (whole processes, medians): ``niresample --help`` and
one small file end to end (``niresample spacing`` on a 64^3 image).

Usage::

    python bench/bench_cold.py [--repeats 7] [--orders 1,3] [--n 192]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

METHODS = ("niresample", "SimpleITK")


def _volume(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    data = np.asfortranarray(rng.random((n, n, n), dtype=np.float32) * 1000)
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = [-10.0, 12.5, 3.0]
    return data, affine


def child(method: str, order: int, n: int, spacing: float) -> dict[str, float]:
    """In a fresh process: import, build the input, time a first and a second call."""
    if method == "niresample":
        import nibabel as nib

        from niresample_cli.core.api import resample_to_spacing

        data, affine = _volume(n)
        img = nib.Nifti1Image(data, affine)

        def call() -> object:
            return np.asarray(resample_to_spacing(img, spacing, order=order,
                                                  anti_aliasing=False).dataobj)
    else:
        import SimpleITK as sitk

        from niresample_cli.core._sitk import sitk_geometry, to_sitk
        from niresample_cli.core.grid import Grid

        data, affine = _volume(n)
        image = to_sitk(data, affine)
        grid = Grid((n, n, n), affine).with_spacing((spacing,) * 3)
        origin, sp, direction = sitk_geometry(grid.affine)

        def call() -> object:
            f = sitk.ResampleImageFilter()
            f.SetSize([int(v) for v in grid.shape])
            f.SetOutputOrigin(origin)
            f.SetOutputSpacing(sp)
            f.SetOutputDirection(direction)
            f.SetInterpolator(sitk.sitkLinear if order == 1 else sitk.sitkBSpline)
            return sitk.GetArrayViewFromImage(f.Execute(image))

    t0 = time.perf_counter()
    call()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    call()
    warm = time.perf_counter() - t0
    return {"first": first, "warm": warm}


def _run_child(method: str, order: int, n: int, spacing: float) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", method, "--order", str(order), "--n", str(n),
           "--spacing", str(spacing)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=True)
    return time.perf_counter() - t0


def cli_rows(repeats: int) -> list[str]:
    """``--help`` and one small file end to end, whole processes."""
    import nibabel as nib

    exe = str(Path(sys.executable).with_name("niresample"))
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "small.nii.gz"
        data, affine = _volume(64)
        nib.save(nib.Nifti1Image(data, affine), str(small))
        cmds = {
            "niresample --help": [exe, "--help"],
            "niresample spacing small.nii.gz (64^3 -> 0.7 mm)":
                [exe, "spacing", str(small), str(Path(tmp) / "out.nii.gz"), "--iso", "0.7",
                 "--overwrite", "--quiet"],
            "niresample spacing examples/anatomical.nii (--iso 1, .nii.gz)":
                [exe, "spacing", str(Path(__file__).resolve().parents[1] / "examples" / "anatomical.nii"),
                 str(Path(tmp) / "anat.nii.gz"), "--iso", "1", "--overwrite"],
        }
        times: dict[str, list[float]] = {k: [] for k in cmds}
        for _ in range(repeats):
            for k, c in cmds.items():
                times[k].append(_wall(c))
    lines = ["| whole process | median s | min s | max s |", "|---|---:|---:|---:|"]
    for k, t in times.items():
        lines.append(f"| `{k}` | {statistics.median(t):.3f} | {min(t):.3f} | {max(t):.3f} |")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--orders", default="1,3")
    p.add_argument("--n", type=int, default=192)
    p.add_argument("--spacing", type=float, default=0.7)
    p.add_argument("--no-cli", action="store_true", help="skip the --help / small-file rows")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--order", type=int, default=1, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.order, args.n, args.spacing)))
        return
    # Bytecode as an installed package has it (pip compiles it at install; an editable
    # install under PYTHONDONTWRITEBYTECODE=1 would compile ~50 modules on every start).
    import compileall

    import niresample_cli
    import niresample_cli.commands
    import niresample_cli.core

    for pkg in (niresample_cli, niresample_cli.commands, niresample_cli.core):
        compileall.compile_dir(str(Path(pkg.__file__).parent), maxlevels=0, quiet=1)
    print(f"# bench_cold: {args.n}^3 float32 1 mm -> {args.spacing} mm, {os.cpu_count()} CPUs,"
          f" {args.repeats} fresh processes per method (round-robin)\n")
    print("| order | method | first call median s | warm call median s | SimpleITK first / this first |")
    print("|---|---|---:|---:|---:|")
    for order in (int(o) for o in args.orders.split(",")):
        runs: dict[str, list[dict[str, float]]] = {m: [] for m in METHODS}
        for _ in range(args.repeats):
            for m in METHODS:
                runs[m].append(_run_child(m, order, args.n, args.spacing))
        first = {m: statistics.median(r["first"] for r in runs[m]) for m in METHODS}
        for m in METHODS:
            warm = statistics.median(r["warm"] for r in runs[m])
            print(f"| {order} | {m} | {first[m]:.3f} | {warm:.3f} |"
                  f" {first['SimpleITK'] / first[m]:.1f}x |", flush=True)
    if not args.no_cli:
        print()
        print("\n".join(cli_rows(args.repeats)))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
