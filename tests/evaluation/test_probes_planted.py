"""Linear probes recover planted factors and nothing from noise."""

from __future__ import annotations

import numpy as np
import pytest

from repgym.evaluation.probes import kfold_indices, probe, probe_table


def test_probe_recovers_a_planted_linear_factor_and_not_noise() -> None:
    rng = np.random.default_rng(0)
    n, p = 600, 40
    x = rng.normal(size=(n, p))
    factors = {
        "planted": x @ rng.normal(size=p) + 0.1 * rng.normal(size=n),
        "noise": rng.normal(size=n),
        "colour": np.argmax(x[:, :3] @ rng.normal(size=(3, 3)), axis=1).astype(float),
    }
    scores, split = probe(x, factors, {"colour"}, groups=np.repeat(np.arange(30), 20))
    assert split == "episode"
    assert scores["planted"].r2 > 0.99
    assert scores["noise"].r2 < 0.05
    assert scores["colour"].accuracy > scores["colour"].chance + 0.3


def test_probe_table_rows_and_categorical_metrics() -> None:
    rng = np.random.default_rng(1)
    latent = rng.normal(size=(200, 5))
    table = probe_table({"layer": latent}, {"f": latent[:, 0], "c": (latent[:, 1] > 0).astype(float)}, {"c"})
    metrics = {(r.params["factor"], r.metric) for r in table}
    assert metrics == {("f", "r2"), ("c", "r2"), ("c", "accuracy"), ("c", "chance")}
    accuracy = table.filter(params_factor="c", metric="accuracy").rows[0]
    assert accuracy.value > 0.9 and accuracy.n == 200


def test_folds_keep_episodes_together() -> None:
    groups = np.repeat(np.arange(12), np.arange(1, 13))
    folds, kind = kfold_indices(groups.size, 4, groups)
    assert kind == "episode" and sorted(np.concatenate(folds)) == list(range(groups.size))
    owners = [set(groups[f]) for f in folds]
    assert all(not (a & b) for i, a in enumerate(owners) for b in owners[i + 1 :])
    assert kfold_indices(10, 5, np.zeros(10))[1] == "state"  # one episode: split states
    with pytest.raises(ValueError, match="folds must be >= 2"):
        kfold_indices(10, 1)
