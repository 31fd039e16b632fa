"""The torch backend applies the same rows as numpy (float32 precision)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from niresample_cli.core.api import source_from_nibabel
from niresample_cli.core.device import cuda_available, torch_available
from niresample_cli.core.engine import plan_resample, resample_to_array

pytestmark = pytest.mark.skipif(not torch_available(), reason="torch not installed")


def _image(seed: int = 0) -> nib.Nifti1Image:
    rng = np.random.default_rng(seed)
    data = (gaussian_filter(rng.random((26, 22, 30)), 1.2) * 1000).astype(np.float32)
    return nib.Nifti1Image(data, np.diag([1.0, 1.1, 0.9, 1.0]))


def _compare(device: str, order: int, spacing: tuple[float, ...], aa: bool) -> None:
    img = _image(order)
    src = source_from_nibabel(img)
    grid = src.grid.with_spacing(spacing)
    ref = resample_to_array(plan_resample(src, grid, order=order, anti_aliasing=aa))[0]
    plan = plan_resample(src, grid, order=order, anti_aliasing=aa, device=device,
                         max_memory="16M")
    plan.slabs = [(z, min(z + 5, grid.shape[2])) for z in range(0, grid.shape[2], 5)]
    got = resample_to_array(plan)[0]
    assert got.dtype == ref.dtype
    if order == 0:
        np.testing.assert_array_equal(got, ref)
    else:
        np.testing.assert_allclose(got, ref, rtol=0, atol=2e-6 * np.abs(ref).max())


@pytest.mark.parametrize("order", [0, 1, 3, 5])
@pytest.mark.parametrize(("spacing", "aa"), [((0.7, 0.6, 0.8), True), ((1.9, 2.3, 1.4), True),
                                             ((1.9, 2.3, 1.4), False)])
def test_torch_cpu_matches_numpy(order: int, spacing: tuple[float, ...], aa: bool) -> None:
    _compare("torch-cpu", order, spacing, aa)


@pytest.mark.cuda
@pytest.mark.skipif(not cuda_available(), reason="no CUDA GPU")
@pytest.mark.parametrize("order", [0, 1, 3])
def test_torch_cuda_matches_numpy(order: int) -> None:
    _compare("cuda", order, (0.7, 1.6, 0.8), True)


def test_identity_is_bit_for_bit_on_torch() -> None:
    img = _image(9)
    src = source_from_nibabel(img)
    got = resample_to_array(plan_resample(src, src.grid, order=3, device="torch-cpu"))[0]
    np.testing.assert_array_equal(got, np.asarray(img.dataobj))
