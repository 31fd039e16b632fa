"""Registration transforms as coordinate maps: files read once into RAS.

Every transform here *maps points of the output (reference, fixed) space into
the input (moving) space*, in RAS millimetres: the semantics of
antsApplyTransforms, ITK and nitransforms.  A list of transforms is given in
ANTs order: the last one listed is applied to the points first, so
``[T_1, ..., T_n]`` maps ``p`` to ``T_1(T_2(... T_n(p)))``.

Two representations only:

* :class:`AffineTransform`: a (4, 4) float64 RAS matrix;
* :class:`DisplacementField`: a grid and RAS displacement vectors, read box
  by box; a point ``p`` maps to ``p + d(p)``.

Formats (read in :mod:`._transform_formats`): ITK/ANTs ``.mat`` (binary) and
``.txt``/``.tfm`` (text, including composite lists), ITK/ANTs displacement
fields (``*Warp.nii.gz``, LPS vectors), FSL FLIRT ``.mat`` (needs the grids),
FreeSurfer ``.lta`` (vox2vox and ras2ras), AFNI ``.aff12.1D`` and a plain 4x4
RAS matrix in a text file.

The two types live in :mod:`._transform_types` (re-exported here); this
module reads, chains and applies them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np

from ._transform_formats import FieldData, check_affine, read_transform_file
from ._transform_types import AffineTransform, DisplacementField, Transform
from .errors import OptionError, TransformError
from .grid import Grid

__all__ = [
    "AffineTransform",
    "DisplacementField",
    "Transform",
    "TransformSpec",
    "TransformChain",
    "Box",
    "parse_transform_arg",
    "transform_specs",
    "read_transform",
    "voxel_map_chain",
    "map_voxels",
]

#: An output box ``(x0, x1, y0, y1, z0, z1)``, half-open ranges of voxel indices.
Box = tuple[int, int, int, int, int, int]


#: One entry of a chain: a path or a (4, 4) matrix, with or without an invert flag,
#: or an ANTs ``"[file,1]"`` string.
TransformSpec = Union[str, "os.PathLike[str]", np.ndarray, tuple[Any, bool], Transform]

_BRACKET = re.compile(r"^\[(?P<body>.*)\]$", re.DOTALL)
_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no")


def parse_transform_arg(arg: str) -> tuple[Path, bool]:
    """Split an antsApplyTransforms ``-t`` argument into ``(path, invert)``.

    Parameters
    ----------
    arg : str
        ``"file.mat"``, or ANTs' bracket form ``"[file.mat,1]"`` (``0``/``1``,
        ``true``/``false``; spaces allowed) or ``"[file.mat]"``.

    Returns
    -------
    path : Path
    invert : bool

    Raises
    ------
    TransformError
        For an empty argument, an unclosed bracket or an invert flag that is
        not 0/1.

    Examples
    --------
    >>> parse_transform_arg("[0GenericAffine.mat,1]")
    (PosixPath('0GenericAffine.mat'), True)
    >>> parse_transform_arg("1Warp.nii.gz")
    (PosixPath('1Warp.nii.gz'), False)
    """
    text = str(arg).strip()
    if not text:
        raise TransformError("transform: empty transform argument", param="transform")
    if not text.startswith("["):
        return Path(text), False
    m = _BRACKET.match(text)
    if m is None:
        raise TransformError(f"transform: unclosed bracket in {arg!r} (expected [FILE,0|1])",
                             param="transform")
    body = m["body"].strip()
    name, sep, flag = body.rpartition(",")
    if not sep:
        name, flag = body, "0"
    name, flag = name.strip(), flag.strip().lower()
    if not name:
        raise TransformError(f"transform: no file name in {arg!r}", param="transform")
    if flag in _TRUE:
        return Path(name), True
    if flag in _FALSE:
        return Path(name), False
    raise TransformError(f"transform: invert flag must be 0 or 1 in {arg!r}, got {flag!r}",
                         param="transform")


def transform_specs(value: object) -> tuple[tuple[Path | np.ndarray, bool], ...]:
    """Chain entries checked at the door (``Target.transforms``), files not read yet.

    Returns ``((Path or read-only (4, 4) ndarray, invert), ...)``: ANTs'
    ``"[FILE,1]"`` strings are parsed, files must exist, matrices must be
    finite, non-singular affines.  Raises :class:`TransformError`.
    """
    if value is None:
        return ()
    if isinstance(value, (str, os.PathLike, np.ndarray)):
        value = [value]
    out: list[tuple[Path | np.ndarray, bool]] = []
    for spec in value:  # type: ignore[attr-defined]
        invert = False
        if isinstance(spec, tuple):
            if len(spec) != 2 or not isinstance(spec[1], (bool, np.bool_, int)):
                raise TransformError(f"transform: expected (path or 4x4 matrix, invert), got {spec!r}",
                                     param="transform")
            spec, invert = spec[0], bool(spec[1])
        if isinstance(spec, str):
            path, flag = parse_transform_arg(spec)
            spec, invert = path, invert != flag
        if isinstance(spec, os.PathLike):
            path = Path(spec)
            if not path.is_file():
                raise TransformError(f"transform: {path}: no such file", param="transform")
            out.append((path, invert))
            continue
        matrix = check_affine(spec, "transform")
        matrix.setflags(write=False)
        out.append((matrix, invert))
    return tuple(out)


def read_transform(
    path: str | os.PathLike[str], *, invert: bool = False,
    moving: Grid | None = None, reference: Grid | None = None,
) -> list[Transform]:
    """Read one transform file into RAS transforms, in ANTs order.

    Parameters
    ----------
    path : str or PathLike
        Any supported file (see the module docstring); its format is found
        from its content (and ``.mat``/``.1D``/``.nii`` suffixes).
    invert : bool
        Return the inverse: affines are inverted (a file holding a list is
        inverted as a whole, in reverse order).  A displacement field cannot be
        inverted by a flag: pass its inverse field (ANTs' ``*InverseWarp``).
    moving, reference : Grid, optional
        The input and output grids.  An FSL FLIRT matrix needs both (FSL's
        scaled-voxel frames depend on them); AFNI matrices use them to undo
        AFNI's de-obliquing of oblique grids.

    Returns
    -------
    list of AffineTransform or DisplacementField
        Usually one element; an ITK composite text file gives several.

    Raises
    ------
    TransformError
        Unreadable file, unknown format, 2D transform, singular or non-finite
        matrix, a field of the wrong shape, or ``invert`` on a field.
    """
    p = Path(path)
    elements = read_transform_file(p, moving=moving, reference=reference)
    out: list[Transform] = []
    for e in elements:
        if isinstance(e, FieldData):
            out.append(DisplacementField(e.grid, e.vectors, str(p)))
        else:
            out.append(AffineTransform(e, str(p)))
    if not invert:
        return out
    if any(isinstance(t, DisplacementField) for t in out):
        raise TransformError(_field_invert_message(p), param="transform")
    return [t.inverse() for t in reversed(out) if isinstance(t, AffineTransform)]


def _field_invert_message(p: Path) -> str:
    msg = f"{p}: a displacement field cannot be inverted by a flag; pass its inverse field"
    if "InverseWarp" in p.name:
        other = p.with_name(p.name.replace("InverseWarp", "Warp"))
    else:
        other = p.with_name(p.name.replace("Warp", "InverseWarp"))
    if other != p and other.exists():
        return f"{msg} ({other}) without the flag"
    return f"{msg} (ANTs writes it as *InverseWarp.nii.gz) without the flag"


def _as_transforms(spec: object, moving: Grid | None, reference: Grid | None) -> list[Transform]:
    """One chain entry, validated at the door, as RAS transforms."""
    if isinstance(spec, (AffineTransform, DisplacementField)):
        return [spec]
    invert = False
    if isinstance(spec, tuple):
        if len(spec) != 2 or not isinstance(spec[1], (bool, np.bool_, int)):
            raise TransformError(f"transform: expected (path or 4x4 matrix, invert), got {spec!r}",
                                 param="transform")
        spec, invert = spec[0], bool(spec[1])  # type: ignore[index]
    if isinstance(spec, str):
        path, flag = parse_transform_arg(spec)
        return read_transform(path, invert=invert != flag, moving=moving, reference=reference)
    if isinstance(spec, os.PathLike):
        return read_transform(spec, invert=invert, moving=moving, reference=reference)
    affine = AffineTransform(np.asarray(spec), "<matrix>")  # a (4, 4) array, nibabel-style affine
    return [affine.inverse() if invert else affine]


class TransformChain:
    """A list of transforms in ANTs order, consecutive affines collapsed into one.

    Parameters
    ----------
    specs : sequence
        Each entry a path (``str`` may use ANTs' ``[file,1]`` form), a (4, 4)
        RAS matrix, a ``(path or matrix, invert)`` pair, or an already read
        :class:`AffineTransform` / :class:`DisplacementField`.  The last entry
        is applied to the points first, as in ``antsApplyTransforms -t``.
    moving, reference : Grid, optional
        Input and output grids, needed by FSL FLIRT matrices (used as their
        ``-in`` and ``-ref``) and by AFNI matrices on oblique grids.

    Raises
    ------
    TransformError
        From reading any file (see :func:`read_transform`).

    Examples
    --------
    >>> import numpy as np
    >>> shift = np.eye(4); shift[0, 3] = 2.0
    >>> chain = TransformChain([shift, (shift, True)])
    >>> chain.is_affine, chain.affine[0, 3]
    (True, 0.0)
    """

    def __init__(
        self, specs: Sequence[TransformSpec] = (), *,
        moving: Grid | None = None, reference: Grid | None = None,
    ) -> None:
        if isinstance(specs, (str, os.PathLike, np.ndarray)):
            specs = [specs]
        items: list[Transform] = []
        for spec in specs:
            for t in _as_transforms(spec, moving, reference):
                if items and isinstance(t, AffineTransform) and isinstance(items[-1], AffineTransform):
                    items[-1] = AffineTransform(items[-1].matrix @ t.matrix, "<composed>")
                else:
                    items.append(t)
        self.transforms: tuple[Transform, ...] = tuple(items)

    def __len__(self) -> int:
        return len(self.transforms)

    def __enter__(self) -> TransformChain:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the files of the chain's displacement fields."""
        for t in self.transforms:
            if isinstance(t, DisplacementField):
                t.close()

    def __repr__(self) -> str:
        kinds = ", ".join(type(t).__name__ for t in self.transforms)
        return f"TransformChain([{kinds}])"

    @property
    def is_affine(self) -> bool:
        """True when no displacement field is in the chain (an empty chain is the identity)."""
        return all(isinstance(t, AffineTransform) for t in self.transforms)

    @property
    def affine(self) -> np.ndarray:
        """The whole chain as one (4, 4) RAS matrix (only when :attr:`is_affine`)."""
        if not self.is_affine:
            raise TransformError("transform: the chain holds a displacement field; it has no single "
                                 "affine matrix", param="transform")
        if not self.transforms:
            return np.eye(4)
        return np.array(self.transforms[0].matrix)  # type: ignore[union-attr]

    def map_points(self, points: np.ndarray) -> np.ndarray:
        """Map ``(N, 3)`` RAS points of the output space into the input space."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        for t in reversed(self.transforms):
            p = t.map_points(p)
        return p


def voxel_map_chain(input_grid: Grid, output_grid: Grid, chain: TransformChain) -> np.ndarray | None:
    """Output-voxel to input-voxel (4, 4) map, or ``None`` when the chain is not affine.

    ``inv(A_in) @ T_1 @ ... @ T_n @ A_out``: with an empty chain this is
    :func:`.grid.voxel_map`, and when its 3x3 part is diagonal the separable
    path applies.
    """
    if not chain.is_affine:
        return None
    return np.linalg.solve(input_grid.affine, chain.affine @ output_grid.affine)


def _as_box(box: object, shape: tuple[int, int, int]) -> Box:
    try:
        vals = [int(v) for v in box]  # type: ignore[attr-defined]
    except (TypeError, ValueError) as err:
        raise OptionError(f"box: expected (x0, x1, y0, y1, z0, z1), got {box!r}", param="box") from err
    if len(vals) != 6 or any(not 0 <= vals[2 * a] < vals[2 * a + 1] <= shape[a] for a in range(3)):
        raise OptionError(f"box: expected 0 <= start < stop <= {shape} per axis, got {box!r}",
                          param="box")
    return (vals[0], vals[1], vals[2], vals[3], vals[4], vals[5])


def map_voxels(
    output_grid: Grid, chain: TransformChain, input_grid: Grid, where: Box | np.ndarray
) -> np.ndarray:
    """Input voxel coordinates of output voxels, through the chain.

    Parameters
    ----------
    output_grid, input_grid : Grid
    chain : TransformChain
        Maps output-space RAS points to input-space RAS points.
    where : (N, 3) array_like, or tuple of 6 int
        Output voxel coordinates, or an output box ``(x0, x1, y0, y1, z0, z1)``
        (half-open, the tile of a tiled resampler).

    Returns
    -------
    ndarray of float64
        ``(N, 3)`` input voxel coordinates for points; ``(3, nx, ny, nz)`` for
        a box (``coords[a]`` is the input coordinate along axis ``a``).

    Notes
    -----
    Affine chains are evaluated by broadcasting the voxel map along the box's
    axes; a displacement field is sampled trilinearly at the world points of the
    box (see :class:`DisplacementField`), reading only the field box they need.
    Memory is a few ``(3, nx, ny, nz)`` float64 arrays.
    """
    items = list(chain.transforms)
    # Fold the outer affines into the grids' maps: fewer passes over the points.
    pre = output_grid.affine
    if items and isinstance(last := items[-1], AffineTransform):
        pre = last.matrix @ pre
        items.pop()
    post = np.linalg.inv(input_grid.affine)
    if items and isinstance(first := items[0], AffineTransform):
        post = post @ first.matrix
        items.pop(0)
    if isinstance(where, tuple) and len(where) == 6:
        x0, x1, y0, y1, z0, z1 = _as_box(where, output_grid.shape)
        axes = (np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64),
                np.arange(z0, z1, dtype=np.float64))
        shape = (x1 - x0, y1 - y0, z1 - z0)
        if len(items) == 1 and isinstance(items[0], DisplacementField):
            native = items[0].map_box(pre, post, (x0, x1, y0, y1, z0, z1))
            if native is not None:  # compiled (core/_cinterp.c), no arrays in between
                return native
        m = post @ pre if not items else pre
        pts = np.empty((3, *shape))
        for r in range(3):
            pts[r] = (m[r, 0] * axes[0][:, None, None] + m[r, 1] * axes[1][None, :, None]
                      + m[r, 2] * axes[2][None, None, :] + m[r, 3])
        if not items:
            return pts
        flat = pts.reshape(3, -1).T
    else:
        ijk = np.asarray(where, dtype=np.float64)
        if ijk.ndim != 2 or ijk.shape[1] != 3:
            raise OptionError(f"ijk: expected an (N, 3) array, got shape {ijk.shape}", param="ijk")
        if not items:
            return ijk @ (post @ pre)[:3, :3].T + (post @ pre)[:3, 3]
        flat = ijk @ pre[:3, :3].T + pre[:3, 3]
        shape = None
    for t in reversed(items):
        flat = t.map_points(flat)
    out = flat @ post[:3, :3].T + post[:3, 3]
    if shape is None:
        return out
    return np.ascontiguousarray(out.T).reshape(3, *shape)
