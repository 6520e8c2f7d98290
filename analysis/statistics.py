"""Interval estimates for small-number equality statistics (WRES style).

DOMAIN.md section 3: show n and a 95% confidence interval for every proportion and ratio, so that
a ratio of 1.7 built from 9 and 17 cases is read as the weak evidence it is. These functions are
pure arithmetic: they do not apply disclosure control, so feed them only counts that
`analysis.disclosure` has released.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from analysis import AnalysisError

Z_95: Final = 1.959964
"""The standard normal quantile for a two-sided 95% interval."""


class StatisticsError(AnalysisError):
    """Counts that cannot describe a proportion (negative, or more successes than trials)."""


@dataclass(frozen=True)
class RatioEstimate:
    """A relative likelihood and its confidence interval; ``low <= ratio <= high`` when finite."""

    ratio: float
    low: float
    high: float


def _check(successes: int, n: int) -> None:
    if n < 0 or successes < 0 or successes > n:
        raise StatisticsError(f"need 0 <= successes <= n, got {successes} of {n}")


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval (no continuity correction) for the proportion ``successes / n``.

    Returns ``(low, high)`` with ``0 <= low <= successes / n <= high <= 1``; with z = 1.959964 it is
    the 95% interval. Unlike the Wald interval it behaves at 0 and n (``0/20`` gives ``(0, 0.161)``).
    ``n == 0`` carries no information and returns ``(0.0, 1.0)``. Raises StatisticsError unless
    ``0 <= successes <= n``, or if ``z`` is not positive.
    """
    _check(successes, n)
    if z <= 0:
        raise StatisticsError(f"z must be positive, got {z}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def ratio_interval(a_successes: int, a_n: int, b_successes: int, b_n: int, z: float = Z_95) -> RatioEstimate:
    """The relative likelihood of group A versus group B, ``(a/a_n) / (b/b_n)``, with Katz's CI.

    WRES indicator 2, for example, is ``ratio_interval(white_appointed, white_shortlisted,
    bme_appointed, bme_shortlisted)``; 1.0 means parity. The interval is the log method (Katz,
    1978): ``exp(log ratio +- z * sqrt(1/a - 1/a_n + 1/b - 1/b_n))``.

    Zeros, where the log method breaks down:
    - ``a_successes == 0`` (and ``b_successes > 0``): ratio 0.0, low 0.0, and high from the
      Haldane-Anscombe correction (0.5 added to every success and failure count);
    - ``b_successes == 0`` (and ``a_successes > 0``): ratio ``inf``, high ``inf``, low from the
      same correction;
    - both zero: ratio ``nan`` and interval ``(0.0, inf)``: no information.
    When both groups are all successes the standard error is 0 and the interval is the point.
    Raises StatisticsError if either group is empty or has ``successes`` outside ``0..n``.
    """
    _check(a_successes, a_n)
    _check(b_successes, b_n)
    if a_n == 0 or b_n == 0:
        raise StatisticsError("both groups need at least one member")
    if z <= 0:
        raise StatisticsError(f"z must be positive, got {z}")
    if a_successes == 0 and b_successes == 0:
        return RatioEstimate(math.nan, 0.0, math.inf)
    if a_successes == 0 or b_successes == 0:
        low, high = _log_interval(a_successes + 0.5, a_n + 1.0, b_successes + 0.5, b_n + 1.0, z)
        if a_successes == 0:
            return RatioEstimate(0.0, 0.0, high)
        return RatioEstimate(math.inf, low, math.inf)
    ratio = (a_successes / a_n) / (b_successes / b_n)
    low, high = _log_interval(a_successes, a_n, b_successes, b_n, z)
    return RatioEstimate(ratio, min(low, ratio), max(high, ratio))


def _log_interval(a: float, a_n: float, b: float, b_n: float, z: float) -> tuple[float, float]:
    log_ratio = math.log((a / a_n) / (b / b_n))
    se = math.sqrt(max(0.0, 1 / a - 1 / a_n + 1 / b - 1 / b_n))
    return math.exp(log_ratio - z * se), math.exp(log_ratio + z * se)
