"""Checks shared by the request types of :mod:`.requests` (a leaf: errors and grid only)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import OptionError

Triple = tuple[float, float, float]


def set_field(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def choice(value: object, name: str, choices: Sequence[str]) -> str:
    text = str(getattr(value, "value", value)).lower()
    if text not in choices:
        raise OptionError(f"{name}: expected one of {', '.join(choices)}, got {value!r}", param=name)
    return text


def sigma_triple(value: object, name: str) -> Triple | None:
    """Sigma per axis (a number or three, >= 0, finite); 0 means no smoothing along that axis."""
    if value is None:
        return None
    from .grid import as_triple

    s = as_triple(value, name, allow_zero=True, error=OptionError)
    return (float(s[0]), float(s[1]), float(s[2]))  # type: ignore[arg-type]


def fill_value(value: object, *, allow_nan: bool = False) -> float:
    """A finite number (or NaN with ``allow_nan``); a whole value is kept as an ``int``
    (exact for 64-bit label ids)."""
    if isinstance(value, (bool, np.bool_)):
        raise OptionError(f"fill: expected a number, got {value!r}", param="fill")
    if isinstance(value, (int, np.integer)):
        return int(value)
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise OptionError(f"fill: expected a number, got {value!r}", param="fill") from None
    if np.isnan(f) and allow_nan:
        return f
    if not np.isfinite(f):
        raise OptionError(f"fill: expected a finite number{' or nan' if allow_nan else ''}, got {value!r}",
                          param="fill")
    return int(f) if f.is_integer() and abs(f) < 2**53 else f
