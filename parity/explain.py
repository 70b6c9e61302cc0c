"""Stage attribution and verified fixes: which stage causes a candidate's flips, and which nearby
deployment stacks measurably flip less.

For a candidate, each stage group where it differs from the reference (decode, colour, resize,
crop + normalize, runtime) is swapped alone into the reference; the flips of each such hybrid are the
flips that stage causes alone. Flips the candidate shows that no single stage causes come from the
stages interacting. Each other implementation of a differing stage from the same library is tried in the candidate's
place, and those of the stages that flip images alone are suggested, ranked by measured flips.
Everything runs as one shared check, so each image is decoded once per decoder and the reference
runs once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

from parity import api, registry
from parity.errors import ParityError
from parity.report import Report
from parity.spec import PRESETS, Stack, resolve_stack

STAGE_GROUPS: tuple[tuple[str, ...], ...] = (("decode",), ("colour",), ("resize",), ("crop", "normalize"), ("runtime",))
# Runtime variants that change the model's graph or need hardware are not fixes to suggest.
NOT_SUGGESTED = ("onnxruntime:ceil-mode", "onnxruntime:upsample-mode", "onnxruntime:embedded")
EMBEDDED_STAGES = {"resize": "none", "crop": "none", "normalize": "none", "runtime": "onnxruntime:embedded"}
EMBEDDED_CHANGE = "resize, crop and normalize inside the model (parity embed)"


@dataclass(frozen=True)
class StageEffect:
    """One stage group of the candidate swapped alone into the reference."""

    stages: tuple[str, ...]
    reference: str
    candidate: str
    flips: int
    images: list[str]


@dataclass(frozen=True)
class Suggestion:
    """A nearby deployment stack and its measured disagreements with the reference."""

    stack: str
    changed: str
    disagreements: int
    images: int


@dataclass
class Explanation:
    """Why one candidate flips: per stage alone, the interaction, per image, and measured alternatives."""

    candidate: str
    disagreements: int
    images: int
    effects: list[StageEffect]
    interaction: list[str]  # flipped by the candidate, by no single stage alone
    cancelled: list[str]  # flipped by some single stage, not by the whole candidate
    per_image: dict[str, list[str]]  # flipped image -> the stage groups that flip it alone
    suggestions: list[Suggestion]
    report: Report

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["report"] = self.report.to_dict()
        return data


def _label(stages: tuple[str, ...]) -> str:
    return "+".join(stages)


def _flipped(report: Report, name: str) -> list[str]:
    candidate = next(c for c in report.candidates if c.stack["name"] == name)
    return sorted(o.image for o in candidate.disagreements)


def _alternatives(candidate: Stack, stages: tuple[str, ...], reference: Stack) -> list[tuple[Stack, str]]:
    """The candidate with one stage replaced by each other runnable implementation of the same library."""
    found = []
    for stage in stages:
        if candidate.normalize == "none" and stage in ("resize", "crop", "normalize", "runtime"):
            continue  # inside the model: swapping one of them alone makes no pipeline
        current = getattr(candidate, stage)
        if current == getattr(reference, stage):
            continue
        for name in registry.implementations(stage, registry.library_of(current)):
            if name != current and name not in NOT_SUGGESTED:
                changed = f"{stage} {current} -> {name}"
                stack = dataclasses.replace(candidate, **{stage: name})
                found.append((dataclasses.replace(stack, name=_preset_named(stack) or f"{candidate.name} [{changed}]"), changed))
    return found


def _preset_named(stack: Stack) -> str | None:
    """The preset, or a decoder preset + another preset, that resolves to exactly these stages, if any."""
    names = list(PRESETS)
    decoders = [name for name in names if set(PRESETS[name].stages) == {"decode"}]
    for spec in [*names, *(f"{d}+{name}" for d in decoders for name in names)]:
        if resolve_stack(spec).stages() == stack.stages():
            return spec
    return None


def explain(model: Any, deploy: str | Stack, data: Any, train: str | Stack | None = None,
            on_progress: Callable[[int], None] | None = None, on_start: Callable[[int], None] | None = None,
            suggest: bool = True, **options: Any) -> Explanation:
    """Attribute ``deploy``'s flips against ``train`` to its stages and (with ``suggest``) measure nearby
    stacks, in one shared run. ``options`` are :func:`parity.check`'s keyword arguments."""
    candidate = deploy if isinstance(deploy, Stack) else resolve_stack(deploy)
    reference = train if isinstance(train, Stack) else resolve_stack(train or "pil-bilinear")
    hybrids: list[tuple[tuple[str, ...], Stack]] = []
    groups = STAGE_GROUPS
    if candidate.normalize == "none":  # preprocessing inside the model: those stages and the runtime move together
        groups = (("decode",), ("colour",), ("resize", "crop", "normalize", "runtime"))
    for stages in groups:
        if all(getattr(candidate, s) == getattr(reference, s) for s in stages):
            continue
        swapped = {s: getattr(candidate, s) for s in stages}
        hybrids.append((stages, dataclasses.replace(reference, name=f"{reference.name} with the candidate's {_label(stages)}", **swapped)))
    if not hybrids:
        raise ParityError(f"{candidate.name!r} runs the same stages as the reference {reference.name!r}; nothing to attribute")
    differing = tuple(s for stages, _ in hybrids for s in stages)
    alternatives = _alternatives(candidate, differing, reference) if suggest else []
    if suggest and "resize" in differing and candidate.runtime == "onnxruntime":
        inside = dataclasses.replace(candidate, **EMBEDDED_STAGES)
        alternatives.append((dataclasses.replace(inside, name=_preset_named(inside) or f"{candidate.name} [embedded]"), EMBEDDED_CHANGE))
    stacks = [candidate, *(h for _, h in hybrids), *(stack for stack, _ in alternatives)]
    report = api.check(model, stacks, data, train=train, on_progress=on_progress, on_start=on_start,
                       skip_inapplicable=True, **options)
    if candidate.name in report.skipped:
        raise ParityError(f"{candidate.name}: {report.skipped[candidate.name]}")
    by_name = {c.stack["name"]: c for c in report.candidates}
    total = by_name[candidate.name]
    flipped_by = set(_flipped(report, candidate.name))
    effects = [
        StageEffect(stages, "+".join(getattr(reference, s) for s in stages), "+".join(getattr(candidate, s) for s in stages),
                    by_name[h.name].metrics.disagreements, _flipped(report, h.name))
        for stages, h in hybrids if h.name in by_name
    ]
    alone = {image for e in effects for image in e.images}
    per_image = {image: [_label(e.stages) for e in effects if image in e.images] for image in sorted(flipped_by)}
    causes = {s for e in effects if e.flips for s in e.stages}
    suggestions = [Suggestion(candidate.name, "as deployed", total.metrics.disagreements, total.metrics.images)]
    suggestions += [
        Suggestion(stack.name, changed, by_name[stack.name].metrics.disagreements, by_name[stack.name].metrics.images)
        for stack, changed in alternatives
        if stack.name in by_name and (changed.split(" ", 1)[0] in causes or (changed == EMBEDDED_CHANGE and "resize" in causes))
    ]
    suggestions.sort(key=lambda s: (s.disagreements, s.stack))
    report.candidates = [c for c in report.candidates if c.stack["name"] in {candidate.name, *(h.name for _, h in hybrids)}]
    return Explanation(
        candidate=candidate.name, disagreements=total.metrics.disagreements, images=total.metrics.images,
        effects=effects, interaction=sorted(flipped_by - alone), cancelled=sorted(alone - flipped_by),
        per_image=per_image, suggestions=suggestions, report=report,
    )

