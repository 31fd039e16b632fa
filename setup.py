"""Compiled kernels (optional: without a C compiler niresample installs and runs on its
numpy/scipy code paths, only slower).  Everything else is in pyproject.toml."""

from setuptools import Extension, setup

_FLAGS = ["-O3", "-std=c99", "-fno-strict-aliasing"]

setup(
    ext_modules=[
        # interpolation through coordinate maps (core/_mapped.py): affine and field maps
        Extension("niresample_cli.core._cinterp", ["core/_cinterp.c"], optional=True,
                  extra_compile_args=_FLAGS),
        # per-label Gaussian argmax (core/_labels_numpy.py)
        Extension("niresample_cli.core._clabels", ["core/_clabels.c"], optional=True,
                  extra_compile_args=_FLAGS),
        # separable rows and the integer cast (core/_native_passes.py); no FMA contraction,
        # so that each product is rounded as in the numpy path (same bits)
        Extension("niresample_cli.core._cseparable", ["core/_cseparable.c"], optional=True,
                  extra_compile_args=[*_FLAGS, "-ffp-contract=off"]),
    ],
)
