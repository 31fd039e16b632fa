"""Single-file and batch runs of a per-file job, shared by spacing/size/labels.

``niresample spacing IN OUT`` processes one file; ``niresample spacing A B C
-o DIR`` processes several, names outputs with ``--name``, and reports a
summary.  A command builds a ``job(in_path, out_path, progress)`` closure and
hands it to :func:`run_paths`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from niresample_cli.console import error_line

__all__ = ["Job", "output_name", "plan_pairs", "run_paths"]

#: ``job(in_path, out_path, progress_callback_or_None) -> dict`` (facts for the summary)
Job = Callable[[Path, Path, Any], dict[str, Any]]

DEFAULT_NAME = "{stem}_resampled{ext}"


def output_name(in_path: Path, template: str = DEFAULT_NAME) -> str:
    """Output file name from ``template`` (``{stem}``, ``{ext}``, ``{name}``)."""
    from niresample_cli.core.io import split_ext

    stem, ext = split_ext(in_path)
    if ext.lower() not in (".nii", ".nii.gz", ".zarr", ".ome.zarr"):
        ext = ".nii.gz"
    return template.format(stem=stem, ext=ext, name=in_path.name)


def plan_pairs(
    paths: Sequence[Path], *, output_dir: Path | None, name: str = DEFAULT_NAME
) -> list[tuple[Path, Path]]:
    """Turn the positional paths into (input, output) pairs.

    Without ``output_dir`` the last path is the output: a file for one input,
    or an existing directory (then named with ``name``).  With ``output_dir``
    every path is an input.
    """
    from niresample_cli.core.errors import OptionError

    paths = list(paths)
    if output_dir is None:
        if len(paths) < 2:
            raise OptionError("expected IN OUT (or several inputs with -o/--output-dir DIR)")
        *inputs, out = paths
        if len(inputs) > 1 or out.is_dir():
            if not out.is_dir():
                raise OptionError(
                    f"{out}: several inputs need an output directory (use -o DIR)"
                )
            output_dir = out
        else:
            return [(inputs[0], out)]
    else:
        inputs = paths
        if not inputs:
            raise OptionError("no input files given")
        output_dir.mkdir(parents=True, exist_ok=True)
    return [(p, output_dir / output_name(p, name)) for p in inputs]


def run_paths(
    pairs: Sequence[tuple[Path, Path]],
    job: Job,
    *,
    quiet: bool,
    skip_existing: bool = False,
    jobs: int = 1,
) -> list[dict[str, Any]]:
    """Run ``job`` on each pair; one failure does not stop the others.

    A single pair runs directly and its errors propagate (the CLI maps them).
    For several pairs, failures are reported one line each, and a
    :class:`~niresample_cli.core.errors.NiresampleError` is raised at the end
    if any failed.
    """
    from niresample_cli.console import make_progress, progress_callback
    from niresample_cli.core.errors import NiresampleError

    if len(pairs) == 1 and not skip_existing:
        src, dst = pairs[0]
        with make_progress(quiet=quiet) as progress:
            return [job(src, dst, progress_callback(progress, src.name))]
    results: list[dict[str, Any]] = []
    failed = 0
    with make_progress(quiet=quiet) as progress:
        for src, dst in pairs:
            if skip_existing and dst.exists():
                results.append({"input": str(src), "output": str(dst), "status": "skipped"})
                continue
            try:
                facts = job(src, dst, progress_callback(progress, src.name))
                results.append({"input": str(src), "output": str(dst), "status": "ok", **facts})
            except NiresampleError as err:
                failed += 1
                error_line(str(err))
                results.append({"input": str(src), "output": str(dst), "status": "failed",
                                 "reason": str(err)})
    if failed:
        raise NiresampleError(f"{failed} of {len(pairs)} files failed")
    return results
