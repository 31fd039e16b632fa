"""niresample's library: geometry, engines, label methods and I/O.

No Typer and no printing here.  Public names are imported lazily so that
``import niresample_cli.core`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    # geometry and I/O
    "Grid": "grid",
    "voxel_sizes": "grid",
    "voxel_map": "grid",
    "axis_aligned_map": "grid",
    "open_image": "io",
    "SourceImage": "io",
    "describe_image": "info",
    "compare_images": "compare",
    # intensity resampling
    "resample_to_grid": "api",
    "resample_to_spacing": "api",
    "resample_to_shape": "api",
    "resample_file": "run",
    "source_from_nibabel": "api",
    "target_grid": "api",
    "resample_image": "run",
    "RunResult": "result",
    "ResampleRequest": "requests",
    "Target": "requests",
    "Interpolation": "requests",
    "LabelMethod": "requests",
    "Compute": "requests",
    "OutputOptions": "requests",
    "InputOptions": "requests",
    "TransformChain": "transforms",
    "read_transform": "transforms",
    "plan_resample": "engine",
    "ResamplePlan": "engine",
    "ResampleResult": "engine",
    # labels
    "resample_labels": "labels",
    "resample_labels_file": "labels",
    "label_target_grid": "labels",
    # drop-in replacements for common scripts
    "resample_nifti_spacing": "api",
    "resampling": "api",
    "resample_label_image": "labels",
    # visual report
    "write_report": "report",
    "write_png": "report",
    # errors
    "NiresampleError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'niresample_cli.core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
