"""MIG and DCI: a latent per factor scores high, a rotation of the same latents scores low."""

from __future__ import annotations

import numpy as np
import pytest

from repgym.analysis.disentanglement import dci, disentanglement, mig, mutual_information


def _factors(n: int = 4000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(n, 3))


def test_axis_aligned_latents_are_disentangled() -> None:
    v = _factors()
    value, gaps = mig(v, v, bins=10)
    assert value > 0.95 and gaps.shape == (3,)
    d, c, i = dci(v * [2.0, -1.0, 5.0] + 1.0, v)  # per-axis scaling keeps a latent per factor
    assert d > 0.95 and c > 0.95 and i > 0.99


def test_rotated_latents_are_entangled_but_as_informative() -> None:
    v = _factors(seed=1)
    rotation = np.array([[0.6, -0.8, 0.0], [0.8, 0.6, 0.0], [0.0, 0.0, 1.0]]) @ np.array(
        [[1.0, 0.0, 0.0], [0.0, 0.6, -0.8], [0.0, 0.8, 0.6]]
    )
    z = v @ rotation
    assert mig(z, v, bins=10)[0] < 0.6
    d, c, i = dci(z, v)
    assert d < 0.8 and c < 0.8 and i > 0.99


def test_mutual_information_of_identical_codes_is_their_entropy() -> None:
    codes = np.repeat(np.arange(4), 24)
    assert mutual_information(codes, codes) == pytest.approx(np.log(4))
    assert mutual_information(codes, np.tile(np.arange(4), 24)) == pytest.approx(0.0, abs=1e-12)


def test_table_skips_wide_layers() -> None:
    v = _factors(500, 2)
    table = disentanglement({"narrow": v, "wide": np.tile(v, 30)}, ["a", "b", "c"], v, bins=10)
    assert set(table.unique("layer")) == {"narrow"}
    assert {r.params["factor"] for r in table.filter(metric="mig_gap")} == {"a", "b", "c"}
