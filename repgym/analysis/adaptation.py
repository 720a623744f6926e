"""Change under adaptation (ANIL-style feature reuse, Raghu et al. 2020): compare an agent before and after
fine-tuning (gravity off -> on, delay 0 -> 50, a new task) on the same states.

Per layer present in both: debiased linear and RBF CKA between the two versions (1: the layer's representation
was reused; low: it was rebuilt), and per unit the *stability* — the Pearson correlation of the unit's activation
before and after over the states (for conv filters, over states and positions). If the states' ``generality``
(fraction of inputs on which each unit was active before) is given, the Spearman correlation between a unit's
generality and its stability asks whether general units are the ones that transfer.
"""

from __future__ import annotations

import numpy as np

from repgym.analysis.similarity import cka, spearman
from repgym.analysis.tidy import Table


def unit_stability(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """``(units,)`` Pearson correlation of each unit before vs after (``(n, units, *rest)`` each; NaN for a unit
    that is constant in either)."""
    a = np.asarray(before, dtype=np.float64)
    b = np.asarray(after, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"before and after must have the same shape, got {a.shape} and {b.shape}")
    a = np.moveaxis(a, 1, 0).reshape(a.shape[1], -1)
    b = np.moveaxis(b, 1, 0).reshape(b.shape[1], -1)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    denom = np.sqrt(np.sum(a * a, axis=1) * np.sum(b * b, axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, np.sum(a * b, axis=1) / denom, np.nan)


def adaptation(
    before: dict[str, np.ndarray],
    after: dict[str, np.ndarray],
    generality: dict[str, np.ndarray] | None = None,
) -> Table:
    """Per shared layer: ``cka_linear``, ``cka_rbf``, ``mean_stability`` and (with ``generality``:
    ``{layer: (units,) active fraction before}``) ``generality_stability_spearman``; per unit ``stability``."""
    table = Table()
    shared = [k for k in before if k in after and np.shape(before[k]) == np.shape(after[k])]
    if not shared:
        raise ValueError(f"no layer with the same name and shape in both agents: {sorted(before)} vs {sorted(after)}")
    for layer in shared:
        a, b = np.asarray(before[layer]), np.asarray(after[layer])
        n = a.shape[0]
        flat_a, flat_b = a.reshape(n, -1), b.reshape(n, -1)
        for kernel in ("linear", "rbf"):
            result = cka(flat_a, flat_b, kernel=kernel)
            table.add(
                "adaptation",
                layer,
                None,
                f"cka_{kernel}",
                result.value,
                n,
                p=result.p_x,
                debiased=True,
                negative_hsic=result.negative_hsic,
            )
        stability = unit_stability(a, b)
        for unit, s in enumerate(stability):
            table.add("adaptation", layer, unit, "stability", s, n)
        table.add(
            "adaptation",
            layer,
            None,
            "mean_stability",
            np.nanmean(stability) if np.isfinite(stability).any() else np.nan,
            n,
        )
        if generality is not None and layer in generality:
            g = np.asarray(generality[layer], dtype=np.float64)
            ok = np.isfinite(stability) & np.isfinite(g)
            value = spearman(g[ok], stability[ok]) if ok.sum() >= 3 else np.nan
            table.add("adaptation", layer, None, "generality_stability_spearman", value, int(ok.sum()))
    return table
