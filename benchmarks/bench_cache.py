"""Time `parity.check` with an empty output cache, again with the same command, and after a small change.

    python benchmarks/bench_cache.py                   # demo model, ../shared/data/imagenet-sample-500
    python benchmarks/bench_cache.py --limit 200 --data DIR --model m.onnx

The cache lives in a fresh temporary folder. Run 1 computes everything; run 2 is the same check, so
every output comes from the cache; run 3 adds one candidate (`opencv-area`) and should compute only
that candidate's images. Prints each run's time, its inferences and cached outputs, and the ratios,
and checks the three reports agree on the candidates they share.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from _common import arguments, parse

import parity


def main() -> None:
    parser = arguments(__doc__)
    args, model = parse(parser)
    with tempfile.TemporaryDirectory(prefix="parity-bench-cache-") as scratch:
        os.environ["PARITY_CACHE_DIR"] = scratch  # an empty cache, deleted at the end
        _runs(model, args)


def _runs(model: Path, args: argparse.Namespace) -> None:
    runs = {
        "first run (empty cache)": ["opencv-bilinear"],
        "same command again": ["opencv-bilinear"],
        "one candidate added": ["opencv-bilinear", "opencv-area"],
    }
    seconds, reports = {}, {}
    for label, candidates in runs.items():
        start = time.perf_counter()
        reports[label] = parity.check(model, candidates, args.data, limit=args.limit)
        seconds[label] = time.perf_counter() - start
    first = seconds["first run (empty cache)"]
    images = reports["first run (empty cache)"].data["images"]
    print(f"images: {images}")
    for label, report in reports.items():
        work = report.work
        print(f"{label:26s}: {seconds[label]:6.1f} s  inferences {work['inferences']:5d}  from cache {work['outputs_from_cache']:5d}"
              f"  ({seconds[label] / first:.2f} of the first run)")
    metrics = [r.candidates[0].metrics for r in reports.values()]
    assert all(m == metrics[0] for m in metrics), "the cached runs report different metrics for opencv-bilinear"
    print("opencv-bilinear's metrics are equal in all three runs")


if __name__ == "__main__":
    main()
