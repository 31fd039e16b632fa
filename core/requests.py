"""Typed requests: what to resample onto, how, where to write, with what resources.

A command (or a notebook) builds one :class:`ResampleRequest` from four parts and
hands it to core; each part validates and normalises itself once, when it is
built (``__post_init__``), so deeper code trusts its fields.  Errors name the
Python parameter (``OptionError.param``), never a CLI flag.

* :class:`Target`: the output grid, from exactly one of ``spacing``, ``shape`` or
  ``like`` (plus the ``anchor``).  The one place of the "exactly one" rule.
* :class:`Interpolation`: intensity resampling (B-spline ``order``,
  ``anti_aliasing``, output ``dtype``).
* :class:`LabelMethod`: label resampling (``nearest``, ``majority`` or
  ``gaussian`` with ``sigma`` in mm or ``sigma_voxels``).
* :class:`Compute`: ``device``, ``max_memory`` (bytes) and ``threads``.
* :class:`OutputOptions`: how the output is written (``overwrite``,
  ``compress_level``, Zarr ``chunks``/``pyramid``/``resume``/``scheduler``,
  ``force``, ``max_output``).
* :class:`InputOptions` (from :mod:`._inputs`): how the input is read
  (``orientation``, ``voxel_size``, ``level``, ``space_unit``).

Examples
--------
>>> from niresample_cli.core.requests import Target, LabelMethod
>>> Target(spacing=0.5).spacing
(0.5, 0.5, 0.5)
>>> LabelMethod(sigma=0.5).method      # a sigma implies the Gaussian
'gaussian'
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Union

import numpy as np

from ._inputs import InputOptions
from .budget import parse_memory, parse_size
from .errors import OptionError

if TYPE_CHECKING:
    from .grid import Grid

__all__ = [
    "ANCHORS",
    "LABEL_METHODS",
    "DEVICES",
    "Target",
    "Interpolation",
    "LabelMethod",
    "Compute",
    "OutputOptions",
    "InputOptions",
    "ResampleRequest",
]

Anchor = Literal["center", "origin", "corner"]
ANCHORS: tuple[str, ...] = ("center", "origin", "corner")
LABEL_METHODS: tuple[str, ...] = ("nearest", "majority", "gaussian")
#: ``None``/``'numpy'``: numpy and scipy; ``'cpu'``/``'cuda'``: torch; ``'auto'``: CUDA if present, else numpy.
DEVICES: tuple[str, ...] = ("numpy", "auto", "cpu", "cuda")
#: Output formats chosen by name rather than by the output's extension (issue 13).
OUTPUT_FORMATS: tuple[str, ...] = ("tiff-slices",)

Triple = tuple[float, float, float]
SpacingTriple = tuple[Union[float, None], Union[float, None], Union[float, None]]


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def _choice(value: object, name: str, choices: Sequence[str]) -> str:
    text = str(getattr(value, "value", value)).lower()
    if text not in choices:
        raise OptionError(f"{name}: expected one of {', '.join(choices)}, got {value!r}", param=name)
    return text


def _sigma(value: object, name: str) -> Triple | None:
    """Sigma per axis (a number or three, >= 0, finite); 0 means no smoothing along that axis."""
    if value is None:
        return None
    from .grid import as_triple

    s = as_triple(value, name, allow_zero=True, error=OptionError)
    return (float(s[0]), float(s[1]), float(s[2]))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Target:
    """The output grid: exactly one of ``spacing``, ``shape`` or ``like``.

    Parameters
    ----------
    spacing : float or sequence of 3 (float or None), optional
        New voxel size in mm; ``None`` on an axis keeps that axis' spacing.
    shape : sequence of 3 int, optional
        New shape; the field of view is kept exactly.
    like : path or Grid, optional
        A reference image (or grid) whose grid is used as is.
    anchor : {'center', 'origin', 'corner'}
        What a new spacing keeps fixed (see :meth:`Grid.with_spacing`).

    Raises
    ------
    OptionError
        None or several of ``spacing``, ``shape``, ``like``, or a bad ``anchor``.
    GridError
        Zero, negative, non-finite or absurd spacings and shapes.
    """

    spacing: SpacingTriple | None = None
    shape: tuple[int, int, int] | None = None
    like: Path | Grid | None = None
    anchor: Anchor = "center"

    def __post_init__(self) -> None:
        from .grid import Grid, _validate_shape, as_triple

        spacing = self.spacing
        if spacing is not None and not isinstance(spacing, (str, int, float, np.number)) \
                and all(v is None for v in spacing):
            spacing = None  # (None, None, None): nothing asked on any axis
        given = [n for n, v in (("spacing", spacing), ("shape", self.shape), ("like", self.like))
                 if v is not None]
        if len(given) != 1:
            raise OptionError(
                "target: give exactly one of spacing, shape or like"
                + (f" (got {' and '.join(given)})" if given else ""),
                param="target",
            )
        if spacing is not None:
            t = as_triple(spacing, "spacing", allow_none=True)
            _set(self, "spacing", (t[0], t[1], t[2]))
        else:
            _set(self, "spacing", None)
        if self.shape is not None:
            _set(self, "shape", _validate_shape(self.shape))
        if self.like is not None and not isinstance(self.like, Grid):
            if not isinstance(self.like, (str, os.PathLike)):
                raise OptionError(f"like: expected a path or a Grid, got {type(self.like).__name__}",
                                  param="like")
            _set(self, "like", Path(self.like))
        _set(self, "anchor", _choice(self.anchor, "anchor", ANCHORS))

    @property
    def reference(self) -> Path | None:
        """The reference image's path (an input the run reads), if any."""
        return self.like if isinstance(self.like, Path) else None

    def grid_for(self, source: Grid) -> Grid:
        """The output grid for an input on grid ``source`` (opens ``like`` when a path)."""
        from .grid import Grid

        if self.spacing is not None:
            return source.with_spacing(self.spacing, anchor=self.anchor)  # type: ignore[arg-type]
        if self.shape is not None:
            return source.with_shape(self.shape, anchor=self.anchor)
        if isinstance(self.like, Grid):
            return self.like
        from .io import open_image

        assert self.like is not None
        with open_image(self.like) as ref:
            return ref.grid


@dataclass(frozen=True)
class Interpolation:
    """Intensity resampling: B-spline order, anti-aliasing and output dtype.

    Parameters
    ----------
    order : int
        B-spline order 0..5 (0 nearest, 1 linear, 3 cubic).
    anti_aliasing : bool or None
        Average over each output voxel's footprint on downsampled axes; ``None``
        means on for ``order >= 1``.
    dtype : str or numpy.dtype, optional
        Output dtype (default: the input's stored dtype).
    """

    order: int = 1
    anti_aliasing: bool | None = None
    dtype: str | None = None

    def __post_init__(self) -> None:
        from .kernels import check_order

        try:
            _set(self, "order", check_order(self.order))
        except OptionError as err:  # kernels' message names "order"; carry the param too
            raise OptionError(str(err), param="order") from None
        if self.anti_aliasing is not None:
            _set(self, "anti_aliasing", bool(self.anti_aliasing))
        if self.dtype is not None:
            from .cast import check_dtype

            _set(self, "dtype", check_dtype(self.dtype).name)

    def describe(self) -> str:
        """``'order 3'``: the method as a report names it."""
        return f"order {self.order}"


@dataclass(frozen=True)
class LabelMethod:
    """Label resampling: every output value is an input value.

    Parameters
    ----------
    method : {'nearest', 'majority', 'gaussian'}
        ``sigma`` or ``sigma_voxels`` with ``'nearest'`` (the default) means ``'gaussian'``.
    sigma : float or 3 floats, optional
        Gaussian sigma in mm, in output space.
    sigma_voxels : float or 3 floats, optional
        Gaussian sigma in output voxels (instead of ``sigma``).
    force_float_labels : bool
        Accept a float image with non-whole values as labels.

    Raises
    ------
    OptionError
        An unknown method, both sigmas, a sigma with ``majority``, ``gaussian`` without a sigma.
    """

    method: str = "nearest"
    sigma: Triple | None = None
    sigma_voxels: Triple | None = None
    force_float_labels: bool = False

    def __post_init__(self) -> None:
        m = _choice(self.method, "method", LABEL_METHODS)
        sigma = _sigma(self.sigma, "sigma")
        sigma_voxels = _sigma(self.sigma_voxels, "sigma_voxels")
        if sigma is not None and sigma_voxels is not None:
            raise OptionError("sigma_voxels: give sigma (mm) or sigma_voxels, not both", param="sigma_voxels")
        smoothing = sigma is not None or sigma_voxels is not None
        if smoothing and m == "nearest":
            m = "gaussian"
        elif smoothing and m != "gaussian":
            raise OptionError(f"sigma: applies to method 'gaussian', not {m!r}", param="sigma")
        if m == "gaussian" and not smoothing:
            raise OptionError("sigma: method 'gaussian' needs sigma (mm) or sigma_voxels", param="sigma")
        _set(self, "method", m)
        _set(self, "sigma", sigma)
        _set(self, "sigma_voxels", sigma_voxels)
        _set(self, "force_float_labels", bool(self.force_float_labels))

    def describe(self) -> str:
        """``'gaussian'``: the method as a report names it."""
        return self.method

    def sigma_in_voxels(self, spacing: Sequence[float] | np.ndarray) -> Triple | None:
        """Sigma per axis in output voxels of a grid with this ``spacing`` (mm)."""
        if self.sigma is not None:
            return (self.sigma[0] / float(spacing[0]), self.sigma[1] / float(spacing[1]),
                    self.sigma[2] / float(spacing[2]))
        return self.sigma_voxels


@dataclass(frozen=True)
class Compute:
    """Where and with how much memory the work runs.

    Parameters
    ----------
    device : {None, 'numpy', 'auto', 'cpu', 'cuda'}
        ``None``/``'numpy'``: numpy and scipy (no torch); ``'auto'``: CUDA when
        present, else numpy; ``'cpu'``/``'cuda'``: torch on that device.  Resolved
        (availability checked) by :func:`core.device.resolve_device` when the work starts.
    max_memory : int or str, optional
        Working-memory ceiling (``'512M'``, ``'2G'`` or bytes); stored in bytes.
        ``None``: the engines' defaults.
    threads : int, optional
        Threads computing the slabs or chunks of one output (default: all cores).
    """

    device: str | None = None
    max_memory: int | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.device is not None:
            _set(self, "device", _choice(self.device, "device", DEVICES))
        if self.max_memory is not None:
            _set(self, "max_memory", parse_memory(self.max_memory, "max_memory"))
        if self.threads is not None:
            if isinstance(self.threads, bool) or not isinstance(self.threads, (int, np.integer)) \
                    or self.threads < 1:
                raise OptionError(f"threads: expected a positive integer, got {self.threads!r}",
                                  param="threads")
            _set(self, "threads", int(self.threads))

    @property
    def budget(self) -> int:
        """The budget in bytes (the default when ``max_memory`` is None)."""
        return parse_memory(self.max_memory)

    def resolved(self) -> Compute:
        """This request with ``device`` resolved to ``'numpy'``, ``'cpu'`` or ``'cuda'``.

        Raises
        ------
        DeviceError
            ``cpu``/``cuda`` without torch, or ``cuda`` without a GPU.
        """
        from dataclasses import replace

        from .device import resolve_device

        return replace(self, device=resolve_device(self.device))


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
            _set(self, "format", _choice(self.format, "format", OUTPUT_FORMATS))
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
            _set(self, "max_output", n)
        if isinstance(self.pyramid, bool) or not isinstance(self.pyramid, (int, np.integer)) \
                or not 0 <= self.pyramid <= 16:
            raise OptionError(f"pyramid: expected 0..16 levels, got {self.pyramid!r}", param="pyramid")
        if self.scheduler is not None:
            from ._dask import validate_scheduler

            _set(self, "scheduler", validate_scheduler(self.scheduler))

    @property
    def zarr_only(self) -> list[str]:
        """Names of the Zarr-only options that are set (an error on a NIfTI output)."""
        return [n for n, on in (("chunks", self.chunks is not None), ("pyramid", bool(self.pyramid)),
                                ("resume", self.resume), ("scheduler", self.scheduler is not None),
                                ("zarr_format", self.zarr_format != 2)) if on]


@dataclass(frozen=True)
class ResampleRequest:
    """One resampling: the target grid, the method, the compute resources, the output
    options, and how the input is read (``input``, an :class:`InputOptions`).

    ``method`` is an :class:`Interpolation` for intensity images or a
    :class:`LabelMethod` for label maps; that choice decides the engine.
    """

    target: Target
    method: Interpolation | LabelMethod = field(default_factory=Interpolation)
    compute: Compute = field(default_factory=Compute)
    output: OutputOptions = field(default_factory=OutputOptions)
    input: InputOptions = field(default_factory=InputOptions)

    def __post_init__(self) -> None:
        for name, value, kind in (("input", self.input, InputOptions), ("target", self.target, Target),
                                  ("method", self.method, (Interpolation, LabelMethod)),
                                  ("compute", self.compute, Compute),
                                  ("output", self.output, OutputOptions)):
            if not isinstance(value, kind):  # type: ignore[arg-type]
                raise OptionError(f"{name}: expected {getattr(kind, '__name__', 'a request part')}, "
                                  f"got {type(value).__name__}", param=name)

    @property
    def labels(self) -> bool:
        """Whether this resamples a label map (a :class:`LabelMethod`)."""
        return isinstance(self.method, LabelMethod)

    def resolved(self) -> ResampleRequest:
        """This request with its compute device resolved (see :meth:`Compute.resolved`)."""
        from dataclasses import replace

        return replace(self, compute=self.compute.resolved())

    @property
    def reads(self) -> tuple[Path, ...]:
        """Files the run reads besides the input (never to be overwritten)."""
        ref = self.target.reference
        return (ref,) if ref is not None else ()
