"""Output chunks as dask tasks: local threads and a dask.distributed cluster (issue 5)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from _stream_kw import write_output

from niresample_cli.core._dask import run_tasks, validate_scheduler
from niresample_cli.core.budget import plan_slabs
from niresample_cli.core.errors import OptionError
from niresample_cli.core.grid import Grid

pytest.importorskip("dask")
zarr = pytest.importorskip("zarr")

from test_zarr import OBLIQUE, Pattern, _zarr_level  # noqa: E402


class Square:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[int] = []
        self.threads: set[int] = set()

    def __call__(self, item: int) -> int:
        with self.lock:
            self.seen.append(item)
            self.threads.add(threading.get_ident())
        return item * item


@pytest.mark.parametrize("jobs", [1, 3])
def test_run_tasks_runs_every_item_once(jobs: int) -> None:
    task = Square()
    got: list[int] = []
    run_tasks(task, list(range(20)), jobs=jobs, on_done=got.append)
    assert sorted(task.seen) == list(range(20))
    assert sorted(got) == sorted(i * i for i in range(20))


def test_run_tasks_propagates_the_error() -> None:
    def boom(item: int) -> int:
        if item == 5:
            raise ValueError("task 5 failed")
        return 0

    with pytest.raises(ValueError, match="task 5"):
        run_tasks(boom, list(range(10)), jobs=2)


def test_bad_options() -> None:
    with pytest.raises(OptionError, match="^jobs: ") as err:
        run_tasks(Square(), [1], jobs=0)
    assert err.value.param == "jobs"
    with pytest.raises(OptionError, match="^scheduler: ") as err:
        validate_scheduler("localhost:8786")
    assert err.value.param == "scheduler"
    assert validate_scheduler("tcp://127.0.0.1:8786") == "tcp://127.0.0.1:8786"
    assert validate_scheduler(None) is None


def test_unreachable_scheduler_is_one_line_error(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}), \
            pytest.raises(OptionError, match="cannot reach"):
        run_tasks(abs, [1, 2], scheduler="tcp://127.0.0.1:9")


def _write(path: Path, **kw) -> None:
    shape = (48, 40, 36)
    grid = Grid(shape, OBLIQUE)
    write_output(path, grid=grid, extra_shape=(), dtype=np.dtype("uint32"),
                 slab_fn=Pattern(shape), slabs=plan_slabs(shape[2], 48 * 40 * 16, 1 << 20),
                 chunks=8, **kw)


def test_threads_equal_serial(tmp_path: Path) -> None:
    _write(tmp_path / "serial.zarr", jobs=1, pyramid=1)
    _write(tmp_path / "threads.zarr", jobs=4, pyramid=1)
    for level in (0, 1):
        assert np.array_equal(_zarr_level(tmp_path / "serial.zarr", level),
                              _zarr_level(tmp_path / "threads.zarr", level))


@pytest.mark.timeout(120)
def test_distributed_cluster_equals_local_bit_for_bit(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    _write(tmp_path / "local.ome.zarr", jobs=2, pyramid=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        seen: list[int] = []
        _write(tmp_path / "cluster.ome.zarr", scheduler=cluster.scheduler_address, pyramid=1,
               progress=lambda done, total: seen.append(done))
    assert seen and seen[-1] == max(seen)
    for level in (0, 1):
        a = _zarr_level(tmp_path / "local.ome.zarr", level)
        b = _zarr_level(tmp_path / "cluster.ome.zarr", level)
        assert a.dtype == b.dtype and np.array_equal(a, b)
    for name in (".zattrs", "0/.zarray", "1/.zarray"):
        assert (tmp_path / "local.ome.zarr" / name).read_text().replace("local", "X") == \
            (tmp_path / "cluster.ome.zarr" / name).read_text().replace("cluster", "X")


def test_split_slabs_covers_each_slab_in_order() -> None:
    from niresample_cli.core._dask import split_slabs

    slabs = [(0, 10), (10, 13), (13, 14)]
    pieces = split_slabs(slabs, 3)
    assert pieces == [(0, 4), (4, 8), (8, 10), (10, 11), (11, 12), (12, 13), (13, 14)]
    assert split_slabs(slabs, 1) == slabs


@pytest.mark.parametrize("jobs", [1, 2, 4])
def test_ordered_map_keeps_order_and_bounds_lookahead(jobs: int) -> None:
    import time

    from niresample_cli.core._dask import ordered_map

    lock = threading.Lock()
    state = {"started": 0, "max_ahead": 0}
    consumed = [0]

    def slow(i: int) -> int:
        with lock:
            state["started"] += 1
            state["max_ahead"] = max(state["max_ahead"], state["started"] - consumed[0])
        time.sleep(0.002 * ((i * 7) % 5))  # finish out of order
        return i

    out = []
    for value in ordered_map(slow, [(i,) for i in range(30)], jobs=jobs):
        out.append(value)
        consumed[0] += 1
    assert out == list(range(30))
    assert state["max_ahead"] <= jobs + 1


def test_ordered_map_propagates_the_error() -> None:
    from niresample_cli.core._dask import ordered_map

    def boom(i: int) -> int:
        if i == 3:
            raise ValueError("slab 3 failed")
        return i

    with pytest.raises(ValueError, match="slab 3"):
        list(ordered_map(boom, [(i,) for i in range(10)], jobs=2))


def test_unpicklable_task_refused_before_connecting() -> None:
    pytest.importorskip("distributed")

    class Holder:
        def __init__(self) -> None:
            self.lock = threading.Lock()

        def __call__(self, item: int) -> int:
            return item

    with pytest.raises(OptionError, match="cannot be sent to dask workers"):
        run_tasks(Holder(), [1, 2], scheduler="tcp://127.0.0.1:9")
