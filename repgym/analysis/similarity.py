"""Representational similarity: CKA (linear and RBF, debiased), minibatch CKA, SVCCA / PWCCA, RSA.

All functions take activations as ``(n, p)`` arrays, rows = the same ``n`` states in both arguments.

- **CKA** (Kornblith et al. 2019) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)) over Gram matrices ``K``, ``L``.
  The default is the *debiased* estimator of HSIC (Song et al. 2012; used for CKA by Nguyen et al. 2021): the
  biased one is pulled up at small n / large p, so that two independent random representations can score 0.7.
  The debiased value can be slightly negative; if a *self*-HSIC is <= 0 (a representation that varies too little
  for the estimate), CKA is undefined and returned as NaN with ``negative_hsic=True``.
- **Minibatch CKA** (Nguyen et al. 2021) averages the debiased HSICs over minibatches, for sets too large for an
  ``(n, n)`` Gram matrix.
- **SVCCA** (Raghu et al. 2017) keeps the top principal components (99% variance) and averages CCA correlations;
  **PWCCA** (Morcos et al. 2018) weights the correlations by how much of the representation each canonical
  direction accounts for. CCA overfits when n is not much larger than the dimension: these refuse ``p_x + p_y >= n - 1``
  (some correlations are then 1 whatever the data) and warn (``small_n=True``) below ``n >= 10 p``.
- **RSA** (Kriegeskorte et al. 2008): Spearman correlation between the upper triangles of two representational
  dissimilarity matrices (Euclidean distances by default).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from repgym.analysis.tidy import Table

CCA_SAFE_RATIO = 10  # n / p below which CCA-based scores are flagged


@dataclass(frozen=True)
class CKAResult:
    """A CKA estimate with what it rests on: ``n`` states, ``p_x`` / ``p_y`` features, the three HSICs."""

    value: float
    n: int
    p_x: int
    p_y: int
    hsic_xy: float
    hsic_xx: float
    hsic_yy: float
    debiased: bool
    kernel: str
    negative_hsic: bool


def _as_2d(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"{name} must be (n, p) activations, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def _check_pair(x: np.ndarray, y: np.ndarray, min_n: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = _as_2d(x, "x"), _as_2d(y, "y")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must hold the same states: got {x.shape[0]} and {y.shape[0]} rows")
    if x.shape[0] < min_n:
        raise ValueError(f"need at least {min_n} states, got {x.shape[0]}")
    return x, y


def gram_linear(x: np.ndarray) -> np.ndarray:
    """``(n, n)`` linear kernel of column-centred features."""
    x = _as_2d(x, "x")
    x = x - x.mean(axis=0)
    return x @ x.T


def gram_rbf(x: np.ndarray, sigma: float | None = None, scale: float = 1.0) -> np.ndarray:
    """``(n, n)`` Gaussian kernel ``exp(-|xi - xj|^2 / (2 sigma^2))``; default ``sigma = scale * median distance``
    between distinct points (Kornblith et al.)."""
    x = _as_2d(x, "x")
    sq = np.sum(x * x, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (x @ x.T), 0.0)
    if sigma is None:
        off = d2[np.triu_indices_from(d2, k=1)]
        off = off[off > 0]
        sigma = scale * float(np.sqrt(np.median(off))) if off.size else 1.0
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    return np.exp(-d2 / (2.0 * sigma * sigma))


def hsic(k: np.ndarray, l: np.ndarray, debiased: bool = True) -> float:  # noqa: E741
    """HSIC of two ``(n, n)`` Gram matrices: the unbiased U-statistic (Song et al. 2012, eq. 5; n >= 4) or the
    biased ``tr(KHLH) / (n-1)^2``."""
    n = k.shape[0]
    if k.shape != (n, n) or l.shape != (n, n):
        raise ValueError(f"Gram matrices must both be (n, n), got {k.shape} and {l.shape}")
    if not debiased:
        h = np.eye(n) - 1.0 / n
        return float(np.sum((h @ k @ h) * l) / (n - 1) ** 2)
    if n < 4:
        raise ValueError(f"the debiased HSIC needs n >= 4 states, got {n}")
    kt = k.copy()
    lt = l.copy()
    np.fill_diagonal(kt, 0.0)
    np.fill_diagonal(lt, 0.0)
    k1 = kt.sum(axis=1)
    l1 = lt.sum(axis=1)
    term1 = np.sum(kt * lt)
    term2 = k1.sum() * l1.sum() / ((n - 1) * (n - 2))
    term3 = 2.0 / (n - 2) * float(k1 @ l1)
    return float((term1 + term2 - term3) / (n * (n - 3)))


def _gram(x: np.ndarray, kernel: str, rbf_scale: float) -> np.ndarray:
    if kernel == "linear":
        return gram_linear(x)
    if kernel == "rbf":
        return gram_rbf(x, scale=rbf_scale)
    raise ValueError(f"kernel must be 'linear' or 'rbf', got {kernel!r}")


def _cka_from_hsic(xy: float, xx: float, yy: float) -> tuple[float, bool]:
    if xx <= 0 or yy <= 0:
        return float("nan"), True
    return float(xy / np.sqrt(xx * yy)), False


def cka(
    x: np.ndarray, y: np.ndarray, kernel: str = "linear", debiased: bool = True, rbf_scale: float = 1.0
) -> CKAResult:
    """CKA between ``x (n, p_x)`` and ``y (n, p_y)`` (see the module docstring)."""
    x, y = _check_pair(x, y, 4 if debiased else 2)
    kx, ky = _gram(x, kernel, rbf_scale), _gram(y, kernel, rbf_scale)
    xy, xx, yy = hsic(kx, ky, debiased), hsic(kx, kx, debiased), hsic(ky, ky, debiased)
    value, negative = _cka_from_hsic(xy, xx, yy)
    return CKAResult(value, x.shape[0], x.shape[1], y.shape[1], xy, xx, yy, debiased, kernel, negative)


def minibatch_cka(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int = 256,
    kernel: str = "linear",
    seed: int = 0,
    rbf_scale: float = 1.0,
) -> CKAResult:
    """CKA from debiased HSICs averaged over random minibatches of ``batch_size`` states (Nguyen et al. 2021)."""
    x, y = _check_pair(x, y, 4)
    if batch_size < 4:
        raise ValueError(f"batch_size must be >= 4 for the debiased HSIC, got {batch_size}")
    sums = np.zeros(3)
    batches = 0
    for index in _batches(x.shape[0], batch_size, seed):
        kx, ky = _gram(x[index], kernel, rbf_scale), _gram(y[index], kernel, rbf_scale)
        sums += (hsic(kx, ky), hsic(kx, kx), hsic(ky, ky))
        batches += 1
    xy, xx, yy = sums / batches
    value, negative = _cka_from_hsic(xy, xx, yy)
    return CKAResult(value, x.shape[0], x.shape[1], y.shape[1], xy, xx, yy, True, kernel, negative)


def _batches(n: int, batch_size: int, seed: int) -> list[np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    if len(batches) > 1 and batches[-1].size < 4:
        batches[-2] = np.concatenate([batches[-2], batches.pop()])
    return batches


def cka_matrix(
    acts: dict[str, np.ndarray],
    others: dict[str, np.ndarray] | None = None,
    kernels: tuple[str, ...] = ("linear", "rbf"),
    max_full: int = 2000,
    batch_size: int = 500,
    seed: int = 0,
    rbf_scale: float = 1.0,
) -> Table:
    """Debiased CKA of every layer in ``acts`` against every layer in ``others`` (default: ``acts`` itself).

    Rows: ``analyzer="cka"``, ``layer`` = a layer of ``acts``, ``params["other"]`` = a layer of ``others``,
    ``metric`` = ``"cka_linear"`` / ``"cka_rbf"``; with ``n > max_full`` states, minibatch CKA is used
    (``params["minibatch"]``). Each array is ``(n, ...)`` and flattened to ``(n, p)``.
    """
    same = others is None
    flat = {k: np.asarray(v, dtype=np.float64).reshape(len(v), -1) for k, v in acts.items()}
    flat_o = flat if same else {k: np.asarray(v, dtype=np.float64).reshape(len(v), -1) for k, v in others.items()}
    n = next(iter(flat.values())).shape[0]
    if any(v.shape[0] != n for v in (*flat.values(), *flat_o.values())):
        raise ValueError("every layer must hold the same number of states")
    batches = [np.arange(n)] if n <= max_full else _batches(n, batch_size, seed)
    table = Table()
    for kernel in kernels:
        cross: dict[tuple[str, str], float] = {}
        self_a: dict[str, float] = dict.fromkeys(flat, 0.0)
        self_b: dict[str, float] = self_a if same else dict.fromkeys(flat_o, 0.0)
        for index in batches:
            grams = {k: _gram(v[index], kernel, rbf_scale) for k, v in flat.items()}
            grams_o = grams if same else {k: _gram(v[index], kernel, rbf_scale) for k, v in flat_o.items()}
            for a, ga in grams.items():
                self_a[a] += hsic(ga, ga)
            if not same:
                for b, gb in grams_o.items():
                    self_b[b] += hsic(gb, gb)
            for a, ga in grams.items():
                for b, gb in grams_o.items():
                    cross[(a, b)] = cross.get((a, b), 0.0) + hsic(ga, gb)
        for (a, b), xy in cross.items():
            value, negative = _cka_from_hsic(xy, self_a[a], self_b[b])
            table.add(
                "cka",
                a,
                None,
                f"cka_{kernel}",
                value,
                n,
                other=b,
                p=flat[a].shape[1],
                p_other=flat_o[b].shape[1],
                debiased=True,
                minibatch=len(batches) > 1,
                negative_hsic=negative,
            )
    return table


# -- CCA ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CCAResult:
    """Canonical correlations (descending) and the summary scores, with ``n`` and the dimensions CCA saw."""

    correlations: np.ndarray
    mean: float
    pwcca: float
    n: int
    p_x: int
    p_y: int
    small_n: bool


def _orthonormal_basis(x: np.ndarray, tol: float = 1e-10) -> tuple[np.ndarray, int]:
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    rank = int(np.sum(s > tol * max(s[0], 1e-300))) if s.size else 0
    return u[:, :rank], rank


def _guard_cca(n: int, p_x: int, p_y: int, what: str) -> bool:
    """Refuse when the two subspaces must intersect (``p_x + p_y >= n - 1`` after centring: some canonical
    correlations are then 1 whatever the data); warn (and return True) when ``n < 10 max(p_x, p_y)``."""
    if p_x + p_y >= n - 1:
        raise ValueError(
            f"{what} needs many more states than dimensions: n={n} with p={p_x} and {p_y} forces canonical "
            f"correlations of 1; collect more states (n >= {CCA_SAFE_RATIO * max(p_x, p_y)} recommended)"
        )
    if n < CCA_SAFE_RATIO * max(p_x, p_y):
        warnings.warn(
            f"{what} with n={n} states and p={max(p_x, p_y)} dimensions (n < {CCA_SAFE_RATIO}p): correlations "
            "are inflated",
            RuntimeWarning,
            stacklevel=3,
        )
        return True
    return False


def cca(x: np.ndarray, y: np.ndarray, what: str = "CCA") -> CCAResult:
    """Canonical correlations of centred ``x (n, p_x)`` and ``y (n, p_y)``, their mean and the PWCCA score."""
    x, y = _check_pair(x, y, 3)
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    qx, rx = _orthonormal_basis(x)
    qy, ry = _orthonormal_basis(y)
    if rx == 0 or ry == 0:
        raise ValueError(f"{what}: a representation is constant over the states (rank 0)")
    small = _guard_cca(x.shape[0], rx, ry, what)
    u, rho, _ = np.linalg.svd(qx.T @ qy, full_matrices=False)
    rho = np.clip(rho, 0.0, 1.0)
    k = min(rx, ry)
    rho, u = rho[:k], u[:, :k]
    variates = qx @ u  # (n, k) canonical variates of x, unit norm
    weights = np.abs(variates.T @ x).sum(axis=1)  # how much of x's neurons each direction accounts for
    pw = float(np.sum(weights * rho) / np.sum(weights)) if np.sum(weights) > 0 else float("nan")
    return CCAResult(rho, float(rho.mean()), pw, x.shape[0], rx, ry, small)


def _top_components(x: np.ndarray, keep: float) -> np.ndarray:
    x = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    var = s**2
    if var.sum() == 0:
        return x[:, :0]
    k = int(np.searchsorted(np.cumsum(var) / var.sum(), keep) + 1)
    return u[:, :k] * s[:k]


def svcca(x: np.ndarray, y: np.ndarray, keep: float = 0.99) -> CCAResult:
    """SVCCA: CCA between the principal components of ``x`` and ``y`` that explain ``keep`` of their variance."""
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    x, y = _check_pair(x, y, 3)
    return cca(_top_components(x, keep), _top_components(y, keep), what="SVCCA")


def pwcca(x: np.ndarray, y: np.ndarray) -> CCAResult:
    """PWCCA (Morcos et al. 2018): the ``pwcca`` field of :func:`cca` on the raw representations."""
    return cca(x, y, what="PWCCA")


# -- RSA ----------------------------------------------------------------------------------------------------------


def rankdata(values: np.ndarray) -> np.ndarray:
    """Ranks (1-based, ties get their average rank) of a 1-D array."""
    values = np.asarray(values).reshape(-1)
    order = np.argsort(values, kind="mergesort")
    sorted_vals = values[order]
    first = np.concatenate([[True], sorted_vals[1:] != sorted_vals[:-1]])
    group = np.cumsum(first) - 1  # tie group of each sorted position
    bounds = np.concatenate([np.flatnonzero(first), [values.size]])
    average = (bounds[:-1] + bounds[1:] + 1) / 2.0  # mean of the 1-based ranks lo+1..hi
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = average[group]
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two 1-D arrays (NaN if either is constant)."""
    ra, rb = rankdata(a), rankdata(b)
    ra -= ra.mean()
    rb -= rb.mean()
    denom = np.sqrt(np.sum(ra * ra) * np.sum(rb * rb))
    return float(np.sum(ra * rb) / denom) if denom > 0 else float("nan")


def rdm(x: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """``(n, n)`` representational dissimilarity matrix: Euclidean distance or 1 - Pearson correlation."""
    x = _as_2d(x, "x")
    if metric == "euclidean":
        sq = np.sum(x * x, axis=1)
        return np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * x @ x.T, 0.0))
    if metric == "correlation":
        c = x - x.mean(axis=1, keepdims=True)
        norms = np.linalg.norm(c, axis=1)
        c = np.divide(c, norms[:, None], out=np.zeros_like(c), where=norms[:, None] > 0)
        return 1.0 - c @ c.T
    raise ValueError(f"metric must be 'euclidean' or 'correlation', got {metric!r}")


def rsa(x: np.ndarray, y: np.ndarray, metric: str = "euclidean", max_states: int = 1000, seed: int = 0) -> float:
    """Spearman correlation of the RDMs of ``x`` and ``y`` over the same states (at most ``max_states``,
    subsampled without replacement: the RDM has ``n(n-1)/2`` entries)."""
    x, y = _check_pair(x, y, 3)
    if x.shape[0] > max_states:
        keep = np.random.default_rng(seed).choice(x.shape[0], max_states, replace=False)
        x, y = x[keep], y[keep]
    upper = np.triu_indices(x.shape[0], k=1)
    return spearman(rdm(x, metric)[upper], rdm(y, metric)[upper])
