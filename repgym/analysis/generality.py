"""Unit generality: on what fraction of inputs each unit / filter is active, and which units are dormant.

A unit is *active* on a state when its activation exceeds ``threshold`` (0: the natural choice after a ReLU; for
tanh or pre-activation layers it reads "positive") anywhere in its extent: a conv filter counts as active on a
state if it fires at any position. *General* units fire on most states (``>= general_at`` of them), *dead*
units on none. *Dormant* units follow Sokar et al. (2023, "The Dormant Neuron Phenomenon in Deep RL"): a unit's
score is its mean absolute activation divided by the layer's average of that, and a unit with score <= ``tau``
is dormant — it does little even if it is technically "on".
"""

from __future__ import annotations

import numpy as np

from repgym.analysis.tidy import Table


def unit_activity(act: np.ndarray, threshold: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """``(active_fraction, dormancy_score)``, each ``(units,)``, of one layer's ``(n, units, *rest)`` activations."""
    act = np.asarray(act, dtype=np.float64)
    if act.ndim < 2:
        raise ValueError(f"activations must be (n, units, ...), got shape {act.shape}")
    per_unit = act.reshape(act.shape[0], act.shape[1], -1)
    active = (per_unit > threshold).any(axis=2)
    magnitude = np.abs(per_unit).mean(axis=(0, 2))
    layer_mean = magnitude.mean()
    score = magnitude / layer_mean if layer_mean > 0 else np.zeros_like(magnitude)
    return active.mean(axis=0), score


def generality(
    acts: dict[str, np.ndarray],
    threshold: float = 0.0,
    tau: float = 0.025,
    general_at: float = 0.9,
) -> Table:
    """Per unit: ``active_fraction`` and ``dormancy_score``; per layer (``unit=None``): ``mean_active_fraction``,
    ``general_fraction``, ``dead_fraction`` and ``dormant_fraction``."""
    if not 0.0 < general_at <= 1.0:
        raise ValueError(f"general_at must be in (0, 1], got {general_at}")
    table = Table()
    params = {"threshold": threshold, "tau": tau, "general_at": general_at}
    for layer, act in acts.items():
        fraction, score = unit_activity(act, threshold)
        n = int(np.asarray(act).shape[0])
        for unit, (f, s) in enumerate(zip(fraction, score, strict=True)):
            table.add("generality", layer, unit, "active_fraction", f, n, **params)
            table.add("generality", layer, unit, "dormancy_score", s, n, **params)
        units = fraction.size
        table.add("generality", layer, None, "mean_active_fraction", fraction.mean(), n, units=units, **params)
        table.add(
            "generality", layer, None, "general_fraction", np.mean(fraction >= general_at), n, units=units, **params
        )
        table.add("generality", layer, None, "dead_fraction", np.mean(fraction == 0), n, units=units, **params)
        table.add("generality", layer, None, "dormant_fraction", np.mean(score <= tau), n, units=units, **params)
    return table
