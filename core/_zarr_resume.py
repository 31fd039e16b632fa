"""The temporary store of a Zarr write: fingerprint, manifest, adoption on resume, commit.

The store is built in a temporary directory ``.<name>.niresample-<host>-<pid>.part``
(:mod:`.atomic`) renamed onto the target when complete.  Its manifest records
the settings, a digest of the pickled slab function and the content identity of
every input (size, mtime_ns and a hash of sampled bytes, :func:`.paths.content_identity`),
so ``resume=True`` adopts a partial store only when it was made by the same
computation from the same data.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
from pathlib import Path
from typing import Any

from ._zarr_meta import MANIFEST, STATE_DIR, not_replaceable, read_json, write_json
from .atomic import TEMP_PATTERN, temp_owner_gone, temporary_path
from .errors import DiskSpaceError, OptionError, OutputError, OutputExistsError

__all__ = ["fingerprint", "prepare_temporary", "commit", "as_output_error"]


class _HashWriter:
    """A file-like sink for pickle that only updates a digest (no copy of an
    in-memory volume is made to fingerprint it)."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return len(data)


def fingerprint(slab_fn: Any) -> str | None:
    """A digest of the pickled slab function (its input path and parameters);
    None when it cannot be pickled (then ``resume`` is refused)."""
    sink = _HashWriter()
    try:
        pickle.Pickler(sink, protocol=5).dump(slab_fn)
    except Exception:
        return None
    return sink.digest.hexdigest()


def _partials(path: Path) -> list[Path]:
    found = []
    for entry in path.parent.iterdir() if path.parent.is_dir() else []:
        m = TEMP_PATTERN.match(entry.name)
        if m and m.group("name") == path.name and entry.is_dir():
            found.append(entry)
    return found


def prepare_temporary(path: Path, manifest: dict[str, Any], *, resume: bool) -> Path:
    """The temporary store for this run: a resumable one adopted, else a fresh one."""
    tmp = temporary_path(path)
    adopted = None
    for old in _partials(path):
        m = TEMP_PATTERN.match(old.name)
        if old != tmp and m is not None and not temp_owner_gone(m) and not (
            resume and m.group("host") not in (None, TEMP_PATTERN.match(tmp.name).group("host"))  # type: ignore[union-attr]
        ):
            where = f" on {m.group('host')}" if m.group("host") else ""
            raise OutputError(
                f"{path}: another niresample run (pid {m.group('pid')}{where}) is writing it"
                + ("" if not where else f"; if that run is gone, resume=True takes it over, or remove {old.name}")
            )
        if resume and adopted is None:
            if manifest.get("task") is None:
                raise OptionError(
                    "resume: this run cannot be fingerprinted (its task does not pickle), so a "
                    "partial output cannot be matched to it; run with resume=False",
                    param="resume",
                )
            old_manifest = read_json(old / STATE_DIR / MANIFEST)
            if old_manifest != json.loads(json.dumps(manifest)):
                diff = sorted(k for k in manifest if old_manifest.get(k) != json.loads(json.dumps(manifest))[k])
                if diff == ["inputs"]:
                    raise OptionError(
                        f"resume: the input {_changed_input(old_manifest, manifest)} changed since the "
                        f"partial output {old.name} was made; run with resume=False to start over",
                        param="resume",
                    )
                raise OptionError(
                    f"resume: the partial output {old.name} was made with other settings "
                    f"({', '.join(diff) or 'unknown'}); run with resume=False to start over",
                    param="resume",
                )
            if old != tmp:
                os.rename(old, tmp)
            adopted = tmp
        elif old != adopted:
            shutil.rmtree(old, ignore_errors=True)
    if adopted is not None:
        return adopted
    try:
        (tmp / STATE_DIR).mkdir(parents=True)
        write_json(tmp / STATE_DIR / MANIFEST, manifest)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise as_output_error(path, err) from err
    return tmp


def _changed_input(old: dict[str, Any], new: dict[str, Any]) -> str:
    """The first input whose recorded identity differs (its path), for the message."""
    before = {d.get("path"): d.get("identity") for d in old.get("inputs") or []}
    for d in new.get("inputs") or []:
        if before.get(d["path"]) != json.loads(json.dumps(d["identity"])):
            return str(d["path"])
    return "(an input)"


def commit(tmp: Path, path: Path, *, overwrite: bool) -> None:
    """Rename the finished store onto ``path`` (an old one is swapped out only now)."""
    shutil.rmtree(tmp / STATE_DIR, ignore_errors=True)
    if path.exists():
        if not overwrite:
            raise OutputExistsError(f"{path}: appeared while writing (another process?); kept it untouched")
        why = not_replaceable(path) if path.is_dir() and not path.is_symlink() else "is not a Zarr folder"
        if why:  # checked before the run too; the folder may have changed meanwhile
            raise OutputError(f"{path}: {why}; refusing to replace it")
        trash = path.parent / f".{path.name}.old.niresample-{os.getpid()}.part"
        os.rename(path, trash)
        os.rename(tmp, path)
        shutil.rmtree(trash, ignore_errors=True)
        return
    os.rename(tmp, path)


def as_output_error(path: Path, err: OSError) -> OutputError:
    """An OSError while writing ``path`` as OutputError (DiskSpaceError when the disk is full)."""
    import errno

    if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return DiskSpaceError(f"{path}: disk full while writing")
    return OutputError(f"{path}: cannot write ({err.strerror or err})")
