"""Cross-validated linear probes from a layer's activations to each ground-truth factor.

Ridge regression in closed form (numpy SVD): features are standardised on each training fold, the ridge
strength is chosen per target on the training fold by exact leave-one-episode-out error (leave-one-out when the
states are not grouped; both cheap from the SVD), and the score is computed on held-out folds (their features
clipped to the training fold's range). Folds split by *episode* when the states come from several episodes —
consecutive states of one game are near-copies, and a random split would let the probe memorise them.

Continuous factors get the out-of-fold R². Categorical factors (few integer values, e.g. a board cell's colour)
are regressed onto one-hot indicators (a least-squares linear classifier): the argmax gives the ``accuracy``,
reported with ``chance`` (the majority class frequency), and the indicators' pooled R² is the ``r2``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from repgym.analysis.tidy import Table

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


def _held_out_residuals(
    u: np.ndarray, shrink: np.ndarray, residual: np.ndarray, blocks: list[np.ndarray] | None
) -> np.ndarray:
    """Exact held-out residuals of a ridge fit with hat matrix ``U diag(shrink) Uᵀ``: leave-one-out
    (``r_i / (1 - H_ii)``) without ``blocks``, else leave-one-block-out (``(I - H_bb)⁻¹ r_b`` per block)."""
    if blocks is None:
        leverage = (u * u) @ shrink
        return residual / np.maximum(1.0 - leverage, 1e-12)[:, None]
    out = np.empty_like(residual)
    for block in blocks:
        ub = u[block]
        h = (ub * shrink) @ ub.T
        a = np.eye(block.size) - h
        try:
            out[block] = np.linalg.solve(a, residual[block])
        except np.linalg.LinAlgError:  # an interpolated block: its held-out error is unbounded
            out[block] = np.linalg.lstsq(a, residual[block], rcond=None)[0]
    return out


def ridge_cv_predict(
    x: np.ndarray,
    y: np.ndarray,
    folds: list[np.ndarray],
    grid: np.ndarray = RIDGE_GRID,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold ridge predictions ``(n, k)`` of targets ``y (n, k)`` from features ``x (n, p)``, and the
    ``(folds, k)`` ridge strengths chosen on each training fold: by exact leave-one-out error, or with
    ``groups (n,)`` (episodes) by exact leave-one-group-out error — states of one episode are near-copies, so
    leave-one-out would reward interpolating them and pick a ridge strength that fails on new episodes."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    y = np.asarray(y, dtype=np.float64)
    y = y[:, None] if y.ndim == 1 else y
    n = x.shape[0]
    if groups is not None and np.shape(groups) != (n,):
        raise ValueError(f"groups must have shape ({n},), got {np.shape(groups)}")
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
        blocks = None
        if groups is not None:
            _, inner = np.unique(np.asarray(groups)[train], return_inverse=True)
            blocks = [np.flatnonzero(inner == g) for g in range(inner.max() + 1)] if inner.max() >= 1 else None
        for alpha in alphas:
            shrink = s * s / (s * s + alpha)
            fitted = u @ (shrink[:, None] * uty)
            residual = _held_out_residuals(u, shrink, y[train] - y_mean - fitted, blocks)
            err = np.mean(residual * residual, axis=0)
            better = err < best_err
            best_err[better] = err[better]
            best_alpha[better] = alpha
        chosen[f] = best_alpha
        # held-out features are clipped to the training fold's range: a unit that barely varied in training
        # (a rare ReLU feature) would otherwise extrapolate the probe by tens of standard deviations
        z_test = np.clip((x[test][:, keep] - mu[keep]) / sd[keep], z.min(axis=0), z.max(axis=0))
        for alpha in np.unique(best_alpha):
            cols = best_alpha == alpha
            weights = vt.T @ ((s / (s * s + alpha))[:, None] * uty[:, cols])
            pred[np.ix_(test, np.flatnonzero(cols))] = z_test @ weights + y_mean[cols]
    return pred, chosen


@dataclass(frozen=True)
class ProbeScore:
    """Out-of-fold scores of one factor: ``r2``; for categorical factors also ``accuracy`` and ``chance``; ``n``
    the states scored (fewer than all for a factor defined only in some states)."""

    r2: float
    accuracy: float | None = None
    chance: float | None = None
    n: int | None = None


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    sst = np.sum((y - y.mean(axis=0)) ** 2)
    return float(1.0 - np.sum((y - pred) ** 2) / sst) if sst > 0 else float("nan")


def _probe_stacked(
    x: np.ndarray,
    factors: dict[str, np.ndarray],
    categorical: set[str],
    folds: int,
    groups: np.ndarray | None,
    seed: int,
) -> tuple[dict[str, ProbeScore], str]:
    """Probe the factors from ``x (n, p)`` with one SVD per fold (targets stacked)."""
    n = x.shape[0]
    split, split_kind = kfold_indices(n, folds, groups, seed)
    columns: list[np.ndarray] = []
    blocks: dict[str, tuple[slice, np.ndarray | None]] = {}
    for name, values in factors.items():
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
    pred, _ = ridge_cv_predict(x, y, split, groups=groups if split_kind == "episode" else None)
    scores: dict[str, ProbeScore] = {}
    for name, (cols, codes) in blocks.items():
        r2 = _r2(y[:, cols], pred[:, cols])
        if codes is None:
            scores[name] = ProbeScore(r2, n=n)
        else:
            accuracy = float(np.mean(pred[:, cols].argmax(axis=1) == codes))
            chance = float(np.bincount(codes).max() / n)
            scores[name] = ProbeScore(r2, accuracy, chance, n)
    return scores, split_kind


def probe(
    x: np.ndarray,
    factors: dict[str, np.ndarray],
    categorical: set[str] | Sequence[str] = (),
    folds: int = 5,
    groups: np.ndarray | None = None,
    seed: int = 0,
    defined: dict[str, np.ndarray] | None = None,
) -> tuple[dict[str, ProbeScore], str]:
    """Probe every factor from ``x (n, ...)``: ``({factor: ProbeScore}, fold split kind)``. All factors share one
    SVD per fold (targets are stacked), so probing many factors costs little more than one. A factor with a
    ``defined`` mask ``(n,) bool`` is probed on its own, on the states where it is defined only (skipped when
    fewer than ``2 * folds`` are)."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    n = x.shape[0]
    categorical = set(categorical)
    defined = defined or {}
    whole: dict[str, np.ndarray] = {}
    for name, values in factors.items():
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (n,):
            raise ValueError(f"factor {name!r} must have shape ({n},), got {values.shape}")
        if name not in defined:
            whole[name] = values
    scores, split_kind = _probe_stacked(x, whole, categorical, folds, groups, seed)
    for name, mask in defined.items():
        mask = np.asarray(mask, dtype=bool)
        if name not in factors or mask.sum() < 2 * folds:
            continue
        values = np.asarray(factors[name], dtype=np.float64)[mask]
        if np.unique(values).size < 2:
            continue
        sub_groups = None if groups is None else np.asarray(groups)[mask]
        part, _ = _probe_stacked(x[mask], {name: values}, categorical, folds, sub_groups, seed)
        scores.update(part)
    return scores, split_kind


def probe_table(
    acts: dict[str, np.ndarray],
    factors: dict[str, np.ndarray],
    categorical: set[str] | Sequence[str] = (),
    folds: int = 5,
    groups: np.ndarray | None = None,
    seed: int = 0,
    defined: dict[str, np.ndarray] | None = None,
) -> Table:
    """Rows ``analyzer="probe"``, ``params["factor"]``, metrics ``r2`` (and ``accuracy``, ``chance`` for
    categorical factors) for every layer in ``acts`` (``{name: (n, ...)}``); ``defined``: see :func:`probe`
    (those rows carry ``params["defined_only"] = True`` and their own ``n``)."""
    table = Table()
    categorical = set(categorical)
    for layer, act in acts.items():
        scores, split_kind = probe(act, factors, categorical, folds, groups, seed, defined)
        for factor, score in scores.items():
            kind = "categorical" if factor in categorical else "continuous"
            n = int(score.n if score.n is not None else np.asarray(act).shape[0])
            common = {"factor": factor, "kind": kind, "folds": folds, "split": split_kind}
            if defined and factor in defined:
                common["defined_only"] = True
            table.add("probe", layer, None, "r2", score.r2, n, **common)
            if score.accuracy is not None:
                table.add("probe", layer, None, "accuracy", score.accuracy, n, **common)
                table.add("probe", layer, None, "chance", score.chance, n, **common)
    return table
