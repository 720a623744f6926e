"""Intrinsic dimension of known manifolds; participation ratio of known spectra."""

from __future__ import annotations

import numpy as np
import pytest

from repgym.analysis.dimensionality import dimensionality, participation_ratio, two_nn


def _plane(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(50, 2)))
    return rng.uniform(size=(n, 2)) @ basis.T + 3.0  # a 2-D square embedded in 50-D


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_twonn_recovers_a_plane_in_50d(seed: int) -> None:
    assert two_nn(_plane(1000, seed)).dimension == pytest.approx(2.0, abs=0.3)


def test_twonn_drops_duplicate_states_first() -> None:
    x = _plane(600, 3)
    states = np.arange(600)
    repeated = np.concatenate([x, x[:200]])  # replay repeats 200 states
    result = two_nn(repeated, np.concatenate([states, states[:200]])[:, None])
    assert result.duplicate_states == 200 and result.n_used == 600
    assert result.dimension == pytest.approx(two_nn(x).dimension)
    collapsed = two_nn(repeated)  # no state keys: identical rows are still dropped
    assert collapsed.duplicate_points == 200


def test_twonn_on_a_5d_gaussian_and_participation_ratio() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2000, 5)) @ np.linalg.qr(rng.normal(size=(20, 5)))[0].T
    assert two_nn(x).dimension == pytest.approx(5.0, abs=0.6)
    assert participation_ratio(x) == pytest.approx(5.0, abs=0.3)
    line = np.outer(rng.normal(size=500), rng.normal(size=20))
    assert participation_ratio(line) == pytest.approx(1.0)
    table = dimensionality({"layer": x[:300]})
    assert {r.metric for r in table} == {"participation_ratio", "twonn"}
