"""Peak memory of `parity check` at N and 10 x N images, each run in its own process, in one run.

    python benchmarks/bench_memory.py                  # demo model, the 500 shared photos and 5,000 copies by name
    python benchmarks/bench_memory.py --images 100     # 100 and 1,000

The larger set repeats the photos under different names (symlinks in a temporary folder), so every
image is decoded and run; the output cache is off. Peak resident memory comes from ``wait4``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import DEFAULT_DATA


def _folder(photos: list[Path], count: int, root: Path) -> Path:
    folder = root / f"images-{count}"
    folder.mkdir()
    for index in range(count):
        photo = photos[index % len(photos)]
        os.symlink(photo, folder / f"{index:06d}-{photo.name}")
    return folder


def _peak_mib(command: list[str]) -> tuple[float, float]:
    """Peak resident memory (MiB) and wall time (s) of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        sys.exit(f"parity check failed: {process.stderr.read().decode() if process.stderr else ''}")
    return usage.ru_maxrss / 1024, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="ONNX model with a parity recipe in its metadata [default: the demo model]")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--images", type=int, default=500, help="the smaller set; the larger is ten times it")
    args = parser.parse_args()
    photos = sorted(p for p in args.data.glob("*") if p.suffix.lower() in (".jpeg", ".jpg", ".png"))
    if not photos:
        parser.error(f"{args.data}: no photos; pass --data DIR")
    with tempfile.TemporaryDirectory(prefix="parity-memory-") as scratch:
        root = Path(scratch)
        model = args.model
        if model is None:
            model = root / "lite0.onnx"
            subprocess.run([sys.executable, "-m", "parity", "demo", "--save-model", str(model)], check=True, stdout=subprocess.DEVNULL)
        peaks = {}
        for count in (args.images, 10 * args.images):
            data = _folder(photos, count, root)
            command = [sys.executable, "-m", "parity", "check", str(model), "-d", "opencv-bilinear", "--data", str(data),
                       "--no-cache", "--no-progress", "--show-flips", "0"]
            peaks[count] = _peak_mib(command)
            print(f"{count:6d} images: peak {peaks[count][0]:7.1f} MiB, {peaks[count][1]:6.1f} s")
        small, large = peaks[args.images][0], peaks[10 * args.images][0]
        print(f"peak memory ratio (10x the images): {large / small:.2f}x")


if __name__ == "__main__":
    main()
