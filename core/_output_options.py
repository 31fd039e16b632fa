"""How an output is written: the :class:`OutputOptions` part of a request (see :mod:`.requests`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import choice, set_field
from .budget import parse_size
from .errors import OptionError

__all__ = ["OUTPUT_FORMATS", "OutputOptions"]

#: Output formats chosen by name rather than by the output's extension (issue 13).
OUTPUT_FORMATS: tuple[str, ...] = ("tiff-slices",)


@dataclass(frozen=True)
class OutputOptions:
    """How an output is written.

    Parameters
    ----------
    overwrite : bool
        Replace an existing output (never an input).
    compress_level : int, optional
        gzip level 0..9 for ``.nii.gz`` (default: fastest).
    force : bool
        Skip the free-disk-space check.
    max_output : int or str, optional
        Refuse, before any work, an output larger than this (uncompressed); stored in bytes.
    chunks : int, str or 3 ints, optional
        Zarr chunk shape in voxels (Zarr outputs only).
    pyramid : int
        Downsampled Zarr levels to add (Zarr outputs only).
    resume : bool
        Finish an interrupted Zarr output (Zarr outputs only).
    scheduler : str, optional
        dask.distributed scheduler address for Zarr chunk tasks (Zarr outputs only).
    format : {None, 'tiff-slices'}
        ``'tiff-slices'``: write a folder of 2D TIFF slices at the output path
        (default: the format follows the output's extension).
    zarr_format : {2, 3}
        Zarr v2 with OME-NGFF 0.4 (default) or Zarr v3 with NGFF 0.5 (Zarr outputs only).
    """

    overwrite: bool = False
    compress_level: int | None = None
    force: bool = False
    max_output: int | None = None
    chunks: int | str | tuple[int, ...] | None = None
    pyramid: int = 0
    resume: bool = False
    scheduler: str | None = None
    format: str | None = None
    zarr_format: int = 2

    def __post_init__(self) -> None:
        if self.format is not None:
            set_field(self, "format", choice(self.format, "format", OUTPUT_FORMATS))
        if self.zarr_format not in (2, 3) or isinstance(self.zarr_format, bool):
            raise OptionError(f"zarr_format: expected 2 or 3, got {self.zarr_format!r}", param="zarr_format")
        if self.compress_level is not None and (
                isinstance(self.compress_level, bool) or not isinstance(self.compress_level, (int, np.integer))
                or not 0 <= self.compress_level <= 9):
            raise OptionError(f"compress_level: expected 0..9, got {self.compress_level!r}",
                              param="compress_level")
        if self.max_output is not None:
            n = parse_size(self.max_output, "max_output")
            if n <= 0:
                raise OptionError(f"max_output: expected a positive size, got {self.max_output!r}",
                                  param="max_output")
            set_field(self, "max_output", n)
        if isinstance(self.pyramid, bool) or not isinstance(self.pyramid, (int, np.integer)) \
                or not 0 <= self.pyramid <= 16:
            raise OptionError(f"pyramid: expected 0..16 levels, got {self.pyramid!r}", param="pyramid")
        if self.scheduler is not None:
            from ._dask import validate_scheduler

            set_field(self, "scheduler", validate_scheduler(self.scheduler))

    @property
    def zarr_only(self) -> list[str]:
        """Names of the Zarr-only options that are set (an error on a NIfTI output)."""
        return [n for n, on in (("chunks", self.chunks is not None), ("pyramid", bool(self.pyramid)),
                                ("resume", self.resume), ("scheduler", self.scheduler is not None),
                                ("zarr_format", self.zarr_format != 2)) if on]
