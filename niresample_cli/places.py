"""Where a run reads and writes, as the user spelled it.

* A path spelled with a trailing slash (``out_1mm/``) is a directory, whether it
  exists or not; ``.zarr``/``.ome.zarr`` names are Zarr stores (images), even with
  the slash a shell's completion adds.
* A folder given as an input stands for the images inside it (NIfTI, NRRD, MHA,
  MGH files and Zarr stores), in name order.
* Output folders a run creates are removed again when the run fails before
  writing anything into them (:func:`make_dirs`, :func:`remove_created`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["IMAGE_SUFFIXES", "is_zarr_name", "spelled_dir", "image_files", "expand_inputs",
           "make_dirs", "remove_created"]

#: What a folder's images end with (every format :func:`core.io.open_image` reads).
IMAGE_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd", ".mgz", ".mgh",
                  ".zarr", ".ome.zarr")


def is_zarr_name(path: str | os.PathLike[str]) -> bool:
    return os.fspath(path).rstrip("/" + os.sep).lower().endswith(".zarr")


def spelled_dir(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` was typed as a directory (a trailing slash), not a Zarr store."""
    text = os.fspath(path)
    return text.endswith(("/", os.sep)) and not is_zarr_name(text)


def _is_image(p: Path) -> bool:
    name = p.name.lower()
    if is_zarr_name(name):
        return p.is_dir()
    return p.is_file() and name.endswith(IMAGE_SUFFIXES) and not name.startswith(".")


def image_files(folder: Path) -> list[Path]:
    """The images inside ``folder`` (not recursive), sorted by name."""
    return sorted((p for p in folder.iterdir() if _is_image(p)), key=lambda p: p.name)


def _tiff_slices(folder: Path) -> bool:
    return any(f.suffix.lower() in (".tif", ".tiff") and f.is_file() and not f.name.startswith(".")
               for f in folder.iterdir())


def expand_inputs(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Input paths with every folder (not a Zarr store) replaced by the images inside.

    A folder holding TIFF files and no other images is one image: a stack of 2D slices.

    Raises
    ------
    OptionError
        A folder without images.
    """
    from niresample_cli.core.errors import OptionError

    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        # A folder named like an image (x.nii/) is not a folder of images: its reader reports it.
        if p.is_dir() and not p.name.lower().endswith(IMAGE_SUFFIXES):
            found = image_files(p)
            if not found and _tiff_slices(p):
                out.append(p)  # a folder of TIFF slices is one image (core/_tiff.py)
                continue
            if not found:
                raise OptionError(f"{p}: a directory without images (looked for "
                                  f"{', '.join(IMAGE_SUFFIXES)})")
            out.extend(found)
        else:
            out.append(p)
    return out


def make_dirs(folder: Path) -> list[Path]:
    """Create ``folder`` (and missing parents); return the folders created, outermost first."""
    missing: list[Path] = []
    p = Path(os.path.abspath(folder))
    while not p.exists() and p.parent != p:
        missing.append(p)
        p = p.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # a file or a symbolic link loop on the way (ENOTDIR, ELOOP)
        from niresample_cli.core._path_errors import why_not_writable
        from niresample_cli.core.errors import OutputError

        raise OutputError(why_not_writable(folder, err)) from None
    return list(reversed(missing))


def remove_created(created: Sequence[Path]) -> None:
    """Remove the folders :func:`make_dirs` created, innermost first, while they are empty."""
    for p in reversed(created):
        try:
            p.rmdir()
        except OSError:  # not empty (something was written, or someone else's files)
            return
