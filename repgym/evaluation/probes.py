"""Cross-validated linear probes from a layer's activations to each ground-truth factor.

Ridge regression in closed form (numpy SVD): features are standardised on each training fold, the ridge
strength is chosen per target on the training fold by exact leave-one-out error (cheap from the SVD), and the
score is computed on held-out folds. Folds split by *episode* when the states come from several episodes —
consecutive states of one game are near-copies, and a random split would let the probe memorise them.

Continuous factors get the out-of-fold R². Categorical factors (few integer values, e.g. a board cell's colour)
are regressed onto one-hot indicators (a least-squares linear classifier): the argmax gives the ``accuracy``,
reported with ``chance`` (the majority class frequency), and the indicators' pooled R² is the ``r2``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from repgym.evaluation.tidy import Table

RIDGE_GRID = np.logspace(-5, 1, 13)  # ridge strengths, as multiples of the number of training states


def kfold_indices(n: int, folds: int, groups: np.ndarray | None = None, seed: int = 0) -> tuple[list[np.ndarray], str]:
    """Test-index arrays of ``folds`` folds, and ``"episode"`` or ``"state"`` saying how they were split: whole
    groups per fold (balanced by size) when there are at least ``folds`` groups, else single states."""
    if folds < 2:
        raise ValueError(f"folds must be >= 2, got {folds}")
    if n < folds:
        raise ValueError(f"cannot split {n} states into {folds} folds")
    rng = np.random.default_rng(seed)
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != (n,):
            raise ValueError(f"groups must have shape ({n},), got {groups.shape}")
        labels, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
        if labels.size >= folds:
            fold_of_group = np.empty(labels.size, dtype=np.int64)
            load = np.zeros(folds)
            shuffled = rng.permutation(labels.size)
            for g in shuffled[np.argsort(-counts[shuffled], kind="stable")]:  # largest groups first
                fold_of_group[g] = int(np.argmin(load))
                load[fold_of_group[g]] += counts[g]
            fold = fold_of_group[inverse]
            return [np.flatnonzero(fold == f) for f in range(folds)], "episode"
    order = rng.permutation(n)
    return [np.sort(part) for part in np.array_split(order, folds)], "state"


def ridge_cv_predict(
    x: np.ndarray, y: np.ndarray, folds: list[np.ndarray], grid: np.ndarray = RIDGE_GRID
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold ridge predictions ``(n, k)`` of targets ``y (n, k)`` from features ``x (n, p)``, and the
    ``(folds, k)`` ridge strengths chosen by leave-one-out error on each training fold."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    y = np.asarray(y, dtype=np.float64)
    y = y[:, None] if y.ndim == 1 else y
    n = x.shape[0]
    pred = np.zeros_like(y)
    chosen = np.zeros((len(folds), y.shape[1]))
    for f, test in enumerate(folds):
        train = np.setdiff1d(np.arange(n), test, assume_unique=True)
        mu, sd = x[train].mean(axis=0), x[train].std(axis=0)
        keep = sd > 1e-12
        y_mean = y[train].mean(axis=0)
        if not keep.any():
            pred[test] = y_mean
            continue
        z = (x[train][:, keep] - mu[keep]) / sd[keep]
        u, s, vt = np.linalg.svd(z, full_matrices=False)
        uty = u.T @ (y[train] - y_mean)
        alphas = grid * train.size
        best_err = np.full(y.shape[1], np.inf)
        best_alpha = np.zeros(y.shape[1])
        u2 = u * u
        for alpha in alphas:
            shrink = s * s / (s * s + alpha)
            fitted = u @ (shrink[:, None] * uty)
            leverage = u2 @ shrink
            residual = (y[train] - y_mean - fitted) / np.maximum(1.0 - leverage, 1e-12)[:, None]
            err = np.mean(residual * residual, axis=0)
            better = err < best_err
            best_err[better] = err[better]
            best_alpha[better] = alpha
        chosen[f] = best_alpha
        z_test = (x[test][:, keep] - mu[keep]) / sd[keep]
        for alpha in np.unique(best_alpha):
            cols = best_alpha == alpha
            weights = vt.T @ ((s / (s * s + alpha))[:, None] * uty[:, cols])
            pred[np.ix_(test, np.flatnonzero(cols))] = z_test @ weights + y_mean[cols]
    return pred, chosen


@dataclass(frozen=True)
class ProbeScore:
    """Out-of-fold scores of one factor: ``r2``; for categorical factors also ``accuracy`` and ``chance``."""

    r2: float
    accuracy: float | None = None
    chance: float | None = None


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    sst = np.sum((y - y.mean(axis=0)) ** 2)
    return float(1.0 - np.sum((y - pred) ** 2) / sst) if sst > 0 else float("nan")


def probe(
    x: np.ndarray,
    factors: dict[str, np.ndarray],
    categorical: set[str] | Sequence[str] = (),
    folds: int = 5,
    groups: np.ndarray | None = None,
    seed: int = 0,
) -> tuple[dict[str, ProbeScore], str]:
    """Probe every factor from ``x (n, ...)``: ``({factor: ProbeScore}, fold split kind)``. All factors share one
    SVD per fold (targets are stacked), so probing many factors costs little more than one."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    n = x.shape[0]
    split, split_kind = kfold_indices(n, folds, groups, seed)
    columns: list[np.ndarray] = []
    blocks: dict[str, tuple[slice, np.ndarray | None]] = {}
    for name, values in factors.items():
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (n,):
            raise ValueError(f"factor {name!r} must have shape ({n},), got {values.shape}")
        start = sum(c.shape[1] for c in columns)
        if name in categorical:
            classes, codes = np.unique(values, return_inverse=True)
            columns.append(np.eye(classes.size)[codes])
            blocks[name] = (slice(start, start + classes.size), codes)
        else:
            columns.append(values[:, None])
            blocks[name] = (slice(start, start + 1), None)
    if not columns:
        return {}, split_kind
    y = np.concatenate(columns, axis=1)
    pred, _ = ridge_cv_predict(x, y, split)
    scores: dict[str, ProbeScore] = {}
    for name, (cols, codes) in blocks.items():
        r2 = _r2(y[:, cols], pred[:, cols])
        if codes is None:
            scores[name] = ProbeScore(r2)
        else:
            accuracy = float(np.mean(pred[:, cols].argmax(axis=1) == codes))
            chance = float(np.bincount(codes).max() / n)
            scores[name] = ProbeScore(r2, accuracy, chance)
    return scores, split_kind


def probe_table(
    acts: dict[str, np.ndarray],
    factors: dict[str, np.ndarray],
    categorical: set[str] | Sequence[str] = (),
    folds: int = 5,
    groups: np.ndarray | None = None,
    seed: int = 0,
) -> Table:
    """Rows ``analyzer="probe"``, ``params["factor"]``, metrics ``r2`` (and ``accuracy``, ``chance`` for
    categorical factors) for every layer in ``acts`` (``{name: (n, ...)}``)."""
    table = Table()
    categorical = set(categorical)
    for layer, act in acts.items():
        scores, split_kind = probe(act, factors, categorical, folds, groups, seed)
        n = int(np.asarray(act).shape[0])
        for factor, score in scores.items():
            kind = "categorical" if factor in categorical else "continuous"
            common = {"factor": factor, "kind": kind, "folds": folds, "split": split_kind}
            table.add("probe", layer, None, "r2", score.r2, n, **common)
            if score.accuracy is not None:
                table.add("probe", layer, None, "accuracy", score.accuracy, n, **common)
                table.add("probe", layer, None, "chance", score.chance, n, **common)
    return table
