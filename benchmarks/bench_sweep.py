"""Time `parity sweep` against the same candidates run as separate `parity check` calls, in one run.

Prints wall and CPU time (all threads of this process) and the inferences each side ran: every
candidate needs its own inference, each separate check also runs the reference's, so where inference
dominates, the inference ratio is the floor of the time ratio.

    python benchmarks/bench_sweep.py                    # demo model, ../shared/data/imagenet-sample-500
    python benchmarks/bench_sweep.py --limit 100 --data DIR --model m.onnx
    python benchmarks/bench_sweep.py --limit 100 --photo-scale 4   # the photos re-encoded 4x larger

Converted models (fp16, int8; static int8 is calibrated on the first images of the data) are built
before the timings, so both sides find them cached. `--photo-scale` re-encodes the photos that much
larger (Pillow Lanczos, JPEG quality 90) in a temporary folder, to see how the ratio moves when
decoding weighs more against inference, as with camera-size photos.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from PIL import Image

from parity import api, sweep
from parity.demo import demo_model

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "imagenet-sample-500"


def _enlarged(folder: Path, scale: float, limit: int | None, target: Path) -> Path:
    """The first ``limit`` photos of ``folder`` re-encoded ``scale`` times larger in ``target``."""
    target.mkdir()
    photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:limit]
    for photo in photos:
        with Image.open(photo) as image:
            size = (round(image.width * scale), round(image.height * scale))
            image.convert("RGB").resize(size, Image.Resampling.LANCZOS).save(target / f"{photo.stem}.jpg", quality=90)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="ONNX model with a parity recipe in its metadata [default: the demo model]")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    parser.add_argument("--photo-scale", type=float, default=None, help="re-encode the photos this many times larger first")
    args = parser.parse_args()
    if not args.data.is_dir():
        parser.error(f"{args.data}: no such folder; pass --data DIR with JPEG or PNG photos")
    model = args.model or demo_model()
    with tempfile.TemporaryDirectory(prefix="parity-bench-") as scratch:
        os.environ.setdefault("PARITY_CACHE_DIR", str(Path(scratch) / "cache"))  # converted models, deleted at the end
        if args.photo_scale:
            args.data = _enlarged(args.data, args.photo_scale, args.limit, Path(scratch) / "photos")
        _compare(model, args)


def _compare(model: Path, args: argparse.Namespace) -> None:
    precision = [name for name in sweep.available_presets()[0].get("precision", ())]
    api.check(model, precision, args.data, limit=args.limit, cache=False)  # build the converted models for both sides

    start, cpu = time.perf_counter(), time.process_time()
    result = sweep.sweep(model, args.data, limit=args.limit, cache=False)
    swept, swept_cpu = time.perf_counter() - start, time.process_time() - cpu
    names = [c.stack["name"] for c in result.report.candidates]

    start, cpu = time.perf_counter(), time.process_time()
    reports = {name: api.check(model, [name], args.data, limit=args.limit, cache=False) for name in names}
    apart, apart_cpu = time.perf_counter() - start, time.process_time() - cpu
    same = all(reports[c.stack["name"]].candidates[0].metrics == c.metrics for c in result.report.candidates)
    inferences = sum(r.work["inferences"] for r in reports.values())
    print(f"images: {result.report.data['images']}{f' (x{args.photo_scale} larger)' if args.photo_scale else ''}  "
          f"candidates: {len(names)}  same metrics both ways: {same}")
    print(f"parity sweep          : {swept:7.1f} s wall, {swept_cpu:7.1f} s CPU, {result.report.work['inferences']:6d} inferences")
    print(f"separate parity checks: {apart:7.1f} s wall, {apart_cpu:7.1f} s CPU, {inferences:6d} inferences")
    print(f"sweep / separate      : {swept / apart:.2f} of the wall time, {swept_cpu / apart_cpu:.2f} of the CPU time, "
          f"{result.report.work['inferences'] / inferences:.2f} of the inferences")


if __name__ == "__main__":
    main()
