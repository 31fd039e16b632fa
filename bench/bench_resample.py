"""Benchmark: niresample vs SimpleITK vs scipy.ndimage.zoom vs nibabel.processing.

Wall times are medians of ``--repeats`` runs in this one process, on the same
in-memory input (imports and file reading excluded; a run slower than 15 s is
not repeated).  Peak memory is the ``VmHWM`` of a fresh child process that
loads the input and runs the method once (``getrusage`` of children would
carry this process' own peak, see DESIGN.md section 7).  "max |diff|" is
against SimpleITK's ResampleImageFilter on the identical output grid (whole
grid, and the interior 3 voxels away from the input's edges); scipy's zoom
and nibabel's resample_to_output choose their own grids, so they are not
compared.

Usage::

    python bench/bench_resample.py                 # cases a and b, orders 1 and 3
    python bench/bench_resample.py --cases c       # streaming memory, output > 1 GB
    python bench/bench_resample.py --cases mni --repeats 5 --json docs/benchmarks.json

Case ``mni`` is whole processes, file to file (the issue-12 row): the shipped MNI
1 mm T1 (197x233x189 uint8) -> ``--iso 0.5``, order 1, as ``niresample spacing``,
a SimpleITK script (read, ``ResampleImageFilter`` linear, write) and MRtrix3
``mrgrid regrid`` when installed, to ``.nii`` and ``.nii.gz``; repeats run
round-robin, each a fresh process whose own peak RSS comes from ``wait4``.
``--json`` writes every row (seconds, peak, ratio) for ``scripts/plot_benchmarks.py``.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

CASES: dict[str, dict[str, Any]] = {
    "a": {"label": "256^3 float32 1 mm -> 0.7 mm", "shape": (256, 256, 256), "spacing": 1.0,
          "target": (0.7, 0.7, 0.7)},
    "b": {"label": "512x512x300 float32 0.1 mm -> z 0.15", "shape": (512, 512, 300),
          "spacing": 0.1, "target": (None, None, 0.15)},
    "c": {"label": "512x512x300 float32 0.1 mm -> 0.065 mm (1.15 GB out), file to file",
          "shape": (512, 512, 300), "spacing": 0.1, "target": (0.065, 0.065, 0.065)},
}
METHODS = ("niresample", "SimpleITK", "scipy zoom", "nibabel")
MNI = Path(__file__).resolve().parents[1] / "tests/data/nilearn_mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
#: (run, label) of each result row, for --json
RECORDS: list[dict[str, Any]] = []

_SITK_SCRIPT = """
import sys
import SimpleITK as sitk
img = sitk.ReadImage(sys.argv[1])
spacing = float(sys.argv[3])
size = [int(round(n * s / spacing)) for n, s in zip(img.GetSize(), img.GetSpacing())]
f = sitk.ResampleImageFilter()
f.SetOutputSpacing([spacing] * 3)
f.SetSize(size)
f.SetOutputDirection(img.GetDirection())
f.SetOutputOrigin(img.GetOrigin())
f.SetInterpolator(sitk.sitkLinear)
sitk.WriteImage(f.Execute(img), sys.argv[2], useCompression=sys.argv[2].endswith(".gz"))
"""


def _vmhwm() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def make_input(case: str, path: Path) -> None:
    """A smooth random volume (blurred noise plus a few slow waves), as NIfTI."""
    import nibabel as nib
    from scipy.ndimage import gaussian_filter, zoom

    spec = CASES[case]
    shape = spec["shape"]
    rng = np.random.default_rng(0)
    coarse = gaussian_filter(rng.random(tuple(s // 4 for s in shape)).astype(np.float32), 1.0)
    data = zoom(coarse, 4, order=1).astype(np.float32) * 1000
    data += rng.normal(0, 5, size=shape).astype(np.float32)
    affine = np.diag([spec["spacing"]] * 3 + [1.0])
    affine[:3, 3] = [-10.0, 12.5, 3.0]
    nib.save(nib.Nifti1Image(np.asfortranarray(data), affine), str(path))


def _target_grid(case: str, path: Path) -> Any:
    from niresample_cli.core.io import open_image

    with open_image(path) as src:
        return src.grid.with_spacing(CASES[case]["target"])


def _methods(case: str, path: Path, order: int) -> dict[str, Callable[[], Any]]:
    """In-memory runs of each method; each returns its output array."""
    import nibabel as nib

    img = nib.load(str(path))
    data = np.asarray(img.dataobj)
    mem = nib.Nifti1Image(data, img.affine, header=img.header)
    grid = _target_grid(case, path)

    def ours() -> np.ndarray:
        from niresample_cli.core.api import resample_to_grid

        return np.asarray(resample_to_grid(mem, grid, order=order, anti_aliasing=False).dataobj)

    def sitk_run() -> np.ndarray:
        import SimpleITK as sitk

        from niresample_cli.core._sitk import from_sitk, sitk_geometry, to_sitk

        image = to_sitk(data, img.affine)
        origin, spacing, direction = sitk_geometry(grid.affine)
        f = sitk.ResampleImageFilter()
        f.SetSize([int(v) for v in grid.shape])
        f.SetOutputOrigin(origin)
        f.SetOutputSpacing(spacing)
        f.SetOutputDirection(direction)
        f.SetInterpolator(sitk.sitkLinear if order == 1 else sitk.sitkBSpline)
        return from_sitk(f.Execute(image))[0]

    def zoom_run() -> np.ndarray:
        from scipy.ndimage import zoom

        old = np.sqrt((img.affine[:3, :3] ** 2).sum(axis=0))
        new = np.array([o if t is None else t for o, t in zip(old, CASES[case]["target"], strict=True)])
        return zoom(data, old / new, order=order)

    def nibabel_run() -> np.ndarray:
        from nibabel.processing import resample_to_output

        return np.asarray(resample_to_output(mem, tuple(float(s) for s in grid.spacing),
                                             order=order).dataobj)

    return {"niresample": ours, "SimpleITK": sitk_run, "scipy zoom": zoom_run,
            "nibabel": nibabel_run}


def _stream_file(path: Path, out: Path, case: str, order: int, max_memory: str | None) -> None:
    from niresample_cli.core.requests import Compute, Interpolation, OutputOptions, ResampleRequest, Target
    from niresample_cli.core.run import resample_file

    resample_file(path, out, ResampleRequest(Target(spacing=CASES[case]["target"]), Interpolation(order=order),
                                             Compute(max_memory=max_memory), OutputOptions(overwrite=True)))


def _sitk_file(path: Path, out: Path, case: str, order: int) -> None:
    import SimpleITK as sitk

    from niresample_cli.core._sitk import sitk_geometry

    grid = _target_grid(case, path)
    image = sitk.ReadImage(str(path))
    origin, spacing, direction = sitk_geometry(grid.affine)
    f = sitk.ResampleImageFilter()
    f.SetSize([int(v) for v in grid.shape])
    f.SetOutputOrigin(origin)
    f.SetOutputSpacing(spacing)
    f.SetOutputDirection(direction)
    f.SetInterpolator(sitk.sitkLinear if order == 1 else sitk.sitkBSpline)
    sitk.WriteImage(f.Execute(image), str(out))


def child(args: argparse.Namespace) -> None:
    """Run one method once in this fresh process and print its time and VmHWM."""
    path = Path(args.input)
    t0 = time.perf_counter()
    if args.method == "niresample-stream":
        _stream_file(path, Path(args.output), args.case, args.order, args.max_memory)
    elif args.method == "SimpleITK-file":
        _sitk_file(path, Path(args.output), args.case, args.order)
    else:
        _methods(args.case, path, args.order)[args.method]()
    print(json.dumps({"seconds": time.perf_counter() - t0, "vmhwm": _vmhwm()}))


def _child_run(workdir: Path, path: Path, case: str, method: str, order: int,
               max_memory: str | None = None) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", "--case", case, "--method", method,
           "--order", str(order), "--input", str(path), "--output", str(workdir / "child_out.nii")]
    if max_memory:
        cmd += ["--max-memory", max_memory]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _interior(src_shape: tuple[int, ...], grid: Any, path: Path) -> np.ndarray:
    from niresample_cli.core.grid import voxel_map
    from niresample_cli.core.io import open_image

    with open_image(path) as src:
        m = voxel_map(src.grid, grid)
    masks = []
    for a in range(3):
        c = m[a, a] * np.arange(grid.shape[a]) + m[a, 3]
        masks.append((c >= 3) & (c <= src_shape[a] - 4))
    return masks[0][:, None, None] & masks[1][None, :, None] & masks[2][None, None, :]


def _timed_process(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and the peak RSS (bytes) of one fresh process.

    The peak is ``/usr/bin/time``'s ``%M``: a child forked from this (large) process
    would report this process' pages in its own high-water mark.
    """
    with tempfile.NamedTemporaryFile("r") as rss:
        t0 = time.perf_counter()
        res = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *cmd],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        seconds = time.perf_counter() - t0
        if res.returncode:
            raise RuntimeError(f"{cmd}: exit {res.returncode}: {res.stderr}")
        return seconds, int(rss.read().split()[-1]) * 1024


def run_cli_case(repeats: int, workdir: Path) -> list[str]:
    """The MNI row of issue 12: whole processes, file to file, niresample vs peers."""
    import shutil

    exe = shutil.which("niresample") or "niresample"
    out_bytes = 394 * 466 * 378  # uint8
    lines = [f"\n### MNI 1 mm 197x233x189 uint8 -> --iso 0.5, order 1, file to file "
             f"(output {_mb(out_bytes)} uncompressed; whole processes, medians of {repeats})\n",
             "| output | method | median wall s | runs | peak RSS | peak / output | peer time / niresample |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for ext in (".nii", ".nii.gz"):
        out = str(workdir / f"mni_out{ext}")
        cmds = {
            "niresample": [exe, "spacing", str(MNI), out, "--iso", "0.5", "--overwrite", "--quiet"],
            "SimpleITK script": [sys.executable, "-c", _SITK_SCRIPT, str(MNI), out, "0.5"],
        }
        if shutil.which("mrgrid"):
            cmds["MRtrix3 mrgrid"] = ["mrgrid", str(MNI), "regrid", out, "-voxel", "0.5", "-interp",
                                      "linear", "-force", "-quiet"]
        results: dict[str, list[tuple[float, int]]] = {name: [] for name in cmds}
        for cmd in cmds.values():  # one warm-up each (page cache, first import)
            _timed_process(cmd)
        for _ in range(repeats):  # round-robin: load on the machine hits all alike
            for name, cmd in cmds.items():
                results[name].append(_timed_process(cmd))
        ours = statistics.median(t for t, _ in results["niresample"])
        for name, runs in results.items():
            wall = statistics.median(t for t, _ in runs)
            peak = statistics.median(m for _, m in runs)
            ratio = "" if name == "niresample" else f"{wall / ours:.2f}x"
            lines.append(f"| {ext} | {name} | {wall:.3f} | {len(runs)} | {_mb(peak)} |"
                         f" {peak / out_bytes:.2f}x | {ratio} |")
            RECORDS.append({"case": f"MNI 1 mm -> 0.5 mm, linear, file to file ({ext})", "method": name,
                            "seconds": wall, "peak_mb": peak / 1e6, "runs": len(runs),
                            "output_mb": out_bytes / 1e6})
            print(lines[-1], flush=True)
    return lines


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"


def run_case(case: str, orders: list[int], repeats: int, workdir: Path) -> list[str]:
    path = workdir / f"case_{case}.nii"
    if not path.exists():
        make_input(case, path)
    spec = CASES[case]
    grid = _target_grid(case, path)
    in_bytes = int(np.prod(spec["shape"])) * 4
    out_bytes = int(np.prod(grid.shape)) * 4
    lines = [f"\n### {spec['label']}: {tuple(spec['shape'])} -> {grid.shape}"
             f" (input {_mb(in_bytes)}, output {_mb(out_bytes)})\n",
             "| order | method | median wall s | runs | peak RSS (child) | max abs diff vs SimpleITK"
             " (all / interior) |", "|---|---|---:|---:|---:|---|"]
    if case == "c":
        for order in orders:
            runs = [("niresample-stream", None), ("niresample-stream", "256M")]
            if order == 1:  # SimpleITK's order-3 run takes over a minute here; once is enough
                runs.append(("SimpleITK-file", None))
            for method, mm in runs:
                r = _child_run(workdir, path, case, method, order, mm)
                name = method + (f" --max-memory {mm}" if mm else "")
                lines.append(f"| {order} | {name} | {r['seconds']:.2f} | 1 | {_mb(r['vmhwm'])}"
                             f" ({100 * r['vmhwm'] / (in_bytes + out_bytes):.0f}% of in+out) | |")
                print(lines[-1], flush=True)
        return lines
    interior = _interior(spec["shape"], grid, path)
    lines[1] = ("| order | method | median wall s | runs | SimpleITK time / this | peak RSS (child) |"
                " max abs diff vs SimpleITK (all / interior) |")
    lines[2] = "|---|---|---:|---:|---:|---:|---|"
    for order in orders:
        methods = _methods(case, path, order)
        times: dict[str, list[float]] = {name: [] for name in METHODS}
        results: dict[str, np.ndarray] = {}
        for rep in range(repeats):  # round-robin, so that load on the machine hits all alike
            for name in METHODS:
                if rep and times[name][0] > 15:
                    continue
                t0 = time.perf_counter()
                out = methods[name]()
                times[name].append(time.perf_counter() - t0)
                if rep == 0 and name in ("niresample", "SimpleITK"):
                    results[name] = out
                del out
        ref = statistics.median(times["SimpleITK"])
        d = np.abs(results["niresample"].astype(np.float64) - results["SimpleITK"])
        diff = f"{d.max():.3g} / {d[interior].max():.3g} (values 0..{results['SimpleITK'].max():.0f})"
        results.clear()
        for name in METHODS:
            r = _child_run(workdir, path, case, name, order)
            med = statistics.median(times[name])
            note = diff if name == "niresample" else ("" if name == "SimpleITK" else "own grid")
            lines.append(f"| {order} | {name} | {med:.3f} | {len(times[name])} | {ref / med:.1f}x |"
                         f" {_mb(r['vmhwm'])} | {note} |")
            RECORDS.append({"case": f"{spec['label']}, {'linear' if order == 1 else 'cubic'}, in memory",
                            "method": name, "seconds": med, "peak_mb": r["vmhwm"] / 1e6,
                            "runs": len(times[name]), "output_mb": out_bytes / 1e6})
            print(lines[-1], flush=True)
        r = _child_run(workdir, path, case, "niresample-stream", order)
        lines.append(f"| {order} | niresample file to file (.nii, streamed, default anti-aliasing) |"
                     f" {r['seconds']:.3f} | 1 | | {_mb(r['vmhwm'])} | |")
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", default="a,b")
    p.add_argument("--orders", default="1,3")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--workdir", default=None)
    p.add_argument("--json", default=None, help="also write the rows as JSON (scripts/plot_benchmarks.py)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--case", help=argparse.SUPPRESS)
    p.add_argument("--method", help=argparse.SUPPRESS)
    p.add_argument("--order", type=int, help=argparse.SUPPRESS)
    p.add_argument("--input", help=argparse.SUPPRESS)
    p.add_argument("--output", help=argparse.SUPPRESS)
    p.add_argument("--max-memory", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return
    import platform

    import scipy
    import SimpleITK as sitk

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs;"
          f" numpy {np.__version__}, scipy {scipy.__version__}, SimpleITK {sitk.Version.VersionString()}"
          f" ({sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()} threads)", flush=True)
    orders = [int(o) for o in args.orders.split(",")]
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for case in args.cases.split(","):
            if case == "mni":
                lines = run_cli_case(args.repeats, Path(tmp))
            else:
                lines = run_case(case, orders, args.repeats, Path(tmp))
            print("\n".join(lines), flush=True)
    if args.json:
        cpu = platform.processor() or platform.machine()
        try:
            cpu = next(line.split(":", 1)[1].strip()
                       for line in Path("/proc/cpuinfo").read_text().splitlines()
                       if line.startswith("model name"))
        except (OSError, StopIteration):
            pass
        machine = f"{cpu}, {os.cpu_count()} CPUs, {platform.system()}"
        doc = {"machine": machine, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "command": " ".join(["python", "bench/bench_resample.py", *sys.argv[1:]]),
               "rows": RECORDS}
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {args.json}", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
