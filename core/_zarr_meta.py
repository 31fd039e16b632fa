"""OME-Zarr metadata and store helpers shared by Zarr reading and writing.

Layout of a store niresample writes (OME-NGFF 0.4 on Zarr format 2, which
napari-ome-zarr, neuroglancer, BigDataViewer/MoBIE and zarr-python all read)::

    OUT.ome.zarr/
        .zgroup  .zattrs        # multiscales metadata + niresample's exact affine
        0/                      # full resolution, axes ([t,] [c,] z, y, x)
        1/ ... N/               # optional pyramid, each level halved per spatial axis

The spatial axes are stored z, y, x (x fastest), which is exactly NIfTI's
voxel order, so a NIfTI slab ``(nx, ny, dz)`` in Fortran order is written
without a copy.

OME-NGFF has no rotation.  ``scale`` is the voxel spacing (mm) and
``translation`` is the first voxel centre expressed in the image's own axis
frame (``direction.T @ origin``), which is world RAS mm for an image whose
axes are aligned with RAS and is exact up to that rotation otherwise.  The
full 4x4 affine and the NIfTI header are stored under ``.zattrs['niresample']``
so :func:`._zarr_read.open_zarr` restores the exact :class:`~.grid.Grid`.

The Zarr modules: :mod:`._zarr_read` (input), :mod:`._zarr_write` (output),
:mod:`._zarr_plan` (options and chunk sizes), :mod:`._zarr_pyramid` (the
chunk-row task and downsampling), :mod:`._zarr_resume` (temporary store,
fingerprint and resume).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DependencyError, InputError
from .grid import Grid

__all__ = [
    "NgffLayout", "STATE_DIR", "MANIFEST", "NGFF_VERSION", "UNITS_MM", "EXTRA_AXES", "require_zarr",
    "read_json", "write_json", "multiscales", "not_replaceable", "zarr_levels", "ngff_transforms",
    "affine_from_ngff",
]

#: Run state inside a temporary store (manifest, finished-row markers).
STATE_DIR = ".niresample"
MANIFEST = "manifest.json"
NGFF_VERSION = "0.4"
UNITS_MM = {"millimeter": 1.0, "micrometer": 1e-3, "nanometer": 1e-6, "meter": 1e3,
            "centimeter": 10.0, "angstrom": 1e-7, "picometer": 1e-9}
EXTRA_AXES = ({"name": "t", "type": "time", "unit": "second"}, {"name": "c", "type": "channel"})


def require_zarr() -> None:
    """Zarr support is the optional ``zarr`` extra: say what to install."""
    import importlib.util

    missing = [m for m in ("zarr", "numcodecs", "dask") if importlib.util.find_spec(m) is None]
    if missing:
        raise DependencyError(
            f"Zarr input/output needs {', '.join(missing)}: pip install 'niresample[zarr]'"
        )


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically (a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2))
    os.replace(tmp, path)


#: The metadata files of a Zarr group or array (format 2 and 3).
_NODE_FILES = (".zgroup", ".zattrs", ".zarray", ".zmetadata", "zarr.json")


def not_replaceable(path: Path) -> str:
    """Why the existing folder ``path`` must not be replaced by a Zarr output ('' when it may).

    Only a folder that is a Zarr store this tool could have written is replaced:
    an empty folder, or a Zarr group (``.zgroup`` or ``zarr.json``) holding nothing
    but Zarr metadata files and Zarr nodes (sub-folders with their own metadata:
    the levels of a multiscale image).  Anything else (the input itself, notes,
    DICOM folders) is someone's data.  Sub-folders are checked one level deep
    (a store may hold millions of chunk files).
    """
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError as err:
        return f"cannot be listed ({err.strerror or err})"
    if not entries:
        return ""
    names = {e.name for e in entries}
    if not names & {".zgroup", "zarr.json"}:
        return "exists and is not a Zarr store (no .zgroup or zarr.json)"
    for e in entries:
        if e.name in _NODE_FILES and e.is_file(follow_symlinks=False):
            continue
        if e.is_dir(follow_symlinks=False) and any(
                os.path.isfile(os.path.join(e.path, m)) for m in _NODE_FILES):
            continue
        return f"exists and is not a Zarr store niresample could have written (it holds {e.name!r})"
    return ""


def read_json(path: Path) -> Any:
    """Parsed JSON, ``{}`` for a missing file; InputError for an unreadable one."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: unreadable Zarr metadata ({err})") from err


def multiscales(attrs: dict[str, Any]) -> dict[str, Any] | None:
    """The first OME-NGFF multiscales entry (0.4, or 0.5 under ``'ome'``), or None."""
    ms = attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")
    return ms[0] if isinstance(ms, list) and ms else None


def zarr_levels(path: Path) -> list[str]:
    """Paths of the multiscale levels of an OME-Zarr store, finest first."""
    attrs = read_json(Path(path) / ".zattrs") or read_json(Path(path) / "zarr.json").get("attributes", {})
    ms = multiscales(attrs)
    return [str(d["path"]) for d in ms["datasets"]] if ms else []


def ngff_transforms(grid: Grid, level: int, n_extra: int) -> list[dict[str, Any]]:
    """OME-NGFF scale and translation of pyramid ``level`` of ``grid`` (axes t, c, z, y, x)."""
    spacing = np.asarray(grid.spacing, dtype=np.float64)
    origin = np.asarray(grid.affine[:3, 3], dtype=np.float64)
    # First voxel centre in the image's own axis frame; exact for any rotation.
    trans = np.asarray(grid.direction, dtype=np.float64).T @ origin
    f = 2.0 ** level
    scale = spacing * f
    trans = trans + spacing * (f - 1) / 2
    lead = [1.0] * n_extra
    return [
        {"type": "scale", "scale": lead + [float(v) for v in scale[::-1]]},
        {"type": "translation", "translation": [0.0] * n_extra + [float(v) for v in trans[::-1]]},
    ]


def _unit_mm(unit: Any) -> float:
    """mm per NGFF axis unit: UDUNITS names, and the common abbreviations ('um')."""
    from ._inputs import UNIT_TO_MM

    text = str(unit)
    return UNITS_MM.get(text, UNIT_TO_MM.get(text.strip().lower(), 1.0))


def affine_from_ngff(
    ms: dict[str, Any], dataset: dict[str, Any], names: list[dict[str, Any]]
) -> np.ndarray:
    """An axis-aligned affine (mm) from OME-NGFF scale and translation (ValueError if malformed)."""
    n = len(names)
    scale = np.ones(n)
    trans = np.zeros(n)
    for transforms in (dataset.get("coordinateTransformations", []),
                       ms.get("coordinateTransformations", [])):
        for t in transforms:
            kind = t.get("type")
            if kind not in ("scale", "translation"):
                continue
            v = np.asarray(t[kind], dtype=np.float64)
            if v.shape != (n,) or not np.all(np.isfinite(v)):
                raise ValueError(f"{kind} {t[kind]!r} needs {n} finite values (one per axis)")
            if kind == "scale":
                scale, trans = scale * v, trans * v
            else:
                trans = trans + v
    unit = np.array([_unit_mm(a.get("unit", "millimeter")) for a in names])
    sp, tr = (scale * unit)[-3:][::-1], (trans * unit)[-3:][::-1]
    affine = np.eye(4)
    affine[:3, :3] = np.diag(sp)
    affine[:3, 3] = tr
    return affine


@dataclass(frozen=True)
class NgffLayout:
    """The on-disk flavour of an OME-Zarr output: Zarr v2 + NGFF 0.4, or v3 + 0.5; image or labels.

    A label map carries the NGFF labels convention's ``image-label`` entry
    (colours are optional and left out), which viewers (napari-ome-zarr,
    ome-zarr-py) use to open it as labels.
    """

    zarr_format: int = 2
    labels: bool = False

    def array_kwargs(self, codec: Any, names: list[str]) -> dict[str, Any]:
        """``zarr.create_array`` arguments: format, chunk keys, the Blosc codec (and the
        axis ``names`` as dimension names, which NGFF 0.5 requires)."""
        if self.zarr_format == 2:
            return {"zarr_format": 2, "compressors": codec,
                    "chunk_key_encoding": {"name": "v2", "separator": "/"}}
        from zarr.codecs import BloscCodec

        cfg = codec.get_config()
        blosc = BloscCodec(cname=cfg["cname"], clevel=int(cfg["clevel"]),
                           shuffle="shuffle" if cfg.get("shuffle") else "noshuffle")
        return {"zarr_format": 3, "compressors": blosc, "dimension_names": list(names)}

    def write_group(self, root: Path, multiscales: list[dict[str, Any]], extra: dict[str, Any]) -> None:
        """The root group's metadata: ``.zgroup``/``.zattrs`` (v2) or ``zarr.json`` (v3)."""
        if self.zarr_format == 2:
            attrs: dict[str, Any] = {"multiscales": multiscales}
            if self.labels:
                attrs["image-label"] = {"version": NGFF_VERSION}
            write_json(root / ".zgroup", {"zarr_format": 2})
            write_json(root / ".zattrs", {**attrs, "niresample": extra})
            return
        ome: dict[str, Any] = {"version": "0.5", "multiscales": multiscales}
        if self.labels:
            ome["image-label"] = {}
        write_json(root / "zarr.json", {"zarr_format": 3, "node_type": "group",
                                        "attributes": {"ome": ome, "niresample": extra}})
