"""Time `parity sweep` against the same candidates run as separate `parity check` calls, in one run.

Prints wall and CPU time (all threads of this process) and the inferences each side ran: every
candidate needs its own inference, each separate check also runs the reference's, so where inference
dominates, the inference ratio is the floor of the time ratio.

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

    start, cpu = time.perf_counter(), time.process_time()
    result = sweep.sweep(model, args.data, limit=args.limit, cache=False)
    swept, swept_cpu = time.perf_counter() - start, time.process_time() - cpu
    names = [c.stack["name"] for c in result.report.candidates]

    start, cpu = time.perf_counter(), time.process_time()
    reports = {name: api.check(model, [name], args.data, limit=args.limit, cache=False) for name in names}
    apart, apart_cpu = time.perf_counter() - start, time.process_time() - cpu
    same = all(reports[c.stack["name"]].candidates[0].metrics == c.metrics for c in result.report.candidates)
    inferences = sum(r.work["inferences"] for r in reports.values())
    print(f"images: {result.report.data['images']}  candidates: {len(names)}  same metrics both ways: {same}")
    print(f"parity sweep          : {swept:7.1f} s wall, {swept_cpu:7.1f} s CPU, {result.report.work['inferences']:6d} inferences")
    print(f"separate parity checks: {apart:7.1f} s wall, {apart_cpu:7.1f} s CPU, {inferences:6d} inferences")
    print(f"sweep / separate      : {swept / apart:.2f} of the wall time, {swept_cpu / apart_cpu:.2f} of the CPU time, "
          f"{result.report.work['inferences'] / inferences:.2f} of the inferences")


if __name__ == "__main__":
    main()
