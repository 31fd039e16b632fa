"""Temporary names beside a target, and who owns them: a leaf of core.

Every output (a NIfTI file, a Zarr directory) is built under a hidden name
beside its target, ``.<name>.niresample-<host>-<pid>.part``, and renamed onto
the target when complete (:mod:`.writer`, :mod:`._zarr_write`).  The host and
pid say which run owns a temporary: :func:`clean_stale_temporaries` removes
those of dead runs of this host and never another host's (NFS).
:func:`signals_deferred` holds SIGINT/SIGTERM/SIGHUP while a stream must not
be interrupted half-way.  No imports from the rest of core.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "TEMP_PATTERN",
    "temporary_path",
    "host_name",
    "temp_owner_gone",
    "clean_stale_temporaries",
    "signals_deferred",
]

#: Temporary files are named ``.<target name>.niresample-<host>-<pid>.part``; the host
#: keeps runs on other machines sharing a directory (NFS) from cleaning each other's.
TEMP_PATTERN = re.compile(
    r"^\.(?P<name>.+)\.niresample-(?:(?P<host>[A-Za-z0-9_.]+)-)?(?P<pid>\d+)\.part$"
)


def temporary_path(target: Path) -> Path:
    """The temporary name of ``target`` for this run (this host, this pid)."""
    return target.parent / f".{target.name}.niresample-{host_name()}-{os.getpid()}.part"


def host_name() -> str:
    """This machine's name as it appears in temporary names (``[A-Za-z0-9_.]``)."""
    import socket

    return re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname() or "localhost")


def temp_owner_gone(match: re.Match[str]) -> bool:
    """Whether the run that made this temporary is certainly dead: a process of
    this host (or a name without host) that no longer runs.  A temporary of
    another host may belong to a live run there, so it never counts as gone."""
    host = match.group("host")
    return (host is None or host == host_name()) and not _pid_alive(int(match.group("pid")))


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_temporaries(directory: Path) -> list[Path]:
    """Remove temporaries left by killed niresample runs in ``directory``.

    Returns the paths removed.  Temporaries of live processes are left alone,
    and so are resumable Zarr stores (a ``.niresample/manifest.json`` inside):
    ``resume=True`` finishes those, and a later run to the same target without
    it replaces them.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        m = TEMP_PATTERN.match(entry.name)
        if m and temp_owner_gone(m):
            if os.path.exists(os.path.join(entry.path, ".niresample", "manifest.json")):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
                removed.append(Path(entry.path))
            except OSError:
                pass
    return removed


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM/SIGHUP while a block goes into the output stream.

    An exception raised half-way through the threaded gzip writer's
    ``write`` (between numbering a block and queueing it) leaves its ordered
    queues waiting for a block that never comes, and the clean-up ``close``
    then hangs.  Here a signal is only recorded, and its handler runs (and
    raises) once the stream is consistent again.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[tuple[int, Any]] = []

    def hold(signum: int, frame: Any) -> None:
        pending.append((signum, frame))

    previous: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)):
        try:
            previous[sig] = signal.signal(sig, hold)
        except (ValueError, OSError):
            pass
    try:
        yield
    finally:
        for signo, handler in previous.items():
            signal.signal(signo, handler)
        if pending:
            signum, frame = pending[0]
            handler = previous.get(signum)
            if callable(handler):
                handler(signum, frame)
            elif handler in (signal.SIG_DFL, None):
                os.kill(os.getpid(), signum)
