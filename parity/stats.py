"""Binomial statistics for paired predictions, in pure Python: no SciPy needed at run time."""

from __future__ import annotations

import math
from statistics import NormalDist


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided Wilson score interval for a binomial proportion; (0, 1) when there are no trials."""
    if trials == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact at the edges, where rounding
    high = 1.0 if successes == trials else min(1.0, centre + half)  # would exclude p itself
    return low, high


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed in log space."""
    if k < 0:
        return 0.0
    if k >= n or p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q for i in range(k + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def clopper_pearson_upper(successes: int, trials: int, confidence: float = 0.95) -> float:
    """One-sided exact (Clopper-Pearson) upper confidence bound: the p at which P(X <= k) = 1 - confidence.

    Equal to ``scipy.stats.beta.ppf(confidence, k + 1, n - k)``; found by bisection to 1e-12.
    """
    if trials == 0 or successes >= trials:
        return 1.0
    alpha = 1.0 - confidence
    low, high = successes / trials, 1.0
    while high - low > 1e-12:
        middle = (low + high) / 2
        if binomial_cdf(successes, trials, middle) > alpha:
            low = middle
        else:
            high = middle
    return high


def mcnemar_exact(right_to_wrong: int, wrong_to_right: int) -> float:
    """Two-sided exact McNemar p-value: is one direction of label-changing flips more common than the other?

    ``min(1, 2 * P(X <= min(b, c)))`` with X ~ Binomial(b + c, 1/2); 1.0 when nothing changed.
    """
    discordant = right_to_wrong + wrong_to_right
    if discordant == 0:
        return 1.0
    return min(1.0, 2 * binomial_cdf(min(right_to_wrong, wrong_to_right), discordant, 0.5))


def images_to_certify(rate: float, confidence: float = 0.95, flips: int = 0) -> int:
    """The fewest images on which ``flips`` flips still put the one-sided exact upper bound at or below ``rate``."""
    if not 0 < rate < 1:
        raise ValueError("rate must lie strictly between 0 and 1")
    if flips == 0:  # (1 - rate)^n <= 1 - confidence, in closed form
        return math.ceil(math.log(1 - confidence) / math.log1p(-rate))
    low, high = flips + 1, max(flips + 2, 16)
    while clopper_pearson_upper(flips, high, confidence) > rate:
        high *= 2
    while low < high:
        middle = (low + high) // 2
        if clopper_pearson_upper(flips, middle, confidence) <= rate:
            high = middle
        else:
            low = middle + 1
    return low
