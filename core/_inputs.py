"""How an input is read: :class:`InputOptions`, the input part of a request (issue 13).

Formats other than NIfTI sometimes need the caller's word: a NRRD whose
``space`` is wrong (``orientation``), one whose lengths are in µm without
saying so (``space_unit``), a TIFF stack without a voxel size
(``voxel_size``), or the level of an OME-Zarr pyramid to read (``level``).
Each option applies to the formats it concerns and is ignored by the others
(a NIfTI has its own geometry): ``orientation`` to NRRD and TIFF,
``space_unit`` to NRRD, ``voxel_size`` to TIFF, ``level`` to OME-Zarr.

The parsing rules of these options live here once; the readers
(:mod:`._nrrd`, :mod:`._tiff`) call the same helpers for their keyword
arguments.  A leaf of core: imports only :mod:`.errors`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from .errors import OptionError

__all__ = ["InputOptions", "as_orientation", "orient_affine", "unit_to_mm", "as_voxel_size", "UNIT_TO_MM"]

#: Length units (lower case) -> mm.
UNIT_TO_MM: dict[str, float] = {
    "mm": 1.0, "millimeter": 1.0, "millimeters": 1.0, "millimetre": 1.0, "millimetres": 1.0,
    "um": 1e-3, "µm": 1e-3, "μm": 1e-3, "micron": 1e-3, "microns": 1e-3, "micrometer": 1e-3,
    "micrometers": 1e-3, "micrometre": 1e-3, "nm": 1e-6, "nanometer": 1e-6, "cm": 10.0,
    "m": 1e3, "meter": 1e3, "metre": 1e3,
}
_AXIS_CODES = {"R": (0, 1.0), "L": (0, -1.0), "A": (1, 1.0), "P": (1, -1.0), "S": (2, 1.0),
               "I": (2, -1.0)}
_NUMBER_UNIT = re.compile(r"^\s*([-+0-9.eE]+)\s*([^\s0-9.+-][^\s]*)?\s*$")

VoxelSizeLike = Union[Sequence[Union[float, str]], str, None]


def as_orientation(orientation: str | None) -> tuple[str, str, str] | None:
    """Three axis codes (``'PIR'``) as a tuple, or None; OptionError (``param='orientation'``)."""
    if orientation is None:
        return None
    text = str(orientation).strip().upper()
    pairs = [_AXIS_CODES[c][0] for c in text if c in _AXIS_CODES]
    if len(text) != 3 or len(pairs) != 3 or sorted(pairs) != [0, 1, 2]:
        raise OptionError(
            f"orientation: expected three axis codes, one of each pair L/R, A/P, S/I "
            f"(e.g. 'PIR'), got {orientation!r}", param="orientation",
        )
    return (text[0], text[1], text[2])


def orient_affine(affine: np.ndarray, codes: Sequence[str]) -> np.ndarray:
    """``affine`` with each voxel axis pointing where ``codes`` say; spacing and origin kept."""
    spacing = np.sqrt(np.sum(np.asarray(affine)[:3, :3] ** 2, axis=0))
    out = np.array(affine, dtype=np.float64)
    out[:3, :3] = 0.0
    for axis, code in enumerate(codes):
        row, sign = _AXIS_CODES[code]
        out[row, axis] = sign * spacing[axis]
    return out


def unit_to_mm(unit: str | None, name: str = "space_unit") -> float | None:
    """mm per ``unit`` (``'um'`` -> 0.001), None for None; OptionError naming ``name``."""
    if unit is None:
        return None
    key = str(unit).strip().lower()
    if key not in UNIT_TO_MM:
        raise OptionError(f"{name}: expected a length unit such as 'mm' or 'um', got {unit!r}",
                          param=name)
    return UNIT_TO_MM[key]


def as_voxel_size(voxel_size: VoxelSizeLike, voxel_unit: str | None = None) -> tuple[float, float, float] | None:
    """A voxel size ``(x, y, z)`` in mm.

    Numbers are mm unless ``voxel_unit`` is given.  Text may carry a unit
    (``'10um'``); a unit on the last value only applies to all three
    (``('10', '10', '50um')``, as ``--voxel-size 10 10 50um`` reads).  Text
    without any unit needs ``voxel_unit``: a voxel size typed on a command line
    must say whether it is µm or mm.
    """
    if voxel_size is None:
        return None
    values = voxel_size.split() if isinstance(voxel_size, str) else list(voxel_size)
    if len(values) == 1:
        values = values * 3
    if len(values) != 3:
        raise OptionError(f"voxel_size: expected 3 values (x, y, z), got {voxel_size!r}", param="voxel_size")
    default = unit_to_mm(voxel_unit, "voxel_unit")
    parsed: list[tuple[float, float | None, bool]] = []
    for v in values:
        if isinstance(v, str):
            m = _NUMBER_UNIT.match(v)
            try:
                number = float(m.group(1)) if m else float("nan")
            except ValueError:
                number = float("nan")
            unit = unit_to_mm(m.group(2), "voxel_size") if m and m.group(2) else None
            parsed.append((number, unit, True))
        else:
            parsed.append((float(v), None, False))
    last_unit = parsed[2][1]
    out: list[float] = []
    for number, unit, text in parsed:
        scale = unit if unit is not None else default if default is not None else last_unit
        if scale is None and text:
            raise OptionError(
                f"voxel_size: {voxel_size!r} has no unit; write e.g. '10 10 50um' or give "
                "voxel_unit ('um' or 'mm')", param="voxel_size")
        mm = number * (1.0 if scale is None else scale)
        if not np.isfinite(mm) or mm <= 0:
            raise OptionError(f"voxel_size: expected positive finite sizes, got {voxel_size!r}",
                              param="voxel_size")
        out.append(mm)
    return (out[0], out[1], out[2])


@dataclass(frozen=True)
class InputOptions:
    """How inputs are read (formats other than NIfTI).

    Parameters
    ----------
    orientation : str, optional
        Three axis codes (``'PIR'``) naming where each voxel axis points:
        replaces a NRRD header's directions (spacing and origin kept) and the
        R, A, S assumed for TIFF.
    voxel_size : 3 floats (mm) or 3 strings with a unit, optional
        TIFF voxel size ``(x, y, z)``: ``(0.01, 0.01, 0.05)`` in mm, or
        ``('10', '10', '50um')``; replaces the file's OME/ImageJ metadata.
        Stored in mm.
    voxel_unit : str, optional
        Unit of a ``voxel_size`` given without one (``'um'``, ``'mm'``).
    level : int, optional
        OME-Zarr pyramid level to read (0 = finest).  ``None``: for
        intensities the coarsest level still at least as fine as the target
        spacing; for labels the finest.
    space_unit : str, optional
        Length unit of a NRRD's ``space directions``/``space origin`` when its
        header has none or a wrong one (the Allen CCF NRRDs mean µm).

    Raises
    ------
    OptionError
        Bad codes, units, sizes or level (``param`` names the field).
    """

    orientation: str | None = None
    voxel_size: Any = None
    voxel_unit: str | None = None
    level: int | None = None
    space_unit: str | None = None

    def __post_init__(self) -> None:
        codes = as_orientation(self.orientation)
        object.__setattr__(self, "orientation", None if codes is None else "".join(codes))
        object.__setattr__(self, "voxel_size", as_voxel_size(self.voxel_size, self.voxel_unit))
        object.__setattr__(self, "voxel_unit", None)  # applied: voxel_size is in mm now
        if self.level is not None:
            if isinstance(self.level, bool) or not isinstance(self.level, (int, np.integer)) \
                    or self.level < 0:
                raise OptionError(f"level: expected a pyramid level 0, 1, 2..., got {self.level!r}",
                                  param="level")
            object.__setattr__(self, "level", int(self.level))
        if self.space_unit is not None:
            unit_to_mm(self.space_unit)
            object.__setattr__(self, "space_unit", str(self.space_unit).strip())

    @property
    def given(self) -> bool:
        """Whether any option is set."""
        return any(v is not None for v in (self.orientation, self.voxel_size, self.level, self.space_unit))
