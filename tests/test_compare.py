"""Metrics on hand-computed arrays: flips, Wilson bounds, KL, top-5 overlap, accuracy, tolerance."""

from __future__ import annotations

import math

import numpy as np
import pytest

from parity.compare import (
    ImageOutcome,
    PairMetrics,
    Prediction,
    Tolerance,
    judge,
    kl_divergence,
    pair_metrics,
    predictions,
    summarize,

)
from parity.errors import ParityError
from parity.stats import wilson_interval


def test_wilson_interval_textbook_values() -> None:
    # z = 1.959964; 0/10 -> upper z^2/(n+z^2); 10/10 -> lower n/(n+z^2);
    # 5/10 -> 0.5 -/+ z * sqrt(0.025 + z^2/400) / (1 + z^2/10) = 0.5 -/+ 0.364594 / 1.384146 = 0.5 -/+ 0.263407
    assert wilson_interval(0, 10) == pytest.approx((0.0, 3.841459 / 13.841459), abs=1e-6)
    assert wilson_interval(10, 10) == pytest.approx((10 / 13.841459, 1.0), abs=1e-6)
    assert wilson_interval(5, 10) == pytest.approx((0.236593, 0.763407), abs=1e-6)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_kl_divergence_by_hand() -> None:
    # p = (0.5, 0.5), q = (0.75, 0.25): KL = 0.5 ln(0.5/0.75) + 0.5 ln(0.5/0.25) = 0.5 ln(4/3)
    reference = np.array([[0.0, 0.0], [1.0, 2.0]])
    candidate = np.array([[math.log(3), 0.0], [1.0, 2.0]])
    np.testing.assert_allclose(kl_divergence(reference, candidate), [0.5 * math.log(4 / 3), 0.0], atol=1e-12)


def test_pair_metrics_by_hand() -> None:
    reference = np.array([[6, 5, 4, 3, 2, 1, 0]], dtype=np.float32)
    candidate = np.array([[6, 5, 4, 3, 0, 1, 2.5]], dtype=np.float32)  # top-5 {0,1,2,3,6} vs {0,1,2,3,4}
    (metrics,) = pair_metrics(reference, candidate)
    assert metrics.top5_overlap == pytest.approx(4 / 5)
    assert metrics.max_abs_diff == pytest.approx(2.5)
    assert metrics.mean_abs_diff == pytest.approx((2 + 0 + 2.5) / 7)


def test_predictions_top_k_and_probabilities() -> None:
    (prediction,) = predictions(np.array([[0.0, math.log(3), 0.0]]), k=2)
    assert prediction.classes == (1, 0)  # tie between 0 and 2 broken by the lower index
    assert prediction.probabilities == pytest.approx((0.6, 0.2))


def _outcome(ref: int | None, cand: int | None, label: int | None = None, kl: float = 0.0) -> ImageOutcome:
    side = lambda c: None if c is None else Prediction((c,), (1.0,))  # noqa: E731
    metrics = PairMetrics(1.0, 0.0, 0.0, kl) if ref is not None and cand is not None else None
    return ImageOutcome(
        image=f"{ref}-{cand}", label=label, reference=side(ref), candidate=side(cand), metrics=metrics,
        reference_error=None if ref is not None else "decode: broken",
        candidate_error=None if cand is not None else "decode: broken",
    )


def test_summarize_counts_flips_failures_and_accuracy() -> None:
    outcomes = [
        _outcome(1, 1, label=1, kl=0.1),  # agree, both right
        _outcome(1, 2, label=1, kl=0.3),  # flip, right -> wrong
        _outcome(3, 4, label=4, kl=0.2),  # flip, wrong -> right
        _outcome(5, 5, label=0, kl=0.0),  # agree, both wrong
        _outcome(6, None, label=6),  # candidate failed: a disagreement, wrong for the candidate
        _outcome(None, None, label=7),  # both failed: not judged
    ]
    m = summarize(outcomes)
    assert (m.images, m.compared, m.flips) == (5, 4, 2)
    assert (m.failed_reference, m.failed_candidate, m.failed_both) == (0, 1, 1)
    assert m.disagreements == 3
    assert m.flip_rate == pytest.approx(3 / 5)
    assert (m.flip_rate_low, m.flip_rate_high) == pytest.approx(wilson_interval(3, 5))
    assert (m.reference_correct, m.candidate_correct, m.labelled) == (3, 2, 5)
    assert m.delta_accuracy == pytest.approx((3 - 2) / 5)
    assert m.mean_kl == pytest.approx(0.15)


def test_summarize_without_labels_has_no_accuracy() -> None:
    m = summarize([_outcome(1, 1), _outcome(1, 2)])
    assert m.reference_accuracy is None and m.delta_accuracy is None
    assert m.flips == 1 and m.flip_rate == 0.5


@pytest.mark.parametrize(
    ("text", "rate"), [("0.5%", 0.005), ("0.005", 0.005), ("1%", 0.01), ("0", 0.0), (" 2.5 % ", 0.025)]
)
def test_tolerance_parses_rates(text: str, rate: float) -> None:
    assert Tolerance.parse(text).rate == pytest.approx(rate)


@pytest.mark.parametrize("text", ["abc", "150%", "-1%", "1.5", "1", "nan"])
def test_tolerance_rejects_nonsense(text: str) -> None:
    with pytest.raises(ParityError, match="--tolerance"):
        Tolerance.parse(text)


def test_tolerance_default_is_one_percent_and_flips_count_alternative() -> None:
    assert Tolerance.parse() == Tolerance(rate=0.01, max_flips=None)
    assert Tolerance.parse(max_flips=3) == Tolerance(rate=None, max_flips=3)
    with pytest.raises(ParityError):
        Tolerance.parse("1%", 3)


def test_judge_at_the_boundary() -> None:
    five_of_500 = summarize([_outcome(1, 2)] * 5 + [_outcome(1, 1)] * 495)
    assert judge(five_of_500, Tolerance(rate=0.01)).passed  # 1.0% <= 1%
    six_of_500 = summarize([_outcome(1, 2)] * 6 + [_outcome(1, 1)] * 494)
    assert not judge(six_of_500, Tolerance(rate=0.01)).passed
    assert judge(six_of_500, Tolerance(rate=None, max_flips=6)).passed
    assert not judge(six_of_500, Tolerance(rate=None, max_flips=5)).passed
