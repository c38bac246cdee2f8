"""The statistics of a benchmark report: 95 % intervals and the paired test between two conditions.

- `wilson_interval(k, n)`: Wilson's score interval of a proportion k / n (good at small n and near 0
  or 1, unlike the normal interval).
- `paired_difference(b, c, n)`: the difference of two accuracies on the same n questions, with its
  normal (Wald) 95 % interval for paired proportions; b = right then wrong, c = wrong then right.
- `mcnemar_exact(b, c)`: McNemar's exact two-sided p-value: under "no difference" each of the b + c
  discordant questions flips either way with probability 1/2, so p = 2 P(X <= min(b, c)),
  X ~ Binomial(b + c, 1/2), capped at 1 (no discordant questions: p = 1).
- `within_noise(p)`: a difference whose p-value is at least `ALPHA` (0.05) is not told apart from noise.

Plain Python (math.comb): no SciPy needed.
"""

from __future__ import annotations

import math

Z95 = 1.959963984540054  # the standard normal's 97.5 % quantile
ALPHA = 0.05  # the level below which a paired difference is called more than noise


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's 95 % score interval of the proportion k / n; (0, 1) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def paired_difference(b: int, c: int, n: int, z: float = Z95) -> tuple[float, float, float]:
    """(difference, low, high): accuracy of the second condition minus the first's on n paired questions.

    b: questions right in the first and wrong in the second; c: wrong in the first, right in the second.
    The interval is the normal one for paired proportions, sqrt(b + c - (c - b)^2 / n) / n.
    """
    if n <= 0:
        return 0.0, -1.0, 1.0
    diff = (c - b) / n
    half = z * math.sqrt(max(b + c - (c - b) ** 2 / n, 0.0)) / n
    return diff, max(-1.0, diff - half), min(1.0, diff + half)


def mcnemar_exact(b: int, c: int) -> float:
    """McNemar's exact two-sided p-value for b and c discordant pairs (see the module doc)."""
    m = b + c
    if m == 0:
        return 1.0
    tail = sum(math.comb(m, i) for i in range(min(b, c) + 1)) / 2**m
    return min(1.0, 2 * tail)


def within_noise(p_value: float) -> bool:
    """Whether a paired difference with this p-value is within noise (p >= ALPHA)."""
    return p_value >= ALPHA
