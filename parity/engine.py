"""Run the reference and candidate stacks over a dataset, sharing every piece of work they have in common.

Per image, the bytes are read once and each stage prefix (decode, then decode+colour, then
decode+colour+resize, ...) is computed once for all the stacks that share it. Stacks whose whole
preprocessing and runtime agree share their logits. Preprocessing runs in a pool of threads or worker
processes (:mod:`parity.pools`) one batch ahead of inference, and only per-image top-k outputs
and comparison metrics are kept, so memory does not grow with the logits of the whole dataset.

With an output cache, an image whose outputs for a stack are cached (same bytes, same model, stack,
recipe and library versions) is neither preprocessed nor run again for that stack. Ctrl-C stops the
run after the batch in flight and returns what finished, marked as interrupted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from parity import exif, image_header, ops, registry
from parity.compare import ImageOutcome, pair_outcomes
from parity.data import Dataset, ImageItem
from parity.environment import available_cores
from parity.output_cache import OutputCache
from parity.pools import Pool
from parity.spec import Recipe, Stack

PREPROCESSING_STAGES = ("decode", "colour", "resize", "crop", "normalize")
# A resize target beyond this is refused for that image: a 20000x1 sliver would otherwise become
# 5,120,000x256 under "shorter side 256" and take gigabytes per stack.
MAX_RESIZE_PIXELS = 64 * 1024 * 1024
# A decoded image beyond this is refused for that image, whichever decoder produced it: Pillow's own
# decompression-bomb threshold (2 x PIL.Image.MAX_IMAGE_PIXELS), so every decoder refuses the same files.
MAX_IMAGE_PIXELS = 178_956_970


@dataclass(frozen=True)
class StageFailure:
    """Why one image could not go through one stack."""

    stage: str
    message: str

    def __str__(self) -> str:
        return f"{self.stage}: {self.message}"


@dataclass(frozen=True)
class Cached:
    """Logits of one image under one stack, found in the output cache."""

    row: np.ndarray


@dataclass(frozen=True)
class CacheBinding:
    """An output cache and each stack's key in it (index-aligned with the stacks, reference first)."""

    cache: OutputCache
    keys: list[str]


@dataclass
class EngineResult:
    """Per candidate, each finished image's outcome against the reference; timings; what each runtime
    reported; how many inferences ran and how many came from the cache; whether Ctrl-C cut the run short."""

    outcomes: list[list[ImageOutcome]]
    timings: dict[str, float]
    runtime_info: dict[str, Any]
    work: dict[str, int]
    interrupted: bool = False


# Receives, per batch and per stack (0 = reference), the images and their logits or failures.
LogitsSink = Callable[[int, list[ImageItem], list["np.ndarray | StageFailure"]], None]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def preprocess(
    data: bytes, stacks: list[Stack], recipe: Recipe, max_image_pixels: int = MAX_IMAGE_PIXELS
) -> list[np.ndarray | StageFailure]:
    """Model input tensors for one image under each stack, each shared stage prefix computed once.
    A decoded image over ``max_image_pixels`` (0: no limit) is that stack's failure."""
    memo: dict[tuple[str, ...], np.ndarray | StageFailure] = {}
    results: list[np.ndarray | StageFailure] = []
    for stack in stacks:
        value: np.ndarray | StageFailure | bytes = data
        key: tuple[str, ...] = ()
        for stage in PREPROCESSING_STAGES:
            key = (*key, getattr(stack, stage))
            if key not in memo:
                memo[key] = value if isinstance(value, StageFailure) else _apply(stage, key[-1], value, recipe, max_image_pixels)
            value = memo[key]
        results.append(value)  # type: ignore[arg-type]
    return results


def stage_values(
    data: bytes, stack: Stack, recipe: Recipe, max_image_pixels: int = MAX_IMAGE_PIXELS
) -> list[tuple[str, np.ndarray | StageFailure]]:
    """Each preprocessing stage's output for one image under one stack, in order; after a failure, the failure."""
    values: list[tuple[str, np.ndarray | StageFailure]] = []
    value: Any = data
    for stage in PREPROCESSING_STAGES:
        value = value if isinstance(value, StageFailure) else _apply(stage, getattr(stack, stage), value, recipe, max_image_pixels)
        values.append((stage, value))
    return values


def _apply(stage: str, name: str, value: Any, recipe: Recipe, max_image_pixels: int) -> np.ndarray | StageFailure:
    function = registry.get(stage, name).function
    try:
        if stage == "decode":
            declared = None if getattr(function, "checks_pixel_limit", False) else image_header.dimensions(value)
            if max_image_pixels and declared and declared[0] * declared[1] > max_image_pixels:
                width, height = declared  # refused before the decoder allocates it
                return StageFailure(stage, f"{width}x{height} is {width * height:,} pixels, over the "
                                           f"{max_image_pixels:,}-pixel limit (--max-image-pixels; from the file's header)")
            image = function(value)
            pixels = image.shape[0] * image.shape[1]
            if max_image_pixels and pixels > max_image_pixels:
                return StageFailure(stage, f"{image.shape[1]}x{image.shape[0]} is {pixels:,} pixels, over the "
                                           f"{max_image_pixels:,}-pixel limit (--max-image-pixels)")
            return image
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
    except ValueError:  # the only ValueError a path read raises: a NUL byte in the name
        return StageFailure("read", "the path contains a NUL byte")


@dataclass(frozen=True)
class Prepared:
    """One image ready for inference: per stack its model input, its cached logits or its failure; the
    digest of its bytes (with a cache) and its EXIF orientation when that is not 1."""

    values: list[np.ndarray | StageFailure | Cached]
    digest: str | None = None
    orientation: int | None = None


def _preprocess_item(
    item: ImageItem, stacks: list[Stack], recipe: Recipe, binding: CacheBinding | None, max_image_pixels: int
) -> Prepared:
    data = _read(item)
    if isinstance(data, StageFailure):
        return Prepared([data] * len(stacks))
    rotated = exif.orientation(data)
    rotated = rotated if rotated not in (None, 1) else None
    if binding is None:
        return Prepared(list(preprocess(data, stacks, recipe, max_image_pixels)), None, rotated)
    digest = hashlib.sha256(data).hexdigest()
    hits = [binding.cache.get(key, digest) for key in binding.keys]
    missing = [stack for stack, hit in zip(stacks, hits) if hit is None]
    computed = iter(preprocess(data, missing, recipe, max_image_pixels) if missing else [])
    return Prepared([Cached(hit) if hit is not None else next(computed) for hit in hits], digest, rotated)


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
    cache: CacheBinding | None = None,
    max_image_pixels: int = MAX_IMAGE_PIXELS,
    pool: str = "threads",
) -> EngineResult:
    """Run every stack over ``dataset`` and pair each candidate's outputs with the reference's.

    ``runners`` maps each stack's runtime name to a loaded runner (``run(batch) -> logits``), already
    checked against the recipe's tensor shape. ``cache`` reads and fills the output cache. ``pool``
    runs preprocessing in ``workers`` threads or worker processes (:mod:`parity.pools`).
    """
    stacks = [reference, *candidates]

    outcomes: list[list[ImageOutcome]] = [[] for _ in candidates]
    timings = {"preprocess_wait_s": 0.0, "inference_s": 0.0}
    work = {"inferences": 0, "identical_inputs_reused": 0, "outputs_from_cache": 0}
    started = time.perf_counter()
    workers = workers or min(8, available_cores())
    interrupted = False
    arguments = (stacks, recipe, cache, max_image_pixels)
    lost = Prepared([StageFailure("preprocess", "the worker process preprocessing this image died (killed, or a library crashed on it)")] * len(stacks))
    with Pool(pool, workers, stacks, PREPROCESSING_STAGES) as preprocessing:

        def submit(batch: list[ImageItem]) -> list[Future]:
            return preprocessing.submit(_preprocess_item, batch, *arguments)

        batches = _batches(dataset.items, batch_size)
        current = next(batches, None)
        pending = submit(current) if current else []
        try:
            while current is not None:
                wait_start = time.perf_counter()
                prepared = preprocessing.results(pending, _preprocess_item, current, *arguments, lost=lambda item: lost)
                timings["preprocess_wait_s"] += time.perf_counter() - wait_start
                following = next(batches, None)
                pending = submit(following) if following else []
                infer_start = time.perf_counter()
                logits = _infer(stacks, prepared, runners, cache, work)
                timings["inference_s"] += time.perf_counter() - infer_start
                if on_logits:
                    for index, column in enumerate(logits):
                        on_logits(index, current, column)
                _record(current, prepared, stacks, logits, outcomes)
                if on_progress:
                    on_progress(len(current))
                current = following
        except KeyboardInterrupt:
            interrupted = True
            preprocessing.cancel(pending)
    timings["total_s"] = time.perf_counter() - started
    runtime_info = {
        name: {"input": r.input_name, "shape": r.input_shape, "providers": r.providers} for name, r in runners.items()
    }
    return EngineResult(outcomes, timings, runtime_info, work, interrupted)


def _infer(
    stacks: list[Stack],
    prepared: list[Prepared],
    runners: dict[str, Any],
    cache: CacheBinding | None,
    work: dict[str, int],
) -> list[list[np.ndarray | StageFailure]]:
    """Logits per stack per image. Stacks with identical stages share one inference; an image whose model
    input is bit-identical to one already run on the same runtime reuses that output (an inference that
    cannot change an answer is not run); cached rows are used as they are, and new rows are stored."""
    shared: dict[tuple[tuple[str, str], ...], list[np.ndarray | StageFailure]] = {}
    seen: dict[tuple[str, int], list[tuple[bytes, np.ndarray, np.ndarray]]] = {}  # (runtime, image) -> (sample, input, logits)
    per_stack = []
    for index, stack in enumerate(stacks):
        key = stack.stages()
        if key not in shared:
            column = [item.values[index] for item in prepared]
            out: list[np.ndarray | StageFailure] = [v.row if isinstance(v, Cached) else v for v in column]
            work["outputs_from_cache"] += sum(isinstance(v, Cached) for v in column)
            ok = [i for i, v in enumerate(column) if isinstance(v, np.ndarray)]
            for i in ok:
                same = _identical_input(seen.get((stack.runtime, i), []), column[i])
                if same is not None:
                    out[i] = same
                    work["identical_inputs_reused"] += 1
            pending = [i for i in ok if isinstance(out[i], np.ndarray) and out[i] is column[i]]
            if pending:
                work["inferences"] += len(pending)
                try:
                    logits = _run(runners[stack.runtime], [column[i] for i in pending])
                    finite = np.isfinite(logits).all(axis=1)
                    for i, row, is_finite in zip(pending, logits, finite):
                        out[i] = row if is_finite else StageFailure("runtime", "the model's output contains NaN or infinity")
                except Exception as exc:  # a runtime failure loses this batch only, and says so
                    failure = StageFailure("runtime", _one_line(exc))
                    for i in pending:
                        out[i] = failure
            for i in ok:
                if isinstance(out[i], np.ndarray):
                    seen.setdefault((stack.runtime, i), []).append((_sample(column[i]), column[i], out[i]))
                    digest = prepared[i].digest
                    if cache is not None and digest is not None:
                        cache.cache.put(cache.keys[index], digest, out[i])
            shared[key] = out
        per_stack.append(shared[key])
    return per_stack


SAMPLE_STRIDE = 997  # every 997th value: a cheap first test before comparing whole tensors


def _sample(tensor: np.ndarray) -> bytes:
    return tensor.shape.__repr__().encode() + tensor.ravel()[::SAMPLE_STRIDE].tobytes()


def _identical_input(earlier: list[tuple[bytes, np.ndarray, np.ndarray]], tensor: np.ndarray) -> np.ndarray | None:
    """The logits of an earlier, bit-identical model input on the same runtime, if there is one."""
    sample = _sample(tensor) if earlier else b""
    for seen_sample, seen_input, logits in earlier:
        if seen_input is tensor or (seen_sample == sample and seen_input.dtype == tensor.dtype and np.array_equal(seen_input, tensor)):
            return logits
    return None


def _run(runner: Any, inputs: list[np.ndarray]) -> np.ndarray:
    """One batch; images of different sizes (preprocessing inside the model) go one at a time."""
    if len({x.shape for x in inputs}) == 1:
        return runner.run(np.stack(inputs))
    return np.concatenate([runner.run(x[None]) for x in inputs])


def _applies_exif(stack: Stack) -> bool:
    return bool(getattr(registry.get("decode", stack.decode).function, "applies_exif_orientation", False))


def _exif_note(orientation: int | None, reference: Stack, candidate: Stack) -> str | None:
    """Which side rotated an image by its EXIF orientation when only one did."""
    if orientation is None or _applies_exif(reference) == _applies_exif(candidate):
        return None
    rotated, kept = ("candidate", "reference") if _applies_exif(candidate) else ("reference", "candidate")
    return f"{rotated} rotated the image by its EXIF orientation {orientation}; the {kept} did not"


def _record(
    batch: list[ImageItem],
    prepared: list[Prepared],
    stacks: list[Stack],
    logits: list[list[np.ndarray | StageFailure]],
    outcomes: list[list[ImageOutcome]],
) -> None:
    ids, labels = [item.id for item in batch], [item.label for item in batch]
    reference = [str(v) if isinstance(v, StageFailure) else v for v in logits[0]]
    for candidate_index, column in enumerate(logits[1:]):
        candidate = [str(v) if isinstance(v, StageFailure) else v for v in column]
        paired = pair_outcomes(ids, labels, reference, candidate)
        for position, item in enumerate(prepared):
            note = _exif_note(item.orientation, stacks[0], stacks[candidate_index + 1])
            if note:
                paired[position] = dataclasses.replace(paired[position], note=note)
        outcomes[candidate_index].extend(paired)
