"""Statistics pinned against SciPy (computed in the test) and against values worked by hand."""

from __future__ import annotations

import math

import pytest

scipy_stats = pytest.importorskip("scipy.stats", reason="scipy comes with the dev extra")

from parity.stats import binomial_cdf, clopper_pearson_upper, images_to_certify, mcnemar_exact  # noqa: E402

CASES = [(0, 10), (1, 10), (5, 10), (13, 500), (5, 500), (0, 598), (34, 500), (2, 1000), (99, 100)]


@pytest.mark.parametrize(("k", "n"), CASES)
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_clopper_pearson_upper_equals_the_beta_quantile(k: int, n: int, confidence: float) -> None:
    assert clopper_pearson_upper(k, n, confidence) == pytest.approx(scipy_stats.beta.ppf(confidence, k + 1, n - k), abs=1e-9)


def test_clopper_pearson_by_hand() -> None:
    # With no successes the bound solves (1 - p)^n = alpha: p = 1 - 0.05^(1/n).
    assert clopper_pearson_upper(0, 10) == pytest.approx(1 - 0.05 ** (1 / 10), abs=1e-12)
    assert clopper_pearson_upper(13, 500) == pytest.approx(0.041020, abs=1e-6)  # the 4.1% in the gate example
    assert clopper_pearson_upper(10, 10) == 1.0 and clopper_pearson_upper(0, 0) == 1.0


@pytest.mark.parametrize(("k", "n", "p"), [(0, 10, 0.3), (3, 10, 0.5), (13, 500, 0.03), (250, 500, 0.5), (7, 7, 0.2)])
def test_binomial_cdf_equals_scipy(k: int, n: int, p: float) -> None:
    assert binomial_cdf(k, n, p) == pytest.approx(scipy_stats.binom.cdf(k, n, p), rel=1e-10, abs=1e-15)


@pytest.mark.parametrize(("b", "c"), [(5, 4), (2, 1), (10, 0), (3, 10), (20, 35), (1, 1)])
def test_mcnemar_exact_equals_a_two_sided_binomial_test(b: int, c: int) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(scipy_stats.binomtest(b, b + c, 0.5).pvalue, rel=1e-10)


def test_mcnemar_by_hand() -> None:
    # b = 10, c = 0: 2 * 0.5^10 = 0.001953125; nothing discordant: no evidence at all.
    assert mcnemar_exact(10, 0) == pytest.approx(2 * 0.5**10)
    assert mcnemar_exact(0, 0) == 1.0


def test_images_to_certify() -> None:
    # 0 flips: (1 - 0.005)^n <= 0.05  ->  n >= ln 0.05 / ln 0.995 = 597.6
    assert images_to_certify(0.005) == math.ceil(math.log(0.05) / math.log(0.995)) == 598
    for flips in (0, 2, 13):
        n = images_to_certify(0.01, 0.95, flips)
        assert clopper_pearson_upper(flips, n) <= 0.01 < clopper_pearson_upper(flips, n - 1)
