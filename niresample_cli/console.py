"""Consoles, error reporting and progress: everything the CLI prints goes through here."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console

__all__ = [
    "out", "err", "error_line", "warn_line", "make_progress", "make_batch_progress",
    "progress_callback", "state", "fmt_num", "fmt_vec", "fmt_shape", "fmt_size", "is_narrow",
    "safe_text",
]

#: C0 controls (but tab), DEL and C1 controls: a file name holding them could move the
#: cursor, recolour or retitle the terminal.  Shown as Python escapes instead.
_CONTROLS = {c: f"\\x{c:02x}" for c in [*range(0x00, 0x09), *range(0x0a, 0x20), *range(0x7f, 0xa0)]}

#: Fixed width keeps tables stable when not on a terminal (pipes, tests).
out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)


class _State:
    debug: bool = False


state = _State()


def safe_text(text: object) -> str:
    """``text`` with control characters (ESC, BEL, CR, ...) shown as ``\\x1b``: the one
    escaping of everything printed that may hold a file name."""
    return str(text).translate(_CONTROLS)


def error_line(message: str) -> None:
    """Print ``niresample: error: <message>`` as one line on stderr."""
    from rich.markup import escape

    # escape: paths and values like "sub-01[bold].nii" or "[2.0, nan]" are text, not markup
    text = escape(" ".join(safe_text(message).split()))
    err.print(f"[bold red]niresample: error:[/] {text}", markup=True, highlight=False,
              soft_wrap=True)


def warn_line(message: str) -> None:
    from rich.markup import escape

    err.print(f"[yellow]niresample: warning:[/] {escape(' '.join(safe_text(message).split()))}",
              soft_wrap=True)


def make_progress(*, quiet: bool) -> Any:
    """A rich progress bar on stderr, disabled when quiet or stderr is not a terminal."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    disable = quiet or not sys.stderr.isatty()
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        DownloadColumn(binary_units=False),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=disable,
        transient=True,
    )


def progress_callback(progress: Any, description: str) -> Callable[[int, int], None]:
    """Adapt a rich Progress to core's ``callback(done_bytes, total_bytes)``."""
    task = progress.add_task(description, total=None)

    def update(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total or None)

    return update


# -- number formatting shared by info, compare and the batch summary ---------
def fmt_num(x: float | int | None, digits: int = 4) -> str:
    """Compact number: ``1``, ``0.7``, ``-72.5``, ``1.235e+06``; ``—`` for None."""
    if x is None:
        return "—"
    if isinstance(x, int):
        return str(x)
    if x != x:  # NaN
        return "nan"
    if x == 0:
        return "0"
    return f"{x:.{digits}g}"


def fmt_vec(values: Any, digits: int = 4, sep: str = "×") -> str:
    """``1×1×1.2`` for spacing/FOV; pass ``sep=', '`` for positions."""
    return sep.join(fmt_num(float(v), digits) for v in values)


def fmt_shape(shape: Any) -> str:
    """``146×182×155`` (``×20`` more for 4D)."""
    return "×".join(str(int(v)) for v in shape)


def fmt_size(n: float) -> str:
    """Decimal byte size: ``68 kB``, ``1.4 MB``."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1000
    return str(n)


def is_narrow(console: Console | None = None, *, below: int = 120) -> bool:
    """Whether the console is narrower than ``below`` columns."""
    return (console or out).width < below


def make_batch_progress(*, quiet: bool) -> Any:
    """One overall progress bar (files done / total) on stderr, when it is a terminal."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=quiet or not err.is_terminal,
        transient=True,
    )


def json_line(obj: Any) -> str:
    """Strict JSON (no NaN/Infinity tokens): non-finite floats become null."""
    import json
    import math

    def clean(v: Any) -> Any:
        if isinstance(v, float):
            return v if math.isfinite(v) else None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(obj), allow_nan=False)
