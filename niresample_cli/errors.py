"""One mapping from core's Python names to the CLI's flags.

Core errors name the Python parameter (``max_memory: at least 16M is needed``) and
carry it in ``err.param``; the CLI shows its own flag instead
(``--max-memory: at least 16M is needed``).  Both the app's single runs
(:func:`niresample_cli.app._guarded`) and batch rows (:mod:`niresample_cli.batch`)
format failures with :func:`failure_message`, so they read the same.
"""

from __future__ import annotations

import re

__all__ = ["FLAGS", "flags_for", "cli_message", "failure_message", "exit_code", "USAGE_EXIT",
           "FAILURE_EXIT"]

#: A usage mistake: an option value or a combination of options (as the parser's own errors).
USAGE_EXIT = 2
#: An input, output or runtime failure.
FAILURE_EXIT = 1

#: Flags of the parameters every resampling command shares.
_COMMON: dict[str, str] = {
    "sigma": "--sigma",
    "sigma_voxels": "--sigma-voxels",
    "max_memory": "--max-memory",
    "max_output": "--max-output",
    "threads": "--threads",
    "method": "--method",
    "like": "--like",
    "shape": "--shape",
    "order": "--order",
    "dtype": "--dtype",
    "device": "--device",
    "anchor": "--anchor",
    "chunks": "--chunks",
    "pyramid": "--pyramid",
    "resume": "--resume",
    "scheduler": "--scheduler",
    "force": "--force",
    "overwrite": "--overwrite",
    "compress_level": "--compress-level",
    "force_float_labels": "--force-float-labels",
    "report": "--report",
    "transform": "--transform",
    "fill": "--fill",
}

#: How inputs are read (issue 13): every command that opens images.
_INPUT = {
    "orientation": "--orientation",
    "voxel_size": "--voxel-size",
    "voxel_unit": "--voxel-unit",
    "level": "--level",
    "space_unit": "--space-unit",
}
_COMMON.update(_INPUT, format="--format", zarr_format="--zarr-format")

#: Per command: Python parameter -> the flag(s) a user types for it.
FLAGS: dict[str, dict[str, str]] = {
    "spacing": {**_COMMON, "spacing": "--spacing/--iso/--x/--y/--z"},
    "size": {**_COMMON},
    "labels": {**_COMMON, "spacing": "--resolution/--spacing/--x/--y/--z", "fill": "--fill"},
    "compare": {"max_memory": "--max-memory", "labels": "--labels", "fail_on": "--fail-on",
                "fov_tolerance": "--fov-tolerance", "report": "--report", "png": "--png", "fill": "--fill",
                **_INPUT},
    "info": {**_INPUT},
}


def flags_for(command: str | None) -> dict[str, str]:
    """The table of ``command`` (the shared one for an unknown or no command)."""
    return FLAGS.get(command or "", _COMMON)


def cli_message(err: BaseException, command: str | None = None) -> str:
    """``str(err)`` with Python parameter names replaced by ``command``'s flags.

    The leading ``param:`` of an error whose ``param`` the table knows becomes the
    flag; names with an underscore (``max_memory``, ``sigma_voxels``) anywhere in the
    text become flags too (plain words such as ``sigma`` are left alone elsewhere:
    they also occur as ordinary words).  Python's ``name=True`` becomes the switch and
    ``name=VALUE`` becomes ``--flag VALUE``.
    """
    text = str(err)
    table = flags_for(command)
    param = getattr(err, "param", None)
    if param and param in table and text.startswith(f"{param}:"):
        text = table[param] + text[len(param):]
    for name, flag in table.items():
        # Python's spelling of a switch or a value ("overwrite=True", "max_memory='2G'")
        text = re.sub(rf"(?<![\w./-]){re.escape(name)}=True\b", flag, text)
        text = re.sub(rf"(?<![\w./-]){re.escape(name)}=(?=\S)", f"{flag} ", text)
        if "_" in name and name in text:
            text = re.sub(rf"(?<![\w./-]){re.escape(name)}(?![\w/-])", flag, text)
    return text


def failure_message(err: BaseException, command: str | None = None) -> str:
    """The one-line message of a failed run (single file or one row of a batch)."""
    from niresample_cli.core.errors import NiresampleError

    if isinstance(err, NiresampleError):
        return cli_message(err, command)
    if isinstance(err, MemoryError):
        return "out of memory; lower --max-memory or free some RAM"
    if _ordinary_os_error(err):
        # the safety net for an OS condition core did not wrap where it arose
        assert isinstance(err, OSError)
        where = err.filename if err.filename is not None else "standard output"
        return f"{where}: {err.strerror}"
    return f"internal error: {type(err).__name__}: {err}"


#: OS conditions of the machine, not bugs: a name too long, a file where a folder is
#: expected, a full, read-only or forbidden place, a failing device.
_ORDINARY_ERRNOS = ("ENAMETOOLONG", "ENOTDIR", "EISDIR", "ENOSPC", "EDQUOT", "EROFS", "EACCES",
                    "EPERM", "EIO", "ELOOP", "EFBIG", "ENOENT", "EEXIST")


def _ordinary_os_error(err: BaseException) -> bool:
    import errno

    codes = {getattr(errno, n) for n in _ORDINARY_ERRNOS if hasattr(errno, n)}
    return isinstance(err, OSError) and err.errno in codes and bool(err.strerror)


def exit_code(err: BaseException) -> int:
    """The exit status of a failed run: 2 for a usage mistake, 1 for everything else.

    A usage mistake is an :class:`~niresample_cli.core.errors.OptionError` (a bad option
    value or combination) or a :class:`~niresample_cli.core.errors.GridError` that names
    the parameter at fault (``spacing``, ``shape``: a requested grid).  A ``GridError``
    without a parameter comes from a file (an input's affine) and, like input, header,
    output, label and device errors, exits 1.
    """
    from niresample_cli.core.errors import GridError, OptionError

    if isinstance(err, OptionError):
        return USAGE_EXIT
    if isinstance(err, GridError) and getattr(err, "param", None):
        return USAGE_EXIT
    return FAILURE_EXIT
