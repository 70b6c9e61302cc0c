"""Time `parity.check` (reference + opencv-bilinear) against a straightforward per-image loop, in one run.

The loop does the same work the obvious way: for each image, open it with Pillow, resize, crop,
normalize, infer with batch 1; then read it again with OpenCV and do the same. Both paths use the
same ONNX Runtime settings. Prints each time, the ratio, and checks both found the same flips.

    python benchmarks/bench_check.py                       # demo model, ../shared/data/imagenet-sample-500
    python benchmarks/bench_check.py --model m.onnx --data DIR --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
from PIL import Image

import parity
from parity.demo import demo_model
from parity.spec import Recipe, resolve_recipe

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "imagenet-sample-500"


def naive_loop(model: Path, paths: list[Path], recipe: Recipe) -> set[str]:
    """Per image: decode twice, preprocess twice, infer twice with batch 1. Returns the flipped names."""
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    mean, std = np.asarray(recipe.mean, np.float32), np.asarray(recipe.std, np.float32)

    def finish(array: np.ndarray) -> int:
        h, w = array.shape[:2]
        crop = recipe.crop_size
        top, left = int(round((h - crop) / 2)), int(round((w - crop) / 2))
        tensor = (array[top : top + crop, left : left + crop].astype(np.float32) * np.float32(recipe.scale) - mean) / std
        return int(session.run(None, {name: tensor.transpose(2, 0, 1)[None]})[0].argmax())

    def target(w: int, h: int) -> tuple[int, int]:
        s = recipe.resize_size
        return (s, int(s * h / w)) if w <= h else (int(s * w / h), s)

    flipped = set()
    for path in paths:
        image = Image.open(path).convert("RGB")
        reference = finish(np.asarray(image.resize(target(*image.size), Image.Resampling.BILINEAR)))
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        candidate = finish(cv2.resize(rgb, target(rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR))
        if reference != candidate:
            flipped.add(path.name)
    return flipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="ONNX model with a parity recipe in its metadata [default: the demo model]")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=1, help="alternate the two paths this many times; report medians")
    args = parser.parse_args()
    if not args.data.is_dir():
        parser.error(f"{args.data}: no such folder; pass --data DIR with JPEG or PNG photos")
    model = args.model or demo_model()
    paths = sorted(p for p in args.data.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    recipe = resolve_recipe(model_recipe=parity.api.registry.get("runtime", "onnxruntime").function(model).recipe_metadata()).recipe

    loop_times, parity_times = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        loop_flips = naive_loop(model, paths, recipe)
        loop_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        report = parity.check(model, ["opencv-bilinear"], args.data, cache=False)  # measure the work, not the cache
        parity_times.append(time.perf_counter() - start)
        parity_flips = {o.image for o in report.candidates[0].disagreements}
        assert parity_flips == loop_flips, f"the two paths disagree: {sorted(parity_flips ^ loop_flips)}"

    loop, fast = statistics.median(loop_times), statistics.median(parity_times)
    print(f"images: {len(paths)}  flips: {len(loop_flips)} (same in both paths)  repeats: {args.repeats}")
    print(f"per-image loop : {loop:7.2f} s  ({len(paths) / loop:6.1f} images/s)")
    print(f"parity.check   : {fast:7.2f} s  ({len(paths) / fast:6.1f} images/s)")
    print(f"speed-up       : {loop / fast:.2f}x")


if __name__ == "__main__":
    main()
