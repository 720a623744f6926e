"""Disentanglement of latents against ground-truth factors: MIG and DCI.

- **MIG** (Chen et al. 2018, "Isolating Sources of Disentanglement"): latents and continuous factors are
  discretised into ``bins`` equal-width bins (as in Locatello et al. 2019); for each factor, the gap between the
  largest and second-largest mutual information with any single latent, divided by the factor's entropy;
  averaged over factors. 1: each factor lives in exactly one latent.
- **DCI** (Eastwood & Williams 2018): an importance matrix ``R[latent, factor]`` from linear regressors (here
  the absolute ridge weights on standardised latents; their paper uses lasso and random forests).
  *Disentanglement* = 1 - entropy of each latent's importance over factors (base K), weighted by the latent's
  share of importance; *completeness* = 1 - entropy of each factor's importance over latents (base D), averaged;
  *informativeness* = the factors' mean cross-validated probe R² (:mod:`repgym.analysis.probes`).
"""

from __future__ import annotations

import numpy as np

from repgym.analysis.probes import kfold_indices, ridge_cv_predict
from repgym.analysis.tidy import Table


def discretize(values: np.ndarray, bins: int) -> np.ndarray:
    """Integer codes ``(n,)``: integer-valued columns with at most ``bins`` values keep their values, others are
    cut into ``bins`` equal-width bins."""
    values = np.asarray(values, dtype=np.float64)
    distinct = np.unique(values)
    if distinct.size <= bins and np.all(distinct == np.round(distinct)):
        return np.searchsorted(distinct, values)
    lo, hi = values.min(), values.max()
    if hi == lo:
        return np.zeros(values.size, dtype=np.int64)
    return np.minimum(((values - lo) / (hi - lo) * bins).astype(np.int64), bins - 1)


def entropy(codes: np.ndarray) -> float:
    """Shannon entropy (nats) of integer codes."""
    p = np.bincount(codes) / codes.size
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """Mutual information (nats) of two integer code arrays, from their joint histogram."""
    rows, cols = int(a.max()) + 1, int(b.max()) + 1
    joint = np.bincount(a * cols + b, minlength=rows * cols).reshape(rows, cols) / a.size
    pa, pb = joint.sum(axis=1, keepdims=True), joint.sum(axis=0, keepdims=True)
    nz = joint > 0
    return float(np.sum(joint[nz] * np.log(joint[nz] / (pa @ pb)[nz])))


def mig(latents: np.ndarray, factors: np.ndarray, bins: int = 20) -> tuple[float, np.ndarray]:
    """``(MIG, (k,) per-factor gaps)`` of ``latents (n, d)`` (d >= 2) against ``factors (n, k)``; constant factors
    get NaN and are left out of the mean."""
    latents = np.asarray(latents, dtype=np.float64).reshape(len(latents), -1)
    factors = np.asarray(factors, dtype=np.float64).reshape(len(factors), -1)
    if latents.shape[0] != factors.shape[0]:
        raise ValueError(f"latents and factors must have the same rows, got {latents.shape[0]} and {factors.shape[0]}")
    if latents.shape[1] < 2:
        raise ValueError(f"MIG needs at least 2 latents, got {latents.shape[1]}")
    z = [discretize(latents[:, j], bins) for j in range(latents.shape[1])]
    gaps = np.full(factors.shape[1], np.nan)
    for k in range(factors.shape[1]):
        v = discretize(factors[:, k], bins)
        h = entropy(v)
        if h <= 0:
            continue
        mi = np.sort([mutual_information(zj, v) for zj in z])[::-1]
        gaps[k] = (mi[0] - mi[1]) / h
    return (float(np.nanmean(gaps)) if np.isfinite(gaps).any() else float("nan")), gaps


def importance_matrix(latents: np.ndarray, factors: np.ndarray, ridge: float = 1e-2) -> np.ndarray:
    """``(d, k)`` absolute ridge weights of standardised latents predicting each standardised factor."""
    z = np.asarray(latents, dtype=np.float64).reshape(len(latents), -1)
    v = np.asarray(factors, dtype=np.float64).reshape(len(factors), -1)
    z = (z - z.mean(axis=0)) / np.where(z.std(axis=0) > 0, z.std(axis=0), 1.0)
    v = (v - v.mean(axis=0)) / np.where(v.std(axis=0) > 0, v.std(axis=0), 1.0)
    gram = z.T @ z + ridge * z.shape[0] * np.eye(z.shape[1])
    return np.abs(np.linalg.solve(gram, z.T @ v))


def _normalised_entropy(p: np.ndarray, base: int) -> np.ndarray:
    """Row entropies of a row-stochastic matrix, in log base ``base`` (0 for rows with all mass in one entry)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p), 0.0)
    return -terms.sum(axis=1) / np.log(base) if base > 1 else np.zeros(p.shape[0])


def dci(
    latents: np.ndarray, factors: np.ndarray, folds: int = 5, groups: np.ndarray | None = None, seed: int = 0
) -> tuple[float, float, float]:
    """``(disentanglement, completeness, informativeness)`` of ``latents (n, d)`` for ``factors (n, k)``."""
    z = np.asarray(latents, dtype=np.float64).reshape(len(latents), -1)
    v = np.asarray(factors, dtype=np.float64).reshape(len(factors), -1)
    v = v[:, v.std(axis=0) > 0]
    if v.shape[1] == 0:
        raise ValueError("DCI needs at least one factor that varies over the states")
    r = importance_matrix(z, v)
    total = r.sum()
    if total <= 0:
        return float("nan"), float("nan"), float("nan")
    d, k = r.shape
    p_latent = r / np.maximum(r.sum(axis=1, keepdims=True), 1e-300)
    weight = r.sum(axis=1) / total
    disentanglement = float(np.sum(weight * (1.0 - _normalised_entropy(p_latent, k)))) if k > 1 else 1.0
    p_factor = (r / np.maximum(r.sum(axis=0, keepdims=True), 1e-300)).T
    completeness = float(np.mean(1.0 - _normalised_entropy(p_factor, d))) if d > 1 else 1.0
    split, _ = kfold_indices(z.shape[0], folds, groups, seed)
    pred, _ = ridge_cv_predict(z, v, split)
    sst = np.sum((v - v.mean(axis=0)) ** 2, axis=0)
    informativeness = float(np.mean(1.0 - np.sum((v - pred) ** 2, axis=0) / sst))
    return disentanglement, completeness, informativeness


def disentanglement(
    acts: dict[str, np.ndarray],
    factor_names: list[str],
    factors: np.ndarray,
    bins: int = 20,
    groups: np.ndarray | None = None,
    max_latents: int = 64,
) -> Table:
    """Per layer with at most ``max_latents`` units (latent codes, not wide conv maps): ``mig``,
    ``dci_disentanglement``, ``dci_completeness``, ``dci_informativeness``; per factor the MIG gap
    (``mig_gap``, ``params["factor"]``)."""
    table = Table()
    for layer, act in acts.items():
        z = np.asarray(act, dtype=np.float64).reshape(len(act), -1)
        if z.shape[1] > max_latents or z.shape[1] < 2:
            continue
        n = z.shape[0]
        value, gaps = mig(z, factors, bins)
        table.add("disentanglement", layer, None, "mig", value, n, bins=bins, factors=len(factor_names))
        for name, gap in zip(factor_names, gaps, strict=True):
            table.add("disentanglement", layer, None, "mig_gap", gap, n, factor=name, bins=bins)
        d, c, i = dci(z, factors, groups=groups)
        table.add("disentanglement", layer, None, "dci_disentanglement", d, n, factors=len(factor_names))
        table.add("disentanglement", layer, None, "dci_completeness", c, n, factors=len(factor_names))
        table.add("disentanglement", layer, None, "dci_informativeness", i, n, factors=len(factor_names))
    return table
