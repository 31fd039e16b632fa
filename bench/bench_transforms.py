"""Benchmark: resampling through registration transforms, niresample vs SimpleITK (and antspyx).

Every figure is end to end in a fresh process (start-up, reading, resampling, writing an
uncompressed ``.nii``), the same transform file and the same output grid for every tool:

* ``affine``: an ITK ``.tfm`` (rotation 20 deg about an oblique axis, small scale) from a
  reference grid of ``--out`` voxels per axis, 1 mm, onto a 1 mm input;
* ``field``: an ANTs-style displacement field (``*Warp.nii.gz``, LPS vectors, 2 mm grid)
  followed by the same affine (``-t warp -t affine``);
* intensity orders 1 and 3 (SimpleITK sitkLinear / sitkBSpline), labels ``nearest``
  (sitkNearestNeighbor) and ``gaussian`` (niresample ``--sigma 1`` vs sitkLabelGaussian with
  sigma 1 mm) through the field.

antsApplyTransforms (antspyx ``apply_transforms``) is added when antspyx imports here or in the Python given by ``--ants-python``.  Also
printed: max |diff| against SimpleITK in the interior (order 1), label agreement, and the
peak memory (largest process RSS) of niresample writing a ~2 GB float32 output through the
affine (``--iso 0.29`` on the input's grid: 828 x 883 x 690 voxels; ``--memory-iso 0`` skips it).

Usage::

    python bench/bench_transforms.py              # 324^3 output (34 M voxels)
    python bench/bench_transforms.py --out 200    # smaller
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parents[1]

SITK_SCRIPT = r"""
import sys, SimpleITK as sitk
mov, ref, out, interp = sys.argv[1:5]
tfiles = sys.argv[5:]
m = sitk.ReadImage(mov)
r = sitk.ReadImage(ref)
txs = []
for t in tfiles:
    if t.endswith('.nii.gz') or t.endswith('.nii'):
        txs.append(sitk.DisplacementFieldTransform(sitk.ReadImage(t, sitk.sitkVectorFloat64)))
    else:
        txs.append(sitk.ReadTransform(t))
tx = txs[0] if len(txs) == 1 else sitk.CompositeTransform(txs)
kind = {'1': sitk.sitkLinear, '3': sitk.sitkBSpline, 'nearest': sitk.sitkNearestNeighbor,
        'gaussian': sitk.sitkLabelGaussian}[interp]
f = sitk.ResampleImageFilter()
f.SetReferenceImage(r)
f.SetTransform(tx)
f.SetInterpolator(kind)
f.SetDefaultPixelValue(0)
if interp in ('1', '3'):
    f.SetOutputPixelType(sitk.sitkFloat32)
else:
    f.SetOutputPixelType(m.GetPixelID())
sitk.WriteImage(f.Execute(m), out)
"""

ANTS_SCRIPT = r"""
import sys, ants
mov, ref, out, interp = sys.argv[1:5]
kind = {'1': 'linear', '3': 'bSpline', 'nearest': 'nearestNeighbor', 'gaussian': 'genericLabel'}[interp]
o = ants.apply_transforms(ants.image_read(ref), ants.image_read(mov), list(sys.argv[5:]),
                          interpolator=kind)
ants.image_write(o, out)
"""


def _run(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if res.returncode != 0:
        raise RuntimeError(f"{cmd[:3]}... failed:\n{res.stdout}\n{res.stderr}")
    return dt


PEAK_SCRIPT = r"""
import resource, subprocess, sys
res = subprocess.run(sys.argv[1:], capture_output=True, text=True)
if res.returncode:
    sys.exit(res.stdout + res.stderr)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
"""


def _peak(cmd: list[str]) -> tuple[float, int]:
    """``(seconds, peak RSS bytes)`` of one fresh process (its largest, from getrusage)."""
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, *cmd], capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if res.returncode != 0:
        raise RuntimeError(f"{cmd[:3]}... failed:\n{res.stdout}\n{res.stderr}")
    return dt, int(res.stdout.split()[-1])


def make_inputs(folder: Path, n_out: int) -> dict[str, Path]:
    import nibabel as nib
    import SimpleITK as sitk
    from scipy.ndimage import gaussian_filter, zoom

    from niresample_cli.core._sitk import sitk_geometry

    rng = np.random.default_rng(0)
    n_in = (240, 256, 200)
    small = gaussian_filter(rng.normal(size=tuple(s // 4 for s in n_in)), 2.0).astype(np.float32)
    data = zoom(small, 4, order=3).astype(np.float32) * 1000.0
    aff_in = np.diag([1.0, 1.0, 1.0, 1.0])
    aff_in[:3, 3] = -(np.asarray(n_in) - 1) / 2.0
    paths = {"image": folder / "image.nii", "labels": folder / "labels.nii",
             "ref": folder / "ref.nii", "affine": folder / "affine.tfm",
             "field": folder / "1Warp.nii.gz"}
    nib.save(nib.Nifti1Image(data, aff_in), str(paths["image"]))
    labels = np.digitize(data, np.quantile(data, np.linspace(0, 1, 60)[1:-1])).astype(np.uint16)
    labels[data < np.quantile(data, 0.2)] = 0
    nib.save(nib.Nifti1Image(labels, aff_in), str(paths["labels"]))
    spacing = 0.85 * max(n_in) / n_out
    aff_ref = np.diag([spacing, spacing, spacing, 1.0])
    aff_ref[:3, 3] = -(n_out - 1) * spacing / 2.0
    nib.save(nib.Nifti1Image(np.zeros((n_out, n_out, n_out), np.uint8), aff_ref), str(paths["ref"]))
    axis = np.array([0.3, 0.5, 0.8]) / np.linalg.norm([0.3, 0.5, 0.8])
    rot = sitk.VersorRigid3DTransform()
    rot.SetRotation(tuple(axis.tolist()), float(np.deg2rad(20.0)))
    tx = sitk.AffineTransform(3)
    tx.SetMatrix(tuple((np.reshape(rot.GetMatrix(), (3, 3)) * 1.05).ravel().tolist()))
    tx.SetTranslation((2.0, -3.0, 1.5))
    sitk.WriteTransform(tx, str(paths["affine"]))
    fshape = tuple(int(s) for s in np.ceil(np.asarray((n_out,) * 3) * spacing / 2.0))
    vec = np.stack([gaussian_filter(rng.normal(size=fshape), 4.0) for _ in range(3)], axis=-1)
    vec *= 4.0 / np.abs(vec).max()
    fimg = sitk.GetImageFromArray(np.ascontiguousarray(vec.transpose(2, 1, 0, 3)), isVector=True)
    aff_f = np.diag([2.0, 2.0, 2.0, 1.0])
    aff_f[:3, 3] = aff_ref[:3, 3]
    origin, sp, direction = sitk_geometry(aff_f)
    fimg.SetOrigin(origin)
    fimg.SetSpacing(sp)
    fimg.SetDirection(direction)
    sitk.WriteImage(fimg, str(paths["field"]))
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=int, default=324, help="output voxels per axis (324: 34 M)")
    ap.add_argument("--skip-ants", action="store_true")
    ap.add_argument("--ants-python", default=None,
                    help="a Python with antspyx (its own venv: antspyx pins older numpy/scipy)")
    ap.add_argument("--memory-iso", type=float, default=0.29,
                    help="spacing (mm) of the ~2 GB output of the peak-memory row (0: skip)")
    args = ap.parse_args()
    import nibabel as nib

    ants_python = args.ants_python or sys.executable
    have_ants = not args.skip_ants and subprocess.run(
        [ants_python, "-c", "import ants"], capture_output=True).returncode == 0
    cli = [sys.executable, "-m", "niresample_cli"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        p = make_inputs(folder, args.out)
        chains = {"affine": [p["affine"]], "field": [p["field"], p["affine"]]}
        jobs = [("affine", "1"), ("affine", "3"), ("field", "1"), ("field", "3"),
                ("field", "nearest"), ("field", "gaussian")]
        for chain, kind in jobs:
            tf = [str(t) for t in chains[chain]]
            labels = kind in ("nearest", "gaussian")
            src = p["labels"] if labels else p["image"]
            ours, theirs = folder / "ours.nii", folder / "sitk.nii"
            if labels:
                extra = ["--sigma", "1"] if kind == "gaussian" else []
                cmd = [*cli, "labels", str(src), str(ours), "--like", str(p["ref"]), *extra,
]
            else:
                cmd = [*cli, "spacing", str(src), str(ours), "--like", str(p["ref"]), "--order", kind]
            for t in tf:
                cmd += ["-t", t]
            t_ours = _run([*cmd, "--overwrite", "-q"])
            t_sitk = _run([sys.executable, "-c", SITK_SCRIPT, str(src), str(p["ref"]), str(theirs),
                           kind, *tf])
            a = np.asarray(nib.load(str(ours)).dataobj)
            b = np.asarray(nib.load(str(theirs)).dataobj)
            if labels:
                agree = f"{100.0 * np.mean(a == b):.3f}% equal"
            else:
                inner = (a != 0) & (b != 0)
                d = np.abs(a[inner].astype(np.float64) - b[inner]).max() / float(np.ptp(b[inner]))
                agree = f"max|diff| {d:.1e} of range"
            t_ants = None
            if have_ants:
                t_ants = _run([ants_python, "-c", ANTS_SCRIPT, str(src), str(p["ref"]),
                               str(folder / "ants.nii"), kind, *tf])
            rows.append((chain, kind, t_ours, t_sitk, t_ants, agree))
            print(f"{chain:7s} {kind:9s} niresample {t_ours:6.2f} s  SimpleITK {t_sitk:6.2f} s"
                  f"  ratio {t_sitk / t_ours:5.2f}x  {agree}", flush=True)
        mem_row = None
        if args.memory_iso > 0:
            big = folder / "big.nii"
            dt, peak = _peak([*cli, "spacing", str(p["image"]), str(big), "--iso", str(args.memory_iso),
                              "--order", "1", "-t", str(p["affine"]), "--overwrite", "-q"])
            size = big.stat().st_size
            big.unlink()
            mem_row = (size, peak, dt)
            print(f"peak memory: output {size / 2**30:.2f} GiB, peak RSS {peak / 2**20:.0f} MiB "
                  f"({100.0 * peak / size:.1f}% of the output), {dt:.1f} s", flush=True)
    n = args.out ** 3
    print(f"\n{n / 1e6:.1f} M output voxels, {os.cpu_count()} cores, end to end (fresh processes)\n")
    head = "| transform | method | niresample s | SimpleITK s | SimpleITK / niresample |"
    head += " antspyx s |" if have_ants else ""
    print(head + " agreement |")
    print("|" + "---|" * (head.count("|") - 1 + 1))
    for chain, kind, a, b, c, agree in rows:
        extra = f" {c:.2f} |" if have_ants and c is not None else ""
        print(f"| {chain} | {kind} | {a:.2f} | {b:.2f} | {b / a:.2f}x |{extra} {agree} |")
    if mem_row is not None:
        size, peak, dt = mem_row
        print(f"\nPeak memory, affine, order 1, {size / 2**30:.2f} GiB float32 output: "
              f"{peak / 2**20:.0f} MiB RSS ({100.0 * peak / size:.1f}% of the output), {dt:.1f} s")


if __name__ == "__main__":
    main()
