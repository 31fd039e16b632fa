"""One error hierarchy for niresample.

Every error that core raises on purpose derives from :class:`NiresampleError`
and also from the matching built-in, so callers may catch either.  The CLI maps
these to a one-line message and exit code 1 in a single place
(``niresample_cli.app``).
"""

from __future__ import annotations

__all__ = [
    "NiresampleError",
    "InputError",
    "HeaderError",
    "GridError",
    "OptionError",
    "OutputError",
    "DiskSpaceError",
    "OutputExistsError",
    "DeviceError",
    "LabelError",
    "DependencyError",
    "TransformError",
]


class NiresampleError(Exception):
    """Base class of every error niresample raises on purpose.

    Messages speak Python: they name the parameter (``sigma``, ``max_memory``),
    what was expected and what came.  ``param`` holds that name when one
    parameter is at fault, so the CLI can show its own flag instead (one
    mapping, ``niresample_cli.errors``).
    """

    def __init__(self, *args: object, param: str | None = None) -> None:
        super().__init__(*args)
        self.param = param

    def __reduce__(self) -> tuple[object, ...]:
        # keep ``param`` across processes (batch workers pickle their errors)
        return (_rebuild, (type(self), self.args, self.param))


class InputError(NiresampleError, OSError):
    """An input file is missing, unreadable, truncated or not an image."""


class HeaderError(NiresampleError, ValueError):
    """An image header is inconsistent or describes an impossible image."""


class GridError(NiresampleError, ValueError):
    """A grid (shape, affine, spacing) is invalid or a requested grid is absurd."""


class OptionError(NiresampleError, ValueError):
    """An option value or a combination of options is invalid."""


class OutputError(NiresampleError, OSError):
    """An output cannot be written where asked."""


class DiskSpaceError(OutputError):
    """Not enough free disk space for the output."""


class OutputExistsError(OutputError, FileExistsError):
    """The output exists and overwriting was not asked for."""


class DeviceError(NiresampleError, RuntimeError):
    """A compute device (torch, CUDA) was asked for but is not available."""


class LabelError(NiresampleError, ValueError):
    """An image given as labels cannot be treated as a label map."""


class DependencyError(NiresampleError, ImportError):
    """An optional dependency needed for what was asked is not installed."""


class TransformError(NiresampleError, ValueError):
    """A transform file is unreadable, of the wrong dimension, singular or makes no sense."""


def _rebuild(cls: type[NiresampleError], args: tuple[object, ...], param: str | None) -> NiresampleError:
    return cls(*args, param=param)
