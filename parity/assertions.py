"""``assert_parity``: a parity gate as one line in a test."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from parity.api import Candidate, ModelLike, check
from parity.compare import ImageOutcome
from parity.report import Report
from parity.spec import Stack


def _side(outcome: ImageOutcome, reference: bool) -> str:
    prediction = outcome.reference if reference else outcome.candidate
    error = outcome.reference_error if reference else outcome.candidate_error
    return f"failed ({error})" if prediction is None else f"{prediction.top1} ({prediction.confidence:.2f})"


def summary(report: Report, worst: int = 5) -> str:
    """Readable lines for a failed report: each failing candidate, its numbers, its worst images."""
    failing = [c for c in report.candidates if not c.verdict.passed]
    lines = [f"parity: {len(failing)} of {len(report.candidates)} candidate(s) beyond tolerance (reference {report.reference.get('name')})"]
    for candidate in failing:
        lines.append(f"  {candidate.stack['name']}: {candidate.verdict.reason}")
        ranked = sorted(candidate.disagreements, key=lambda o: -(o.metrics.kl if o.metrics else float("inf")))
        for outcome in ranked[:worst]:
            lines.append(f"    {outcome.image}: reference {_side(outcome, True)} -> candidate {_side(outcome, False)}")
    return "\n".join(lines)


def assert_parity(
    model: ModelLike | None,
    deploy: str | Stack | Candidate | Sequence[str | Stack | Candidate],
    data: str | Path,
    tolerance: Any = None,
    **options: Any,
) -> Report:
    """Check ``deploy`` against the training stack and raise ``AssertionError`` with a summary if any
    candidate is beyond ``tolerance``; return the report otherwise. ``options`` are :func:`parity.check`'s."""
    candidates = [deploy] if isinstance(deploy, (str, Stack, Candidate)) else list(deploy)
    report = check(model, candidates, data, tolerance=tolerance, **options)
    if not report.passed:
        raise AssertionError(summary(report))
    return report
