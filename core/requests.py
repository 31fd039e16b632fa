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
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from ._inputs import InputOptions
from ._output_options import OutputOptions
from ._validate import choice, fill_value, set_field, sigma_triple
from .budget import parse_memory
from .errors import OptionError
from .grid import ANCHORS, Anchor

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

LABEL_METHODS: tuple[str, ...] = ("nearest", "majority", "gaussian")
#: ``None``/``'numpy'``/``'cpu'``: numpy and scipy; ``'torch-cpu'``/``'cuda'``: torch; ``'auto'``:
#: CUDA if present, else numpy (the one vocabulary: :mod:`.device`).
from .device import DEVICES  # noqa: E402

Triple = tuple[float, float, float]
SpacingTriple = tuple[Union[float, None], Union[float, None], Union[float, None]]


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
    transforms : sequence, optional
        Transforms from output-space to input-space points, in antsApplyTransforms
        order (last listed applied first): paths (``str`` may be ANTs' ``[FILE,1]``),
        (4, 4) RAS matrices or ``(path or matrix, invert)`` pairs; see
        :func:`core.transforms.transform_specs`.  Read when the run starts.

    Raises
    ------
    OptionError
        None or several of ``spacing``, ``shape``, ``like``, or a bad ``anchor``.
    GridError
        Zero, negative, non-finite or absurd spacings and shapes.
    TransformError
        A transform file that does not exist, a bad ``[FILE,1]`` argument or a
        bad matrix (``param='transform'``).
    """

    spacing: SpacingTriple | None = None
    shape: tuple[int, int, int] | None = None
    like: Path | Grid | None = None
    anchor: Anchor = "center"
    transforms: tuple[tuple[Path | np.ndarray, bool], ...] = ()

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
            set_field(self, "spacing", (t[0], t[1], t[2]))
        else:
            set_field(self, "spacing", None)
        if self.shape is not None:
            set_field(self, "shape", _validate_shape(self.shape))
        if self.like is not None and not isinstance(self.like, Grid):
            if not isinstance(self.like, (str, os.PathLike)):
                raise OptionError(f"like: expected a path or a Grid, got {type(self.like).__name__}",
                                  param="like")
            set_field(self, "like", Path(self.like))
        set_field(self, "anchor", choice(self.anchor, "anchor", ANCHORS))
        if self.transforms is None or (isinstance(self.transforms, (tuple, list)) and not self.transforms):
            set_field(self, "transforms", ())  # no transform: core.transforms stays unimported
        else:
            from .transforms import transform_specs

            set_field(self, "transforms", transform_specs(self.transforms))

    @property
    def reference(self) -> Path | None:
        """The reference image's path (an input the run reads), if any."""
        return self.like if isinstance(self.like, Path) else None

    @property
    def transform_paths(self) -> tuple[Path, ...]:
        """The transform files (inputs the run reads)."""
        return tuple(p for p, _ in self.transforms if isinstance(p, Path))

    def chain_for(self, source: Grid, target: Grid) -> Any:
        """The :class:`~core.transforms.TransformChain` of :attr:`transforms` between the
        input grid ``source`` and the output grid ``target`` (FSL needs both), read now."""
        from .transforms import TransformChain

        return TransformChain(list(self.transforms), moving=source, reference=target)

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
    fill : float
        Value of output voxels whose centre maps outside the input's field of
        view (beyond voxel coordinates -0.5 .. n - 0.5) on the general
        (rotated or transformed) path; NaN only for float outputs.
    """

    order: int = 1
    anti_aliasing: bool | None = None
    dtype: str | None = None
    fill: float = 0.0

    def __post_init__(self) -> None:
        from .kernels import check_order

        try:
            set_field(self, "order", check_order(self.order))
        except OptionError as err:  # kernels' message names "order"; carry the param too
            raise OptionError(str(err), param="order") from None
        if self.anti_aliasing is not None:
            set_field(self, "anti_aliasing", bool(self.anti_aliasing))
        if self.dtype is not None:
            from .cast import check_dtype

            set_field(self, "dtype", check_dtype(self.dtype).name)
        fill = float(fill_value(self.fill, allow_nan=True))
        if np.isnan(fill) and self.dtype is not None and np.dtype(self.dtype).kind != "f":
            raise OptionError(f"fill: nan needs a float output, not {self.dtype}", param="fill")
        set_field(self, "fill", fill)

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
    fill : int or float
        The label of output voxels outside the input's field of view (default 0,
        background).  It need not be an input value; it must fit the label map's
        dtype (checked when the input is opened).

    Raises
    ------
    OptionError
        An unknown method, both sigmas, a sigma with ``majority``, ``gaussian`` without a
        sigma, a ``fill`` that is not a finite number.

    Notes
    -----
    Every output value is an input value or ``fill``.
    """

    method: str = "nearest"
    sigma: Triple | None = None
    sigma_voxels: Triple | None = None
    force_float_labels: bool = False
    fill: float = 0

    def __post_init__(self) -> None:
        m = choice(self.method, "method", LABEL_METHODS)
        sigma = sigma_triple(self.sigma, "sigma")
        sigma_voxels = sigma_triple(self.sigma_voxels, "sigma_voxels")
        if sigma is not None and sigma_voxels is not None:
            raise OptionError("sigma_voxels: give sigma (mm) or sigma_voxels, not both", param="sigma_voxels")
        smoothing = sigma is not None or sigma_voxels is not None
        if smoothing and m == "nearest":
            m = "gaussian"
        elif smoothing and m != "gaussian":
            raise OptionError(f"sigma: applies to method 'gaussian', not {m!r}", param="sigma")
        if m == "gaussian" and not smoothing:
            raise OptionError("sigma: method 'gaussian' needs sigma (mm) or sigma_voxels", param="sigma")
        set_field(self, "method", m)
        set_field(self, "sigma", sigma)
        set_field(self, "sigma_voxels", sigma_voxels)
        set_field(self, "force_float_labels", bool(self.force_float_labels))
        set_field(self, "fill", fill_value(self.fill))

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
    device : {None, 'numpy', 'auto', 'cpu', 'torch-cpu', 'cuda'}
        ``None``/``'numpy'``/``'cpu'``: numpy and scipy (no torch); ``'auto'``: CUDA
        when present, else numpy; ``'torch-cpu'``/``'cuda'``: torch.  Resolved
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
            set_field(self, "device", choice(self.device, "device", DEVICES))
        if self.max_memory is not None:
            set_field(self, "max_memory", parse_memory(self.max_memory, "max_memory"))
        if self.threads is not None:
            if isinstance(self.threads, bool) or not isinstance(self.threads, (int, np.integer)) \
                    or self.threads < 1:
                raise OptionError(f"threads: expected a positive integer, got {self.threads!r}",
                                  param="threads")
            set_field(self, "threads", int(self.threads))

    @property
    def budget(self) -> int:
        """The budget in bytes (the default when ``max_memory`` is None)."""
        return parse_memory(self.max_memory)

    def resolved(self) -> Compute:
        """This request with ``device`` resolved to ``'numpy'``, ``'torch-cpu'`` or ``'cuda'``.

        Raises
        ------
        DeviceError
            ``cpu``/``cuda`` without torch, or ``cuda`` without a GPU.
        """
        from dataclasses import replace

        from .device import engine_word, resolve_device

        # The engine word ('numpy', 'torch-cpu', 'cuda') resolves to itself again.
        return replace(self, device=engine_word(resolve_device(self.device)))


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
        return ((ref,) if ref is not None else ()) + self.target.transform_paths
