"""Signals to the parent of a ``-j 2`` batch (issue 15 item 6): SIGTERM, SIGINT and
SIGHUP stop the workers promptly (no file not yet started is processed, running ones
remove their temporaries); after SIGKILL to the parent the orphaned workers exit by
themselves.  Real processes and real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from reltools import REPO

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        cmd = (entry / "cmdline").read_bytes()
        if ppid == pid and b"multiprocessing" in cmd and b"resource_tracker" not in cmd:
            kids.append(int(entry.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _slow_inputs(d: Path, n: int) -> list[Path]:
    """Label maps whose Gaussian takes far longer than the test waits (minutes each)."""
    d.mkdir()
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        data = rng.integers(0, 40, (24, 24, 24)).astype(np.uint8)
        data = data.repeat(2, 0).repeat(2, 1).repeat(2, 2)
        p = d / f"in{i}.nii"
        nib.save(nib.Nifti1Image(data, np.eye(4)), str(p))
        paths.append(p)
    return paths


def _start(tmp_path: Path, command: str = "labels") -> tuple[subprocess.Popen[bytes], Path, list[int]]:
    inputs = _slow_inputs(tmp_path / "in", 6)
    out = tmp_path / "out"
    args = ["labels", *map(str, inputs), "-o", str(out), "--resolution", "1",
            "--sigma-voxels", "8", "-j", "2", "--threads", "1"]
    if command == "spacing":  # cubic onto a 0.1 mm grid: minutes per file
        args = ["spacing", *map(str, inputs), "-o", str(out), "--iso", "0.1", "--order", "5",
                "-j", "2", "--threads", "1", "--force"]
    p = subprocess.Popen([sys.executable, "-m", "niresample_cli", *args], cwd=REPO,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env={**os.environ, "COLUMNS": "100", "TERM": "dumb"})
    deadline = time.monotonic() + 60
    kids: list[int] = []
    while time.monotonic() < deadline:  # both workers started and writing
        kids = _children(p.pid)
        if len(kids) == 2 and out.is_dir() and len(list(out.iterdir())) >= 2:
            break
        time.sleep(0.2)
    assert len(kids) == 2, "the workers did not start"
    time.sleep(1.0)
    return p, out, kids


def _reap(p: subprocess.Popen[bytes], kids: list[int]) -> None:
    """Leave nothing running when a check failed (only our own processes)."""
    for pid in [p.pid, *kids]:
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    p.wait(timeout=10)


def _wait_gone(pids: list[int], timeout: float) -> float:
    t0 = time.monotonic()
    while any(_alive(k) for k in pids):
        assert time.monotonic() - t0 < timeout, f"workers still running after {timeout} s"
        time.sleep(0.1)
    return time.monotonic() - t0


@pytest.mark.parametrize("command,sig", [("labels", signal.SIGTERM), ("labels", signal.SIGINT),
                                         ("labels", signal.SIGHUP), ("spacing", signal.SIGTERM)])
def test_signal_to_the_parent_stops_the_workers(tmp_path: Path, command: str, sig: int) -> None:
    p, out, kids = _start(tmp_path, command)
    try:
        t0 = time.monotonic()
        p.send_signal(sig)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        took = time.monotonic() - t0
        assert p.returncode is not None and took < 15, took
        err = p.stderr.read().decode() if p.stderr else ""
        assert p.returncode in (130, 143), (p.returncode, err)
        _wait_gone(kids, 5)
        # the -o folder the run made is removed when it stays empty
        assert not out.exists() or list(out.iterdir()) == [], "outputs or temporaries were left"
    finally:
        _reap(p, kids)


def test_workers_die_with_a_killed_parent(tmp_path: Path) -> None:
    p, out, kids = _start(tmp_path)
    try:
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=10)
        took = _wait_gone(kids, 15)
        assert took < 12
        assert list(out.iterdir()) == [], "the orphans left temporaries"
    finally:
        _reap(p, kids)
