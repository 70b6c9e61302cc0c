"""Metrics and verdicts for a candidate against the reference: pure numpy, no I/O."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from parity.errors import ParityError
from parity.stats import clopper_pearson_upper, mcnemar_exact, wilson_interval

TOP_K = 5


@dataclass(frozen=True)
class Prediction:
    """One side's output for one image: top-k class indices and softmax probabilities."""

    classes: tuple[int, ...]
    probabilities: tuple[float, ...]

    @property
    def top1(self) -> int:
        return self.classes[0]

    @property
    def confidence(self) -> float:
        return self.probabilities[0]


@dataclass(frozen=True)
class PairMetrics:
    """Per-image agreement between two sides' logits."""

    top5_overlap: float
    max_abs_diff: float
    mean_abs_diff: float
    kl: float


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64."""
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def predictions(logits: np.ndarray, k: int = TOP_K) -> list[Prediction]:
    """Top-k (ties broken by the lower class index) for each row of an N x C logits array."""
    probs = softmax(logits)
    k = min(k, logits.shape[1])
    order = np.argsort(-logits, axis=1, kind="stable")[:, :k]
    return [
        Prediction(tuple(int(c) for c in row), tuple(float(probs[i, c]) for c in row))
        for i, row in enumerate(order)
    ]


def kl_divergence(reference_logits: np.ndarray, candidate_logits: np.ndarray) -> np.ndarray:
    """KL(p_reference || p_candidate) per row, in nats, from logits via log-softmax in float64."""
    def log_softmax(x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float64)
        shifted = x - x.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    log_p, log_q = log_softmax(reference_logits), log_softmax(candidate_logits)
    return np.maximum((np.exp(log_p) * (log_p - log_q)).sum(axis=1), 0.0)  # >= 0; rounding can dip below


def pair_metrics(reference_logits: np.ndarray, candidate_logits: np.ndarray, k: int = TOP_K) -> list[PairMetrics]:
    """Top-k overlap (|top-k ref ∩ top-k cand| / k), max and mean absolute logit difference and KL per image."""
    if reference_logits.shape != candidate_logits.shape:
        raise ParityError(f"logit shapes differ: reference {reference_logits.shape}, candidate {candidate_logits.shape}")
    k = min(k, reference_logits.shape[1])
    top_ref = np.argsort(-reference_logits, axis=1, kind="stable")[:, :k]
    top_cand = np.argsort(-candidate_logits, axis=1, kind="stable")[:, :k]
    diff = np.abs(reference_logits.astype(np.float64) - candidate_logits.astype(np.float64))
    kl = kl_divergence(reference_logits, candidate_logits)
    return [
        PairMetrics(
            top5_overlap=len(set(top_ref[i].tolist()) & set(top_cand[i].tolist())) / k,
            max_abs_diff=float(diff[i].max()),
            mean_abs_diff=float(diff[i].mean()),
            kl=float(kl[i]),
        )
        for i in range(len(diff))
    ]


GATES = ("point", "upper")


def parse_rate(text: str | float, flag: str) -> float:
    """``0.5%`` or ``0.005`` (text, or a number) as a fraction; a bare number must be below 1."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if not math.isfinite(text) or not 0 <= text < 1:
            raise ParityError(f"{flag} {text!r}: a rate as a number is a fraction from 0 to below 1 (0.01 = 1%)")
        return float(text)
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(%?)\s*", str(text))
    if not match:
        raise ParityError(f"{flag} {text!r}: give a rate such as 0.5% or 0.005")
    percent = bool(match.group(2))
    value = float(Decimal(match.group(1)) / 100) if percent else float(match.group(1))
    if not percent and value >= 1:
        raise ParityError(f"{flag} {text!r}: a bare number is a fraction (0.01 = 1%); write {str(text).strip()}% for percent")
    if not 0 <= value <= 1:
        raise ParityError(f"{flag} {text!r}: a rate must lie between 0 and 100%")
    return value


@dataclass(frozen=True)
class Tolerance:
    """How much disagreement a candidate may show, and how it is judged.

    ``rate`` (flips / images) or ``max_flips`` (a count). ``gate="point"`` judges the observed
    disagreements; ``gate="upper"`` judges the one-sided exact (Clopper-Pearson) upper bound at
    ``confidence``, so a small sample cannot pass by luck.
    """

    rate: float | None = 0.01
    max_flips: int | None = None
    gate: str = "point"
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if self.gate not in GATES:
            raise ParityError(f"--gate must be one of {', '.join(GATES)}, not {self.gate!r}")
        if not 0.5 <= self.confidence < 1:
            raise ParityError(f"--confidence must lie between 50% and 100%, not {self.confidence!r}")

    @classmethod
    def parse(
        cls, rate: str | float | None = None, max_flips: int | None = None, gate: str | None = None, confidence: str | float | None = None
    ) -> Tolerance:
        """From ``--tolerance`` (``0.5%`` or ``0.005``) or ``--max-flips N``, ``--gate`` and ``--confidence``; the default is 1%, point."""
        if rate is not None and max_flips is not None:
            raise ParityError("give either --tolerance or --max-flips, not both")
        if max_flips is not None and (isinstance(max_flips, bool) or not isinstance(max_flips, int) or max_flips < 0):
            raise ParityError(f"--max-flips must be a whole number, 0 or more, not {max_flips!r}")
        level = 0.95 if confidence is None else parse_rate(confidence, "--confidence")
        options = {"gate": gate or "point", "confidence": level}
        if max_flips is not None:
            return cls(rate=None, max_flips=max_flips, **options)
        return cls(rate=0.01 if rate is None else parse_rate(rate, "--tolerance"), max_flips=None, **options)

    def allows(self, metrics: CandidateMetrics) -> bool:
        if metrics.images == 0:
            return False
        if self.gate == "upper":
            observed = clopper_pearson_upper(metrics.disagreements, metrics.images, self.confidence)
            if self.max_flips is not None:
                return observed * metrics.images <= self.max_flips + 1e-9
        else:
            observed = metrics.disagreements / metrics.images
            if self.max_flips is not None:
                return metrics.disagreements <= self.max_flips
        assert self.rate is not None
        return observed <= self.rate + 1e-12

    def describe(self) -> str:
        limit = f"at most {self.max_flips} flip(s)" if self.max_flips is not None else f"flip rate at most {self.rate * 100:g}%"
        if self.gate == "upper":
            return f"{limit}, judged on the one-sided {self.confidence * 100:g}% upper bound"
        return limit


@dataclass(frozen=True)
class ImageOutcome:
    """One image, reference against one candidate."""

    image: str
    label: int | None
    reference: Prediction | None
    candidate: Prediction | None
    metrics: PairMetrics | None
    reference_error: str | None = None
    candidate_error: str | None = None
    note: str | None = None  # what one side did and the other did not (EXIF rotation)

    @property
    def status(self) -> str:
        if self.reference is not None and self.candidate is not None:
            return "flipped" if self.reference.top1 != self.candidate.top1 else "agreed"
        if self.reference is None and self.candidate is None:
            return "failed-both"
        return "failed-reference" if self.reference is None else "failed-candidate"

    @property
    def disagrees(self) -> bool:
        """A flip, or an image that only one side could process."""
        return self.status in ("flipped", "failed-reference", "failed-candidate")


def pair_outcomes(
    ids: list[str], labels: list[int | None], reference: list[np.ndarray | str], candidate: list[np.ndarray | str]
) -> list[ImageOutcome]:
    """Per-image outcomes from two sides' logits rows; a string in place of a row is that side's failure."""
    def side(column: list[np.ndarray | str]) -> tuple[dict[int, Prediction], dict[int, str]]:
        ok = [i for i, v in enumerate(column) if not isinstance(v, str)]
        found = dict(zip(ok, predictions(np.stack([column[i] for i in ok])))) if ok else {}
        return found, {i: v for i, v in enumerate(column) if isinstance(v, str)}

    (ref_pred, ref_err), (cand_pred, cand_err) = side(reference), side(candidate)
    both = [i for i in range(len(ids)) if i in ref_pred and i in cand_pred]
    metrics = {}
    if both:
        paired = pair_metrics(np.stack([reference[i] for i in both]), np.stack([candidate[i] for i in both]))
        metrics = dict(zip(both, paired))
    return [
        ImageOutcome(ids[i], labels[i], ref_pred.get(i), cand_pred.get(i), metrics.get(i), ref_err.get(i), cand_err.get(i))
        for i in range(len(ids))
    ]


@dataclass(frozen=True)
class CandidateMetrics:
    """Aggregate comparison of one candidate against the reference."""

    images: int
    compared: int
    flips: int
    failed_reference: int
    failed_candidate: int
    failed_both: int
    disagreements: int
    flip_rate: float
    flip_rate_low: float
    flip_rate_high: float
    flip_rate_upper: float
    top5_agreement: float | None
    mean_abs_logit_diff: float | None
    max_abs_logit_diff: float | None
    mean_kl: float | None
    labelled: int
    reference_correct: int | None
    candidate_correct: int | None
    reference_accuracy: float | None
    candidate_accuracy: float | None
    delta_accuracy: float | None
    right_to_wrong: int | None
    wrong_to_right: int | None
    mcnemar_p: float | None


def summarize(outcomes: list[ImageOutcome], confidence: float = 0.95) -> CandidateMetrics:
    """Aggregate per-image outcomes.

    The flip rate is disagreements (flips plus images only one side could process) over the
    images at least one side processed, with a two-sided Wilson interval and a one-sided exact
    upper bound at ``confidence``. Accuracy counts a failed image as wrong for that side;
    Δaccuracy is reference minus candidate, so positive means deployment is worse. With labels,
    McNemar's exact test compares right-to-wrong with wrong-to-right images.
    """
    counts = {s: 0 for s in ("agreed", "flipped", "failed-reference", "failed-candidate", "failed-both")}
    for outcome in outcomes:
        counts[outcome.status] += 1
    judged = [o for o in outcomes if o.status != "failed-both"]
    disagreements = sum(o.disagrees for o in judged)
    low, high = wilson_interval(disagreements, len(judged), confidence)
    paired = [o.metrics for o in outcomes if o.metrics is not None]
    labelled = [o for o in judged if o.label is not None]
    ref_correct = sum(o.reference is not None and o.reference.top1 == o.label for o in labelled)
    cand_correct = sum(o.candidate is not None and o.candidate.top1 == o.label for o in labelled)
    n_lab = len(labelled)
    ref_right = [o.reference is not None and o.reference.top1 == o.label for o in labelled]
    cand_right = [o.candidate is not None and o.candidate.top1 == o.label for o in labelled]
    right_to_wrong = sum(r and not c for r, c in zip(ref_right, cand_right))
    wrong_to_right = sum(c and not r for r, c in zip(ref_right, cand_right))
    return CandidateMetrics(
        images=len(judged),
        compared=counts["agreed"] + counts["flipped"],
        flips=counts["flipped"],
        failed_reference=counts["failed-reference"],
        failed_candidate=counts["failed-candidate"],
        failed_both=counts["failed-both"],
        disagreements=disagreements,
        flip_rate=disagreements / len(judged) if judged else 0.0,
        flip_rate_low=low,
        flip_rate_high=high,
        flip_rate_upper=clopper_pearson_upper(disagreements, len(judged), confidence) if judged else 1.0,
        top5_agreement=float(np.mean([m.top5_overlap for m in paired])) if paired else None,
        mean_abs_logit_diff=float(np.mean([m.mean_abs_diff for m in paired])) if paired else None,
        max_abs_logit_diff=float(np.max([m.max_abs_diff for m in paired])) if paired else None,
        mean_kl=float(np.mean([m.kl for m in paired])) if paired else None,
        labelled=n_lab,
        reference_correct=ref_correct if n_lab else None,
        candidate_correct=cand_correct if n_lab else None,
        reference_accuracy=ref_correct / n_lab if n_lab else None,
        candidate_accuracy=cand_correct / n_lab if n_lab else None,
        delta_accuracy=(ref_correct - cand_correct) / n_lab if n_lab else None,
        right_to_wrong=right_to_wrong if n_lab else None,
        wrong_to_right=wrong_to_right if n_lab else None,
        mcnemar_p=mcnemar_exact(right_to_wrong, wrong_to_right) if n_lab else None,
    )


@dataclass(frozen=True)
class Verdict:
    """Pass or fail of one candidate, with the sentence that explains it."""

    passed: bool
    reason: str


def judge(metrics: CandidateMetrics, tolerance: Tolerance) -> Verdict:
    """Compare a candidate's disagreements with the tolerance."""
    if metrics.images == 0:
        return Verdict(False, "no image could be processed by either side")
    observed = f"{metrics.disagreements} of {metrics.images} images disagree ({metrics.flip_rate:.2%}"
    if tolerance.gate == "upper":
        observed += f", one-sided {tolerance.confidence * 100:g}% upper bound {metrics.flip_rate_upper:.2%}"
    return Verdict(tolerance.allows(metrics), f"{observed}); tolerance: {tolerance.describe()}")
