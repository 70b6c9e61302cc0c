"""The Report: everything one check found. Every output format is a view of it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parity.compare import CandidateMetrics, ImageOutcome, Tolerance, Verdict
from parity.errors import ParityError
from parity.spec import ResolvedRecipe, Stack

SCHEMA_VERSION = "parity.report/1"


def write_text(path: Path, text: str, what: str) -> None:
    """Write one report view to ``path``, creating its folder; a failure is a one-line error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ParityError(f"{path}: cannot write the {what} report ({exc.strerror or exc})") from None


@dataclass
class CandidateReport:
    """One candidate stack against the reference."""

    stack: dict[str, Any]
    tolerance: Tolerance
    metrics: CandidateMetrics
    verdict: Verdict
    disagreements: list[ImageOutcome]
    failed_both: list[ImageOutcome]


@dataclass
class Report:
    """A whole check: model, data, recipe, stacks, per-candidate results, environment, timings."""

    model: dict[str, Any]
    data: dict[str, Any]
    recipe: ResolvedRecipe | None
    reference: dict[str, Any]
    candidates: list[CandidateReport]
    environment: dict[str, str]
    timings: dict[str, float]
    created: str
    class_names: dict[int, str] = field(default_factory=dict)
    saved_runs: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    work: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def interruption(self) -> str | None:
        """What an interrupted report covers, in words; ``None`` for a complete one."""
        if not self.interrupted:
            return None
        finished = self.candidates[0].metrics.images + self.candidates[0].metrics.failed_both if self.candidates else 0
        if self.candidates and finished == self.data["images"]:
            return f"INCOMPLETE: interrupted before the run ended; the candidates shown cover all {finished} images"
        return f"INCOMPLETE: interrupted after {finished} of {self.data['images']} images; the figures cover those only"

    @property
    def work_summary(self) -> str | None:
        """The inferences the run did and the ones it skipped, in words; ``None`` when it skipped none."""
        reused, cached = self.work.get("identical_inputs_reused", 0), self.work.get("outputs_from_cache", 0)
        if not (reused or cached):
            return None
        parts = [f"{self.work.get('inferences', 0)} inferences run"]
        if reused:
            parts.append(f"{reused} skipped because the model input was bit-identical to one already run on the same runtime")
        if cached:
            parts.append(f"{cached} outputs taken from the output cache")
        return "; ".join(parts)

    @property
    def passed(self) -> bool:
        return not self.interrupted and all(c.verdict.passed for c in self.candidates)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view; the layout is versioned by ``schema``."""
        return {
            "schema": SCHEMA_VERSION,
            "created": self.created,
            "passed": self.passed,
            "model": self.model,
            "data": self.data,
            "recipe": {"values": self.recipe.recipe.to_dict(), "sources": self.recipe.sources} if self.recipe else None,
            "reference": self.reference,
            "candidates": [
                {
                    "stack": c.stack,
                    "tolerance": dataclasses.asdict(c.tolerance),
                    "verdict": dataclasses.asdict(c.verdict),
                    "metrics": dataclasses.asdict(c.metrics),
                    "disagreements": [_outcome_dict(o) for o in c.disagreements],
                    "failed_both": [_outcome_dict(o) for o in c.failed_both],
                }
                for c in self.candidates
            ],
            "environment": self.environment,
            "timings": self.timings,
            "work": self.work,
            **({"skipped": self.skipped} if self.skipped else {}),
            **({"incomplete": True} if self.interrupted else {}),
        }


def _outcome_dict(outcome: ImageOutcome) -> dict[str, Any]:
    def side(prediction: Any, error: str | None) -> dict[str, Any]:
        if prediction is None:
            return {"error": error}
        return {"top5": list(prediction.classes), "probabilities": [round(p, 6) for p in prediction.probabilities]}

    return {
        "image": outcome.image,
        "status": outcome.status,
        "label": outcome.label,
        "reference": side(outcome.reference, outcome.reference_error),
        "candidate": side(outcome.candidate, outcome.candidate_error),
        "metrics": dataclasses.asdict(outcome.metrics) if outcome.metrics else None,
        **({"note": outcome.note} if outcome.note else {}),
    }


def described_stack(described: dict[str, Any]) -> Stack:
    """The :class:`Stack` behind a report's described stack (its name and each stage's implementation)."""
    return Stack(name=described["name"], **{stage: info["implementation"] for stage, info in described["stages"].items()})
