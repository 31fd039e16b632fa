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
]


class NiresampleError(Exception):
    """Base class of every error niresample raises on purpose."""


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
