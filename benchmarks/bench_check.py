"""Time `parity.check` against a straightforward per-image loop and a hand-optimised loop, in one run.

The straightforward loop does the work the obvious way: for each image, open it with Pillow, resize,
crop, normalize, infer with batch 1; then read it again with OpenCV and do the same. The hand-optimised
loop does the same work with preprocessing in a thread pool one batch ahead and ONNX Runtime on
batches of 8, with parity's session settings. Two candidates: `opencv-bilinear`, and `opencv-decode`
(OpenCV decode, Pillow resize), whose model inputs equal the reference's on these photos, so parity
skips its inference while a loop that does not look cannot. Prints each time, the ratios, and checks
all paths found the same flips.

    python benchmarks/bench_check.py                       # demo model, ../shared/data/imagenet-sample-500
    python benchmarks/bench_check.py --model m.onnx --data DIR --repeats 3
"""

from __future__ import annotations

import io
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
from _common import arguments, parse
from PIL import Image

import parity
from parity.spec import Recipe, resolve_recipe


def naive_loop(model: Path, paths: list[Path], recipe: Recipe) -> set[str]:
    """Per image: decode twice, preprocess twice, infer twice with batch 1. Returns the flipped names."""
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    mean, std = np.asarray(recipe.mean, np.float32), np.asarray(recipe.std, np.float32)

    def finish(array: np.ndarray) -> int:
        h, w = array.shape[:2]
        crop = recipe.crop_size
        top, left = round((h - crop) / 2), round((w - crop) / 2)
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


def optimised_loop(model: Path, paths: list[Path], recipe: Recipe, candidate_resize: str, batch: int = 8) -> set[str]:
    """Both sides' preprocessing in a thread pool one batch ahead, batched inference. Returns the flipped names."""
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    mean, std = np.asarray(recipe.mean, np.float32), np.asarray(recipe.std, np.float32)

    def tensor(array: np.ndarray) -> np.ndarray:
        h, w = array.shape[:2]
        crop = recipe.crop_size
        top, left = round((h - crop) / 2), round((w - crop) / 2)
        return ((array[top : top + crop, left : left + crop].astype(np.float32) * np.float32(recipe.scale) - mean) / std).transpose(2, 0, 1)

    def target(w: int, h: int) -> tuple[int, int]:
        s = recipe.resize_size
        return (s, int(s * h / w)) if w <= h else (int(s * w / h), s)

    def prepare(path: Path) -> tuple[np.ndarray, np.ndarray]:
        data = path.read_bytes()
        image = Image.open(io.BytesIO(data)).convert("RGB")
        reference = tensor(np.asarray(image.resize(target(*image.size), Image.Resampling.BILINEAR)))
        rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        size = target(rgb.shape[1], rgb.shape[0])
        if candidate_resize == "opencv":
            resized = cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR)
        else:
            resized = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))
        return reference, tensor(resized)

    flipped = set()
    chunks = [paths[i : i + batch] for i in range(0, len(paths), batch)]
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        pending = [pool.submit(prepare, p) for p in chunks[0]] if chunks else []
        for index, chunk in enumerate(chunks):
            pairs = [f.result() for f in pending]
            pending = [pool.submit(prepare, p) for p in chunks[index + 1]] if index + 1 < len(chunks) else []
            ref = session.run(None, {name: np.stack([r for r, _ in pairs])})[0].argmax(axis=1)
            cand = session.run(None, {name: np.stack([c for _, c in pairs])})[0].argmax(axis=1)
            flipped |= {p.name for p, a, b in zip(chunk, ref, cand) if a != b}
    return flipped


def main() -> None:
    parser = arguments(__doc__, limit=None)
    parser.add_argument("--repeats", type=int, default=1, help="alternate the two paths this many times; report medians")
    args, model = parse(parser)
    paths = sorted(p for p in args.data.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    recipe = resolve_recipe(model_recipe=parity.api.registry.get("runtime", "onnxruntime").function(model).recipe_metadata()).recipe

    times: dict[str, list[float]] = {}

    def timed(label: str, run) -> set[str]:
        start = time.perf_counter()
        flips = run()
        times.setdefault(label, []).append(time.perf_counter() - start)
        return flips

    for _ in range(args.repeats):
        for candidate, resize in (("opencv-bilinear", "opencv"), ("opencv-decode", "pil")):
            if candidate == "opencv-bilinear":
                loop_flips = timed("loop", lambda: naive_loop(model, paths, recipe))
            hand = timed(f"hand {candidate}", lambda resize=resize: optimised_loop(model, paths, recipe, resize))
            start = time.perf_counter()
            report = parity.check(model, [candidate], args.data, cache=False)  # measure the work, not the cache
            times.setdefault(f"parity {candidate}", []).append(time.perf_counter() - start)
            found = {o.image for o in report.candidates[0].disagreements}
            assert found == hand, f"{candidate}: parity and the hand-optimised loop disagree: {sorted(found ^ hand)}"
            if candidate == "opencv-bilinear":
                assert found == loop_flips, f"parity and the per-image loop disagree: {sorted(found ^ loop_flips)}"

    median = {label: statistics.median(values) for label, values in times.items()}
    print(f"images: {len(paths)}  flips (opencv-bilinear): {len(loop_flips)}, the same in every path  repeats: {args.repeats}")
    for label, seconds in median.items():
        print(f"{label:28s}: {seconds:7.2f} s  ({len(paths) / seconds:6.1f} images/s)")
    print(f"parity.check vs per-image loop (opencv-bilinear)      : {median['loop'] / median['parity opencv-bilinear']:.2f}x faster")
    for candidate in ("opencv-bilinear", "opencv-decode"):
        ratio = median[f"parity {candidate}"] / median[f"hand {candidate}"]
        print(f"parity.check / hand-optimised loop ({candidate:15s}): {ratio:.2f} of its wall time")


if __name__ == "__main__":
    main()
