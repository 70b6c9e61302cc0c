"""The public API: what the CLI, the pytest plugin and users' scripts call."""

from __future__ import annotations

import hashlib
import tomllib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from parity import environment, registry
from parity.compare import Tolerance, judge, summarize
from parity.data import Dataset, discover
from parity.engine import evaluate
from parity.errors import ParityError
from parity.report import CandidateReport, Report
from parity.spec import REFERENCE_PRESET, Stack, resolve_recipe, resolve_stack


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


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_recipe_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParityError(f"{path}: recipe file not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ParityError(f"{path}: not a readable TOML recipe ({exc})") from None
    return data.get("recipe", data)


def check(
    model: str | Path,
    deploy: Sequence[str | Stack],
    data: str | Path | Dataset,
    train: str | Stack = REFERENCE_PRESET,
    labels: str | Path | None = None,
    labels_from_folders: bool = False,
    limit: int | None = None,
    tolerance: Tolerance | str | float | None = None,
    max_flips: int | None = None,
    recipe: Mapping[str, Any] | None = None,
    recipe_file: str | Path | None = None,
    batch_size: int = 8,
    workers: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> Report:
    """Run the ``train`` stack and each ``deploy`` stack over the images and judge each candidate.

    ``model`` is an ONNX file. ``tolerance`` is a :class:`Tolerance`, a rate (``"0.5%"``, ``0.005``)
    or ``None`` for the default 1%; ``max_flips`` allows a count of flips instead. The recipe is resolved as: ``recipe`` fields (flags) > ``recipe_file``
    > the recipe stored in the model's metadata > the documented defaults. ``on_start`` receives the
    number of images, ``on_progress`` the number finished since the last call.
    """
    model_path = Path(model)
    if model_path.is_dir():
        raise ParityError(f"{model_path}: is a folder, not a model file")
    if not model_path.is_file():
        raise ParityError(f"{model_path}: model file not found")
    if not deploy:
        raise ParityError("give at least one deployment stack (--deploy)")
    if batch_size < 1:
        raise ParityError("--batch-size must be at least 1")
    if workers is not None and workers < 1:
        raise ParityError("--workers must be at least 1")
    if not isinstance(tolerance, Tolerance):
        tolerance = Tolerance.parse(None if tolerance is None else str(tolerance), max_flips)
    reference = train if isinstance(train, Stack) else resolve_stack(train)
    candidates = [d if isinstance(d, Stack) else resolve_stack(d) for d in deploy]
    stacks = [reference, *candidates]
    described = [describe_stack(s) for s in stacks]
    dataset = data if isinstance(data, Dataset) else discover(
        Path(data), Path(labels) if labels else None, labels_from_folders, limit
    )

    runners = {name: registry.get("runtime", name).function(model_path) for name in dict.fromkeys(s.runtime for s in stacks)}
    main_runner = runners[reference.runtime]
    resolved = resolve_recipe(
        overrides=recipe,
        model_recipe=main_runner.recipe_metadata(),
        file_recipe=_read_recipe_file(Path(recipe_file)) if recipe_file else None,
    )
    if on_start:
        on_start(len(dataset.items))
    result = evaluate(runners, dataset, reference, candidates, resolved.recipe, batch_size, workers, on_progress)

    candidate_reports = []
    for stack_info, outcomes in zip(described[1:], result.outcomes):
        metrics = summarize(outcomes)
        candidate_reports.append(
            CandidateReport(
                stack=stack_info,
                metrics=metrics,
                verdict=judge(metrics, tolerance),
                disagreements=[o for o in outcomes if o.disagrees],
                failed_both=[o for o in outcomes if o.status == "failed-both"],
            )
        )
    return Report(
        model={"path": str(model_path), "sha256": file_sha256(model_path), "runtime": result.runtime_info},
        data={"source": dataset.source, "images": len(dataset.items), "labelled": sum(i.label is not None for i in dataset.items)},
        recipe=resolved,
        reference=described[0],
        tolerance=tolerance,
        candidates=candidate_reports,
        environment=environment.fingerprint(),
        timings={k: round(v, 3) for k, v in result.timings.items()},
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        class_names=dataset.class_names,
    )
