"""Time preprocessing in threads against worker processes, for a check and for a sweep, in one run.

    python benchmarks/bench_pool.py                    # demo model, ../shared/data/imagenet-sample-500
    python benchmarks/bench_pool.py --limit 100 --data DIR --model m.onnx

The check runs `opencv-bilinear` over every image; the sweep runs every available preset over the
first `--sweep-limit` images (its preprocessing is heavier: many resizes and colour round trips per
image). The output cache is off. Prints each time and processes / threads, and checks the reports agree.
"""

from __future__ import annotations

import time
from pathlib import Path

from _common import arguments, build_converted_models, parse

import parity
from parity import sweep
from parity.environment import available_cores


def _timed(model: Path, candidates: list[str], data: Path, limit: int | None, pool: str) -> tuple[float, dict]:
    start = time.perf_counter()
    report = parity.check(model, candidates, data, limit=limit, cache=False, pool=pool, skip_inapplicable=True)
    return time.perf_counter() - start, {c.stack["name"]: c.metrics for c in report.candidates}


def main() -> None:
    parser = arguments(__doc__, limit="the check's images: only the first N")
    parser.add_argument("--sweep-limit", type=int, default=50, help="the sweep's images")
    args, model = parse(parser)
    build_converted_models(model, args.data, args.sweep_limit)
    names = [name for members in sweep.available_presets()[0].values() for name in members]
    print(f"cores: {available_cores()}")
    for label, candidates, limit in (("check of opencv-bilinear", ["opencv-bilinear"], args.limit), ("sweep", names, args.sweep_limit)):
        results = {pool: _timed(model, candidates, args.data, limit, pool) for pool in ("threads", "processes")}
        assert results["threads"][1] == results["processes"][1], f"{label}: threads and processes disagree"
        ran = len(results["threads"][1])  # presets with nothing to change in this model are skipped
        print(f"{label} ({ran} candidate(s), {limit or 'all'} images): threads {results['threads'][0]:6.1f} s, processes {results['processes'][0]:6.1f} s, "
              f"processes / threads {results['processes'][0] / results['threads'][0]:.2f}")


if __name__ == "__main__":
    main()
