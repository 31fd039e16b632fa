"""Run independent output tasks on dask: local threads or a dask.distributed cluster.

A *task* is a picklable callable applied to one small, picklable item (for the
Zarr writer: one chunk row of one volume).  Each task writes its own result
(chunks in a Zarr store) and returns only a small number (bytes done), so
nothing big travels back to the caller.

* ``scheduler=None``: dask's local threaded scheduler with ``jobs`` threads
  (default: the number of CPU cores).  Numpy, the codecs and file I/O release
  the GIL, so the threads run in parallel.
* ``scheduler='tcp://HOST:PORT'``: an existing dask.distributed scheduler.  The
  task and its items are pickled to the workers, which must see the same file
  system paths (the input and the output directory).
* ``scheduler='distributed'``: whatever ``distributed.Client()`` picks up from
  the dask configuration (``DASK_SCHEDULER_ADDRESS``, ``~/.config/dask``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

from .budget import default_jobs
from .errors import OptionError

__all__ = ["run_tasks", "ordered_map", "split_slabs", "validate_scheduler"]

_ADDRESS = re.compile(r"^(tcp|tls|inproc|ws|wss|ucx)://\S+$")


def validate_scheduler(scheduler: str | None) -> str | None:
    """Check a scheduler address at the door.

    Raises
    ------
    OptionError
        For text that is neither ``'distributed'`` nor ``PROTOCOL://HOST:PORT``.
    """
    if scheduler is None or scheduler in ("", "threads", "local"):
        return None
    if scheduler == "distributed" or _ADDRESS.match(scheduler):
        return scheduler
    raise OptionError(
        f"scheduler: expected an address like tcp://HOST:PORT (or 'distributed'), got {scheduler!r}",
        param="scheduler",
    )


def run_tasks(
    task: Callable[[Any], int],
    items: Sequence[Any],
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    on_done: Callable[[int], None] | None = None,
) -> None:
    """Apply ``task`` to every item, in parallel, and wait for all of them.

    Parameters
    ----------
    task : callable
        ``task(item) -> int``; picklable when ``scheduler`` is given.
    items : sequence
        Small picklable work descriptions.
    jobs : int, optional
        Local threads (ignored with a distributed scheduler, whose workers
        decide).  ``1`` runs the tasks one after the other in this thread.
    scheduler : str, optional
        ``None`` for local threads, ``'tcp://HOST:PORT'`` or ``'distributed'``.
    on_done : callable, optional
        Called in the calling thread with each finished task's return value.

    Raises
    ------
    OptionError
        Bad ``jobs`` or scheduler address; a scheduler that cannot be reached.
    Exception
        The first exception a task raised (remaining tasks are cancelled).
    """
    if jobs is not None and int(jobs) < 1:
        raise OptionError(f"jobs: expected a positive number of threads, got {jobs}", param="jobs")
    scheduler = validate_scheduler(scheduler)
    if not items:
        return
    if scheduler is not None:
        _run_distributed(task, items, scheduler, on_done)
        return
    n = int(jobs) if jobs is not None else default_jobs()
    if n == 1 or len(items) == 1:
        for item in items:
            value = task(item)
            if on_done is not None:
                on_done(value)
        return
    _run_threads(task, items, min(n, len(items)), on_done)


def _run_threads(
    task: Callable[[Any], int], items: Sequence[Any], n: int,
    on_done: Callable[[int], None] | None,
) -> None:
    import dask
    from dask.callbacks import Callback

    keys = [f"niresample-task-{i}" for i in range(len(items))]
    # partial() keeps dask from reading a tuple item as a nested task.
    graph: dict[str, Any] = {k: (partial(task, item),) for k, item in zip(keys, items, strict=True)}
    wanted = set(keys)

    class _Report(Callback):  # type: ignore[misc]
        # dask calls _posttask in the scheduling thread, the caller's thread.
        def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
            if on_done is not None and key in wanted:
                on_done(int(result))

    from dask.threaded import get

    with _Report(), dask.config.set(scheduler="threads"):
        get(graph, keys, num_workers=n)


def _run_distributed(
    task: Callable[[Any], int], items: Sequence[Any], scheduler: str,
    on_done: Callable[[int], None] | None,
) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError as err:  # pragma: no cover - distributed is a declared extra
        raise OptionError(
            "scheduler: needs dask.distributed: pip install 'niresample[zarr]'", param="scheduler"
        ) from err
    try:
        import cloudpickle

        cloudpickle.dumps(task)
    except Exception as err:
        raise OptionError(
            f"scheduler: this computation cannot be sent to dask workers "
            f"({type(err).__name__}: {str(err)[:120]}); run with scheduler=None",
            param="scheduler",
        ) from err
    try:
        # timeout: dask's distributed.comm.timeouts.connect (30 s by default)
        client = Client(scheduler if scheduler != "distributed" else None, set_as_default=False)
    except (OSError, TimeoutError) as err:
        raise OptionError(f"scheduler: cannot reach dask scheduler {scheduler} ({err})",
                          param="scheduler") from err
    try:
        futures = client.map(task, list(items), pure=False)
        try:
            for fut in as_completed(futures, loop=client.loop):
                value = fut.result()
                if on_done is not None:
                    on_done(int(value))
        except BaseException:
            client.cancel(futures)
            raise
    finally:
        client.close()


def split_slabs(slabs: Sequence[tuple[int, int]], parts: int) -> list[tuple[int, int]]:
    """Cut every slab into ``parts`` thinner ones (at least one slice each).

    ``parts`` slabs then alive together need no more memory than one planned
    slab did; slab results do not depend on the height (the stream contract).
    """
    out: list[tuple[int, int]] = []
    for z0, z1 in slabs:
        h = max(1, -(-(z1 - z0) // max(int(parts), 1)))
        out.extend((a, min(z1, a + h)) for a in range(z0, z1, h))
    return out


def ordered_map(
    fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]], *, jobs: int | None = None
) -> Iterator[Any]:
    """``fn(*args)`` for every ``args`` in ``calls``, yielded in order, ``jobs`` at a time.

    Computes ahead on local threads while the caller consumes (writes) the
    previous result; at most ``jobs`` results are being computed plus the one
    the caller holds, so memory stays at ``jobs + 1`` results.  ``jobs=1``
    computes in the calling thread.  The first exception is re-raised and the
    remaining calls are cancelled.
    """
    n = default_jobs() if jobs is None else int(jobs)
    if n < 1:
        raise OptionError(f"jobs: expected a positive number of threads, got {jobs}", param="jobs")
    if n == 1 or len(calls) <= 1:
        for args in calls:
            yield fn(*args)
        return
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    pending: deque[Future[Any]] = deque()
    pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="niresample-slab")
    try:
        it = iter(calls)
        for args in it:
            pending.append(pool.submit(fn, *args))
            if len(pending) >= n:
                break
        while pending:
            result = pending.popleft().result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.submit(fn, *nxt))
            yield result
            del result
    finally:
        for fut in pending:
            fut.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
