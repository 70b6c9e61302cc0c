"""Time the Dask engine (a LocalCluster on this machine) against the local engine on the same check, in one run.

    python benchmarks/bench_dask.py                    # demo model, ../shared/data/imagenet-sample-500
    python benchmarks/bench_dask.py --limit 200 --data DIR --model m.onnx

Both sides run `opencv-bilinear` and `fp16` with the output cache off. The Dask time includes starting
the cluster (one single-threaded worker process per available core) and each worker opening the
model, which is what a one-machine user pays; a long-lived cluster (`--scheduler`) pays it once.
Prints both times, the ratio, and whether the two JSON reports are equal apart from timings.
"""

from __future__ import annotations

import time

from _common import arguments, parse

import parity
from parity.environment import available_cores

CANDIDATES = ["opencv-bilinear", "fp16"]


def _comparable(report: parity.Report) -> dict:
    return {k: v for k, v in report.to_dict().items() if k not in ("created", "timings")}


def main() -> None:
    parser = arguments(__doc__)
    args, model = parse(parser)
    parity.check(model, CANDIDATES, args.data, limit=2, cache=False)  # build the fp16 transform outside the timings

    seconds, reports = {}, {}
    for engine in ("local", "dask"):
        start = time.perf_counter()
        reports[engine] = parity.check(model, CANDIDATES, args.data, limit=args.limit, cache=False, engine=engine)
        seconds[engine] = time.perf_counter() - start
    print(f"images: {reports['local'].data['images']}  candidates: {', '.join(CANDIDATES)}  cores: {available_cores()}")
    for engine, value in seconds.items():
        print(f"{engine:6s} engine: {value:6.1f} s")
    print(f"dask / local: {seconds['dask'] / seconds['local']:.2f} of the local engine's wall time")
    print(f"JSON reports equal apart from created and timings: {_comparable(reports['dask']) == _comparable(reports['local'])}")


if __name__ == "__main__":
    main()
