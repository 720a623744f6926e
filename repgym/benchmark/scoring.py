"""Scores of a leaderboard entry: interquartile mean with a bootstrap confidence interval over seeds, and scores
normalised against the random, human and expert references.

The IQM and the stratified percentile bootstrap follow Agarwal et al. 2021 ("Deep RL at the Edge of the Statistical
Precipice", the ``rliable`` library): the IQM drops the lowest and highest quarter of the runs (``int(0.25 n)``
each, as ``scipy.stats.trim_mean(x, 0.25)``) and averages the rest; the bootstrap resamples runs with replacement
*within each task* (stratified), recomputes the statistic, and takes percentiles. ``rliable`` itself is not used:
its ``arch`` dependency fails to import with pandas 3, which pip installs beside numpy 2.

```python
iqm([1, 2, 3, 100])                                  # 2.5: the middle half
point, low, high = bootstrap_ci([3.0, 4.0, 5.0, 9.0], reps=2000, seed=0)
human_normalised(agent=60.0, random=10.0, human=110.0)   # 0.5
expert_normalised(5.0, random=0.0, expert=10.0)          # 0.5
```
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from repgym.human.scores import human_normalised_score

Statistic = Callable[[np.ndarray], float]


def iqm(values: Sequence[float] | np.ndarray) -> float:
    """Interquartile mean of a flat array: the mean after dropping ``int(0.25 n)`` values at each end."""
    x = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if x.size == 0:
        raise ValueError("iqm of no values")
    k = int(0.25 * x.size)
    return float(x[k : x.size - k].mean())


def iqm_rows(samples: np.ndarray) -> np.ndarray:
    """IQM of each row of ``samples`` ``(reps, n)`` at once: ``(reps,)``."""
    x = np.sort(np.asarray(samples, dtype=np.float64), axis=1)
    n = x.shape[1]
    k = int(0.25 * n)
    return x[:, k : n - k].mean(axis=1)


def stratified_bootstrap_ci(
    scores: np.ndarray,
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(point, low, high)``: the IQM of ``scores`` ``(runs, tasks)`` over all runs and tasks, and a percentile
    bootstrap interval that resamples runs with replacement independently within each task (column).

    A single column is the plain percentile bootstrap over runs (seeds). One run gives a zero-width interval.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim != 2 or s.size == 0:
        raise ValueError(f"scores must be a non-empty (runs, tasks) array, got shape {np.shape(scores)}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if reps < 1:
        raise ValueError(f"reps must be at least 1, got {reps}")
    runs, tasks = s.shape
    point = iqm(s)
    rng = np.random.default_rng(seed)
    index = rng.integers(0, runs, size=(reps, runs, tasks))
    resampled = np.take_along_axis(s[None, :, :], index, axis=1).reshape(reps, runs * tasks)
    stats = iqm_rows(resampled)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(stats, [alpha, 1.0 - alpha])
    return point, float(low), float(high)


def bootstrap_ci(
    per_seed: Sequence[float] | np.ndarray, reps: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """``(iqm, low, high)`` over per-seed scores ``(seeds,)``: the one-task case of :func:`stratified_bootstrap_ci`."""
    return stratified_bootstrap_ci(np.asarray(per_seed, dtype=np.float64)[:, None], reps, confidence, seed)


def random_normalised(score: float, random: float | None) -> float | None:
    """``(score - random) / |random|``: 0 plays like random, 1 doubles random's return (in the direction of
    better); None without a random reference or when random's mean return is 0."""
    if random is None or abs(random) < 1e-12:
        return None
    return (score - random) / abs(random)


def human_normalised(score: float, random: float | None, human: float | None) -> float | None:
    """``(score - random) / (human - random)`` (:func:`repgym.human.scores.human_normalised_score`):
    0 plays like random, 1 like the people recorded; None without both references or when they are equal."""
    if random is None or human is None or human == random:
        return None
    return human_normalised_score(score, random, human)


def expert_normalised(score: float, random: float | None, expert: float | None) -> float | None:
    """``(score - random) / (expert - random)``: 0 plays like random, 1 like the env's ``expert`` baseline; None
    without both references or when they are equal."""
    if random is None or expert is None or expert == random:
        return None
    return (score - random) / (expert - random)


__all__ = [
    "bootstrap_ci",
    "expert_normalised",
    "human_normalised",
    "iqm",
    "iqm_rows",
    "random_normalised",
    "stratified_bootstrap_ci",
]
