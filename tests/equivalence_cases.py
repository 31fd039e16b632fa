"""A fixed set of CLI runs whose outputs are recorded before a refactor and checked after it.

``scripts/record_equivalence.py`` runs every case and stores the outputs in
``tests/data/equivalence/``; ``tests/test_equivalence.py`` runs them again and asserts that
label outputs are identical and intensity outputs equal to float32 rounding.  The inputs are
built here, deterministically, from the files shipped in ``examples/`` (plain, oblique, 4D,
cropped labels, a float label map and a rotated reference grid).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
BASELINE = REPO / "tests" / "data" / "equivalence"


def _rot(axis: int, deg: float) -> np.ndarray:
    t = np.deg2rad(deg)
    c, s = np.cos(t), np.sin(t)
    i, j = [a for a in range(3) if a != axis]
    r = np.eye(4)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


def build_inputs(folder: Path) -> None:
    """Write the case inputs into ``folder`` (always the same bytes for the same nibabel)."""
    import nibabel as nib

    anat = nib.load(str(EXAMPLES / "anatomical.nii"))
    nib.save(anat, str(folder / "anat.nii"))
    data = np.asarray(anat.dataobj).astype(np.float32)
    obl = _rot(2, 20.0) @ _rot(0, 10.0) @ anat.affine
    img = nib.Nifti1Image(data, obl)
    img.set_qform(obl, code=1)
    img.set_sform(obl, code=1)
    nib.save(img, str(folder / "anat_obl.nii.gz"))
    four = np.stack([np.asarray(anat.dataobj), np.asarray(anat.dataobj) // 2 + 10], axis=-1).astype(np.int16)
    img4 = nib.Nifti1Image(four, anat.affine)
    img4.set_qform(anat.affine, code=2)
    img4.set_sform(anat.affine, code=2)
    img4.header.set_xyzt_units("mm", "sec")
    img4.header["pixdim"][4] = 2.0
    nib.save(img4, str(folder / "anat4d.nii.gz"))

    dk = nib.load(str(EXAMPLES / "desikan_killiany.nii.gz"))
    crop = np.asarray(dk.dataobj)[40:100, 50:120, 40:100]
    aff = dk.affine.copy()
    aff[:3, 3] = dk.affine[:3, :3] @ np.array([40, 50, 40]) + dk.affine[:3, 3]
    lab = nib.Nifti1Image(crop, aff)
    lab.set_qform(aff, code=0)
    lab.set_sform(aff, code=2)
    nib.save(lab, str(folder / "dk_crop.nii.gz"))
    labf = nib.Nifti1Image(crop.astype(np.float32), aff)
    labf.set_sform(aff, code=2)
    nib.save(labf, str(folder / "dk_float.nii.gz"))

    # A reference grid rotated 25 degrees about z and 8 about y, 2.2 mm voxels.
    ref_aff = _rot(2, 25.0) @ _rot(1, 8.0) @ np.diag([2.2, 2.2, 2.2, 1.0])
    ref_aff[:3, 3] = dk.affine[:3, :3] @ np.array([70.0, 85.0, 70.0]) + dk.affine[:3, 3] - 2.2 * np.array([15, 18, 12])
    ref = nib.Nifti1Image(np.zeros((30, 36, 24), np.uint8), ref_aff)
    ref.set_sform(ref_aff, code=2)
    nib.save(ref, str(folder / "ref_rot.nii.gz"))


# (name, argv with {d} for the input folder and {o} for the output path, output file name, kind)
CASES: list[tuple[str, str, str, str]] = [
    ("sp_iso1", "spacing {d}/anat.nii {o} --iso 1", "out.nii.gz", "intensity"),
    ("sp_z_o3", "spacing {d}/anat.nii {o} --z 1.25 --order 3", "out.nii", "intensity"),
    ("sp_down_f32", "spacing {d}/anat.nii {o} --iso 3.1 --dtype float32", "out.nii.gz", "intensity"),
    ("sp_down_noaa", "spacing {d}/anat.nii {o} --iso 3.1 --dtype float32 --no-antialias", "out.nii.gz", "intensity"),
    ("sp_origin_o5", "spacing {d}/anat.nii {o} --iso 1.5 --anchor origin --order 5", "out.nii.gz", "intensity"),
    ("sp_corner_o0", "spacing {d}/anat.nii {o} --spacing 1.5 1 3 --anchor corner --order 0", "out.nii.gz", "intensity"),
    ("sp_oblique_o3", "spacing {d}/anat_obl.nii.gz {o} --spacing 1 1.5 2.5 --order 3", "out.nii.gz", "intensity"),
    ("sp_4d", "spacing {d}/anat4d.nii.gz {o} --z 1", "out.nii.gz", "intensity"),
    ("sp_like_rot_o1", "spacing {d}/anat_obl.nii.gz {o} --like {d}/ref_rot.nii.gz", "out.nii.gz", "intensity"),
    ("sp_like_rot_o3", "spacing {d}/anat_obl.nii.gz {o} --like {d}/ref_rot.nii.gz --order 3", "out.nii.gz", "intensity"),
    ("sp_mem_small", "spacing {d}/anat.nii {o} --iso 0.5 --order 3 --max-memory 16M", "out.nii", "intensity"),
    ("sp_zarr", "spacing {d}/anat.nii {o} --iso 1 --pyramid 1", "out.ome.zarr", "intensity"),
    ("size_shape", "size {d}/anat.nii {o} --shape 64 64 48", "out.nii.gz", "intensity"),
    ("size_4d_o1", "size {d}/anat4d.nii.gz {o} --shape 20 20 20 --order 1", "out.nii.gz", "intensity"),
    ("lb_nearest", "labels {d}/dk_crop.nii.gz {o} --resolution 0.5", "out.nii.gz", "labels"),
    ("lb_nearest_xyz", "labels {d}/dk_crop.nii.gz {o} --x 0.7 --z 1.3", "out.nii", "labels"),
    ("lb_majority", "labels {d}/dk_crop.nii.gz {o} --resolution 2.5 --method majority", "out.nii.gz", "labels"),
    ("lb_gauss", "labels {d}/dk_crop.nii.gz {o} --resolution 0.7 --sigma 0.6", "out.nii.gz", "labels"),
    ("lb_gauss_vox", "labels {d}/dk_crop.nii.gz {o} --shape 80 90 70 --sigma-voxels 1.5", "out.nii.gz", "labels"),
    ("lb_gauss_mem", "labels {d}/dk_crop.nii.gz {o} --resolution 0.6 --sigma 0.5 --max-memory 16M", "out.nii.gz", "labels"),
    ("lb_like_rot", "labels {d}/dk_crop.nii.gz {o} --like {d}/ref_rot.nii.gz", "out.nii.gz", "labels"),
    ("lb_like_rot_gauss", "labels {d}/dk_crop.nii.gz {o} --like {d}/ref_rot.nii.gz --sigma 2", "out.nii.gz", "labels"),
    ("lb_float", "labels {d}/dk_float.nii.gz {o} --resolution 0.8", "out.nii.gz", "labels"),
    ("lb_torch_cpu", "labels {d}/dk_crop.nii.gz {o} --resolution 0.6 --sigma 0.5 --device torch-cpu", "out.nii.gz", "labels"),
    ("lb_zarr", "labels {d}/dk_crop.nii.gz {o} --resolution 0.5 --pyramid 1", "out.ome.zarr", "labels"),
    ("info_json", "info --json {d}/anat.nii {d}/dk_crop.nii.gz", "", "json"),
    ("compare_json", "compare --json {d}/dk_crop.nii.gz {d}/dk_float.nii.gz", "", "json"),
]


def read_output(path: Path) -> dict[str, Any]:
    """Arrays and geometry of a written output (NIfTI or OME-Zarr), as plain values."""
    import nibabel as nib

    if path.suffix == ".zarr" or path.name.endswith(".ome.zarr"):
        import zarr

        root = zarr.open_group(str(path), mode="r")
        attrs = dict(root.attrs)
        out: dict[str, Any] = {"attrs": json.dumps(attrs, sort_keys=True, default=str)}
        ms = attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")
        for i, ds in enumerate(ms[0]["datasets"]):
            out[f"level{i}"] = np.asarray(root[ds["path"]][...])
        return out
    img = nib.load(str(path))
    hdr = img.header
    return {
        "data": np.asanyarray(img.dataobj),
        "affine": np.asarray(img.affine, dtype=np.float64),
        "qform": np.asarray(hdr.get_qform(), dtype=np.float64),
        "codes": np.array([int(hdr["qform_code"]), int(hdr["sform_code"])]),
        "pixdim": np.asarray(hdr["pixdim"], dtype=np.float64),
        "dtype": str(hdr.get_data_dtype()),
        "scl": np.array([float(hdr["scl_slope"]), float(hdr["scl_inter"])]),
    }


def run_case(argv: str, folder: Path, out: Path) -> tuple[int, str]:
    """Run one CLI case in-process; returns ``(exit code, stdout)``."""
    from typer.testing import CliRunner

    from niresample_cli.app import app, state

    args = argv.format(d=folder, o=out).split()
    try:
        res = CliRunner().invoke(app, ["--debug", *args], catch_exceptions=False)
    finally:
        state.debug = False  # --debug is process state: leave none behind for later tests
    return res.exit_code, res.stdout
