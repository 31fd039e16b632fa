"""The in-memory API runs its slabs on threads (as the file stream does): same output."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from niresample_cli.core._nibabel import source_from_nibabel
from niresample_cli.core.engine import plan_resample
from niresample_cli.core.grid import Grid
from niresample_cli.core.stream import collect_output


@pytest.mark.parametrize("rotated", [False, True])
@pytest.mark.parametrize("order", [0, 1, 3])
def test_threaded_collect_equals_sequential(rotated: bool, order: int) -> None:
    rng = np.random.default_rng(order)
    data = rng.normal(size=(23, 19, 29, 2)).astype(np.float32)  # 4D: volumes too
    img = nib.Nifti1Image(data, np.diag([1.1, 0.9, 1.3, 1.0]))
    src = source_from_nibabel(img)
    grid = src.grid.with_spacing((0.7, 0.8, 0.6))
    if rotated:
        c, s = np.cos(0.3), np.sin(0.3)
        rot = np.array([[c, -s, 0, 0], [s, c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])
        grid = Grid(grid.shape, rot @ grid.affine)
    plan = plan_resample(src, grid, order=order)
    slabs = [(z, min(z + 3, grid.shape[2])) for z in range(0, grid.shape[2], 3)]
    kw = dict(grid=grid, extra_shape=(2,), dtype=plan.out.dtype, slab_fn=plan.slab_fn, slabs=slabs)
    one = collect_output(**kw)  # type: ignore[arg-type]
    many = collect_output(**kw, threaded=True)  # type: ignore[arg-type]
    if order < 2:
        assert np.array_equal(one, many, equal_nan=True)
    else:  # the z pre-filter's margins move with the cuts: equal to float32 rounding
        np.testing.assert_allclose(many, one, rtol=0, atol=1e-5 * float(np.abs(one).max()))
    assert np.isfinite(one).any()
