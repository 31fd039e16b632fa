"""`--report` of spacing, size and labels: where each file's HTML report goes.

One naming rule, checked before any file is resampled:

- ``--report FILE.html``: the report of a single input.
- ``--report DIR/`` (a trailing slash, or an existing directory): ``DIR/{stem}_report.html``
  for each input (DIR is created).
- ``--report TEMPLATE`` with ``{stem}`` or ``{name}`` of the input (as ``--name``), e.g.
  ``'reports/{stem}.html'``: one report per input; the directory must exist.

Several inputs need a directory or a template: one file cannot hold every report.
"""

from __future__ import annotations

import os
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ReportTarget", "DEFAULT_REPORT_NAME"]

#: Name of each report in ``--report DIR/``.
DEFAULT_REPORT_NAME = "{stem}_report.html"
_FIELDS = ("stem", "name")


def _error(text: str) -> Exception:
    from niresample_cli.core.errors import OptionError

    return OptionError(f"report: {text}", param="report")


@dataclass(frozen=True)
class ReportTarget:
    """Where the report of each input goes: a path template (picklable, for ``-j N``)."""

    template: str
    make_dir: bool = False

    @classmethod
    def parse(cls, text: str, *, inputs: int) -> ReportTarget:
        """``--report``'s text as a target, for ``inputs`` input files.

        Raises
        ------
        DependencyError
            Without matplotlib (first: nothing else is worth checking then).
        OptionError
            A malformed template, or one plain file for several inputs.
        """
        from niresample_cli.core.report import require_matplotlib

        require_matplotlib(param="report")
        if text.endswith(("/", os.sep)) or Path(text).is_dir():
            return cls(str(Path(text) / DEFAULT_REPORT_NAME), make_dir=True)
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
        except ValueError as err:
            raise _error(f"malformed template {text!r} ({err})") from None
        bad = [f for f in fields if f not in _FIELDS]
        if bad:
            raise _error(f"unknown field {{{bad[0]}}} in {text!r}; use {{stem}} or {{name}}")
        if not fields and inputs > 1:
            raise _error(f"{inputs} inputs need one report each: give a directory "
                         "(--report DIR/) or a template such as '{stem}_report.html'")
        return cls(text)

    def path_for(self, in_path: Path) -> Path:
        """The report of ``in_path``."""
        from niresample_cli.core.source import split_ext

        return Path(self.template.format(stem=split_ext(in_path)[0], name=in_path.name))

    def check(self, pairs: Sequence[tuple[Path, Path]]) -> None:
        """Before any work: each report has a directory, its own name, and replaces no image.

        The directory of ``DIR/{stem}_report.html`` is created.
        """
        if self.make_dir:
            Path(self.template).parent.mkdir(parents=True, exist_ok=True)
        images = {Path(os.path.abspath(p)) for pair in pairs for p in pair}
        seen: dict[Path, Path] = {}
        for src, _ in pairs:
            path = self.path_for(src)
            key = Path(os.path.abspath(path))
            if not key.parent.is_dir():
                raise _error(f"{path}: directory {path.parent} does not exist")
            if key in images:
                raise _error(f"{path}: the report would replace an input or an output")
            if key in seen:
                raise _error(f"{seen[key]} and {src} would both write the report {path}; "
                             "use {name} in the template")
            seen[key] = src
