"""The raw NIfTI header, read before nibabel sees it (issue 15 header traps).

:func:`read_raw_header` checks what nibabel would misread or silently "fix":
the header size (and so the byte order), ``dim[0]``, ``pixdim`` when it gives the
geometry, and the transform codes.  :func:`nibabel_image` then builds nibabel's
image from that header with a **data offset and extensions we decide**:

* ``vox_offset`` inside the header (0 is common) in a single-file ``.nii``: nibabel
  would read the header bytes as voxels.  The data is read from the first legal
  offset instead (header, 4 extension bytes, the extensions; a multiple of 16)
  and a warning says so.
* Header extensions over :data:`MAX_EXTENSION_BYTES` are skipped without being
  read (nibabel reads them whole into memory before any voxel; a 1.5 MB .nii.gz
  can carry 1.5 GiB of them).  A warning says so; they are not copied to outputs.

Transform codes outside 0-5 (NIfTI's unknown, scanner, aligned, Talairach, MNI,
template) are refused: nibabel resets such a code to 0 and silently uses the
other transform, which may be another geometry, and there is no telling which
transform the writer meant.
"""

from __future__ import annotations

import gzip
import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._quiet import quiet_nibabel
from .errors import HeaderError, InputError
from .source import reason

__all__ = ["RawHeader", "read_raw_header", "nibabel_image", "MAX_EXTENSION_BYTES"]

#: Header extensions larger than this (in all) are skipped, never read.
MAX_EXTENSION_BYTES = 64 << 20
_XFORM_CODES = range(0, 6)


@dataclass(frozen=True)
class RawHeader:
    """What the raw bytes say: the NIfTI version, byte order, header block, extension
    flag and the stated data offset."""

    nifti2: bool
    endian: str
    block: bytes
    has_extensions: bool
    vox_offset: int

    @property
    def size(self) -> int:
        return 540 if self.nifti2 else 348


def read_raw_header(p: Path, gz: bool) -> RawHeader:
    """Read and check the raw header of ``p``.

    Raises
    ------
    InputError, HeaderError
    """
    opener: Callable[..., Any] = gzip.open if gz else open
    try:
        with opener(p, "rb") as f:
            head = f.read(544)
    except (OSError, EOFError, zlib.error) as err:
        what = "corrupt or truncated gzip data, " if gz else ""
        raise InputError(f"{p}: not a readable NIfTI file ({what}{reason(err)})") from err
    if len(head) < 4:
        raise InputError(f"{p}: not a NIfTI file (too short for a header)")
    n_le = int.from_bytes(head[:4], "little")
    n_be = int.from_bytes(head[:4], "big")
    if 540 in (n_le, n_be):
        nifti2, endian = True, "<" if n_le == 540 else ">"
    elif 348 in (n_le, n_be):
        nifti2, endian = False, "<" if n_le == 348 else ">"
    else:
        raise InputError(
            f"{p}: not a NIfTI file (header size field is {n_le}, expected 348 or 540)"
        )
    hsize = 540 if nifti2 else 348
    if len(head) < hsize:
        raise InputError(f"{p}: truncated header ({len(head)} of {hsize} bytes)")
    dim0 = struct.unpack_from(endian + ("q" if nifti2 else "h"), head, 16 if nifti2 else 40)[0]
    if not 1 <= dim0 <= 7:
        raise HeaderError(f"{p}: header dim[0] = {dim0}, expected 1..7 (corrupt header?)")
    pixdim = struct.unpack_from(endian + ("3d" if nifti2 else "3f"), head, 112 if nifti2 else 80)
    code_fmt = endian + ("i" if nifti2 else "h")
    qform_code = struct.unpack_from(code_fmt, head, 344 if nifti2 else 252)[0]
    sform_code = struct.unpack_from(code_fmt, head, 348 if nifti2 else 254)[0]
    for name, code in (("sform_code", sform_code), ("qform_code", qform_code)):
        if code not in _XFORM_CODES:
            raise HeaderError(
                f"{p}: header {name} = {code} is not a NIfTI transform code (0-5); refusing to "
                "guess which transform gives the geometry (corrupt header?)"
            )
    if sform_code <= 0 and not all(np.isfinite(v) and v != 0 for v in pixdim):
        # qform and the pixdim fallback take voxel sizes from pixdim, which
        # nibabel silently "fixes" from 0 to 1: a zero size is unknown geometry.
        raise HeaderError(
            f"{p}: header voxel sizes pixdim[1:4] = {[float(v) for v in pixdim]} must be "
            "non-zero and finite when sform_code is 0 (corrupt header?)"
        )
    vox = struct.unpack_from(endian + ("q" if nifti2 else "f"), head, 168 if nifti2 else 108)[0]
    vox_offset = int(vox) if np.isfinite(vox) and vox >= 0 else 0
    return RawHeader(nifti2=nifti2, endian=endian, block=bytes(head[:hsize]),
                     has_extensions=len(head) > hsize and head[hsize] != 0, vox_offset=vox_offset)


def _extension_bytes(f: Any, start: int, limit: int, endian: str) -> int:
    """Bytes taken by the extension records from ``start`` (their 8-byte heads only are
    read; stops at the first record that is not one, or past ``limit``)."""
    total = 0
    while total <= limit:
        f.seek(start + total)
        head = f.read(8)
        if len(head) < 8:
            break
        esize = int.from_bytes(head[:4], "little" if endian == "<" else "big", signed=True)
        if esize < 16 or esize % 16:
            break
        total += esize
    return total


def nibabel_image(p: Path, raw: RawHeader, size: int, notes: list[str]) -> Any:
    """nibabel's lazy image of ``p`` with the data offset and extensions decided here.

    ``notes`` receives one-line warnings (an offset corrected, extensions skipped).
    """
    import nibabel as nib

    klass = nib.Nifti2Image if raw.nifti2 else nib.Nifti1Image
    hdr = klass.header_class(raw.block, check=False)  # checked once the offset is decided
    gz = p.name.lower().endswith(".gz")
    legal = raw.size + 4
    opener: Callable[..., Any] = gzip.open if gz else open
    with opener(p, "rb") as f:
        if raw.vox_offset < legal:
            nbytes = int(np.prod(hdr.get_data_shape(), dtype=object)) * hdr.get_data_dtype().itemsize
            if not gz and size - nbytes >= legal:
                offset = size - nbytes  # an uncompressed single file ends with its data
            else:
                ext = _extension_bytes(f, legal, MAX_EXTENSION_BYTES, raw.endian) if raw.has_extensions else 0
                offset = legal + ext
            offset = -(-offset // 16) * 16
            notes.append(f"header vox_offset = {raw.vox_offset} lies inside the header; the data is "
                         f"read from byte {offset}, the first legal offset")
        else:
            offset = raw.vox_offset
        ext_size = offset - legal if raw.has_extensions else 0
        if ext_size > MAX_EXTENSION_BYTES:
            notes.append(f"{ext_size} bytes of header extensions skipped, not read (over the "
                         f"{MAX_EXTENSION_BYTES >> 20} MiB limit; outputs will not carry them)")
        elif ext_size > 0:
            f.seek(legal)
            block = f.read(ext_size)
            hdr.extensions = klass.header_class.exts_klass.from_fileobj(
                io.BytesIO(block), ext_size, raw.endian != nib.volumeutils.native_code)
    hdr.set_data_offset(offset)
    with quiet_nibabel():  # (io also calls this inside it; the checks log what they fix)
        hdr.check_fix()
    proxy = klass.ImageArrayProxy(str(p), hdr.copy(), mmap=True, keep_file_open=True)
    holder = nib.fileholders.FileHolder(filename=str(p))
    img = klass(proxy, None, hdr, file_map={"image": holder, "header": holder})
    img._affine = hdr.get_best_affine()
    return img
