"""Single-file and batch runs of a per-file job, shared by spacing/size/labels.

``niresample spacing IN OUT`` processes one file; ``niresample spacing A B C
-o DIR`` (or ``... *.nii.gz DIR``) processes several, names the outputs with
``--name``, shows one overall progress bar, and prints a summary table.

A command hands :func:`run_paths` a ``job(in_path, out_path, progress)``
callable.  For ``-j N`` (N > 1) the files run in N worker processes, so the
job must be picklable: pass a **module-level function**, wrapped in
:func:`functools.partial` for its options, e.g.::

    job = functools.partial(_resample_one, spacing=(1, 1, 1), order=3)
    run_paths(pairs, job, quiet=quiet, skip_existing=skip, jobs=jobs)

A job that cannot be pickled (a closure, a lambda) still runs in parallel,
in threads.  Workers get ``progress=None``; each of them uses up to the
command's ``--max-memory``, so N jobs use up to N times that.
"""

from __future__ import annotations

import os
import pickle
import string
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from niresample_cli.console import error_line

__all__ = ["Job", "DEFAULT_NAME", "output_name", "plan_pairs", "plan_outputs", "run_paths", "print_summary"]

#: ``job(in_path, out_path, progress_callback_or_None) -> dict`` (facts for the summary)
Job = Callable[[Path, Path, Any], dict[str, Any]]

DEFAULT_NAME = "{stem}_resampled{ext}"
_FIELDS = ("stem", "ext", "name")


def _check_template(template: str) -> None:
    from niresample_cli.core.errors import OptionError

    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as err:
        raise OptionError(f"--name: malformed template {template!r} ({err})") from None
    bad = [f for f in fields if f not in _FIELDS]
    if bad:
        raise OptionError(
            f"--name: unknown field {{{bad[0]}}} in {template!r}; use {{stem}}, {{ext}} or {{name}}"
        )
    if "/" in template or os.sep in template:
        raise OptionError(f"--name: expected a file name, not a path, got {template!r}")


def output_name(in_path: Path, template: str = DEFAULT_NAME) -> str:
    """Output file name from ``template`` (``{stem}``, ``{ext}``, ``{name}``).

    ``{ext}`` is the input's NIfTI/Zarr extension, or ``.nii.gz`` for other
    formats (NRRD, MHA, MGZ inputs are written as NIfTI).
    """
    from niresample_cli.core.source import split_ext

    _check_template(template)
    stem, ext = split_ext(in_path)
    if ext.lower() not in (".nii", ".nii.gz", ".zarr", ".ome.zarr"):
        ext = ".nii.gz"
    return template.format(stem=stem, ext=ext, name=in_path.name)


def plan_pairs(
    paths: Sequence[Path | str], *, output_dir: Path | None, name: str = DEFAULT_NAME,
    create: bool = True,
) -> list[tuple[Path, Path]]:
    """Turn the positional paths into (input, output) pairs.

    Without ``output_dir`` the last path is the output: a file for one input,
    or a directory (then named with ``name``): an existing one, or one spelled
    with a trailing slash (``out/``), created like ``-o DIR``.  With
    ``output_dir`` every path is an input.  A folder given as an input stands
    for the images inside it (:func:`niresample_cli.places.expand_inputs`).

    ``create`` makes the output directory once the plan is valid; a command
    (:func:`plan_outputs`) makes it later, when the work starts.

    Raises
    ------
    OptionError
        No inputs, several inputs without a directory, a bad ``name``
        template, two inputs that would write the same output, or an output
        that is one of the inputs.
    """
    from niresample_cli.places import make_dirs

    pairs, folder = plan_outputs(paths, output_dir=output_dir, name=name)
    if create and folder is not None:
        make_dirs(folder)
    return pairs


def plan_outputs(
    paths: Sequence[Path | str], *, output_dir: Path | None, name: str = DEFAULT_NAME
) -> tuple[list[tuple[Path, Path]], Path | None]:
    """:func:`plan_pairs` without touching the disk: the pairs and the output
    directory (None for a single IN OUT), which may not exist yet."""
    from niresample_cli.core.errors import OptionError
    from niresample_cli.places import expand_inputs, is_zarr_name, spelled_dir

    paths = list(paths)
    _check_template(name)
    if output_dir is None:
        if len(paths) < 2:
            raise OptionError("expected IN OUT (or several inputs with -o/--output-dir DIR)")
        *spelled, last = paths
        out = Path(last)
        # An existing OUT.zarr / OUT.ome.zarr is an output store, not a directory of outputs.
        out_is_dir = spelled_dir(last) or (out.is_dir() and not is_zarr_name(out))
        inputs = expand_inputs(spelled)
        if len(inputs) > 1 or out_is_dir:
            if not out_is_dir:
                raise OptionError(
                    f"{out}: several inputs need an output directory (end it with / or use -o DIR)"
                )
            if out.exists() and not out.is_dir():
                raise OptionError(f"{last}: exists and is not a directory")
            output_dir = out
        else:
            return [(inputs[0], out)], None
    else:
        inputs = expand_inputs(paths)
        if not inputs:
            raise OptionError("no input files given")
        if output_dir.exists() and not output_dir.is_dir():
            raise OptionError(f"-o/--output-dir: {output_dir} exists and is not a directory")
    output_dir = Path(output_dir)
    pairs = [(p, output_dir / output_name(p, name)) for p in inputs]
    from niresample_cli.core.paths import same_file

    seen: dict[Path, Path] = {}
    sources = {_key(p) for p in inputs}
    for src, dst in pairs:
        # By file identity: -o may be a symlink to the inputs' folder, an output a hard link.
        if _key(dst) in sources or (dst.exists() and any(same_file(dst, p) for p in inputs)):
            raise OptionError(f"{dst}: the output would replace an input; choose another --name or -o")
        if _key(dst) in seen:
            raise OptionError(
                f"{seen[_key(dst)]} and {src} would both be written to {dst}; use --name '{{name}}...' "
                "or separate output directories"
            )
        seen[_key(dst)] = src
    return pairs, output_dir


def _key(p: Path) -> Path:
    """The real path (symlinked folders resolved): two spellings of one file are one key."""
    from niresample_cli.core.paths import identity_key

    return Path(identity_key(p))


# --------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------
def _attempt(job: Job, src: Path, dst: Path, progress: Any, command: str | None = None) -> dict[str, Any]:
    """Run one file; never raises a NiresampleError or a bug (reported instead, worded
    as a single run would be: :func:`niresample_cli.errors.failure_message`)."""
    from niresample_cli.errors import failure_message

    t0 = time.perf_counter()
    base = {"input": str(src), "output": str(dst)}
    try:
        facts = job(src, dst, progress) or {}
    except Exception as err:  # one file's error or bug must not stop the others
        return {**base, "status": "failed", "reason": failure_message(err, command),
                "seconds": time.perf_counter() - t0}
    return {**base, "status": "ok", "seconds": time.perf_counter() - t0, **facts}


def _picklable(job: Job) -> bool:
    try:
        pickle.dumps(job)
    except Exception:
        return False
    return True


def run_paths(
    pairs: Sequence[tuple[Path, Path]],
    job: Job,
    *,
    quiet: bool,
    skip_existing: bool = False,
    jobs: int = 1,
    executor: str = "auto",
    command: str | None = None,
) -> list[dict[str, Any]]:
    """Run ``job`` on each pair; one failure does not stop the others.

    Parameters
    ----------
    pairs : sequence of (Path, Path)
        From :func:`plan_pairs`.
    job : callable
        ``job(in_path, out_path, progress_or_None) -> dict`` of facts.  Must be
        picklable (module-level function + ``functools.partial``) to run in
        processes for ``jobs > 1``; otherwise threads are used.
    quiet : bool
        No progress bar and no summary table.
    skip_existing : bool
        Leave pairs whose output exists untouched (status ``skipped``).
    jobs : int
        Files processed at once; 0 means one per CPU core.
    executor : {'auto', 'process', 'thread'}
        How ``jobs > 1`` runs: ``auto`` uses processes for a picklable job,
        threads otherwise.  Threads suffice when the job spends its time in
        numpy, zlib and file I/O (which release the GIL); processes keep
        Python-heavy jobs (per-label loops) from contending for it.
    command : str, optional
        The command whose flags name parameters in failure reasons
        (:func:`niresample_cli.errors.cli_message`).

    Returns
    -------
    list of dict
        One per pair, in order: ``input``, ``output``, ``status``
        (``ok``/``skipped``/``failed``), ``reason`` when failed, ``seconds``,
        and the job's facts.

    Raises
    ------
    NiresampleError
        A single pair (without ``skip_existing``) runs directly and its errors
        propagate unchanged.  For several pairs, after all have run, when any
        failed (the summary names each failure).
    OptionError
        For a negative ``jobs``.
    """
    from niresample_cli.console import make_progress, progress_callback
    from niresample_cli.core.errors import NiresampleError, OptionError

    if jobs < 0:
        raise OptionError(f"-j/--jobs: expected 0 (all cores) or a positive number, got {jobs}")
    if executor not in ("auto", "process", "thread"):
        raise OptionError(f"executor: expected auto, process or thread, got {executor!r}")
    if len(pairs) == 1 and not skip_existing:
        src, dst = pairs[0]
        with make_progress(quiet=quiet) as progress:
            return [job(src, dst, progress_callback(progress, src.name))]
    jobs = jobs or (os.cpu_count() or 1)
    results: list[dict[str, Any] | None] = [None] * len(pairs)
    todo: list[int] = []
    for i, (src, dst) in enumerate(pairs):
        if skip_existing and (dst.exists() or dst.is_symlink()):
            results[i] = {"input": str(src), "output": str(dst), "status": "skipped",
                          "reason": "output exists"}
        else:
            todo.append(i)
    if executor == "process" and jobs > 1 and not _picklable(job):
        raise OptionError("executor='process' needs a picklable job (a module-level function "
                          "and functools.partial)")
    _run_todo(pairs, todo, job, results, quiet=quiet, jobs=min(jobs, max(1, len(todo))),
              threads=executor == "thread", command=command)
    final = [r for r in results if r is not None]
    if not quiet:
        print_summary(final)
    failed = [r for r in final if r["status"] == "failed"]
    if failed:
        if quiet:
            for r in failed:
                named = Path(r["input"]).name in r["reason"]
                error_line(r["reason"] if named else f"{r['input']}: {r['reason']}")
        error = NiresampleError(f"{len(failed)} of {len(pairs)} files failed")
        error.results = final  # type: ignore[attr-defined]  # the rows, for --json
        raise error
    return final


def _run_todo(pairs: Sequence[tuple[Path, Path]], todo: list[int], job: Job,
              results: list[dict[str, Any] | None], *, quiet: bool, jobs: int,
              threads: bool, command: str | None = None) -> None:
    from niresample_cli.console import make_batch_progress

    with make_batch_progress(quiet=quiet) as progress:
        task = progress.add_task("files", total=len(pairs))
        progress.update(task, completed=len(pairs) - len(todo))
        if jobs <= 1:
            for done, i in enumerate(todo):
                src, dst = pairs[i]
                base = len(pairs) - len(todo) + done
                progress.update(task, description=src.name)

                def within(d: int, t: int, base: int = base) -> None:
                    progress.update(task, completed=base + (d / t if t else 0.0))

                results[i] = _attempt(job, src, dst, within, command)
                progress.update(task, completed=base + 1)
            return
        _run_parallel(pairs, todo, job, results, progress, task, jobs=jobs, threads=threads,
                      command=command)


def _run_parallel(pairs: Sequence[tuple[Path, Path]], todo: list[int], job: Job,
                  results: list[dict[str, Any] | None], progress: Any, task: Any, *,
                  jobs: int, threads: bool, command: str | None) -> None:
    import concurrent.futures as cf
    import multiprocessing

    pool: cf.Executor
    if not threads and _picklable(job):
        # spawn: no fork of a process that holds threads (progress, gzip) and open files.
        pool = cf.ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                                      initializer=_worker_signals, initargs=(os.getpid(),))
        run_one: Callable[..., dict[str, Any]] = _attempt_in_worker
    else:
        pool = cf.ThreadPoolExecutor(max_workers=jobs)
        run_one = _attempt
    futures: dict[Any, int] = {}
    try:
        futures = {pool.submit(run_one, job, pairs[i][0], pairs[i][1], None, command): i for i in todo}
        progress.update(task, description=_running(pairs, futures, jobs))
        for fut in cf.as_completed(futures):
            i = futures[fut]
            try:
                results[i] = fut.result()
            except Exception as err:  # a worker died (killed, out of memory)
                results[i] = {"input": str(pairs[i][0]), "output": str(pairs[i][1]),
                              "status": "failed", "reason": f"worker failed: {type(err).__name__}: {err}"}
            progress.update(task, advance=1, description=_running(pairs, futures, jobs))
    except BaseException:
        # Stopped (Ctrl-C, SIGTERM, SIGHUP): files not started are dropped, running ones
        # are told to stop now (their writers remove the temporaries), not finished.
        for fut in futures:
            fut.cancel()
        _stop_workers(pool)
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _running(pairs: Sequence[tuple[Path, Path]], futures: dict[Any, int], jobs: int) -> str:
    """The files running now: the first ``jobs`` not done (the pool takes them in order)."""
    from niresample_cli.console import running_label

    return running_label([pairs[i][0].name for f, i in futures.items() if not f.done()][:jobs])


# --------------------------------------------------------------------------
# worker processes: stop with the parent, die with it
# --------------------------------------------------------------------------
#: In a worker process: set once it was told to stop (no later file is started).
_STOPPING = False
#: In a worker process: whether a file is being processed now.
_BUSY = False
#: Seconds an orphaned worker is given to remove its temporary before it exits anyway.
_ORPHAN_GRACE = 10.0


def _stop_workers(pool: Any) -> None:
    """SIGTERM each process of a process pool (nothing for threads)."""
    import signal

    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)
        except (OSError, ValueError):  # already gone
            pass


def _attempt_in_worker(job: Job, src: Path, dst: Path, progress: Any,
                       command: str | None = None) -> dict[str, Any]:
    """:func:`_attempt` in a worker process: refuses to start once stopping, and turns
    its own interruption into a failed row (the parent decides whether to stop)."""
    global _BUSY
    base = {"input": str(src), "output": str(dst), "status": "failed"}
    if _STOPPING:
        return {**base, "reason": "not started: the batch was stopped"}
    _BUSY = True
    try:
        return _attempt(job, src, dst, progress, command)
    except KeyboardInterrupt:
        return {**base, "reason": "interrupted; no partial output was left at the target"}
    finally:
        _BUSY = False


def _worker_signals(parent: int | None = None) -> None:
    """In a worker process: SIGTERM/SIGHUP/SIGINT unwind like Ctrl-C, so its writer
    removes its temporary file instead of dying with it on disk, and no further file
    starts.  The worker also stops when its parent dies, even by SIGKILL: Linux's
    ``PR_SET_PDEATHSIG`` sends it SIGTERM, and a watchdog thread (any POSIX system)
    notices the parent's pid is gone and exits after a short grace."""
    import signal
    import threading

    def stop(signum: int, frame: Any) -> None:
        global _STOPPING
        first = not _STOPPING
        _STOPPING = True
        stream = __import__("sys").modules.get("niresample_cli.core.stream")
        if stream is not None:  # slab threads stop at their next block
            stream.request_cancel()
        # Once only: Ctrl-C reaches the whole group and the parent then SIGTERMs its
        # workers; a second interrupt would cut the first one's clean-up short.
        if _BUSY and first:
            raise KeyboardInterrupt

    for name in ("SIGTERM", "SIGHUP", "SIGINT"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), stop)
    if parent is None:
        return
    _die_with_parent(parent)
    threading.Thread(target=_watch_parent, args=(parent,), name="niresample-parent-watch",
                     daemon=True).start()


def _die_with_parent(parent: int) -> None:
    """Linux: SIGTERM this process when the parent dies (no-op elsewhere)."""
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _watch_parent(parent: int, interval: float = 0.5) -> None:
    """Exit when the parent is gone: SIGTERM ourselves (the writer cleans up), then
    leave for good once idle or after :data:`_ORPHAN_GRACE` seconds."""
    import signal

    while os.getppid() == parent:
        time.sleep(interval)
    if _BUSY and not _STOPPING:
        os.kill(os.getpid(), signal.SIGTERM)
    deadline = time.monotonic() + _ORPHAN_GRACE
    while _BUSY and time.monotonic() < deadline:
        time.sleep(0.05)
    os._exit(143)


def print_summary(results: Sequence[dict[str, Any]]) -> None:
    """The ok / skipped / failed table, on stderr (stdout stays for --json)."""
    from rich.markup import escape
    from rich.table import Table

    from niresample_cli.console import err, middle_ellipsis, safe_text

    # File names are never split mid-word: each is cut in the middle to fit its column
    # (reasons, which are words, wrap as usual).
    room = max(16, (err.width - 20) // 2)
    counts = {s: sum(r["status"] == s for r in results) for s in ("ok", "skipped", "failed")}
    style = {"ok": "green", "skipped": "yellow", "failed": "bold red"}
    table = Table(box=None, header_style="bold", pad_edge=False,
                  title=f"{counts['ok']} ok, {counts['skipped']} skipped, {counts['failed']} failed",
                  title_justify="left", title_style="bold")
    table.add_column("input", no_wrap=True, max_width=room)
    table.add_column("status", no_wrap=True)
    table.add_column("output / reason", overflow="fold")
    table.add_column("s", justify="right", no_wrap=True)
    for r in results:
        s = r["status"]
        detail = r.get("reason", "") if s != "ok" else middle_ellipsis(Path(r["output"]).name, room)
        secs = f"{r['seconds']:.1f}" if "seconds" in r else ""
        table.add_row(escape(safe_text(middle_ellipsis(Path(r["input"]).name, room))), f"[{style[s]}]{s}[/]",
                      escape(safe_text(detail)), secs)
    err.print(table)
