"""Faults while writing: disk full, file-size limit, read-only directory, output
equal to the input or existing, SIGINT/SIGTERM/SIGKILL mid-write, two writers
racing for one output (issue 7, part 3).  The target is always either absent
or complete, and every failure is one stderr line."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from reltools import (
    REPO,
    WRITER_CHILD,
    Result,
    assert_one_line_error,
    cli,
    files_in,
    good_nifti,
    load,
)

from niresample_cli.core.atomic import TEMP_PATTERN, clean_stale_temporaries, host_name

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
ENV = {**os.environ, "COLUMNS": "100", "TERM": "dumb"}
CLI = [sys.executable, "-m", "niresample_cli"]


def _noise(path: Path, n: int = 64) -> Path:
    return good_nifti(path, np.random.default_rng(3).random((n, n, n), dtype=np.float32),
                      np.eye(4))


def _temporaries(d: Path) -> list[str]:
    return [n for n in files_in(d) if TEMP_PATTERN.match(n)]


def _writing(out_dir: Path) -> bool:
    """A temporary output past 1 MiB exists (a file may be renamed while we look: not yet)."""
    try:
        return out_dir.is_dir() and any(
            (out_dir / n).stat().st_size > 1 << 20 for n in _temporaries(out_dir))
    except FileNotFoundError:
        return False


def _popen(args: list[object], **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen([*map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV, cwd=REPO, **kw)  # type: ignore[call-overload]


def _finish(p: subprocess.Popen[str], timeout: float = 60) -> Result:
    out, err = p.communicate(timeout=timeout)
    return Result(p.returncode, out, err)


def _wait_for(cond: Callable[[], bool], p: subprocess.Popen[str], timeout: float = 60) -> bool:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return True
        if p.poll() is not None:
            return False
        time.sleep(0.01)
    return False


# -- disk full -------------------------------------------------------------------------------

def _fsize_limit(nbytes: int) -> object:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))

    return limit


@pytest.mark.parametrize("ext", [".nii", ".nii.gz"])
def test_file_size_limit_is_a_clean_disk_full_error(tmp_path: Path, ext: str) -> None:
    """RLIMIT_FSIZE: the kernel sends SIGXFSZ (ignored by Python) and the write
    fails with EFBIG, mid-stream, after the free-space check passed."""
    src = _noise(tmp_path / "in.nii")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    p = _popen([*CLI, "spacing", src, out_dir / f"o{ext}", "--iso", "0.5", "--max-memory", "16M",
                "-q"], preexec_fn=_fsize_limit(4 << 20))
    r = _finish(p)
    assert r.exit_code == 1, r
    assert_one_line_error(r, f"o{ext}", "disk full")
    assert files_in(out_dir) == set()


def _can_mount() -> bool:
    if not IS_ROOT or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True)
    return probe.returncode == 0


needs_mount = pytest.mark.skipif(not _can_mount(),
                                 reason="needs root and mount namespaces (unshare -m)")


def _in_tmpfs(mnt: Path, size: str, command: list[object], *, ro: bool = False) -> Result:
    """Run ``command`` with a fresh tmpfs of ``size`` at ``mnt`` (a private mount
    namespace: nothing outlives the command)."""
    opts = f"size={size}" + (",ro" if ro else "")
    script = f'mount -t tmpfs -o {opts} tmpfs "{mnt}" && exec "$@"'
    p = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", *map(str, command)],
                       capture_output=True, text=True, env=ENV, cwd=REPO, timeout=120)
    return Result(p.returncode, p.stdout, p.stderr)


@needs_mount
def test_output_over_free_disk_is_refused_before_work(tmp_path: Path) -> None:
    src = _noise(tmp_path / "in.nii")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = _in_tmpfs(mnt, "2m", [*CLI, "spacing", src, mnt / "o.nii", "--iso", "0.5", "-q"])
    line = assert_one_line_error(r, "o.nii", "not enough free disk space")
    assert "MB free" in line


@needs_mount
def test_disk_full_mid_write_leaves_nothing(tmp_path: Path) -> None:
    """The real stream fills the 3 MB tmpfs (--force: the sampled .nii.gz estimate
    would refuse this noise up front), the error is one line and the directory is
    empty afterwards (checked inside the namespace)."""
    src = _noise(tmp_path / "in.nii")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    check = (f'{sys.executable} -m niresample_cli spacing "{src}" "{mnt}/o.nii.gz" --iso 0.5 '
             f'--max-memory 16M --force -q; rc=$?; echo "left: $(ls -A "{mnt}" | tr "\\n" " ")"; exit $rc')
    r = _in_tmpfs(mnt, "3m", ["sh", "-c", check])
    assert_one_line_error(r, "o.nii.gz", "disk full")
    assert r.stdout.strip() == "left:", r.stdout


@needs_mount
def test_read_only_directory_is_refused(tmp_path: Path) -> None:
    src = _noise(tmp_path / "in.nii", 16)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = _in_tmpfs(mnt, "1m", [*CLI, "spacing", src, mnt / "o.nii", "--iso", "0.5", "-q"], ro=True)
    assert_one_line_error(r, "o.nii", "not writable")


def test_immutable_or_unwritable_directory_is_refused(tmp_path: Path) -> None:
    """As root permissions do not block writes: use chattr +i where it works."""
    src = _noise(tmp_path / "in.nii", 16)
    locked = tmp_path / "locked"
    locked.mkdir()
    if IS_ROOT:
        if shutil.which("chattr") is None or subprocess.run(
                ["chattr", "+i", str(locked)], capture_output=True).returncode != 0:
            pytest.skip("running as root and chattr +i is not available here")
    else:
        locked.chmod(0o555)
    try:
        r = cli("spacing", src, locked / "o.nii", "--iso", "0.5", "-q")
        assert_one_line_error(r, "o.nii", "not writable")
        assert files_in(locked) == set()
    finally:
        if IS_ROOT:
            subprocess.run(["chattr", "-i", str(locked)], check=False)
        else:
            locked.chmod(0o755)


# -- refusing to clobber ---------------------------------------------------------------------

def test_output_equal_to_input_is_refused(tmp_path: Path) -> None:
    src = _noise(tmp_path / "in.nii", 16)
    before = src.read_bytes()
    link = tmp_path / "hard.nii"
    os.link(src, link)
    sym = tmp_path / "sym.nii"
    sym.symlink_to(src)
    for target in (src, link, sym, tmp_path / "." / "in.nii"):
        for extra in ([], ["--overwrite"]):
            r = cli("spacing", src, target, "--iso", "0.5", "-q", *extra)
            assert_one_line_error(r, "input")
    assert src.read_bytes() == before
    assert not _temporaries(tmp_path)


@pytest.mark.parametrize("command", [["spacing", "--iso", "0.5"], ["labels", "--resolution", "0.5"]])
def test_existing_output_needs_overwrite(tmp_path: Path, command: list[str]) -> None:
    src = good_nifti(tmp_path / "in.nii", np.arange(512, dtype=np.int16).reshape(8, 8, 8) % 5,
                     np.eye(4))
    out = tmp_path / "o.nii.gz"
    out.write_bytes(b"precious")
    r = cli(command[0], src, out, *command[1:], "-q")
    assert_one_line_error(r, "o.nii.gz", "already exists", "--overwrite")
    assert out.read_bytes() == b"precious"
    r = cli(command[0], src, out, *command[1:], "-q", "--overwrite")
    assert r.exit_code == 0, r.stderr
    assert out.read_bytes()[:2] == b"\x1f\x8b"


# -- signals ---------------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
@pytest.mark.parametrize("ext", [".nii", ".nii.gz"])
def test_signal_mid_write_leaves_nothing(tmp_path: Path, sig: signal.Signals, ext: str) -> None:
    """The real CLI, a slow enough write (many slabs under --max-memory 16M);
    the signal arrives once the temporary holds data."""
    src = _noise(tmp_path / "in.nii", 96)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    p = _popen([*CLI, "spacing", src, out_dir / f"o{ext}", "--iso", "0.3", "--max-memory", "16M",
                "-q"])

    def writing() -> bool:
        return any((out_dir / n).stat().st_size > 1 << 20 for n in _temporaries(out_dir))

    started = _wait_for(writing, p)
    p.send_signal(sig)
    r = _finish(p)
    if not started:
        pytest.fail(f"the write ended before the signal could be sent: {r}")
    code = 130 if sig == signal.SIGINT else 143  # SIGHUP (terminal closed) is handled as SIGTERM
    assert_one_line_error(r, "no partial output", code=code)
    assert files_in(out_dir) == set()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_a_parallel_batch(tmp_path: Path, sig: signal.Signals) -> None:
    """-j 2: files are written on threads; Ctrl-C at the terminal (the whole
    process group) stops them at their next slab instead of letting them finish."""
    srcs = [_noise(tmp_path / f"in{i}.nii", 96) for i in range(2)]
    out_dir = tmp_path / "out"
    p = _popen([*CLI, "spacing", *srcs, "-o", out_dir, "--iso", "0.3", "--max-memory", "16M",
                "-q", "-j", "2"], start_new_session=True)

    def writing() -> bool:
        return _writing(out_dir)

    started = _wait_for(writing, p)
    os.killpg(p.pid, sig)
    r = _finish(p)
    if not started:
        pytest.fail(f"the batch ended before the signal could be sent: {r}")
    assert r.exit_code == (130 if sig == signal.SIGINT else 143), r
    assert "Traceback" not in r.stderr
    assert not out_dir.exists()  # nothing written: the -o folder it made is removed too


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_a_parallel_labels_batch_in_worker_processes(tmp_path: Path, sig: signal.Signals) -> None:
    """labels -j 2 runs files in worker processes: SIGTERM to the process group
    must make each worker remove its temporary, not die with it on disk."""
    rng = np.random.default_rng(5)
    srcs = [good_nifti(tmp_path / f"lab{i}.nii", rng.integers(0, 50, (128, 128, 128)).astype(np.uint16),
                       np.eye(4)) for i in range(2)]
    out_dir = tmp_path / "out"
    p = _popen([*CLI, "labels", *srcs, "-o", out_dir, "--resolution", "0.25", "--max-memory", "16M",
                "--threads", "1", "-q", "-j", "2"], start_new_session=True)

    def writing() -> bool:
        return _writing(out_dir)

    started = _wait_for(writing, p)
    os.killpg(p.pid, sig)
    r = _finish(p)
    if not started:
        pytest.fail(f"the batch ended before the signal could be sent: {r}")
    assert r.exit_code != 0, r
    assert "Traceback" not in r.stderr
    deadline = time.monotonic() + 10  # workers finish unwinding after the parent
    # (the parent removes the -o folder it made when it is empty by then)
    while out_dir.exists() and _temporaries(out_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not out_dir.exists() or _temporaries(out_dir) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_write_stand_in_command(tmp_path: Path, sig: signal.Signals) -> None:
    """Same through the shared stream with a slab function that sleeps: the
    signal is sent right after a slab, whatever the machine's speed."""
    out, ready = tmp_path / "o.nii.gz", tmp_path / "ready"
    p = _popen([sys.executable, WRITER_CHILD, out, 64, 64, 64, "--slab", "2", "--sleep", "0.05",
                "--noise", "--ready", ready])
    assert _wait_for(ready.exists, p)
    p.send_signal(sig)
    r = _finish(p)
    assert r.exit_code in (130, 143), r
    assert files_in(tmp_path) == {"ready"}


def test_sigkill_leaves_a_recognisable_temporary_that_the_next_run_cleans(tmp_path: Path) -> None:
    src = _noise(tmp_path / "in.nii", 96)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "o.nii"
    p = _popen([*CLI, "spacing", src, out, "--iso", "0.3", "--max-memory", "16M", "-q"])
    assert _wait_for(lambda: bool(_temporaries(out_dir)), p)
    p.kill()
    _finish(p)
    left = _temporaries(out_dir)
    assert not out.exists(), "a killed run must never leave a target"
    assert left == [f".o.nii.niresample-{host_name()}-{p.pid}.part"]
    # a live process' temporary is never touched
    live = out_dir / f".other.nii.niresample-{os.getpid()}.part"
    live.write_bytes(b"in progress")
    r = cli("spacing", src, out, "--iso", "2", "-q")
    assert r.exit_code == 0, r.stderr
    assert files_in(out_dir) == {"o.nii", live.name}
    live.unlink()


def test_clean_stale_temporaries_only_removes_dead_pids(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".x.nii.gz.niresample-{dead}.part"
    stale.write_bytes(b"x")
    mine = tmp_path / f".y.nii.niresample-{os.getpid()}.part"
    mine.write_bytes(b"y")
    other = tmp_path / "z.nii.part"
    other.write_bytes(b"z")
    assert clean_stale_temporaries(tmp_path) == [stale]
    assert files_in(tmp_path) == {mine.name, other.name}


# -- two writers -----------------------------------------------------------------------------

def test_two_writers_one_output(tmp_path: Path) -> None:
    """A slow writer and a fast one race for the same target: the fast one wins
    with a complete file, the slow one reports it and leaves it untouched."""

    out, ready = tmp_path / "o.nii", tmp_path / "ready"
    slow = _popen([sys.executable, WRITER_CHILD, out, 32, 32, 40, "--slab", "1", "--sleep", "0.1",
                   "--ready", ready])
    assert _wait_for(ready.exists, slow)
    fast = _popen([sys.executable, WRITER_CHILD, out, 32, 32, 40, "--slab", "8"])
    rf, rs = _finish(fast), _finish(slow)
    assert rf.exit_code == 0, rf
    assert_one_line_error(rs, "o.nii", "another process")
    data = np.asarray(load(out).dataobj)
    assert data.shape == (32, 32, 40)
    assert np.array_equal(data[0, 0], np.arange(40, dtype=np.float32))
    assert files_in(tmp_path) == {"o.nii", "ready"}


def test_two_writers_with_overwrite_leave_one_complete_file(tmp_path: Path) -> None:

    out = tmp_path / "o.nii.gz"
    procs = [_popen([sys.executable, WRITER_CHILD, out, 32, 32, 24, "--slab", "2", "--sleep",
                     "0.01", "--overwrite"]) for _ in range(2)]
    results = [_finish(p) for p in procs]
    assert all(r.exit_code == 0 for r in results), results
    data = np.asarray(load(out).dataobj)
    assert np.array_equal(data[3, 4], np.arange(24, dtype=np.float32))
    assert files_in(tmp_path) == {"o.nii.gz"}


@pytest.mark.parametrize("name", ["o.txt", "o.nrrd", "o"])
def test_output_that_is_not_nifti_or_zarr_is_refused(tmp_path: Path, name: str) -> None:
    """A NIfTI stream under another name would be a trap for whoever opens it."""
    src = _noise(tmp_path / "in.nii", 8)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    assert_one_line_error(cli("spacing", src, out_dir / name, "--iso", "2", "-q"), name,
                          ".nii.gz")
    assert files_in(out_dir) == set()


def test_missing_output_directory_is_refused(tmp_path: Path) -> None:
    src = _noise(tmp_path / "in.nii", 8)
    assert_one_line_error(cli("spacing", src, tmp_path / "no" / "such" / "o.nii", "--iso", "2"),
                          "does not exist")
    assert not (tmp_path / "no").exists()
