"""scripts/plot_benchmarks.py turns a benchmark result file into a readable PNG (issue 12 item 7)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "plot_benchmarks.py"

RESULT = {
    "machine": "Test CPU, 2 CPUs, Linux", "date": "2026-12-01 06:00 UTC",
    "command": "python bench/bench_resample.py --cases mni --json x.json",
    "rows": [
        {"case": "MNI 1 mm -> 0.5 mm, linear, file to file (.nii)", "method": "niresample",
         "seconds": 0.5, "peak_mb": 85.0, "runs": 5, "output_mb": 69.4},
        {"case": "MNI 1 mm -> 0.5 mm, linear, file to file (.nii)", "method": "SimpleITK script",
         "seconds": 2.0, "peak_mb": 199.0, "runs": 5, "output_mb": 69.4},
        {"case": "MNI 1 mm -> 0.5 mm, linear, file to file (.nii)", "method": "MRtrix3 mrgrid",
         "seconds": 5.0, "peak_mb": 280.0, "runs": 5, "output_mb": 69.4},
        {"case": "256^3 float32 1 mm -> 0.7 mm, cubic, in memory", "method": "niresample",
         "seconds": 0.4, "peak_mb": 650.0, "runs": 5, "output_mb": 196.0},
        {"case": "256^3 float32 1 mm -> 0.7 mm, cubic, in memory", "method": "SimpleITK",
         "seconds": 6.7, "peak_mb": 676.0, "runs": 5, "output_mb": 196.0},
    ],
}


def test_the_plot_script_writes_a_png_of_sensible_size(tmp_path: Path) -> None:
    result = tmp_path / "result.json"
    result.write_text(json.dumps(RESULT))
    png = tmp_path / "out" / "benchmarks.png"
    subprocess.run([sys.executable, str(SCRIPT), str(result), str(png)], check=True,
                   capture_output=True, text=True)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # IHDR
    assert 600 <= width <= 2000 and 250 <= height <= 1500, (width, height)
    assert 10_000 < len(data) < 2_000_000
