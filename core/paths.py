"""Path identity: the one place that decides "is this path something the run reads?".

A leaf of core (imports only :mod:`.errors`).  Paths are compared by **file
identity**, not by spelling: ``real/in.nii``, ``./real/../real/in.nii``,
``link/in.nii`` through a symlinked folder, a symlink to the file and a hard link
to it are all the same file.  Every output check uses it: the NIfTI writer
(:func:`.writer.check_output_path`), the Zarr target (:func:`._zarr_write.check_zarr_target`)
and the batch planner (``niresample_cli.batch.plan_pairs``).

:func:`content_identity` is what ``resume=True`` compares to know that an input
has not changed since a partial output was made.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import OutputError

__all__ = ["protected_paths", "same_file", "identity_key", "check_not_an_input", "content_identity"]


def protected_paths(*groups: Iterable[str | os.PathLike[str] | None] | str | os.PathLike[str] | None,
                    ) -> tuple[Path, ...]:
    """Every path a run reads, flattened, without ``None`` and duplicates (spelling kept).

    Examples
    --------
    >>> protected_paths("in.nii", ["ref.nii", None], ())
    (PosixPath('in.nii'), PosixPath('ref.nii'))
    """
    out: list[Path] = []
    for group in groups:
        if group is None:
            continue
        items = [group] if isinstance(group, (str, os.PathLike)) else list(group)
        for p in items:
            if p is not None and Path(p) not in out:
                out.append(Path(p))
    return tuple(out)


def identity_key(path: str | os.PathLike[str]) -> str:
    """The real path: symlinks (of the file and of every folder above it) resolved,
    whether or not the file exists yet."""
    return os.path.realpath(os.path.abspath(path))


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether ``a`` and ``b`` are the same file or folder (symlinks, ``..``, hard links)."""
    if identity_key(a) == identity_key(b):
        return True
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def _inside(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """Whether ``path`` lies inside ``folder`` (by real paths, and by identity of each
    parent of ``path`` so that a bind mount or a hard-linked folder counts too)."""
    real, top = identity_key(path), identity_key(folder)
    if real.startswith(top.rstrip(os.sep) + os.sep):
        return True
    try:
        top_stat = os.stat(folder)
    except OSError:
        return False
    parent = Path(real).parent
    for up in (parent, *parent.parents):
        try:
            st = os.stat(up)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (top_stat.st_dev, top_stat.st_ino):
            return True
    return False


def check_not_an_input(target: str | os.PathLike[str], reads: Iterable[str | os.PathLike[str]], *,
                       replaces_folder: bool = False) -> None:
    """Refuse a ``target`` that is (or, for a folder target, holds) a path the run reads.

    Parameters
    ----------
    target : path
        The output about to be written (created beside, then renamed onto it).
    reads : iterable of path
        Every path the run reads (:func:`protected_paths`): the input, the
        reference (``like``), transforms, masks, a batch's other inputs.
    replaces_folder : bool
        The target is a folder replaced as a whole (a Zarr store): refuse it also
        when a read path lies inside it, and when it lies inside a read folder.

    Raises
    ------
    OutputError
    """
    for src in reads:
        if same_file(src, target):
            raise OutputError(f"{target}: output is the input file {src}; refusing to overwrite an input")
        if replaces_folder and os.path.isdir(target) and _inside(src, target):
            raise OutputError(f"{target}: this folder holds the input {src}; refusing to replace it")
        if os.path.isdir(src) and _inside(target, src):
            raise OutputError(f"{target}: output is inside the input {src}; refusing to write into an input")


#: Bytes hashed at each sampled place of a file, and how many places.
_SAMPLE_BYTES = 64 << 10
_SAMPLE_PLACES = 8
#: Files of a folder (a Zarr store) whose stat and samples enter its identity, and
#: how many entries are counted at most (a store may hold millions of chunks).
_FOLDER_FILES = 64
_FOLDER_COUNT = 100_000


def _file_identity(path: str, st: os.stat_result) -> dict[str, Any]:
    """Size, mtime_ns and a digest of the header and a few spread blocks."""
    digest = hashlib.sha256()
    size = st.st_size
    starts = sorted({0, *(size * k // _SAMPLE_PLACES for k in range(1, _SAMPLE_PLACES)),
                     max(size - _SAMPLE_BYTES, 0)})
    with open(path, "rb") as f:
        for start in starts:
            f.seek(start)
            digest.update(f.read(_SAMPLE_BYTES))
    return {"size": size, "mtime_ns": st.st_mtime_ns, "sample": digest.hexdigest()}


def content_identity(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """What ``resume`` compares to know an input is unchanged; None when unreadable.

    A file: its size, ``mtime_ns`` and a SHA-256 of 64 KiB at 9 places (header,
    7 spread blocks, the end).  A folder (a Zarr store): the same for its first
    64 files in sorted walk order (metadata first), plus how many files it holds
    (counted up to 100,000).
    """
    p = os.fspath(path)
    try:
        st = os.stat(p)
        if not os.path.isdir(p):
            return _file_identity(p, st)
        files: list[dict[str, Any]] = []
        count = 0
        for root, dirs, names in os.walk(p):
            dirs.sort()
            if count >= _FOLDER_COUNT:
                break
            for name in sorted(names):
                count += 1
                if len(files) < _FOLDER_FILES:
                    full = os.path.join(root, name)
                    files.append({"name": os.path.relpath(full, p),
                                  **_file_identity(full, os.stat(full))})
        return {"files": files, "count": count}
    except OSError:
        return None
