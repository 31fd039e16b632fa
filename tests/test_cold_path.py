"""The first call does only what a warm call needs: an order-1 resampling (the
common case) loads none of scipy's heavy subpackages (scipy.sparse cost 0.15-0.5 s
of a first call), and the rows it applies match SimpleITK."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

_FIRST_CALL = """
import json, sys
import numpy as np, nibabel as nib
from niresample_cli.core.api import resample_to_spacing
img = nib.Nifti1Image(np.random.default_rng(0).random((20, 18, 16), dtype=np.float32), np.eye(4))
resample_to_spacing(img, 0.7, order=1)
heavy = ("scipy.sparse", "scipy.ndimage", "scipy.special", "scipy._lib._util")
print(json.dumps(sorted(m for m in sys.modules if m.startswith(heavy))))
"""


def test_an_order_1_first_call_imports_no_heavy_scipy() -> None:
    out = subprocess.run([sys.executable, "-c", _FIRST_CALL], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_linear_rows_on_every_axis_equal_simpleitk() -> None:
    import nibabel as nib
    import SimpleITK as sitk

    from niresample_cli.core._sitk import from_sitk, sitk_geometry, to_sitk
    from niresample_cli.core.api import resample_to_grid
    from niresample_cli.core.grid import Grid

    rng = np.random.default_rng(3)
    data = rng.random((23, 19, 17))  # float64: ITK and we agree to rounding
    affine = np.diag([1.0, 1.3, 0.9, 1.0])
    grid = Grid(data.shape, affine).with_spacing((0.6, 0.7, 0.5))
    ours = np.asarray(resample_to_grid(nib.Nifti1Image(data, affine), grid, order=1,
                                       anti_aliasing=False).dataobj)
    f = sitk.ResampleImageFilter()
    origin, spacing, direction = sitk_geometry(grid.affine)
    f.SetSize([int(v) for v in grid.shape])
    f.SetOutputOrigin(origin)
    f.SetOutputSpacing(spacing)
    f.SetOutputDirection(direction)
    f.SetInterpolator(sitk.sitkLinear)
    ref = from_sitk(f.Execute(to_sitk(data, affine)))[0]
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)


def test_default_slabs_are_cache_sized_and_give_the_same_output(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Without max_memory an ordinary output streams in small slabs (the 1 GiB budget is a
    ceiling, not a goal), and the output equals the one-slab run."""
    import nibabel as nib

    from niresample_cli.core.api import resample_to_spacing
    from niresample_cli.core.engine import plan_resample
    from niresample_cli.core.io import open_image

    path = tmp_path / "in.nii"
    rng = np.random.default_rng(0)
    nib.save(nib.Nifti1Image((rng.random((97, 113, 89)) * 255).astype(np.uint8), np.eye(4)), str(path))
    with open_image(path) as src:
        target = src.grid.with_spacing(0.5)
        plan = plan_resample(src, target, order=1)
        per_slice, _ = plan.slab_fn.memory()
        heights = [z1 - z0 for z0, z1 in plan.slabs]
    assert len(heights) > 1
    assert max(heights) * per_slice <= 64 << 20
    small = np.asarray(resample_to_spacing(str(path), 0.5, order=1).dataobj)
    whole = np.asarray(resample_to_spacing(str(path), 0.5, order=1, max_memory="4G").dataobj)
    np.testing.assert_array_equal(small, whole)
