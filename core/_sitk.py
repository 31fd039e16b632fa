"""The only place where SimpleITK's LPS origin/spacing/direction appear.

niresample's geometry is nibabel's RAS+ affine; SimpleITK images carry LPS
origin, spacing and direction.  These helpers convert both ways.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError

__all__ = ["affine_from_sitk", "sitk_geometry", "from_sitk", "to_sitk", "read_sitk_image"]

_LPS = np.diag([-1.0, -1.0, 1.0])


def affine_from_sitk(origin: Any, spacing: Any, direction: Any) -> np.ndarray:
    """RAS+ (4, 4) affine from SimpleITK's 3D LPS origin, spacing and direction."""
    d = np.asarray(direction, dtype=np.float64).reshape(3, 3)
    a = np.eye(4)
    a[:3, :3] = _LPS @ d @ np.diag(np.asarray(spacing, dtype=np.float64))
    a[:3, 3] = _LPS @ np.asarray(origin, dtype=np.float64)
    return a


def sitk_geometry(affine: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """SimpleITK ``(origin, spacing, direction)`` (LPS) from a RAS+ affine."""
    a = np.asarray(affine, dtype=np.float64)
    spacing = np.sqrt(np.sum(a[:3, :3] ** 2, axis=0))
    direction = _LPS @ (a[:3, :3] / spacing)
    origin = _LPS @ a[:3, 3]
    return tuple(origin.tolist()), tuple(spacing.tolist()), tuple(direction.ravel().tolist())


def from_sitk(image: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(data, affine)`` with data indexed ``[x, y, z, (component)]``."""
    import SimpleITK as sitk

    if image.GetDimension() != 3:
        raise InputError(f"expected a 3D image, got {image.GetDimension()}D")
    arr = sitk.GetArrayViewFromImage(image)  # (z, y, x[, c])
    data = np.ascontiguousarray(np.moveaxis(arr, (0, 1, 2), (2, 1, 0)))
    return data, affine_from_sitk(image.GetOrigin(), image.GetSpacing(), image.GetDirection())


def to_sitk(data: np.ndarray, affine: np.ndarray) -> Any:
    """A 3D SimpleITK image from ``data[x, y, z]`` and a RAS+ affine."""
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.ascontiguousarray(np.transpose(data, (2, 1, 0))))
    origin, spacing, direction = sitk_geometry(affine)
    image.SetOrigin(origin)
    image.SetSpacing(spacing)
    image.SetDirection(direction)
    return image


def read_sitk_image(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import SimpleITK as sitk

    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as err:
        first = str(err).strip().splitlines()[-1][:160] if str(err).strip() else "unreadable"
        raise InputError(f"{path}: not a readable image ({first})") from err
    try:
        return from_sitk(image)
    except InputError as err:
        raise InputError(f"{path}: {err}") from err
