"""Transform file readers: every format converted once, at the door, to RAS.

Each reader returns a list of *elements* in ANTs order (the last one is
applied to the points first): a (4, 4) float64 RAS matrix, or a
:class:`FieldData` (the field's grid and its lazily read RAS vectors).  Every
element maps points of the output (reference, fixed) space into the input
(moving) space, as antsApplyTransforms and ITK use them.

This module knows formats and nothing else; :mod:`.transforms` wraps the
elements into :class:`~.transforms.AffineTransform` and
:class:`~.transforms.DisplacementField`.  nitransforms reads FSL, FreeSurfer
and AFNI files; ITK files are parsed here in float64 because nitransforms reads
ITK text in float32 and knows only ``AffineTransform`` (not the
``MatrixOffsetTransformBase`` that antsRegistration writes into ``.mat``, nor
the rigid and similarity types other ITK tools write).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import NiresampleError, TransformError
from .grid import Grid

__all__ = ["FieldData", "read_transform_file", "check_affine", "LPS"]

#: LPS <-> RAS: ITK, ANTs and AFNI work in LPS; niresample in nibabel's RAS.
LPS = np.diag([-1.0, -1.0, 1.0, 1.0])

_NIFTI_VECTOR_INTENT = 1007
_ITK_BANNER = "#insight transform file"
_ITK_NAME = re.compile(r"^(?P<kind>[A-Za-z0-9]+?)_(?:double|float)_(?P<din>\d+)_(?P<dout>\d+)$")


class FieldVectors:
    """RAS displacement vectors of an ITK/ANTs field file, read box by box.

    ``vectors[x0:x1, y0:y1, z0:z1]`` reads only that box and returns
    ``(nx, ny, nz, 3)`` float64 RAS millimetres.  ITK stores LPS vectors: the
    sign flip of the first two components happens here and only here.
    """

    def __init__(self, path: Path, source: Any) -> None:
        self.path = path
        self._source = source  # a SourceImage of shape (x, y, z, 1, 3)
        self.shape = (*source.grid.shape, 3)

    def __getitem__(self, key: tuple[slice, slice, slice]) -> np.ndarray:
        x, y, z = key
        z0, z1, _ = z.indices(self.shape[2])
        try:
            comps = [self._source.read_slab(z0, z1, volume=c, x=x, y=y) for c in range(3)]
        except NiresampleError as err:
            raise TransformError(f"{err}", param="transform") from err
        out = np.stack(comps, axis=-1).astype(np.float64)
        if not np.all(np.isfinite(out)):
            raise TransformError(f"{self.path}: displacement field holds NaN or infinite vectors",
                                 param="transform")
        out[..., :2] *= -1.0
        return out

    def close(self) -> None:
        self._source.close()


@dataclass(frozen=True)
class FieldData:
    """A displacement field as read: its grid and its (lazy) RAS vectors."""

    grid: Grid
    vectors: Any


def _fail(path: Path, what: str) -> TransformError:
    return TransformError(f"{path}: {what}", param="transform")


def check_affine(matrix: object, where: str) -> np.ndarray:
    """A finite, non-singular (4, 4) float64 affine, or a TransformError naming ``where``."""
    try:
        m = np.array(matrix, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TransformError(f"{where}: expected a 4x4 numeric matrix", param="transform") from err
    if m.shape != (4, 4):
        raise TransformError(f"{where}: expected a 4x4 matrix, got shape {m.shape}", param="transform")
    if not np.all(np.isfinite(m)):
        raise TransformError(f"{where}: matrix holds NaN or infinite values", param="transform")
    if not np.allclose(m[3], [0.0, 0.0, 0.0, 1.0], atol=1e-6):
        raise TransformError(f"{where}: last row must be 0 0 0 1, got {m[3].tolist()}",
                             param="transform")
    m[3] = (0.0, 0.0, 0.0, 1.0)
    # Scale-free test: the singular values' ratio, so 0.001 mm voxels pass.
    sv = np.linalg.svd(m[:3, :3], compute_uv=False)
    if not sv[-1] > 1e-10 * sv[0]:
        raise TransformError(f"{where}: singular matrix (it collapses space)", param="transform")
    return m


def read_transform_file(
    path: Path, *, moving: Grid | None = None, reference: Grid | None = None
) -> list[np.ndarray | FieldData]:
    """Read one transform file into RAS elements (see the module docstring).

    ``moving`` and ``reference`` are the input and output grids; FSL FLIRT
    matrices need both, AFNI matrices use them for oblique grids.
    """
    if not path.exists():
        raise _fail(path, "no such transform file")
    if not path.is_file():
        raise _fail(path, "not a regular file")
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError as err:
        raise _fail(path, f"cannot be read ({err.strerror or err})") from err
    if not head:
        raise _fail(path, "empty file")
    name = path.name.lower()
    if name.endswith((".nii", ".nii.gz")) or head[:2] == b"\x1f\x8b" or head[344:347] == b"n+1":
        return [_read_itk_field(path)]
    if name.endswith((".h5", ".hdf5")):
        raise _fail(path, "HDF5 composite transforms are not supported; write the transforms as "
                          "separate files (antsRegistration without --write-composite-transform)")
    if b"\x00" in head:
        if name.endswith(".mat"):
            return _read_itk_mat(path)
        raise _fail(path, "binary file of unknown transform format")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise _fail(path, "not a text transform file") from err
    stripped = text.lstrip()
    if stripped.lower().startswith(_ITK_BANNER):
        return _read_itk_text(path, text)
    if re.search(r"^\s*type\s*=", text, flags=re.MULTILINE) and "1 4 4" in text:
        return [_read_lta(path, text)]
    if name.endswith(".1d"):
        return [_read_afni(path, text, moving, reference)]
    rows = _numeric_rows(text)
    if rows is None:
        raise _fail(path, "not a transform file niresample knows (ITK/ANTs, FSL, LTA, AFNI, 4x4 text)")
    widths = {len(r) for r in rows}
    if widths == {12}:
        return [_read_afni(path, text, moving, reference)]
    if widths == {4} and len(rows) == 4:
        if name.endswith(".mat"):
            return [_read_fsl(path, text, moving, reference)]
        return [check_affine(rows, str(path))]
    if widths == {3} and len(rows) == 3:
        raise _fail(path, "a 3x3 matrix: 2D transforms are not supported (expected 4x4)")
    raise _fail(path, f"expected 4 rows of 4 numbers, got rows of {sorted(widths)} numbers")


def _numeric_rows(text: str) -> list[list[float]] | None:
    rows = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            rows.append([float(v) for v in line.replace(",", " ").split()])
        except ValueError:
            return None
    return rows or None


# -- ITK / ANTs ---------------------------------------------------------------
def _rotation_versor(v: np.ndarray, path: Path) -> np.ndarray:
    x, y, z = (float(t) for t in v)
    n2 = x * x + y * y + z * z
    if n2 > 1.0 + 1e-9:
        raise _fail(path, f"versor {v.tolist()} has a norm above 1")
    w = np.sqrt(max(0.0, 1.0 - n2))
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def _rotation_euler(a: np.ndarray, zyx: bool) -> np.ndarray:
    cx, cy, cz = np.cos(a)
    sx, sy, sz = np.sin(a)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx if zyx else rz @ rx @ ry


#: ITK linear transform kinds: number of parameters, and how they give (matrix, translation).
_ITK_LINEAR: dict[str, int] = {
    "AffineTransform": 12, "MatrixOffsetTransformBase": 12, "Euler3DTransform": 6,
    "VersorRigid3DTransform": 6, "Similarity3DTransform": 7, "ScaleVersor3DTransform": 9,
    "TranslationTransform": 3, "ScaleTransform": 3, "IdentityTransform": 0,
}


def _itk_element(path: Path, name: str, params: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """RAS (4, 4) matrix of one ITK linear transform given by name and parameters."""
    m = _ITK_NAME.match(name)
    if m is None:
        raise _fail(path, f"unknown ITK transform type {name!r}")
    kind = m["kind"]
    if (m["din"], m["dout"]) != ("3", "3"):
        raise _fail(path, f"{name} is a {m['din']}D transform; only 3D transforms are supported")
    if kind not in _ITK_LINEAR:
        raise _fail(path, f"ITK transform type {kind} is not supported (affine and rigid types, and "
                          "displacement fields as NIfTI files, are)")
    need = _ITK_LINEAR[kind]
    if params.size != need:
        raise _fail(path, f"{kind} needs {need} parameters, got {params.size}")
    if not (np.all(np.isfinite(params)) and np.all(np.isfinite(fixed))):
        raise _fail(path, "parameters hold NaN or infinite values")
    center = fixed[:3] if fixed.size >= 3 else np.zeros(3)
    lin = np.eye(3)
    t = np.zeros(3)
    if kind in ("AffineTransform", "MatrixOffsetTransformBase"):
        lin, t = params[:9].reshape(3, 3), params[9:12]
    elif kind == "Euler3DTransform":
        zyx = fixed.size >= 4 and fixed[3] != 0
        lin, t = _rotation_euler(params[:3], bool(zyx)), params[3:6]
    elif kind == "VersorRigid3DTransform":
        lin, t = _rotation_versor(params[:3], path), params[3:6]
    elif kind == "Similarity3DTransform":
        lin, t = params[6] * _rotation_versor(params[:3], path), params[3:6]
    elif kind == "ScaleVersor3DTransform":
        lin, t = _rotation_versor(params[:3], path) + np.diag(params[6:9] - 1.0), params[3:6]
    elif kind == "TranslationTransform":
        t = params[:3]
    elif kind == "ScaleTransform":
        lin = np.diag(params[:3])
    # ITK: y = A (x - c) + t + c, in LPS.
    lps = np.eye(4)
    lps[:3, :3] = lin
    lps[:3, 3] = t + center - lin @ center
    return check_affine(LPS @ lps @ LPS, str(path))


def _read_itk_text(path: Path, text: str) -> list[np.ndarray | FieldData]:
    blocks: list[dict[str, str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.lower().startswith(_ITK_BANNER):
            continue
        if line.startswith("#"):
            blocks.append({})
            continue
        key, sep, value = line.partition(":")
        if not sep or not blocks:
            raise _fail(path, f"not an ITK transform file (unexpected line {line[:60]!r})")
        blocks[-1][key.strip()] = value.strip()
    out: list[np.ndarray | FieldData] = []
    for block in blocks:
        name = block.get("Transform", "")
        if name.startswith("CompositeTransform"):
            continue  # the list that follows is already in ANTs order
        if "Parameters" not in block:
            raise _fail(path, f"ITK transform {name or '?'} without Parameters")
        try:
            params = np.array(block["Parameters"].split(), dtype=np.float64)
            fixed = np.array(block.get("FixedParameters", "").split(), dtype=np.float64)
        except ValueError as err:
            raise _fail(path, "ITK parameters are not numbers") from err
        out.append(_itk_element(path, name, params, fixed))
    if not out:
        raise _fail(path, "ITK transform file holds no transform")
    return out


def _read_itk_mat(path: Path) -> list[np.ndarray | FieldData]:
    from scipy.io import loadmat

    try:
        mdict = loadmat(str(path))
    except Exception as err:  # scipy raises ValueError, TypeError, MatReadError...
        raise _fail(path, f"not a readable ITK/ANTs .mat file ({type(err).__name__}: {err})") from err
    names = [k for k in mdict if not k.startswith("__") and k != "fixed"]
    if len(names) != 1:
        raise _fail(path, f"expected one transform in the .mat file, found {names}")
    params = np.asarray(mdict[names[0]], dtype=np.float64).ravel()
    fixed = np.asarray(mdict.get("fixed", np.zeros(3)), dtype=np.float64).ravel()
    return [_itk_element(path, names[0], params, fixed)]


def _read_itk_field(path: Path) -> FieldData:
    from .io import open_image

    try:
        src = open_image(path)
    except NiresampleError as err:
        raise TransformError(f"{err}", param="transform") from err
    shape = src.shape
    if len(shape) != 5 or shape[3] != 1:
        src.close()
        raise _fail(path, f"expected an ITK/ANTs displacement field of shape (x, y, z, 1, 3), "
                          f"got {shape}")
    if shape[4] != 3:
        src.close()
        raise _fail(path, f"a displacement field with {shape[4]} components per vector; only 3D "
                          "fields (3 components) are supported")
    intent = int(src.header["intent_code"]) if src.header is not None else 0
    if intent not in (0, _NIFTI_VECTOR_INTENT):
        src.close()
        raise _fail(path, f"NIfTI intent code {intent} is not a vector field (1007)")
    return FieldData(src.grid, FieldVectors(path, src))


# -- FSL, FreeSurfer, AFNI (through nitransforms) -----------------------------
def _read_fsl(path: Path, text: str, moving: Grid | None, reference: Grid | None) -> np.ndarray:
    if moving is None or reference is None:
        raise _fail(path, "an FSL FLIRT matrix needs the input and reference grids")
    from nitransforms.io.fsl import FSLLinearTransform

    try:
        xfm = FSLLinearTransform.from_string(text)
        check_affine(xfm.structarr["parameters"], str(path))
        # FSL's scaled-voxel frames (with the x flip of grids whose
        # voxel-to-world determinant is positive) come from the grids.
        ras = xfm.to_ras(moving=moving, reference=reference)
    except TransformError:
        raise
    except Exception as err:
        raise _fail(path, f"not a readable FSL matrix ({type(err).__name__}: {err})") from err
    return check_affine(ras, str(path))


def _read_lta(path: Path, text: str) -> np.ndarray:
    from nitransforms.io.lta import FSLinearTransformArray

    try:
        lta = FSLinearTransformArray.from_string(text)
        if len(lta.xforms) != 1:
            raise _fail(path, f"LTA holds {len(lta.xforms)} transforms; expected one")
        xfm = lta.xforms[0]
        kind = int(xfm.structarr["type"])
        if kind not in (0, 1):
            raise _fail(path, f"LTA type {kind} is not supported (0 vox2vox and 1 ras2ras are)")
        check_affine(xfm.structarr["m_L"], str(path))
        ras = xfm.to_ras()  # vox2vox through the LTA's own src/dst geometry
    except TransformError:
        raise
    except Exception as err:  # nitransforms asserts on malformed files
        raise _fail(path, f"not a readable LTA file ({type(err).__name__}: {err})") from err
    return check_affine(ras, str(path))


def _read_afni(path: Path, text: str, moving: Grid | None, reference: Grid | None) -> np.ndarray:
    from nitransforms.io.afni import AFNILinearTransformArray

    try:
        arr = AFNILinearTransformArray.from_string(text)
        if len(arr.xforms) != 1:
            raise _fail(path, f"holds {len(arr.xforms)} matrices (one per volume?); expected one")
        check_affine(arr.xforms[0].structarr["parameters"], str(path))
        ras = arr.to_ras(moving=moving, reference=reference)[0]
    except TransformError:
        raise
    except Exception as err:
        raise _fail(path, f"not a readable AFNI matrix ({type(err).__name__}: {err})") from err
    return check_affine(ras, str(path))
