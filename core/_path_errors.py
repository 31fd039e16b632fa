"""One plain line for an output path the OS refuses (issue 15 item 10).

``stat``/``mkdir`` on an output path fail with ``ENOTDIR`` (a folder on the way is a
file: ``out.nii/x.nii``), ``ELOOP`` (a symbolic link loop) or ``ENOENT`` (a missing
folder, or a symbolic link whose target is missing).  The callers catch the
``OSError`` where it arises and ask :func:`why_not_writable` for the reason by errno.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from .errors import OutputError

__all__ = ["check_output_parent", "why_not_writable"]


def _first_non_dir(path: Path) -> Path | None:
    """The outermost ancestor of ``path`` (as spelled) that exists and is not a folder."""
    for p in reversed((path, *path.parents)):
        if os.path.lexists(p) and not p.is_dir():
            return p
    return None


def why_not_writable(path: str | os.PathLike[str], err: OSError) -> str:
    """Why ``path`` cannot be written to or created, from the ``OSError`` its ``stat`` or
    ``mkdir`` raised: ``"PATH: REASON"``, naming the part of the path at fault."""
    p = Path(path)
    if err.errno == errno.ENOTDIR:
        bad = _first_non_dir(p)
        if bad is not None and bad.is_symlink() and not os.path.exists(bad):
            return f"{p}: {bad} is a symbolic link to {os.readlink(bad)}, which does not exist"
        if bad is not None:
            return f"{p}: {bad} is a file, not a directory"
        return f"{p}: a part of the path is not a directory"
    if err.errno == errno.ELOOP:
        return f"{p}: a symbolic link loop"
    if err.errno == errno.ENOENT and p.is_symlink():
        return f"{p}: a symbolic link to {os.readlink(p)}, which does not exist"
    if err.errno == errno.ENOENT:
        return f"{p}: output directory {Path(os.path.abspath(p)).parent} does not exist"
    return f"{p}: {err.strerror or err}"


def check_output_parent(path: str | os.PathLike[str]) -> None:
    """Refuse an output whose folder is missing, not a folder, or not writable
    (:class:`OutputError`, one line naming the part of the path at fault)."""
    parent = Path(os.path.abspath(path)).parent
    try:
        os.stat(parent)
    except OSError as err:
        raise OutputError(why_not_writable(path, err)) from None
    if not parent.is_dir():
        bad = _first_non_dir(Path(path).parent)
        raise OutputError(f"{path}: {bad or parent} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: output directory {parent} is not writable")
