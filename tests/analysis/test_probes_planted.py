"""Linear probes recover planted factors and nothing from noise."""

from __future__ import annotations

import numpy as np
import pytest

from repgym.analysis.probes import kfold_indices, probe, probe_table


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


def test_leave_one_episode_out_residuals_equal_refitting_without_the_episode() -> None:
    """The ridge strength is chosen by held-out-episode error (near-copies within an episode make leave-one-out
    reward interpolation); the closed form equals refitting without each episode."""
    from repgym.analysis.probes import _held_out_residuals

    rng = np.random.default_rng(0)
    episode = np.repeat(np.arange(20), 5)
    z, y = rng.normal(size=(100, 30)), rng.normal(size=(100, 2))
    u, s, _ = np.linalg.svd(z, full_matrices=False)
    shrink = s * s / (s * s + 3.0)
    blocks = [np.flatnonzero(episode == g) for g in range(20)]
    fast = _held_out_residuals(u, shrink, y - u @ (shrink[:, None] * (u.T @ y)), blocks)
    for block in blocks:
        train = np.setdiff1d(np.arange(100), block)
        w = np.linalg.solve(z[train].T @ z[train] + 3.0 * np.eye(30), z[train].T @ y[train])
        np.testing.assert_allclose(fast[block], y[block] - z[block] @ w, atol=1e-10)


def test_a_factor_defined_in_some_states_is_probed_on_those_only() -> None:
    """``steps_since_key`` exists only once the key is taken: mean-imputed elsewhere, it must be scored only where
    it is defined (the imputed rows are not a linear function of the latent)."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(400, 6))
    defined = np.arange(400) % 2 == 0
    factor = np.where(defined, x[:, 0] * 3.0, 0.0)  # 0 stands for the imputed value
    plain = probe_table({"layer": x}, {"since": factor}, groups=np.repeat(np.arange(40), 10))
    masked = probe_table(
        {"layer": x}, {"since": factor}, groups=np.repeat(np.arange(40), 10), defined={"since": defined}
    )
    assert plain.rows[0].value < 0.7 and plain.rows[0].n == 400
    row = masked.rows[0]
    assert row.value > 0.99 and row.n == 200 and row.params["defined_only"] is True


def test_a_unit_silent_in_training_cannot_blow_up_held_out_predictions() -> None:
    """A rare unit that barely varies in the training folds but fires in a held-out episode: its standardised
    value there is thousands of standard deviations, so held-out features are clipped to the training range."""
    rng = np.random.default_rng(3)
    episode = np.repeat(np.arange(30), 10)
    x = np.stack([rng.normal(size=300), 1e-3 * rng.normal(size=300)], axis=1)
    x[episode == 0, 1] = 5.0  # the rare unit fires only in episode 0
    y = x[:, 0] + 0.3 * rng.normal(size=300)
    scores, _ = probe(x, {"y": y}, groups=episode)
    assert scores["y"].r2 > 0.85
