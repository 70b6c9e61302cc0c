"""Time `parity sweep` against the same candidates run as separate `parity check` calls, in one run.

    python benchmarks/bench_sweep.py                    # demo model, ../shared/data/imagenet-sample-500
    python benchmarks/bench_sweep.py --limit 100 --data DIR --model m.onnx
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from parity import api, sweep
from parity.demo import demo_model

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "imagenet-sample-500"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="ONNX model with a parity recipe in its metadata [default: the demo model]")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    args = parser.parse_args()
    if not args.data.is_dir():
        parser.error(f"{args.data}: no such folder; pass --data DIR with JPEG or PNG photos")
    model = args.model or demo_model()
    os.environ.setdefault("PARITY_CACHE_DIR", tempfile.mkdtemp(prefix="parity-bench-"))
    sweep.sweep(model, args.data, limit=2, cache=False)  # warm the transform cache for both paths alike

    start = time.perf_counter()
    result = sweep.sweep(model, args.data, limit=args.limit, cache=False)
    swept = time.perf_counter() - start
    names = [c.stack["name"] for c in result.report.candidates]

    start = time.perf_counter()
    separate = {name: api.check(model, [name], args.data, limit=args.limit, cache=False).candidates[0].metrics for name in names}
    apart = time.perf_counter() - start
    same = all(separate[c.stack["name"]] == c.metrics for c in result.report.candidates)
    print(f"images: {result.report.data['images']}  candidates: {len(names)}  same metrics both ways: {same}")
    print(f"parity sweep          : {swept:7.1f} s")
    print(f"separate parity checks: {apart:7.1f} s")
    print(f"speed-up              : {apart / swept:.2f}x")


if __name__ == "__main__":
    main()
