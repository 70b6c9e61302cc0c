"""Run the reference and candidate stacks over a dataset, sharing every piece of work they have in common.

Per image, the bytes are read once and each stage prefix (decode, then decode+colour, then
decode+colour+resize, ...) is computed once for all the stacks that share it. Stacks whose whole
preprocessing and runtime agree share their logits. Preprocessing runs in a thread pool (Pillow,
OpenCV and numpy release the GIL) one batch ahead of inference, and only per-image top-k outputs
and comparison metrics are kept, so memory does not grow with the logits of the whole dataset.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from parity import ops, registry
from parity.compare import ImageOutcome, pair_outcomes
from parity.data import Dataset, ImageItem
from parity.spec import Recipe, Stack

PREPROCESSING_STAGES = ("decode", "colour", "resize", "crop", "normalize")
# A resize target beyond this is refused for that image: a 20000x1 sliver would otherwise become
# 5,120,000x256 under "shorter side 256" and take gigabytes per stack.
MAX_RESIZE_PIXELS = 64 * 1024 * 1024


@dataclass(frozen=True)
class StageFailure:
    """Why one image could not go through one stack."""

    stage: str
    message: str

    def __str__(self) -> str:
        return f"{self.stage}: {self.message}"


@dataclass
class EngineResult:
    """Per candidate, each image's outcome against the reference; timings; what each runtime reported."""

    outcomes: list[list[ImageOutcome]]
    timings: dict[str, float]
    runtime_info: dict[str, Any]


# Receives, per batch and per stack (0 = reference), the images and their logits or failures.
LogitsSink = Callable[[int, list[ImageItem], list["np.ndarray | StageFailure"]], None]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def preprocess(data: bytes, stacks: list[Stack], recipe: Recipe) -> list[np.ndarray | StageFailure]:
    """Model input tensors for one image under each stack, each shared stage prefix computed once."""
    memo: dict[tuple[str, ...], np.ndarray | StageFailure] = {}
    results: list[np.ndarray | StageFailure] = []
    for stack in stacks:
        value: np.ndarray | StageFailure | bytes = data
        key: tuple[str, ...] = ()
        for stage in PREPROCESSING_STAGES:
            key = (*key, getattr(stack, stage))
            if key not in memo:
                memo[key] = value if isinstance(value, StageFailure) else _apply(stage, key[-1], value, recipe)
            value = memo[key]
        results.append(value)  # type: ignore[arg-type]
    return results


def _apply(stage: str, name: str, value: Any, recipe: Recipe) -> np.ndarray | StageFailure:
    function = registry.get(stage, name).function
    try:
        if stage == "resize":
            height, width = value.shape[:2]
            target = ops.resize_target(width, height, recipe)
            if target[0] * target[1] > MAX_RESIZE_PIXELS:
                return StageFailure(stage, f"a {width}x{height} image would resize to {target[0]}x{target[1]}, over the {MAX_RESIZE_PIXELS:,}-pixel limit")
            return function(value, target)
        if stage == "crop":
            return function(value, recipe.crop_size)
        if stage == "normalize":
            return function(value, recipe)
        return function(value)
    except Exception as exc:  # any library error on one image is that image's failure, not the run's
        return StageFailure(stage, _one_line(exc))


def _read(item: ImageItem) -> bytes | StageFailure:
    try:
        return item.path.read_bytes()
    except OSError as exc:
        return StageFailure("read", exc.strerror or _one_line(exc))


def _preprocess_item(item: ImageItem, stacks: list[Stack], recipe: Recipe) -> list[np.ndarray | StageFailure]:
    data = _read(item)
    if isinstance(data, StageFailure):
        return [data] * len(stacks)
    return preprocess(data, stacks, recipe)


def _batches(items: list[ImageItem], size: int) -> Iterator[list[ImageItem]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def evaluate(
    runners: dict[str, Any],
    dataset: Dataset,
    reference: Stack,
    candidates: list[Stack],
    recipe: Recipe,
    batch_size: int = 8,
    workers: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    on_logits: LogitsSink | None = None,
) -> EngineResult:
    """Run every stack over ``dataset`` and pair each candidate's outputs with the reference's.

    ``runners`` maps each stack's runtime name to a loaded runner (``run(batch) -> logits``), already
    checked against the recipe's tensor shape.
    """
    stacks = [reference, *candidates]

    outcomes: list[list[ImageOutcome]] = [[] for _ in candidates]
    timings = {"preprocess_wait_s": 0.0, "inference_s": 0.0}
    started = time.perf_counter()
    workers = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:

        def submit(batch: list[ImageItem]) -> list[Future]:
            return [pool.submit(_preprocess_item, item, stacks, recipe) for item in batch]

        batches = _batches(dataset.items, batch_size)
        current = next(batches, None)
        pending = submit(current) if current else []
        while current is not None:
            wait_start = time.perf_counter()
            tensors = [f.result() for f in pending]
            timings["preprocess_wait_s"] += time.perf_counter() - wait_start
            following = next(batches, None)
            pending = submit(following) if following else []
            infer_start = time.perf_counter()
            logits = _infer(current, stacks, tensors, runners)
            timings["inference_s"] += time.perf_counter() - infer_start
            if on_logits:
                for index, column in enumerate(logits):
                    on_logits(index, current, column)
            _record(current, logits, outcomes)
            if on_progress:
                on_progress(len(current))
            current = following
    timings["total_s"] = time.perf_counter() - started
    runtime_info = {
        name: {"input": r.input_name, "shape": r.input_shape, "providers": r.providers} for name, r in runners.items()
    }
    return EngineResult(outcomes, timings, runtime_info)


def _infer(
    batch: list[ImageItem],
    stacks: list[Stack],
    tensors: list[list[np.ndarray | StageFailure]],
    runners: dict[str, Any],
) -> list[list[np.ndarray | StageFailure]]:
    """Logits per stack per image; stacks with identical stages share one inference."""
    shared: dict[tuple[tuple[str, str], ...], list[np.ndarray | StageFailure]] = {}
    per_stack = []
    for index, stack in enumerate(stacks):
        key = stack.stages()
        if key not in shared:
            column = [row[index] for row in tensors]
            ok = [i for i, t in enumerate(column) if not isinstance(t, StageFailure)]
            out: list[np.ndarray | StageFailure] = list(column)
            if ok:
                try:
                    logits = runners[stack.runtime].run(np.stack([column[i] for i in ok]))
                    finite = np.isfinite(logits).all(axis=1)
                    for i, row, is_finite in zip(ok, logits, finite):
                        out[i] = row if is_finite else StageFailure("runtime", "the model's output contains NaN or infinity")
                except Exception as exc:  # a runtime failure loses this batch only, and says so
                    failure = StageFailure("runtime", _one_line(exc))
                    for i in ok:
                        out[i] = failure
            shared[key] = out
        per_stack.append(shared[key])
    return per_stack


def _record(batch: list[ImageItem], logits: list[list[np.ndarray | StageFailure]], outcomes: list[list[ImageOutcome]]) -> None:
    ids, labels = [item.id for item in batch], [item.label for item in batch]
    reference = [str(v) if isinstance(v, StageFailure) else v for v in logits[0]]
    for candidate_index, column in enumerate(logits[1:]):
        candidate = [str(v) if isinstance(v, StageFailure) else v for v in column]
        outcomes[candidate_index].extend(pair_outcomes(ids, labels, reference, candidate))
