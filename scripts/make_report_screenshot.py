"""Make docs/report_example.png: a report of the shipped atlas resampled to 0.5 mm.

Resamples examples/desikan_killiany.nii.gz to 0.5 mm with the per-label Gaussian
(sigma 0.5 mm, through the Python API: the README's `compare` example, whose
smoothed boundaries give the label panels something to show; nearest-neighbour
upsampling would change nothing), writes the HTML report of input vs output and takes
a headless Chromium screenshot of it; without Chromium the slice figure alone
(``write_png``) is used.  The PNG is reduced to a 256-colour palette to keep
it small.

    python scripts/make_report_screenshot.py [--out docs/report_example.png]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ATLAS = REPO / "examples" / "desikan_killiany.nii.gz"
# Through the left putamen and thalamus: off the midline, where the atlas has
# cortex in all three planes (the FOV centre's sagittal plane is the midline).
CENTER_MM = (-28.0, -18.0, 8.0)


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(page: Path, png: Path, *, width: int, height: int) -> bool:
    exe = chromium()
    if exe is None:
        return False
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           f"--screenshot={png}", f"--window-size={width},{height}", page.resolve().as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    return png.exists()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "report_example.png")
    parser.add_argument("--height", type=int, default=1790, help="screenshot height in pixels")
    args = parser.parse_args()

    from PIL import Image

    from niresample_cli.core.labels import resample_labels_file
    from niresample_cli.core.report import write_png, write_report

    args.out = args.out.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.chdir(work)  # the report shows the paths as given: keep them short
        atlas = Path(ATLAS.name)
        shutil.copyfile(ATLAS, atlas)
        out = Path("dk_smooth.nii.gz")
        resample_labels_file(atlas, out, spacing=0.5, method="gaussian", sigma=0.5)
        page = work / "report.html"
        write_report(atlas, out, page, fail_on=["lost-labels", "new-labels", "fov-shift"],
                     center=CENTER_MM)
        shot = work / "shot.png"
        if not screenshot(page, shot, width=1200, height=args.height):
            print("Chromium not found: using the slice figure (write_png)")
            write_png(atlas, out, shot, center=CENTER_MM)
        img = Image.open(shot).convert("RGB")
        img.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(args.out, optimize=True)
        os.chdir(REPO)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
