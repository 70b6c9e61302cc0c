"""The public API: what the CLI, the pytest plugin and users' scripts call."""

from __future__ import annotations

import dataclasses
import importlib
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from parity import config, environment, models, ops, registry
from parity.compare import ImageOutcome, Tolerance, judge, pair_outcomes, summarize
from parity.data import Dataset, discover, read_labels_csv
from parity.engine import MAX_IMAGE_PIXELS, CacheBinding, evaluate, preprocess
from parity.errors import NotApplicable, ParityError
from parity.models import DEFAULT_OPSET, ModelSource, OpenedModel
from parity.output_cache import OutputCache, stack_key
from parity.pools import POOLS
from parity.report import CandidateReport, Report
from parity.runs import RunWriter, load_run
from parity.spec import PRESETS, REFERENCE_PRESET, Recipe, ResolvedRecipe, Stack, read_toml, resolve_recipe, resolve_stack

ModelLike = str | Path | ModelSource


@dataclass(frozen=True)
class Candidate:
    """A deployment stack with its own tolerance (``None``: the check's default tolerance)."""

    stack: str | Stack
    tolerance: Tolerance | None = None


def _candidates(deploy: Sequence[str | Stack | Candidate], default: Tolerance) -> list[tuple[Stack, Tolerance]]:
    pairs = []
    for item in deploy:
        candidate = item if isinstance(item, Candidate) else Candidate(item)
        stack = candidate.stack if isinstance(candidate.stack, Stack) else resolve_stack(candidate.stack)
        pairs.append((stack, candidate.tolerance or default))
    return pairs


def describe_stack(stack: Stack) -> dict[str, Any]:
    """The fully resolved stack: each stage's implementation, its library and what it does."""
    stages = {}
    for stage, name in stack.stages():
        try:
            adapter = registry.get(stage, name)
        except ParityError as exc:
            raise ParityError(f"stack {stack.name!r}: {exc}") from None
        stages[stage] = {"implementation": name, "library": adapter.library, "behaviour": adapter.description}
    return {"name": stack.name, "stages": stages}


def candidate_report(stack: dict[str, Any], outcomes: list[ImageOutcome], tolerance: Tolerance) -> CandidateReport:
    """Metrics, verdict and the listed images of one candidate."""
    metrics = summarize(outcomes, tolerance.confidence)
    return CandidateReport(
        stack=stack,
        tolerance=tolerance,
        metrics=metrics,
        verdict=judge(metrics, tolerance),
        disagreements=[o for o in outcomes if o.disagrees],
        failed_both=[o for o in outcomes if o.status == "failed-both"],
    )


CALIBRATION_IMAGES = 100


def calibration_tensors(dataset: Dataset, reference: Stack, recipe: Recipe, max_image_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """The first images of the data (at most ``CALIBRATION_IMAGES``) through the reference preprocessing,
    for static quantization: calibrated on the user's own images, as deployment tools do."""
    tensors = []
    for item in dataset.items[:CALIBRATION_IMAGES]:
        try:
            value = preprocess(item.path.read_bytes(), [reference], recipe, max_image_pixels)[0]
        except (OSError, ValueError):  # unreadable, or a NUL in the path: not a calibration image
            continue
        if isinstance(value, np.ndarray):
            tensors.append(value)
    if not tensors:
        raise ParityError("static quantization needs calibration images, and none of the first ones could be read")
    return np.stack(tensors)


def project_recipe(folder: Path | None = None) -> dict[str, Any] | None:
    """The ``[tool.parity.recipe]`` table of ``pyproject.toml`` in ``folder`` (the working directory), if any."""
    project = config.load(folder)
    return project.recipe if project else None


def _source(model: ModelLike | None, factory: str | None, weights: str | Path | None, trust: bool) -> ModelSource:
    if isinstance(model, ModelSource):
        return model
    if model is None and factory is None:
        raise ParityError("give a model file, or --model-factory with --weights")
    return ModelSource(Path(model) if model is not None else None, factory, Path(weights) if weights else None, trust)


def resolve_model_recipe(
    model: OpenedModel, recipe: Mapping[str, Any] | None = None, recipe_file: str | Path | None = None
) -> ResolvedRecipe:
    """Recipe precedence: flags > ``recipe_file`` > ``[tool.parity.recipe]`` > what the model carries > defaults."""
    return resolve_recipe(
        overrides=recipe,
        file_recipe=_recipe_file_fields(recipe_file),
        project_recipe=project_recipe(),
        model_recipe=model.carried_recipe,
        model_origin=model.recipe_origin,
    )


def recipe_for(model: str | Path | None, recipe: Mapping[str, Any] | None = None, recipe_file: str | Path | None = None) -> Recipe:
    """The recipe from flags, a recipe file, ``[tool.parity.recipe]`` and, given an ONNX ``model``, its metadata."""
    if model is not None:
        return resolve_model_recipe(models.open_model(ModelSource(Path(model))), recipe, recipe_file).recipe
    return resolve_recipe(overrides=recipe, file_recipe=_recipe_file_fields(recipe_file), project_recipe=project_recipe()).recipe


def _recipe_file_fields(recipe_file: str | Path | None) -> Any:
    """A recipe file's fields, at top level or in a ``[recipe]`` table."""
    if recipe_file is None:
        return None
    data = read_toml(Path(recipe_file), "recipe file")
    return data.get("recipe", data)


def _reference_stack(train: str | Stack | None, model: OpenedModel) -> Stack:
    """The training stack; for a PyTorch model it runs in torch. Without ``train``, a timm-style
    ``pretrained_cfg`` interpolation picks the Pillow filter, else ``pil-bilinear``."""
    if train is None:
        preferred = f"pil-{model.interpolation}" if model.interpolation else None
        train = preferred if preferred in PRESETS else REFERENCE_PRESET
    stack = train if isinstance(train, Stack) else resolve_stack(train)
    return dataclasses.replace(stack, runtime="torch") if model.is_torch else stack


def check(
    model: ModelLike | None,
    deploy: Sequence[str | Stack | Candidate],
    data: str | Path | Dataset,
    train: str | Stack | None = None,
    labels: str | Path | None = None,
    labels_from_folders: bool = False,
    limit: int | None = None,
    tolerance: Tolerance | str | float | None = None,
    max_flips: int | None = None,
    gate: str | None = None,
    confidence: str | float | None = None,
    save_run: str | Path | None = None,
    recipe: Mapping[str, Any] | None = None,
    recipe_file: str | Path | None = None,
    model_factory: str | None = None,
    weights: str | Path | None = None,
    trust_model: bool = False,
    opset: int = DEFAULT_OPSET,
    batch_size: int = 8,
    workers: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    skip_inapplicable: bool = False,
    cache: bool = True,
    max_image_pixels: int = MAX_IMAGE_PIXELS,
    engine: str = "local",
    scheduler: str | None = None,
    pool: str = "threads",
) -> Report:
    """Run the ``train`` stack and each ``deploy`` stack over the images and judge each candidate.

    ``model`` is an ONNX file, a PyTorch file (TorchScript, ``.pt2`` or a pickled module, which load
    only with ``trust_model=True``), or ``None`` with ``model_factory`` (``package.module:function``)
    and ``weights`` (a state dict, read with ``weights_only=True``). A PyTorch model runs the
    reference in torch eager and the candidates on its ONNX export in ONNX Runtime.

    ``deploy`` items are stack names, :class:`Stack` objects or :class:`Candidate` (a stack with its
    own tolerance). The default tolerance is ``tolerance`` (a :class:`Tolerance`, a rate such as
    ``"0.5%"`` or ``0.005``, or ``None`` for 1%) or ``max_flips``, judged on the point estimate or,
    with ``gate="upper"``, on the one-sided exact upper bound at ``confidence``. ``save_run`` keeps
    every stack's per-image outputs in that folder for ``parity compare``. The recipe resolves as flags (``recipe``) >
    ``recipe_file`` > ``[tool.parity.recipe]`` in ./pyproject.toml > the model's own > defaults.
    ``on_start`` receives the number of images, ``on_progress`` the number finished since the last call.
    With ``skip_inapplicable``, a candidate whose graph transform finds nothing to change in this model is
    left out and listed in ``Report.skipped`` instead of stopping the check. With ``cache`` (the default),
    per-image outputs are kept in ``$PARITY_CACHE_DIR/outputs`` and reused when nothing that produced them
    changed, so a re-run, or a run interrupted with Ctrl-C and started again, computes only what is new.
    An interrupted run returns a report of the finished images with ``Report.interrupted`` set. A decoded
    image over ``max_image_pixels`` (default 178,956,970, Pillow's decompression-bomb threshold; 0: no
    limit) is refused for that image by every decoder. ``engine="dask"`` shards the images over a Dask
    cluster (``scheduler``, an address, or a local cluster of worker processes) and gives the same report.
    ``pool`` runs the local engine's preprocessing in ``workers`` ``"threads"`` or ``"processes"``.
    """
    if not deploy:
        raise ParityError("give at least one deployment stack (--deploy)")
    default = tolerance if isinstance(tolerance, Tolerance) else Tolerance.parse(tolerance, max_flips, gate, confidence)
    candidates = _candidates(deploy, default)
    opened = models.open_model(_source(model, model_factory, weights, trust_model))
    return _check(
        opened, candidates, data, train, labels, labels_from_folders, limit, recipe,
        recipe_file, opset, batch_size, workers, on_progress, on_start, save_run, skip_inapplicable, cache,
        max_image_pixels, engine, scheduler, pool,
    )


def verify_export(
    model: ModelLike | None,
    exported: str | Path,
    data: str | Path | Dataset,
    train: str | Stack | None = None,
    **options: Any,
) -> Report:
    """Check a PyTorch model (torch eager) against its ONNX export ``exported`` with the same stack on
    both sides, so every flip is export noise. ``options`` are :func:`check`'s keyword arguments."""
    source = _source(model, options.pop("model_factory", None), options.pop("weights", None), options.pop("trust_model", False))
    opened = models.open_model(source)
    if not opened.is_torch:
        raise ParityError(f"{source.path}: export verification needs the PyTorch model, not an ONNX file")
    opened.onnx_path = Path(exported)
    candidate = dataclasses.replace(_reference_stack(train, opened), runtime="onnxruntime")
    tolerance = Tolerance.parse(
        options.pop("tolerance", None), options.pop("max_flips", None), options.pop("gate", None), options.pop("confidence", None)
    )
    return _check(opened, [(candidate, tolerance)], data, train, **options)


def _check(
    opened: OpenedModel,
    candidate_tolerances: list[tuple[Stack, Tolerance]],
    data: str | Path | Dataset,
    train: str | Stack | None = None,
    labels: str | Path | None = None,
    labels_from_folders: bool = False,
    limit: int | None = None,
    recipe: Mapping[str, Any] | None = None,
    recipe_file: str | Path | None = None,
    opset: int = DEFAULT_OPSET,
    batch_size: int = 8,
    workers: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    save_run: str | Path | None = None,
    skip_inapplicable: bool = False,
    cache: bool = True,
    max_image_pixels: int = MAX_IMAGE_PIXELS,
    engine: str = "local",
    scheduler: str | None = None,
    pool: str = "threads",
) -> Report:
    if pool not in POOLS:
        raise ParityError(f"--pool must be one of {', '.join(POOLS)}, not {pool!r}")
    if engine not in ("local", "dask"):
        raise ParityError(f"--engine must be local or dask, not {engine!r}")
    if engine == "dask" and save_run:
        raise ParityError("--save-run works with the local engine only")
    if engine == "dask" and pool == "processes":
        raise ParityError("--pool processes is for the local engine (Dask workers are processes already)")
    if scheduler and engine != "dask":
        raise ParityError("--scheduler is the address of a Dask scheduler: add --engine dask")
    if batch_size < 1:
        raise ParityError("--batch-size must be at least 1")
    if isinstance(max_image_pixels, bool) or not isinstance(max_image_pixels, int) or max_image_pixels < 0:
        raise ParityError(f"--max-image-pixels must be a whole number, 0 (no limit) or more, not {max_image_pixels!r}")
    if workers is not None and workers < 1:
        raise ParityError("--workers must be at least 1")
    reference = _reference_stack(train, opened)
    candidates = [stack for stack, _ in candidate_tolerances]
    stacks = [reference, *candidates]
    described = [describe_stack(s) for s in stacks]
    dataset = data if isinstance(data, Dataset) else discover(
        Path(data), Path(labels) if labels else None, labels_from_folders, limit
    )
    resolved = resolve_model_recipe(opened, recipe, recipe_file)
    runtimes = list(dict.fromkeys(s.runtime for s in stacks))
    calibration = None
    if any(models.needs_calibration(name) for name in runtimes):
        calibration = calibration_tensors(dataset, reference, resolved.recipe, max_image_pixels)
    runners, inapplicable = {}, {}
    for name in runtimes:  # the reference first: torch is checked before it is exported
        try:
            runners[name] = models.runner_for(opened, name, resolved.recipe, opset, calibration)
        except NotApplicable as exc:
            if not skip_inapplicable or name == reference.runtime:
                raise
            inapplicable[name] = str(exc)
            continue
        runners[name].check_input(ops.tensor_shape(resolved.recipe))
    for stack in stacks:
        _check_input_kind(stack, runners.get(stack.runtime))
    skipped = {stack.name: inapplicable[stack.runtime] for stack in candidates if stack.runtime in inapplicable}
    if skipped:
        kept = [i for i, stack in enumerate(candidates) if stack.runtime not in inapplicable]
        if not kept:
            raise ParityError("no candidate applies to this model: " + "; ".join(f"{n}: {r}" for n, r in skipped.items()))
        candidate_tolerances = [candidate_tolerances[i] for i in kept]
        described = [described[0], *(described[1 + i] for i in kept)]
        candidates = [stack for stack, _ in candidate_tolerances]
        stacks = [reference, *candidates]
    if on_start:
        on_start(len(dataset.items))
    libraries = {registry.library_of(name) for stack in stacks for _, name in stack.stages()}
    fingerprint = environment.fingerprint(libraries)
    model_info = {**opened.identity, "export": opened.export_info}
    writer = RunWriter(Path(save_run), dataset, described, model_info, resolved, fingerprint) if save_run else None
    binding = _cache_binding(opened, runners, stacks, resolved.recipe, max_image_pixels) if cache else None
    if engine == "dask":
        result = _evaluate_on_dask(scheduler, runners, dataset, reference, candidates, resolved.recipe, batch_size,
                                   max_image_pixels, binding, on_progress)
    else:
        result = evaluate(
            runners, dataset, reference, candidates, resolved.recipe, batch_size, workers, on_progress,
            writer.add if writer else None, binding, max_image_pixels, pool,
        )
    if writer:
        writer.close()
    saved = [str(folder) for folder in writer.folders] if writer else []
    return Report(
        model={**model_info, "runtime": result.runtime_info},
        data={"source": dataset.source, "images": len(dataset.items), "labelled": sum(i.label is not None for i in dataset.items)},
        recipe=resolved,
        reference=described[0],
        candidates=[
            candidate_report(info, outcomes, tolerance)
            for info, outcomes, (_, tolerance) in zip(described[1:], result.outcomes, candidate_tolerances)
        ],
        environment=fingerprint,
        timings={k: round(v, 3) for k, v in result.timings.items()},
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        class_names=dataset.class_names,
        saved_runs=saved,
        skipped=skipped,
        work=result.work,
        interrupted=result.interrupted,
    )


def _check_input_kind(stack: Stack, runner: Any) -> None:
    """A stack that hands decoded uint8 images to the model needs a model that takes them, and the other way round."""
    if runner is None:
        return
    takes_images = getattr(runner, "input_dtype", None) == np.uint8
    hands_images = stack.normalize == "none"
    if takes_images and not hands_images:
        raise ParityError(f"stack {stack.name!r}: the model takes uint8 images (its preprocessing is inside it); check it with "
                          "the embedded preset (parity check MODEL -d embedded), or give the model without preprocessing")
    if hands_images and not takes_images:
        raise ParityError(f"stack {stack.name!r}: passes decoded uint8 images, but its runtime {stack.runtime!r} runs a model that "
                          "takes float tensors (compose 'embedded' last: opencv-decode+embedded)")


DASK_SHARD_IMAGES = 64


def _evaluate_on_dask(scheduler: str | None, runners: dict[str, Any], dataset: Dataset, reference: Stack, candidates: list[Stack],
                      recipe: Recipe, batch_size: int, max_image_pixels: int, binding: CacheBinding | None,
                      on_progress: Callable[[int], None] | None) -> Any:
    """The Dask engine (the ``dask`` extra), for ONNX runtimes: each worker opens the model files itself."""
    if "torch" in runners:
        raise ParityError("the Dask engine runs ONNX models; give the exported .onnx (parity export) instead of the PyTorch model")
    try:
        dask_engine = importlib.import_module("parity_adapters.dask_engine")
    except ImportError as exc:
        raise ParityError(f"--engine dask needs the dask extra ({exc}); install it with: pip install 'parity[dask]'") from None
    started = time.perf_counter()
    result = dask_engine.evaluate_on_dask(scheduler, runners, dataset, reference, candidates, recipe, batch_size,
                                          DASK_SHARD_IMAGES, max_image_pixels, binding, on_progress)
    result.timings["total_s"] = time.perf_counter() - started
    return result


def _cache_binding(
    opened: OpenedModel, runners: dict[str, Any], stacks: list[Stack], recipe: Recipe, max_image_pixels: int,
) -> CacheBinding:
    """The output cache and each stack's key: the model's identity, the exact model files (with their
    external data; or the code, for torch) its runtime runs (by content, not path), the pixel limit, the stages, the recipe and
    the versions of the libraries that stack uses (so its outputs serve any check it appears in)."""
    model_keys = {}
    for name, runner in runners.items():
        model_file = getattr(runner, "model_path", None)
        files = [model_file, *getattr(runner, "external_files", [])] if model_file else []
        ran = {"files_sha256": [models.file_sha256(f) for f in files if f.is_file()]} if files else {"code": models.code_fingerprint(opened)}
        model_keys[name] = {"model": {k: v for k, v in opened.identity.items() if k != "path"}, "runtime": name, "max_image_pixels": max_image_pixels, **ran}
    versions: dict[frozenset[str], dict[str, str]] = {}
    keys = []
    for stack in stacks:
        libraries = frozenset(registry.library_of(name) for _, name in stack.stages())
        if libraries not in versions:
            versions[libraries] = environment.fingerprint(libraries)
        keys.append(stack_key(model_keys[stack.runtime], stack, recipe, versions[libraries]))
    return CacheBinding(OutputCache(models.cache_dir() / "outputs"), keys)


def export(
    model: ModelLike | None,
    output: str | Path,
    recipe: Mapping[str, Any] | None = None,
    recipe_file: str | Path | None = None,
    model_factory: str | None = None,
    weights: str | Path | None = None,
    trust_model: bool = False,
    opset: int = DEFAULT_OPSET,
    dynamic_batch: bool = True,
    exporter: str = "auto",
) -> tuple[dict[str, str], ResolvedRecipe]:
    """Export a PyTorch model to ONNX at ``output`` with its resolved recipe in the metadata.

    ``exporter`` is ``auto`` (dynamo when onnxscript is installed, else legacy), ``dynamo`` or ``legacy``.
    Returns what ran (exporter, opset, torch version) and the recipe written.
    """
    opened = models.open_model(_source(model, model_factory, weights, trust_model))
    resolved = resolve_model_recipe(opened, recipe, recipe_file)
    return models.export(opened, Path(output), resolved.recipe, opset, dynamic_batch, exporter), resolved


def embed(
    model: ModelLike | None,
    output: str | Path,
    recipe: Mapping[str, Any] | None = None,
    recipe_file: str | Path | None = None,
    model_factory: str | None = None,
    weights: str | Path | None = None,
    trust_model: bool = False,
    opset: int = DEFAULT_OPSET,
) -> ResolvedRecipe:
    """Write the model (a PyTorch one exported first) with the recipe's resize, centre crop and normalize
    inside its graph to ``output``: it takes a decoded uint8 ``[1, H, W, 3]`` RGB image. Returns the recipe."""
    source = _source(model, model_factory, weights, trust_model)
    for given in (source.path, source.weights):
        if given is not None and Path(output).resolve() == given.resolve():
            raise ParityError(f"{output}: is the model itself; write the embedded model to another file")
    opened = models.open_model(source)
    resolved = resolve_model_recipe(opened, recipe, recipe_file)
    runner = models.runner_for(opened, "onnxruntime:embedded", resolved.recipe, opset)
    models.write_model(Path(output), lambda partial: partial.write_bytes(runner.model_path.read_bytes()))
    return resolved


def compare(
    reference: str | Path,
    candidate: str | Path,
    labels: str | Path | None = None,
    tolerance: Tolerance | str | float | None = None,
    max_flips: int | None = None,
    gate: str | None = None,
    confidence: str | float | None = None,
) -> Report:
    """Compare two saved runs (``--save-run`` folders, ``.npz`` or ``.npy`` + ``.txt`` logits) image by image.

    Images are matched by id; one missing from a run counts as that side's failure. Labels come from
    ``labels`` (a CSV) or from the runs themselves. The metrics are the ones ``check`` computes.
    """
    ref, cand = load_run(Path(reference)), load_run(Path(candidate))
    sizes = {row.shape[-1] for run in (ref, cand) for row in run.rows if not isinstance(row, str)}
    if len(sizes) > 1:
        raise ParityError(f"the runs have different numbers of classes: {sorted(sizes)}")
    label_table, label_names = read_labels_csv(Path(labels)) if labels else ({**cand.labels, **ref.labels}, {})
    ids = list(dict.fromkeys([*ref.ids, *cand.ids]))
    rows_a, rows_b = dict(zip(ref.ids, ref.rows)), dict(zip(cand.ids, cand.rows))
    outcomes = pair_outcomes(
        ids,
        [label_table.get(i, label_table.get(Path(i).name)) for i in ids],
        [rows_a.get(i, f"missing from {ref.source}") for i in ids],
        [rows_b.get(i, f"missing from {cand.source}") for i in ids],
    )
    default = tolerance if isinstance(tolerance, Tolerance) else Tolerance.parse(tolerance, max_flips, gate, confidence)
    recipe = ResolvedRecipe(Recipe.from_dict(ref.recipe["values"]), ref.recipe["sources"]) if ref.recipe else None
    return Report(
        model={**ref.model, "run": ref.source, "candidate_run": cand.source, "candidate_model": cand.model},
        data={"source": f"{ref.source} vs {cand.source}", "images": len(ids), "labelled": sum(i in label_table for i in ids)},
        recipe=recipe,
        reference=ref.stack,
        candidates=[candidate_report({**cand.stack, "name": cand.stack.get("name", "candidate")}, outcomes, default)],
        environment=ref.environment,
        timings={},
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        class_names={**cand.class_names, **ref.class_names, **label_names},
    )
