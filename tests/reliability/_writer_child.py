"""A stand-in command for write-fault tests: streams a synthetic volume to OUT
through the shared slab stream (core.stream.write_output), wrapped exactly as
the CLI wraps its commands (niresample_cli.app._guarded: one-line errors,
SIGTERM/SIGINT cleanup, SIGXFSZ ignored).

Usage: python _writer_child.py OUT NX NY NZ [--slab H] [--sleep S] [--overwrite]
       [--max-output BYTES] [--ready FILE] [--noise]

``--ready FILE`` is created once the first slab is written, so a test can
send a signal while the write is surely in progress.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


class SlowSlabs:
    """Picklable slab function: a ramp along z, optionally slowed down."""

    def __init__(
        self, shape: tuple[int, int, int], sleep: float, ready: str | None, noise: bool = False
    ) -> None:
        self.shape = shape
        self.noise = noise
        self.sleep = sleep
        self.ready = ready

    def __call__(self, volume: int, z0: int, z1: int) -> np.ndarray:
        nx, ny, _ = self.shape
        slab = np.empty((nx, ny, z1 - z0), dtype=np.float32, order="F")
        slab[...] = np.arange(z0, z1, dtype=np.float32)
        if self.noise:  # incompressible, so that .nii.gz outputs are large too
            slab += np.random.default_rng(z0).random(slab.shape, dtype=np.float32)
        if self.sleep:
            time.sleep(self.sleep)
        if self.ready and z0 > 0:
            Path(self.ready).touch()
        return slab


def main(argv: list[str]) -> int:
    import typer

    from niresample_cli.app import _guarded
    from niresample_cli.core.grid import Grid
    from niresample_cli.core.requests import OutputOptions
    from niresample_cli.core.result import OutputSpec
    from niresample_cli.core.stream import write_output

    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("shape", type=int, nargs=3)
    ap.add_argument("--slab", type=int, default=1)
    ap.add_argument("--sleep", type=float, default=0.0)
    ap.add_argument("--overwrite", action="store_true")
    ap.add_argument("--max-output", type=int, default=None)
    ap.add_argument("--ready", default=None)
    ap.add_argument("--noise", action="store_true")
    a = ap.parse_args(argv)
    shape = tuple(a.shape)
    nz = shape[2]
    slabs = [(z0, min(nz, z0 + a.slab)) for z0 in range(0, nz, a.slab)]
    extra = {} if a.max_output is None else {"max_output": a.max_output}

    def run() -> None:
        write_output(
            Path(a.out), OutputSpec(Grid(shape, np.eye(4)), dtype=np.float32),
            SlowSlabs(shape, a.sleep, a.ready, a.noise), slabs,
            options=OutputOptions(overwrite=a.overwrite, **extra),  # type: ignore[arg-type]
        )

    try:
        _guarded(run)()
    except typer.Exit as ex:
        return int(ex.exit_code)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
