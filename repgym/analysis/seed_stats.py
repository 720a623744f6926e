"""Mean and 95% interval of a per-seed quantity, for the experiment tables (transfer, gravity shift).

A handful of seeds is what these experiments can afford, so the interval is Student's t interval of the mean
(``mean ± t_{0.975, n-1} * sd / sqrt(n)``), which widens honestly at 3 seeds where a bootstrap over 3 values would
be far too narrow. SciPy is not a dependency, so the two-sided 95% quantiles are tabulated below (df 1..30; beyond
30 the normal's 1.96 is within 4% of t).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# t_{0.975, df} for df = 1..30 (two-sided 95%).
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t_quantile_975(df: int) -> float:
    """Student's t 97.5% quantile for ``df`` degrees of freedom (>= 1)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    return _T975[df - 1] if df <= len(_T975) else 1.96


@dataclass(frozen=True)
class MeanCI:
    """Mean of ``n`` values with its 95% t interval (``low == high == mean`` for one value)."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2.0

    def format(self, digits: int = 2) -> str:
        """``"12.3 [10.1, 14.5]"`` (the interval dropped for a single value)."""
        if self.n < 2:
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"

    def to_json(self) -> dict[str, float | int]:
        return {"mean": self.mean, "ci95_low": self.low, "ci95_high": self.high, "n": self.n}


def mean_ci(values: Sequence[float]) -> MeanCI:
    """Mean and 95% t interval of ``values`` (at least one finite number)."""
    x = [float(v) for v in values]
    if not x:
        raise ValueError("mean_ci needs at least one value")
    if not all(math.isfinite(v) for v in x):
        raise ValueError(f"mean_ci needs finite values, got {x}")
    n = len(x)
    mean = sum(x) / n
    if n == 1:
        return MeanCI(mean, mean, mean, 1)
    sd = math.sqrt(sum((v - mean) ** 2 for v in x) / (n - 1))
    half = t_quantile_975(n - 1) * sd / math.sqrt(n)
    return MeanCI(mean, mean - half, mean + half, n)
