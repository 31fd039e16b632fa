"""Upscale the Allen CCF 25 um annotation to 10 um and 5 um, streaming.

For each output format it runs ``niresample labels IN OUT --resolution R``
in a child process under ``/usr/bin/time -f '%e %M'`` (wall seconds, peak RSS
KiB of that child), right after measuring the disk's sequential write speed
with ``dd ... conv=fsync`` and ``dd ... oflag=direct`` in the same directory,
before and after each output.  Outputs are deleted as soon
as they are measured (disk space is shared).

Also measured:
* correctness at 10 um: the streamed ``.nii`` against an in-memory nearest
  resampling computed another way (whole input in RAM, per-axis index vectors
  from the two files' headers), slab by slab; ``.nii.gz`` and ``.ome.zarr``
  against the ``.nii`` bit for bit;
* ``.nii.gz`` speed against nibabel's own save of the same array (a 1 GB part
  of the 10 um result, both in a child process).

Usage::

    python bench/huge/run_huge.py --workdir /tmp/niresample-huge [--resolutions 0.01 0.005]

Prints a Markdown table and writes ``results_<res>.json`` next to this script.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
ALLEN = REPO.parent / "shared" / "data" / "allen_ccf2017_annotation_25um.nii.gz"
PY = sys.executable
NIRESAMPLE = str(Path(PY).parent / "niresample")


def dd_speed(workdir: Path, gib: int = 4, *, direct: bool = False) -> float:
    """Sequential write speed (bytes/s) of the disk holding ``workdir``.

    ``conv=fsync`` goes through the page cache (and its dirty-page throttling)
    then flushes; ``oflag=direct`` bypasses the cache: the device's own speed.
    """
    target = workdir / "dd.bin"
    flag = "oflag=direct" if direct else "conv=fsync"
    res = subprocess.run(
        ["dd", "if=/dev/zero", f"of={target}", "bs=16M", f"count={gib * 64}", flag],
        capture_output=True, text=True, check=True,
    )
    target.unlink()
    m = re.search(r"(\d+) bytes .* copied, ([0-9.]+) s", res.stderr)
    assert m, res.stderr
    return int(m.group(1)) / float(m.group(2))


def du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run_case(src: Path, out: Path, resolution: float, extra: list[str]) -> dict[str, float]:
    cmd = ["/usr/bin/time", "-f", "TIME %e %M", NIRESAMPLE, "labels", str(src), str(out),
           "--resolution", str(resolution), "--quiet", *extra]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{res.stderr[-3000:]}")
    m = re.search(r"TIME ([0-9.]+) (\d+)", res.stderr)
    assert m, res.stderr
    return {"wall_s": float(m.group(1)), "peak_rss_mib": int(m.group(2)) / 1024}


def child(code: str) -> dict[str, object]:
    res = subprocess.run([PY, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         cwd=REPO)
    if res.returncode != 0:
        raise SystemExit(res.stderr[-3000:])
    return json.loads(res.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


CHECK = """
import json, numpy as np, nibabel as nib, zarr
src = nib.load({src!r}); data = np.asarray(src.dataobj)            # whole input in RAM
out = nib.load({nii!r})
# output voxel -> input voxel from the two headers (float64 of the stored float32)
m = np.linalg.solve(src.affine.astype(np.float64), out.affine.astype(np.float64))
assert np.allclose(m[:3, :3], np.diag(np.diag(m[:3, :3])), atol=1e-9), 'not axis aligned'
nx, ny, nz = out.shape
# per axis: input index = round(m_aa * i + m_a3); exactly half-way points (float32 headers
# cannot tell which way they were meant to round) may take either neighbour
lo, hi = [], []
for a, n in enumerate(out.shape):
    c = m[a, a] * np.arange(n) + m[a, 3]
    lo.append(np.clip(np.floor(c + 0.5 - 1e-4).astype(np.int64), 0, data.shape[a] - 1))
    hi.append(np.clip(np.floor(c + 0.5 + 1e-4).astype(np.int64), 0, data.shape[a] - 1))
ties = int(np.prod([n for n in out.shape])) - int(np.prod([(l == h).sum() for l, h in zip(lo, hi)]))
gz = nib.load({gz!r}) if {gz!r} else None
zr = zarr.open_array(store={zarr!r} + '/0', mode='r') if {zarr!r} else None
bad = gz_bad = zarr_bad = exact = 0
for z0 in range(0, nz, 32):
    z1 = min(nz, z0 + 32)
    got = np.asarray(out.dataobj[:, :, z0:z1])
    ok = np.zeros(got.shape, bool)
    for s in np.ndindex(2, 2, 2):
        pick = [(hi if s[a] else lo)[a] for a in range(3)]
        ref = data[np.ix_(pick[0], pick[1], pick[2][z0:z1])]
        hit = got == ref
        if s == (0, 0, 0):
            exact += int(hit.sum())
        ok |= hit
    bad += int((~ok).sum())
    if gz is not None:
        gz_bad += int((np.asarray(gz.dataobj[:, :, z0:z1]) != got).sum())
    if zr is not None:
        zarr_bad += int((np.asarray(zr[z0:z1]).T != got).sum())
print(json.dumps(dict(voxels=int(nx) * ny * nz, voxels_on_a_tie=ties, equal_round_down=exact,
                      mismatches=bad, gz_mismatches=gz_bad if gz is not None else None,
                      zarr_mismatches=zarr_bad if zr is not None else None)))
"""

GZ_VS_NIBABEL = """
import json, os, time, numpy as np, nibabel as nib
from pathlib import Path
from niresample_cli.core.grid import Grid
from niresample_cli.core.stream import write_output
img = nib.load({nii!r})
arr = np.asarray(img.dataobj[:, :, :{nz}])          # a part of the 10 um result, in RAM
work = Path({work!r})
t = time.perf_counter()
nib.save(nib.Nifti1Image(arr, img.affine, img.header), str(work / 'nib.nii.gz'))
t_nib = time.perf_counter() - t
size_nib = os.path.getsize(work / 'nib.nii.gz'); os.remove(work / 'nib.nii.gz')
class FromArray:
    def __call__(self, v, z0, z1):
        return arr[:, :, z0:z1]
t = time.perf_counter()
write_output(work / 'ours.nii.gz', grid=Grid(arr.shape, img.affine), extra_shape=(),
             dtype=arr.dtype, slab_fn=FromArray(), slabs=[(z, min(arr.shape[2], z + 16))
             for z in range(0, arr.shape[2], 16)], template=img.header)
t_ours = time.perf_counter() - t
size_ours = os.path.getsize(work / 'ours.nii.gz')
back = nib.load(str(work / 'ours.nii.gz'))
same = bool(np.array_equal(np.asarray(back.dataobj), arr))
os.remove(work / 'ours.nii.gz')
print(json.dumps(dict(bytes=int(arr.nbytes), nibabel_s=t_nib, ours_s=t_ours,
                      nibabel_gz_bytes=size_nib, ours_gz_bytes=size_ours, equal=same)))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/niresample-huge"))
    ap.add_argument("--resolutions", nargs="+", type=float, default=[0.01],
                    help="output spacings in mm (0.005 needs ~48 GB free for the .nii)")
    ap.add_argument("--formats", nargs="+", default=[".nii", ".nii.gz", ".ome.zarr"])
    ap.add_argument("--skip-checks", action="store_true")
    args = ap.parse_args()
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
                   f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM",
        "load_avg_start": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cases": [],
    }
    resolutions = args.resolutions
    rows = []
    for res in resolutions:
        tag = f"{res * 1000:g}um"
        keep: dict[str, Path] = {}
        for fmt in args.formats:
            out = work / f"allen_{tag}{fmt}"
            free = shutil.disk_usage(work).free
            need = 1320 * 800 * 1140 * 4 * (0.01 / res) ** 3
            if fmt == ".nii" and free < need * 1.25 + 8e9:
                print(f"skip {out.name}: {free / 1e9:.0f} GB free, needs {need / 1e9:.0f} GB")
                continue
            before = dd_speed(work)
            before_direct = dd_speed(work, direct=True)
            r = run_case(ALLEN, out, res, [])
            size = du(out)
            after = dd_speed(work)  # the shared disk's speed drifts: measure on both sides
            after_direct = dd_speed(work, direct=True)
            case = {
                "output": out.name, "resolution_mm": res, "data_gb": need / 1e9,
                "on_disk_gb": size / 1e9, "disk_write_gbps": (before + after) / 2e9,
                "disk_before_gbps": before / 1e9, "disk_after_gbps": after / 1e9,
                "disk_direct_gbps": (before_direct + after_direct) / 2e9,
                "disk_direct_before_gbps": before_direct / 1e9,
                "disk_direct_after_gbps": after_direct / 1e9, **r,
                "out_gbps": need / r["wall_s"] / 1e9, "load_avg": os.getloadavg()[0],
            }
            results["cases"].append(case)  # type: ignore[union-attr]
            rows.append(case)
            print(json.dumps(case), flush=True)
            if res == 0.01 and not args.skip_checks:
                keep[fmt] = out
            else:
                shutil.rmtree(out) if out.is_dir() else out.unlink()
        if res == 0.01 and not args.skip_checks and ".nii" in keep:
            chk = child(CHECK.format(src=str(ALLEN), nii=str(keep[".nii"]),
                                     gz=str(keep.get(".nii.gz", "")),
                                     zarr=str(keep.get(".ome.zarr", ""))))
            results["check_10um"] = chk
            print(json.dumps(chk), flush=True)
            gzr = child(GZ_VS_NIBABEL.format(nii=str(keep[".nii"]), nz=256, work=str(work)))
            results["gzip_vs_nibabel"] = gzr
            print(json.dumps(gzr), flush=True)
        for p in keep.values():
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    name = "results_" + "_".join(f"{r * 1000:g}um" for r in resolutions) + ".json"
    (HERE / name).write_text(json.dumps(results, indent=2))
    print()
    print(f"machine: {results['machine']}; load average at start {results['load_avg_start']}")
    print("| output | data GB | on disk GB | wall s | output GB/s | dd fsync GB/s (before/after) "
          "| dd direct GB/s (before/after) | ratio to the faster dd | peak RSS MiB | load avg |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for c in rows:
        best = max(c["disk_write_gbps"], c.get("disk_direct_gbps", 0.0))
        direct = (f"{c['disk_direct_gbps']:.2f} ({c['disk_direct_before_gbps']:.2f}/"
                  f"{c['disk_direct_after_gbps']:.2f})") if "disk_direct_gbps" in c else "-"
        print(f"| {c['output']} | {c['data_gb']:.2f} | {c['on_disk_gb']:.3f} | {c['wall_s']:.1f} | "
              f"{c['out_gbps']:.2f} | {c['disk_write_gbps']:.2f} ({c['disk_before_gbps']:.2f}/"
              f"{c['disk_after_gbps']:.2f}) | {direct} | {c['out_gbps'] / best:.0%} | "
              f"{c['peak_rss_mib']:.0f} | {c['load_avg']:.1f} |")
    if "gzip_vs_nibabel" in results:
        g = results["gzip_vs_nibabel"]
        assert isinstance(g, dict)
        mb = g["bytes"] / 1e6
        print(f"\n.nii.gz of {mb:.0f} MB (same array): nibabel {mb / g['nibabel_s']:.0f} MB/s, "
              f"niresample {mb / g['ours_s']:.0f} MB/s ({g['nibabel_s'] / g['ours_s']:.1f}x), "
              f"equal={g['equal']}")


if __name__ == "__main__":
    main()
