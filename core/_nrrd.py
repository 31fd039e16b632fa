"""Streaming NRRD input: ``.nrrd`` (attached header) and ``.nhdr`` (detached).

The header is parsed by pynrrd (``nrrd.read_header``); the voxels are never
read whole.  A slab ``[x, y, z0:z1]`` of one volume reads one contiguous byte
range of the data:

* ``raw``: positioned reads (``os.preadv``) of exactly that range;
* ``gzip``/``bzip2``: one decompressing stream kept open and read forwards
  (slabs in order cost one pass over the file); a backward read restarts it
  from the beginning, as nibabel does for ``.nii.gz`` without an index.

Geometry follows the header: the three axes that have a ``space directions``
vector are the spatial axes (kept in file order), axes whose direction is
``none`` (lists, vectors, time) become extra axes, placed last.  Directions and
origin are converted from the header's ``space`` to nibabel's RAS+:
``left-posterior-superior`` (LPS), ``left-anterior-superior`` (LAS) and
``right-anterior-superior`` (RAS), with or without ``-time``, are exact;
``scanner-xyz`` is DICOM's patient system, which is LPS; ``3D-right-handed``
and ``3D-left-handed`` have no anatomical axes and are read as LPS, as ITK
reads them (a note says so).  ``space units`` of um/nm/cm/m are converted to
mm; without that field the values are taken as mm.

Some headers state a wrong space (the Allen CCF NRRDs say LPS while the data
axes run posterior, inferior, right): ``orientation="PIR"`` replaces the
direction of each voxel axis by the given axis codes, keeping the header's
spacing and origin, and the source records the override in ``notes``.

This module reads the header and the geometry; :mod:`._nrrd_data` reads the
voxels.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ._inputs import UNIT_TO_MM, as_orientation, orient_affine, unit_to_mm
from ._nrrd_data import _NrrdArray, _open_data
from .errors import DependencyError, HeaderError, InputError
from .source import SourceImage, check_dtype, check_shape, make_grid, reason, template_header

__all__ = ["open_nrrd"]

#: ``space`` values (lower case) -> the 3x3 matrix taking that space to RAS+.
_LPS = np.diag([-1.0, -1.0, 1.0])
_SPACE_TO_RAS: dict[str, np.ndarray] = {
    "right-anterior-superior": np.eye(3), "ras": np.eye(3),
    "left-anterior-superior": np.diag([-1.0, 1.0, 1.0]), "las": np.diag([-1.0, 1.0, 1.0]),
    "left-posterior-superior": _LPS, "lps": _LPS,
    "scanner-xyz": _LPS,
}
#: Spaces without anatomical meaning: read as LPS like ITK, and said so.
_UNANCHORED_SPACES = ("3d-right-handed", "3d-left-handed")


def open_nrrd(
    path: str | os.PathLike[str], *, orientation: str | None = None, space_unit: str | None = None,
) -> SourceImage:
    """Open a NRRD image lazily: header now, voxels slab by slab.

    Parameters
    ----------
    path : str or PathLike
        A ``.nrrd`` file or a ``.nhdr`` detached header (its ``data file``
        relative to the header's folder).
    orientation : str, optional
        Three axis codes (``'PIR'``, ``'LPS'``...) naming where each voxel axis
        points, replacing the directions of the header (whose spacing and
        origin are kept).  For headers that state a wrong ``space``.
    space_unit : str, optional
        Length unit of ``space directions`` and ``space origin`` (``'um'``,
        ``'mm'``...), replacing the header's ``space units`` (default mm):
        the Allen CCF NRRDs give 10/25 without a unit, meaning µm.

    Returns
    -------
    SourceImage
        ``fmt`` is ``'nrrd'``; ``notes`` (a tuple of str) tells what was
        assumed or overridden.  Shape ``(nx, ny, nz, *extra)``: the spatial
        axes in file order, then the non-spatial axes in file order.

    Raises
    ------
    InputError
        Missing or unreadable file or data file, data shorter than the header
        needs (truncated), corrupt compressed data.
    HeaderError
        A header pynrrd cannot parse, an unsupported type or encoding, sizes
        that disagree with the data length, not three spatial axes.
    OptionError
        ``orientation`` is not three axis codes (``param='orientation'``), or
        ``space_unit`` is not a length unit (``param='space_unit'``).

    Notes
    -----
    ``dtype`` is the stored type in native byte order; big-endian data is
    swapped as it is read.  Reading slabs in increasing z is the fast path
    for compressed data.

    Examples
    --------
    >>> src = open_nrrd("annotation_10.nrrd", orientation="PIR")  # doctest: +SKIP
    >>> src.read_slab(0, 8).shape  # doctest: +SKIP
    (1320, 800, 8)
    """
    codes = as_orientation(orientation)
    unit_scale = unit_to_mm(space_unit)
    p = Path(path)
    header, header_end = _read_header(p)
    if unit_scale is not None:
        header["space units"] = [str(space_unit)] * 3
    sizes = [int(v) for v in np.atleast_1d(header.get("sizes", []))]
    dtype = _file_dtype(p, header)
    spatial, extra, affine, notes = _geometry(p, header, len(sizes))
    if codes is not None:
        affine = orient_affine(affine, codes)
        notes.append(f"orientation {''.join(codes)} given: it replaces the header's directions "
                     f"(space {header.get('space', 'unknown')!r}); spacing and origin kept")
    if unit_scale is not None:
        notes.append(f"space unit {space_unit!r} given: the header's lengths are read in it")
    perm = spatial + extra
    shape = tuple(sizes[a] for a in perm)
    check_shape(p, shape)
    native = check_dtype(p, dtype)
    data = _open_data(p, header, header_end, sizes, dtype)
    proxy = _NrrdArray(data, tuple(sizes), dtype, perm)
    src = SourceImage(
        path=p, grid=make_grid(p, shape, affine), shape=shape, dtype=native, slope=1.0,
        inter=0.0, header=template_header(affine, shape, native), fmt="nrrd",
        _dataobj=proxy, _close=data.close, notes=tuple(notes),
    )
    return src


def _read_header(p: Path) -> tuple[dict[str, Any], int]:
    """pynrrd's header and the byte offset where an attached header ends."""
    try:
        import nrrd
    except ImportError as err:
        raise DependencyError("reading NRRD needs pynrrd: pip install 'niresample[formats]'") from err

    if not p.exists():
        raise InputError(f"{p}: no such file")
    if not p.is_file():
        raise InputError(f"{p}: not a regular file")
    try:
        with open(p, "rb") as f:
            header = nrrd.read_header(f)
            end = f.tell()
    except OSError as err:
        raise InputError(f"{p}: cannot be read ({err.strerror or err})") from err
    except (nrrd.NRRDError, ValueError, KeyError, IndexError, StopIteration) as err:
        raise HeaderError(f"{p}: not a readable NRRD header ({reason(err)})") from err
    for key in ("type", "sizes", "encoding"):
        if key not in header:
            raise HeaderError(f"{p}: NRRD header has no {key!r} field")
    return dict(header), end


def _file_dtype(p: Path, header: dict[str, Any]) -> np.dtype:
    from nrrd.reader import _determine_datatype

    try:
        return np.dtype(_determine_datatype(header))
    except Exception as err:
        raise HeaderError(f"{p}: unsupported NRRD type {header.get('type')!r} ({reason(err)})") from err


# -- geometry ---------------------------------------------------------------
def _geometry(
    p: Path, header: dict[str, Any], ndim: int
) -> tuple[list[int], list[int], np.ndarray, list[str]]:
    """Spatial axes, extra axes, RAS+ affine and notes from the header."""
    notes: list[str] = []
    space = str(header.get("space", "")).strip().lower()
    base = space.removesuffix("-time")
    if base in _SPACE_TO_RAS:
        to_ras = _SPACE_TO_RAS[base]
    elif base in _UNANCHORED_SPACES:
        to_ras = _LPS
        notes.append(f"space {header['space']!r} has no anatomical axes: read as LPS (as ITK does)")
    elif space:
        raise HeaderError(f"{p}: unknown NRRD space {header['space']!r}")
    else:
        to_ras = _LPS
    scale = _unit_scale(p, header)
    if "space directions" in header:
        dirs = np.asarray(header["space directions"], dtype=np.float64)
        if dirs.ndim != 2 or dirs.shape[0] != ndim or dirs.shape[1] < 3:
            raise HeaderError(f"{p}: 'space directions' has shape {dirs.shape}, expected "
                              f"{ndim} vectors of 3 (or 4) values")
        spatial = [a for a in range(ndim) if np.all(np.isfinite(dirs[a])) and np.any(dirs[a, :3])]
        columns = dirs[spatial, :3].T * scale if len(spatial) == 3 else None
        if not space:
            notes.append("no 'space' in the header: directions read as LPS (as ITK does)")
    else:
        spatial, columns = _spacing_axes(p, header, ndim)
        columns = None if columns is None else columns * scale
        notes.append("no 'space directions' in the header: voxel axes taken as L, P, S "
                     "(identity in ITK's LPS) with the header's spacings")
    if len(spatial) != 3 or columns is None:
        raise HeaderError(f"{p}: NRRD image has {len(spatial)} spatial axes; niresample needs 3")
    origin = np.zeros(3)
    if "space origin" in header:
        raw = np.asarray(header["space origin"], dtype=np.float64).ravel()[:3]
        if raw.size == 3 and np.all(np.isfinite(raw)):
            origin = raw * scale
    affine = np.eye(4)
    affine[:3, :3] = to_ras @ columns
    affine[:3, 3] = to_ras @ origin
    extra = [a for a in range(ndim) if a not in spatial]
    return spatial, extra, affine, notes


def _spacing_axes(p: Path, header: dict[str, Any], ndim: int) -> tuple[list[int], np.ndarray | None]:
    kinds = [str(k).lower() for k in header.get("kinds", ["domain"] * ndim)]
    spacings = np.asarray(header.get("spacings", [np.nan] * ndim), dtype=np.float64).ravel()
    if len(kinds) != ndim or spacings.size != ndim:
        raise HeaderError(f"{p}: 'kinds' or 'spacings' do not have one entry per axis")
    spatial = [a for a in range(ndim) if kinds[a] in ("domain", "space", "???", "none")][:3]
    if len(spatial) != 3:
        return spatial, None
    steps = [spacings[a] if np.isfinite(spacings[a]) and spacings[a] != 0 else 1.0 for a in spatial]
    return spatial, np.diag(steps)


def _unit_scale(p: Path, header: dict[str, Any]) -> float:
    units = header.get("space units")
    if not units:
        return 1.0
    found = {str(u).strip().strip('"').lower() for u in units}
    if len(found) != 1 or next(iter(found)) not in UNIT_TO_MM:
        raise HeaderError(f"{p}: unsupported 'space units' {list(units)} (expected one length unit)")
    return UNIT_TO_MM[next(iter(found))]
