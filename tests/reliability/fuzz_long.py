"""Long offline header fuzzing (not collected by pytest).

    python tests/reliability/fuzz_long.py --minutes 5              # structured random edits
    python tests/reliability/fuzz_long.py --atheris --minutes 5    # coverage-guided (atheris)

Random mode draws the same edits as the hypothesis test (fuzzlib.random_ops)
and prints how many examples were tried, how many opened cleanly and how many
were refused with a niresample error.  Any other exception stops the run and
saves the offending file as ``fuzz-crash-<n>.nii[.gz]`` with its edits.
Atheris mode XORs a fuzzer-chosen mask into a seed's header (and may cut the
file); libFuzzer prints the run count itself ("Done N runs").
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzzlib import SEEDS, SIZEOF_HDR, apply, build, exercise, load_seed, random_ops  # noqa: E402


def run_random(minutes: float, seed: int, workdir: Path) -> int:
    seeds = {n: load_seed(n) for n in SEEDS}
    rng = np.random.default_rng(seed)
    counts = {"ok": 0, "error": 0}
    t_end = time.monotonic() + minutes * 60
    n = 0
    while time.monotonic() < t_end:
        name = SEEDS[int(rng.integers(len(SEEDS)))]
        raw, gz = seeds[name]
        ops = random_ops(rng)
        path = build(workdir / ("m.nii.gz" if gz else "m.nii"), apply(raw, ops), gz)
        n += 1
        try:
            counts[exercise(path)] += 1
        except Exception:
            crash = Path(f"fuzz-crash-{n}{'.nii.gz' if gz else '.nii'}")
            crash.write_bytes(path.read_bytes())
            print(f"CRASH on example {n} (seed {name}, edits {ops}); saved {crash}")
            traceback.print_exc()
            return 1
    print(f"random mode: {n} examples in {minutes:g} min (seed {seed}): "
          f"{counts['ok']} opened and read, {counts['error']} refused with a niresample error, "
          f"0 other exceptions")
    return 0


def run_atheris(minutes: float, workdir: Path) -> int:
    import atheris

    atheris.instrument_all()  # fuzzlib imported core and nibabel already

    seeds = [load_seed(n) for n in SEEDS]

    def one(data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        raw, gz = seeds[fdp.ConsumeIntInRange(0, len(seeds) - 1)]
        mask = fdp.ConsumeBytes(SIZEOF_HDR).ljust(SIZEOF_HDR, b"\0")
        head = bytes(a ^ b for a, b in zip(raw[:SIZEOF_HDR], mask, strict=True))
        cut = fdp.ConsumeIntInRange(0, 255)
        body = raw[SIZEOF_HDR:] if cut == 0 else raw[SIZEOF_HDR:][: len(raw) * cut // 256]
        exercise(build(workdir / ("a.nii.gz" if gz else "a.nii"), head + body, gz))

    atheris.Setup([sys.argv[0], f"-max_total_time={int(minutes * 60)}", "-rss_limit_mb=4096",
                   "-max_len=400", "-len_control=0"], one)
    atheris.Fuzz()
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--atheris", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="niresample-fuzz-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as d:
        return run_atheris(a.minutes, Path(d)) if a.atheris else run_random(a.minutes, a.seed, Path(d))


if __name__ == "__main__":
    sys.exit(main())
