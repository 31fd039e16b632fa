"""Label resampling side by side: niresample vs SimpleITK vs the per-label FFT scripts.

Every measurement runs in its own child process under ``/usr/bin/time -f %M``
(peak RSS of that child only).  Times are medians of the repeats done inside
the child.  Rows without ``-file`` are compute only: input already in memory,
output in memory.  ``-file`` rows are end to end: read the .nii.gz, resample,
write a .nii (niresample streams slabs; SimpleITK reads and writes whole images).

Cases
-----
* ``allen-nearest``: Allen CCF 25 um (528x320x456, 672 labels, uint32) x2 nearest
  -> 1056x640x912 (616 M voxels, 2.46 GB): niresample (numpy, in memory and
  streamed to a .nii) vs sitkNearestNeighbor; a plain memory copy of the output
  size for scale.
* ``synth-gauss``: synthetic 300-label Voronoi map 128^3 (1 mm) -> 256^3 (0.5 mm),
  sigma 0.5 mm: niresample numpy and torch-cpu vs sitkLabelGaussian vs the
  per-label whole-volume FFT approach (timed on a subset of labels and scaled
  to all labels, since the full run takes minutes; marked "extrapolated").
* ``synth-small``: the same at 64^3 -> 128^3, where the FFT approach runs in
  full, for its agreement figure.
* ``allen-gauss``: a central 200^3 crop of the Allen atlas (319 labels) x2 -> 400^3
  (sigma 12.5 um = 1 output voxel).
* ``allen-full``: the whole Allen atlas 25 -> 12.5 um through the CLI, file to file, one fresh
  process each under ``/usr/bin/time``: ``niresample labels --resolution 0.0125 --sigma 0.0125``
  beside its peers in one run: the nearest run (``niresample labels --resolution 0.0125``),
  MRtrix3 ``mrgrid regrid -interp nearest`` where installed, and with ``--numpy-gauss`` the
  Gaussian on the numpy code path (``NIRESAMPLE_PURE_PYTHON=1``: the kernel before
  ``core/_clabels.c``, minutes).

Run: ``python bench/bench_labels.py [--cases allen-nearest,synth-gauss,...,allen-full]``
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

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ALLEN = Path(os.environ.get("NIRESAMPLE_ALLEN", DATA / "allen_ccf2017_annotation_25um.nii.gz"))
WORK = Path(os.environ.get("BENCH_DIR", tempfile.gettempdir())) / "niresample_bench_labels"


# -- inputs --------------------------------------------------------------------------
def synthetic(n: int, n_labels: int = 300, seed: int = 0) -> Path:
    """A Voronoi label map (ids 1..n_labels inside a ball, 0 outside), 1 mm, uint16."""
    import nibabel as nib
    from scipy.spatial import cKDTree

    path = WORK / f"synth_{n}_{n_labels}.nii.gz"
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    c = (n - 1) / 2
    seeds = rng.normal(size=(n_labels, 3))  # uniform in the ball, so every cell survives the mask
    seeds *= (0.45 * n * rng.uniform(size=(n_labels, 1)) ** (1 / 3)) / np.linalg.norm(seeds, axis=1, keepdims=True)
    seeds += c
    g = np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), -1).reshape(-1, 3)
    _, lab = cKDTree(seeds).query(g)
    data = (lab + 1).astype(np.uint16).reshape(n, n, n)
    data[np.sum((g.reshape(n, n, n, 3) - c) ** 2, -1) > (0.48 * n) ** 2] = 0
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(path))
    return path


def allen_crop(edge: int = 160) -> Path:
    import nibabel as nib

    path = WORK / f"allen_crop_{edge}.nii.gz"
    if path.exists():
        return path
    img = nib.load(str(ALLEN))
    x0, y0, z0 = 264 - edge // 2, 140 - edge // 2, 228 - edge // 2
    nib.save(img.slicer[x0:x0 + edge, y0:y0 + edge, z0:z0 + edge], str(path))
    return path


# -- the child side ----------------------------------------------------------------------
def _load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import nibabel as nib

    img = nib.load(str(path))
    return np.asarray(img.dataobj), img.affine


def _target(path: Path, factor: float):
    from niresample_cli.core.io import open_image

    with open_image(path) as src:
        return src.grid.with_spacing(tuple(src.grid.spacing / factor))


def child(method: str, path: Path, factor: float, sigma_vox: float, repeats: int,
          save: Path | None, subset: int) -> dict:
    times: list[float] = []
    cpus: list[float] = []
    result = None
    grid = _target(path, factor)
    sigma_mm = sigma_vox * float(grid.spacing[0])
    if method.startswith("niresample"):
        from niresample_cli.core import labels as L

        device = "torch-cpu" if method == "niresample-torch" else "numpy"
        sigma = sigma_mm if sigma_vox else None
        if method == "niresample-file":
            for _ in range(repeats):
                t, c = time.perf_counter(), time.process_time()
                L.resample_labels_file(path, WORK / "out.nii", spacing=tuple(grid.spacing),
                                       sigma=sigma, device=device, overwrite=True)
                times.append(time.perf_counter() - t)
                cpus.append(time.process_time() - c)
        else:
            import nibabel as nib

            data, affine = _load(path)  # input in memory, as SimpleITK gets it
            from niresample_cli.core.api import source_from_nibabel

            src = source_from_nibabel(nib.Nifti1Image(data, affine))
            for _ in range(repeats):
                result = None
                t, c = time.perf_counter(), time.process_time()
                result = np.asarray(L.resample_labels(src, spacing=tuple(grid.spacing), sigma=sigma,
                                                      device=device).dataobj)
                times.append(time.perf_counter() - t)
                cpus.append(time.process_time() - c)
    elif method.startswith("sitk"):
        import SimpleITK as sitk

        from niresample_cli.core._sitk import from_sitk, sitk_geometry, to_sitk

        ref = sitk.Image(*grid.shape, sitk.sitkUInt8)
        o, s, d = sitk_geometry(grid.affine)
        ref.SetOrigin(o)
        ref.SetSpacing(s)
        ref.SetDirection(d)
        interp = sitk.sitkNearestNeighbor if method.startswith("sitk-nearest") else sitk.sitkLabelGaussian
        if method.endswith("-file"):  # end to end: read .nii.gz, resample, write .nii
            for _ in range(repeats):
                t, c = time.perf_counter(), time.process_time()
                moving = sitk.ReadImage(str(path))
                r = sitk.Resample(moving, ref, sitk.Transform(), interp, 0, moving.GetPixelID())
                sitk.WriteImage(r, str(WORK / "out_sitk.nii"))
                times.append(time.perf_counter() - t)
                cpus.append(time.process_time() - c)
                del r, moving
        else:
            data, affine = _load(path)
            moving = to_sitk(data, affine)
            for _ in range(repeats):
                t, c = time.perf_counter(), time.process_time()
                r = sitk.Resample(moving, ref, sitk.Transform(), interp, 0, moving.GetPixelID())
                times.append(time.perf_counter() - t)
                cpus.append(time.process_time() - c)
            result = from_sitk(r)[0]
    elif method == "fft":
        result, secs, cpu, done, total = fft_labels(path, grid, sigma_vox, subset)
        times = [secs * total / done]
        return {"seconds": times[0], "cpu": cpu * total / done,
                "extrapolated": done < total, "labels_run": done,
                "labels": total, **_save(result if done == total else None, save)}
    elif method == "copy":
        data, _ = _load(path)
        n = int(np.prod(grid.shape))
        src = np.ones(n, dtype=data.dtype)
        for _ in range(repeats):
            t, c = time.perf_counter(), time.process_time()
            dst = src.copy()
            times.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
        del dst
    return {"seconds": statistics.median(times), "cpu": statistics.median(cpus) if cpus else None,
            "first": times[0], "extrapolated": False, **_save(result, save)}


def _save(result: np.ndarray | None, save: Path | None) -> dict:
    if result is not None and save is not None:
        np.save(save, np.asarray(result))
        return {"saved": str(save)}
    return {}


def fft_labels(path: Path, grid, sigma_vox: float, subset: int):
    """The per-label whole-volume FFT approach of the usual scripts (seed 000)."""
    from niresample_cli.core import labels as L

    nn = np.asarray(L.resample_labels(path, like=grid, device="numpy").dataobj)
    t, c = time.perf_counter(), time.process_time()
    labels = np.unique(nn)
    total = len(labels)
    run = labels if subset <= 0 else labels[:subset]
    freqs = [np.fft.fftfreq(n) for n in nn.shape[:2]] + [np.fft.rfftfreq(nn.shape[2])]
    kx, ky, kz = np.meshgrid(*freqs, indexing="ij", sparse=True)
    transfer = np.exp(-2 * (np.pi * sigma_vox) ** 2 * (kx ** 2 + ky ** 2 + kz ** 2))
    best = np.full(nn.shape, -np.inf, dtype=np.float32)
    out = np.zeros(nn.shape, dtype=nn.dtype)
    for lab in run:
        sm = np.fft.irfftn(np.fft.rfftn((nn == lab).astype(np.float32)) * transfer, s=nn.shape)
        upd = sm > best
        best[upd] = sm[upd]
        out[upd] = lab
    return out, time.perf_counter() - t, time.process_time() - c, len(run), total


# -- the parent side -------------------------------------------------------------------
def measure(method: str, path: Path, factor: float, sigma_vox: float, repeats: int,
            tag: str, subset: int = 0) -> dict:
    save = WORK / f"{tag}_{method}.npy"
    cmd = ["/usr/bin/time", "-f", "MAXRSS %M", sys.executable, __file__, "--child", method,
           str(path), str(factor), str(sigma_vox), str(repeats), str(save), str(subset)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{method} failed:\n{p.stderr[-2000:]}")
    rss = [int(line.split()[1]) for line in p.stderr.splitlines() if line.startswith("MAXRSS")][-1]
    res = json.loads(p.stdout.strip().splitlines()[-1])
    res["peak_mb"] = rss / 1024
    res["method"] = method
    return res


def agreement(a: dict, b: dict) -> str:
    if "saved" not in a or "saved" not in b:
        return "—"
    x, y = np.load(a["saved"], mmap_mode="r"), np.load(b["saved"], mmap_mode="r")
    return f"{float(np.mean(x == y)):.4f}"


_IMPORTS = {
    "niresample": "import numpy, scipy.ndimage, nibabel, niresample_cli.core.labels",
    "niresample-torch": "import numpy, scipy.ndimage, nibabel, torch, niresample_cli.core.labels",
    "sitk": "import numpy, nibabel, SimpleITK, niresample_cli.core.labels",
}


def baseline_rss() -> dict[str, float]:
    """Peak RSS of a child that only imports what each method imports."""
    out = {}
    for key, code in _IMPORTS.items():
        p = subprocess.run(["/usr/bin/time", "-f", "MAXRSS %M", sys.executable, "-c", code],
                           capture_output=True, text=True)
        out[key] = int(p.stderr.strip().splitlines()[-1].split()[1]) / 1024
    return out


def _base_for(method: str, base: dict[str, float]) -> float:
    if method == "niresample-torch":
        return base["niresample-torch"]
    if method.startswith("sitk"):
        return base["sitk"]
    return base["niresample"]


def table(title: str, rows: list[dict], out_mb: float, ref: dict | None, ref2: dict | None,
          base: dict[str, float]) -> str:
    imports = ", ".join(f"{k} {v:.0f} MB" for k, v in base.items())
    lines = [f"\n### {title}\n", f"output {out_mb:.0f} MB; peak RSS of the imports alone: {imports}\n",
             "| method | median wall s | CPU s | first run wall s | peak RSS MB | peak − imports, x output | agrees with niresample | agrees with FFT |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        secs = f"{r['seconds']:.2f}" + (f" (extrapolated from {r['labels_run']}/{r['labels']} labels)"
                                         if r.get("extrapolated") else "")
        over = (r["peak_mb"] - _base_for(r["method"], base)) / out_mb
        cpu = f"{r['cpu']:.2f}" if r.get("cpu") is not None else "—"
        first = f"{r['first']:.2f}" if r.get("first") is not None else "—"
        lines.append(f"| {r['method']} | {secs} | {cpu} | {first} | {r['peak_mb']:.0f} | {over:.2f} | "
                     f"{agreement(r, ref) if ref else '—'} | {agreement(r, ref2) if ref2 else '—'} |")
    return "\n".join(lines)


def timed(cmd: list[str], env: dict[str, str] | None = None) -> dict:
    """Wall seconds and peak RSS (MB) of one fresh process (``/usr/bin/time``)."""
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "MAXRSS %M", *cmd], capture_output=True, text=True,
                       env={**os.environ, **(env or {})})
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed:\n{p.stderr[-2000:]}")
    rss = [int(line.split()[1]) for line in p.stderr.splitlines() if line.startswith("MAXRSS")][-1]
    return {"seconds": wall, "peak_mb": rss / 1024}


def allen_full(numpy_gauss: bool) -> str:
    """The whole-atlas row: Gaussian labels vs the nearest run (and MRtrix3, the numpy path)."""
    import shutil

    cli = [sys.executable, "-m", "niresample_cli", "labels", str(ALLEN)]
    out = WORK / "allen_full.nii"
    runs: list[tuple[str, list[str], dict[str, str] | None]] = [
        ("niresample labels --sigma 0.0125 (compiled kernel)",
         [*cli, str(out), "-r", "0.0125", "--sigma", "0.0125", "--overwrite", "-q"], None),
        ("niresample labels nearest",
         [*cli, str(WORK / "allen_full_nn.nii"), "-r", "0.0125", "--overwrite", "-q"], None)]
    if shutil.which("mrgrid"):
        runs.append(("MRtrix3 mrgrid regrid -interp nearest",
                     ["mrgrid", str(ALLEN), "regrid", str(WORK / "allen_full_mrtrix.nii"), "-voxel",
                      "0.0125", "-interp", "nearest", "-force", "-quiet"], None))
    if numpy_gauss:
        runs.append(("niresample labels --sigma 0.0125 (numpy path)",
                     [*cli, str(WORK / "allen_full_np.nii"), "-r", "0.0125", "--sigma", "0.0125",
                      "--overwrite", "-q"], {"NIRESAMPLE_PURE_PYTHON": "1"}))
    rows = [(name, timed(cmd, env)) for name, cmd, env in runs]
    same = ""
    if numpy_gauss:
        a = np.memmap(out, mode="r")
        b = np.memmap(WORK / "allen_full_np.nii", mode="r")
        same = f"; compiled and numpy outputs byte-identical: {bool(np.array_equal(a, b))}"
    nn = rows[1][1]["seconds"]
    lines = ["\n### Allen CCF 25 um -> 12.5 um (1056x640x912 uint32, 2.46 GB .nii), file to file\n",
             f"each a fresh process{same}\n",
             "| run | wall s | peak RSS MB | x the nearest run |", "|---|---:|---:|---:|"]
    for name, r in rows:
        lines.append(f"| {name} | {r['seconds']:.1f} | {r['peak_mb']:.0f} | {r['seconds'] / nn:.1f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default="allen-nearest,synth-gauss,synth-small,allen-gauss,allen-full")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--fft-subset", type=int, default=8)
    ap.add_argument("--numpy-gauss", action="store_true",
                    help="allen-full: also the Gaussian on the numpy path (minutes)")
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    base = baseline_rss()
    print(f"# bench_labels ({os.cpu_count()} CPUs)")
    cases = args.cases.split(",")
    if "allen-nearest" in cases:
        out_mb = 1056 * 640 * 912 * 4 / 2**20
        rows = [measure(m, ALLEN, 2.0, 0.0, max(5, args.repeats), "an")
                for m in ("niresample", "sitk-nearest", "copy", "niresample-file", "sitk-nearest-file")]
        print(table("Allen CCF 25 um x2, nearest (1056x640x912 uint32)", rows, out_mb, rows[0], None, base))
    for case, n, subset in (("synth-gauss", 128, args.fft_subset), ("synth-small", 64, 0)):
        if case not in cases:
            continue
        path = synthetic(n)
        out_mb = (2 * n) ** 3 * 2 / 2**20
        rows = [measure(m, path, 2.0, 1.0, args.repeats if m.startswith("nires") else 1, case, subset)
                for m in ("niresample", "niresample-torch", "sitk-gauss", "fft", "niresample-file",
                          "sitk-gauss-file")]
        fft = rows[3] if "saved" in rows[3] else None
        print(table(f"synthetic 300 labels {n}^3 -> {2 * n}^3, sigma 0.5 mm (1 output voxel)",
                    rows, out_mb, rows[0], fft, base))
    if "allen-gauss" in cases:
        path = allen_crop(200)
        out_mb = 400 ** 3 * 4 / 2**20
        rows = [measure(m, path, 2.0, 1.0, 1, "ag", args.fft_subset)
                for m in ("niresample", "niresample-torch", "sitk-gauss", "fft", "niresample-file")]
        print(table("Allen CCF crop 200^3 (319 labels) x2 -> 400^3, sigma 12.5 um (1 output voxel)",
                    rows, out_mb, rows[0], None, base))
    if "allen-full" in cases:
        print(allen_full(args.numpy_gauss), flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        m, p, f, s, r, sv, sub = sys.argv[2:9]
        print(json.dumps(child(m, Path(p), float(f), float(s), int(r),
                               Path(sv) if sv else None, int(sub))))
    else:
        main()
