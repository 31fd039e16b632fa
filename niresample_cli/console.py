"""Consoles, error reporting and progress: everything the CLI prints goes through here."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console

__all__ = ["out", "err", "error_line", "make_progress", "state"]

#: Fixed width keeps tables stable when not on a terminal (pipes, tests).
out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)


class _State:
    debug: bool = False


state = _State()


def error_line(message: str) -> None:
    """Print ``niresample: error: <message>`` as one line on stderr."""
    text = " ".join(str(message).split())
    err.print(f"[bold red]niresample: error:[/] {text}", markup=True, highlight=False,
              soft_wrap=True)


def warn_line(message: str) -> None:
    err.print(f"[yellow]niresample: warning:[/] {' '.join(str(message).split())}",
              soft_wrap=True)


def make_progress(*, quiet: bool) -> Any:
    """A rich progress bar on stderr, disabled when quiet or stderr is not a terminal."""
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
        DownloadColumn,
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
