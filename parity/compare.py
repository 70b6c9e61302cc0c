"""Metrics and verdicts for a candidate against the reference: pure numpy, no I/O."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from parity.errors import ParityError

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
    return (np.exp(log_p) * (log_p - log_q)).sum(axis=1)


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


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; (0, 1) when there are no trials."""
    if trials == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Tolerance:
    """How much disagreement a candidate may show: a rate (flips / images) or a count of flips."""

    rate: float | None = 0.01
    max_flips: int | None = None

    @classmethod
    def parse(cls, rate: str | None = None, max_flips: int | None = None) -> Tolerance:
        """From ``--tolerance`` (``0.5%`` or ``0.005``) or ``--max-flips N``; the default is 1%."""
        if rate is not None and max_flips is not None:
            raise ParityError("give either --tolerance or --max-flips, not both")
        if max_flips is not None:
            if max_flips < 0:
                raise ParityError("--max-flips must be 0 or more")
            return cls(rate=None, max_flips=max_flips)
        if rate is None:
            return cls()
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(%?)\s*", rate)
        if not match:
            raise ParityError(f"--tolerance {rate!r}: give a rate such as 0.5% or 0.005")
        percent = bool(match.group(2))
        value = float(match.group(1)) / (100 if percent else 1)
        if not percent and value >= 1:
            raise ParityError(f"--tolerance {rate!r}: a bare number is a fraction (0.01 = 1%); write {rate.strip()}% for percent")
        if not 0 <= value <= 1:
            raise ParityError(f"--tolerance {rate!r}: a rate must lie between 0 and 100%")
        return cls(rate=value, max_flips=None)

    def allows(self, disagreements: int, images: int) -> bool:
        if self.max_flips is not None:
            return disagreements <= self.max_flips
        assert self.rate is not None
        return images > 0 and disagreements <= self.rate * images + 1e-12

    def describe(self) -> str:
        if self.max_flips is not None:
            return f"at most {self.max_flips} flip(s)"
        return f"flip rate at most {self.rate * 100:g}%"


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


def summarize(outcomes: list[ImageOutcome], confidence: float = 0.95) -> CandidateMetrics:
    """Aggregate per-image outcomes.

    The flip rate is disagreements (flips plus images only one side could process) over the
    images at least one side processed. Accuracy counts a failed image as wrong for that side;
    Δaccuracy is reference minus candidate, so positive means deployment is worse.
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
    )


@dataclass(frozen=True)
class Verdict:
    """Pass or fail of one candidate, with the sentence that explains it."""

    passed: bool
    reason: str


def judge(metrics: CandidateMetrics, tolerance: Tolerance) -> Verdict:
    """Compare a candidate's disagreements with the tolerance."""
    observed = f"{metrics.disagreements} of {metrics.images} images disagree ({metrics.flip_rate:.2%})"
    if metrics.images == 0:
        return Verdict(False, "no image could be processed by either side")
    passed = tolerance.allows(metrics.disagreements, metrics.images)
    return Verdict(passed, f"{observed}; tolerance: {tolerance.describe()}")
