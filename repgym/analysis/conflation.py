"""Conflation: states the agent treats alike although they call for different actions.

Two distinct states are *near* in a layer when their latent distance is among the smallest ``quantile`` of all
pairwise distances between distinct states. A near pair is *conflated* when the states' decision labels differ
(the optimal action where the env has an oracle, else the set of legal moves: see
:mod:`repgym.analysis.states`) — the representation puts together situations that a good policy must tell
apart. Reported per layer: how many near pairs are conflated, which ground-truth factors differ across
conflated pairs (how often each one does; the state's own factors before summaries such as ``info.score``), the
closest conflated pairs as examples, and the *responsible units*: units that usually separate states with
different labels but not these — ``responsibility = 1 - mean |Δunit| over conflated pairs / mean |Δunit| over
pairs with different labels``, for units that vary at all.
"""

from __future__ import annotations

import numpy as np

from repgym.analysis.tidy import Table


def _pairwise_sq(x: np.ndarray) -> np.ndarray:
    sq = np.sum(x * x, axis=1)
    return np.maximum(sq[:, None] + sq[None, :] - 2.0 * x @ x.T, 0.0)


def conflation(
    acts: dict[str, np.ndarray],
    labels: np.ndarray,
    factors: dict[str, np.ndarray],
    states: np.ndarray | None = None,
    quantile: float = 0.01,
    examples: int = 5,
    top_units: int = 5,
    max_states: int = 1500,
    seed: int = 0,
) -> Table:
    """Conflated pairs per layer (see the module docstring).

    Args:
        acts: ``{layer: (n, ...)}`` activations.
        labels: ``(n,)`` decision labels.
        factors: ``{name: (n,)}`` ground truth, to say what differs in conflated pairs.
        states: ``(n, ...)`` observations, to drop duplicate states (default: factors identify states).
        quantile: fraction of the closest pairs that count as near.
        examples: closest conflated pairs listed per layer.
        top_units: responsible units listed per layer.
        max_states: random subset size (pairs grow as n^2).
    """
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    labels = np.asarray(labels)
    n = labels.shape[0]
    names = list(factors)
    gt = np.stack([np.asarray(factors[k], dtype=np.float64) for k in names], axis=1) if names else np.zeros((n, 0))
    key = np.asarray(states).reshape(n, -1) if states is not None else gt
    _, first = np.unique(np.ascontiguousarray(key), axis=0, return_index=True)
    keep = np.sort(first)
    if keep.size > max_states:
        keep = np.sort(np.random.default_rng(seed).choice(keep, max_states, replace=False))
    m = keep.size
    if m < 3:
        raise ValueError(f"conflation needs at least 3 distinct states, got {m}")
    # factors of the state itself (``state...``, ``obs...``) are listed before summaries such as ``info.score``
    primary = np.array([name.startswith(("state", "obs")) for name in names], dtype=np.float64)
    upper = np.triu_indices(m, k=1)
    differ = labels[keep][upper[0]] != labels[keep][upper[1]]
    table = Table()
    params = {"quantile": quantile, "distinct_states": int(m)}
    for layer, act in acts.items():
        x = np.asarray(act, dtype=np.float64).reshape(n, -1)[keep]
        d2 = _pairwise_sq(x)[upper]
        threshold = np.quantile(d2, quantile)
        near = d2 <= threshold
        conflated = near & differ
        count = int(conflated.sum())
        pairs = int(near.sum())
        table.add("conflation", layer, None, "conflated_pairs", count, pairs, **params)
        table.add("conflation", layer, None, "conflated_fraction", count / pairs if pairs else np.nan, pairs, **params)
        table.add("conflation", layer, None, "near_distance", np.sqrt(threshold), int(d2.size), **params)
        if count == 0:
            continue
        i, j = upper[0][conflated], upper[1][conflated]
        gt_k = gt[keep]
        changed = gt_k[i] != gt_k[j]  # (count, factors)
        for f in np.argsort(-changed.mean(axis=0) - primary, kind="stable")[:10]:
            table.add(
                "conflation", layer, None, "factor_differs", changed[:, f].mean(), count, factor=names[f], **params
            )
        order = np.argsort(d2[conflated], kind="stable")[:examples]
        for rank, e in enumerate(order, start=1):
            a, b = int(keep[i[e]]), int(keep[j[e]])
            table.add(
                "conflation",
                layer,
                None,
                "example_distance",
                np.sqrt(d2[conflated][e]),
                1,
                rank=rank,
                states=[a, b],
                differing=[names[f] for f in np.flatnonzero(changed[e])][:12],
                differing_count=int(changed[e].sum()),
                **params,
            )
        delta_conf = np.abs(x[i] - x[j]).mean(axis=0)
        sample = np.flatnonzero(differ)
        if sample.size > 20000:
            sample = np.random.default_rng(seed).choice(sample, 20000, replace=False)
        delta_diff = np.abs(x[upper[0][sample]] - x[upper[1][sample]]).mean(axis=0)
        varying = np.flatnonzero(delta_diff > 1e-12)
        responsibility = 1.0 - delta_conf[varying] / delta_diff[varying]
        units_per_feature = _unit_index(np.asarray(act).shape)
        for idx in np.argsort(-responsibility, kind="stable")[:top_units]:
            feature = int(varying[idx])
            table.add(
                "conflation",
                layer,
                units_per_feature(feature),
                "responsibility",
                responsibility[idx],
                count,
                feature=feature,
                **params,
            )
    return table


def _unit_index(shape: tuple[int, ...]):
    """Maps a flat feature index of ``(n, units, *rest)`` activations to its unit."""
    rest = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return lambda feature: feature // rest
