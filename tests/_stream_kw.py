"""The old keyword form of ``core.stream.write_output`` for tests of the writers.

Tests of the NIfTI/Zarr writers pass the output's layout and options as keywords;
this builds the :class:`OutputSpec`, :class:`OutputOptions` and :class:`Compute`
that :func:`niresample_cli.core.stream.write_output` takes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from niresample_cli.core.requests import Compute, OutputOptions
from niresample_cli.core.result import OutputSpec
from niresample_cli.core.stream import write_output as _write_output

_SPEC = ("extra_shape", "dtype", "template", "slope", "inter")


def write_output(path: Path, *, grid: Any, slab_fn: Any, slabs: Any, inputs: Any = (),
                 progress: Any = None, jobs: int | None = None,
                 max_memory: str | int | None = None, **kw: Any) -> Path:
    spec = OutputSpec(grid, **{k: kw.pop(k) for k in _SPEC if k in kw})
    return _write_output(path, spec, slab_fn, slabs, options=OutputOptions(**kw),
                         compute=Compute(threads=jobs, max_memory=max_memory),
                         inputs=inputs, progress=progress)
