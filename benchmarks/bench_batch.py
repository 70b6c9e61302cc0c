"""Time `parity.check` at several runtime batch sizes, in one run, to choose the default.

    python benchmarks/bench_batch.py                   # demo model, ../shared/data/imagenet-sample-500
    python benchmarks/bench_batch.py --limit 200 --sizes 1 4 8 16 --data DIR --model m.onnx

Runs `opencv-bilinear` with the output cache off at each size (in an interleaved order, `--repeats`
times), prints the median time of each relative to the fastest, and checks every size found the same flips.
"""

from __future__ import annotations

import statistics
import time

from _common import arguments, parse

import parity


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    parser.add_argument("--repeats", type=int, default=2)
    args, model = parse(parser)
    times: dict[int, list[float]] = {size: [] for size in args.sizes}
    flips: dict[int, set[str]] = {}
    for _ in range(args.repeats):
        for size in args.sizes:
            start = time.perf_counter()
            report = parity.check(model, ["opencv-bilinear"], args.data, limit=args.limit, batch_size=size, cache=False)
            times[size].append(time.perf_counter() - start)
            flips[size] = {o.image for o in report.candidates[0].disagreements}
    assert all(found == flips[args.sizes[0]] for found in flips.values()), "batch sizes found different flips"
    median = {size: statistics.median(values) for size, values in times.items()}
    best = min(median.values())
    print(f"images: {report.data['images']}  repeats: {args.repeats}  same flips at every size: True")
    for size, seconds in median.items():
        print(f"batch {size:3d}: {seconds:6.2f} s  {seconds / best:.2f} of the fastest")


if __name__ == "__main__":
    main()
