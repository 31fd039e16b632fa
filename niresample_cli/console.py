"""Consoles, error reporting and progress: everything the CLI prints goes through here."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console

__all__ = [
    "out", "err", "error_line", "warn_line", "make_progress", "make_batch_progress",
    "progress_callback", "state", "fmt_num", "fmt_vec", "fmt_shape", "fmt_size", "is_narrow",
    "fmt_pos", "plural", "print_json", "safe_text",
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


#: Columns a progress bar's label may take at most; longer names get an ellipsis
#: (the bar must stay on one line in 80 columns).
LABEL_WIDTH = 24
#: Seconds over which the speed behind the ETA is averaged (rich's default is 30).
SPEED_WINDOW = 120.0


def _label_column() -> Any:
    from rich.progress import TextColumn
    from rich.table import Column

    return TextColumn("{task.description}", table_column=Column(
        no_wrap=True, overflow="ellipsis", max_width=LABEL_WIDTH))


def _eta_column() -> Any:
    """Time remaining, shown once a tenth is done (earlier estimates swing wildly)."""
    from rich.progress import TimeRemainingColumn
    from rich.text import Text

    class EtaColumn(TimeRemainingColumn):
        def render(self, task: Any) -> Text:
            if task.total and not task.finished and task.percentage < 10:
                return Text("-:--:--", style="progress.remaining")
            return super().render(task)

    return EtaColumn()


def make_progress(*, quiet: bool) -> Any:
    """A rich progress bar on stderr, disabled when quiet or stderr is not a terminal.

    It fits one line of 80 columns: the label is cut to :data:`LABEL_WIDTH` with an
    ellipsis, and the ETA waits for 10 % (speed averaged over :data:`SPEED_WINDOW`).
    """
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TaskProgressColumn,
        TransferSpeedColumn,
    )

    disable = quiet or not sys.stderr.isatty()
    return Progress(
        _label_column(),
        BarColumn(bar_width=20),
        TaskProgressColumn(),
        DownloadColumn(binary_units=False),
        TransferSpeedColumn(),
        _eta_column(),
        console=err,
        disable=disable,
        transient=True,
        speed_estimate_period=SPEED_WINDOW,
    )


class _ProgressUpdate:
    """core's ``callback(done_bytes, total_bytes)`` on a rich Progress task; ``finish()``
    fills the bar before the caller prints its "done" line."""

    def __init__(self, progress: Any, description: str) -> None:
        self.progress = progress
        self.task = progress.add_task(description, total=None)

    def __call__(self, done: int, total: int) -> None:
        self.progress.update(self.task, completed=done, total=total or None)

    def finish(self) -> None:
        for t in self.progress.tasks:
            if t.id == self.task and t.total:
                self.progress.update(self.task, completed=t.total, refresh=True)


def progress_callback(progress: Any, description: str) -> Callable[[int, int], None]:
    """Adapt a rich Progress to core's ``callback(done_bytes, total_bytes)`` (with ``finish()``)."""
    return _ProgressUpdate(progress, description)


def running_label(names: list[str], width: int = LABEL_WIDTH) -> str:
    """The batch bar's label: the files running now (``a.nii, b.nii``; ``+N`` when cut)."""
    if not names:
        return "files"
    text = names[0]
    for i, name in enumerate(names[1:], start=1):
        more = f", {name}"
        if len(text) + len(more) > width:
            return f"{text} +{len(names) - i}"
        text += more
    return text


def middle_ellipsis(text: str, width: int) -> str:
    """``'sub-01_ses-…_T1w.nii.gz'``: cut in the middle so both ends stay readable."""
    if len(text) <= width or width < 5:
        return text
    keep = width - 1
    head = keep // 2
    return text[:head] + "…" + text[len(text) - (keep - head):]


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


def fmt_pos(values: Any, spacing: Any, sep: str = ", ") -> str:
    """Positions (origin, FOV centre) in mm without float noise: rounded to a
    thousandth of the finest voxel (``-0.0062499`` at 0.0125 mm -> ``-0.00625``)."""
    import math

    finest = min((abs(float(s)) for s in spacing if float(s) > 0), default=1.0)
    decimals = max(0, 3 - math.floor(math.log10(finest)))
    parts = []
    for v in values:
        text = f"{round(float(v), decimals):.{decimals}f}"
        text = text.rstrip("0").rstrip(".") if "." in text else text
        parts.append("0" if text in ("-0", "") else text)
    return sep.join(parts)


def plural(n: int, one: str, many: str) -> str:
    """``'1 voxel was'`` / ``'3 voxels were'``."""
    return f"{n} {one if n == 1 else many}"


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
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress(
        _label_column(),
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


def print_json(records: list[Any], *, array: bool) -> None:
    """Records on stdout as one valid JSON document: an array, or (``array=False``)
    the record itself when there is exactly one."""
    print(json_line(records if array or len(records) != 1 else records[0]), flush=True)
