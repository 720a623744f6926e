"""Similarity measures against facts that hold by construction."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from repgym.analysis.similarity import (
    cka,
    cka_matrix,
    gram_linear,
    hsic,
    minibatch_cka,
    pwcca,
    rankdata,
    rsa,
    spearman,
    svcca,
)


def _orthogonal(p: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(p, p)))
    return q * np.sign(np.diag(r))


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
@pytest.mark.parametrize("debiased", [True, False])
def test_cka_invariant_to_orthogonal_maps_and_isotropic_scaling(kernel: str, debiased: bool) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 20))
    y = 3.7 * x @ _orthogonal(20, rng) + 5.0  # rotate, scale, shift
    assert cka(x, y, kernel=kernel, debiased=debiased).value == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_cka_not_invariant_to_arbitrary_linear_maps(kernel: str) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 20))
    stretch = rng.normal(size=(20, 20)) @ np.diag(np.logspace(-2, 1, 20))  # invertible but far from orthogonal
    assert np.linalg.matrix_rank(stretch) == 20
    assert cka(x, x @ stretch, kernel=kernel).value < 0.8


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_debiased_cka_of_independent_features_is_near_zero_but_biased_is_not(kernel: str) -> None:
    rng = np.random.default_rng(2)
    debiased, biased = [], []
    for _ in range(10):
        x, y = rng.normal(size=(30, 200)), rng.normal(size=(30, 200))  # small n, large p
        debiased.append(cka(x, y, kernel=kernel).value)
        biased.append(cka(x, y, kernel=kernel, debiased=False).value)
    assert abs(np.mean(debiased)) < 0.05
    assert np.mean(biased) > 0.6


def test_debiased_hsic_matches_definition_and_result_reports_n_and_p() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(12, 3)), rng.normal(size=(12, 5))
    k, l = gram_linear(x), gram_linear(y)  # noqa: E741
    n = 12
    kt, lt = k - np.diag(np.diag(k)), l - np.diag(np.diag(l))
    one = np.ones(n)
    expected = (
        np.trace(kt @ lt)
        + (one @ kt @ one) * (one @ lt @ one) / ((n - 1) * (n - 2))
        - 2.0 / (n - 2) * one @ kt @ lt @ one
    ) / (n * (n - 3))
    assert hsic(k, l) == pytest.approx(expected, rel=1e-12)
    result = cka(x, y)
    assert (result.n, result.p_x, result.p_y, result.debiased) == (12, 3, 5, True)


def test_negative_self_hsic_is_guarded() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(50, 4))
    constant = np.ones((50, 3))
    result = cka(x, constant)
    assert np.isnan(result.value) and result.negative_hsic


def test_minibatch_cka_agrees_with_full_cka() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(1200, 10))
    y = np.tanh(x @ rng.normal(size=(10, 8))) + 0.3 * rng.normal(size=(1200, 8))
    full = cka(x, y).value
    assert minibatch_cka(x, y, batch_size=300).value == pytest.approx(full, abs=0.03)
    table = cka_matrix({"x": x, "y": y}, max_full=500, batch_size=300, kernels=("linear",))
    row = table.filter(layer="x", params_other="y").rows[0]
    assert row.params["minibatch"] and row.value == pytest.approx(full, abs=0.03)
    assert table.filter(layer="x", params_other="x").rows[0].value == pytest.approx(1.0)


def test_cca_scores_and_the_n_much_larger_than_p_guard() -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2000, 10))
    assert svcca(x, x @ rng.normal(size=(10, 10))).mean == pytest.approx(1.0, abs=1e-6)  # any invertible map
    independent = pwcca(x, rng.normal(size=(2000, 10)))
    assert independent.pwcca < 0.1 and not independent.small_n
    with pytest.raises(ValueError, match="many more states than dimensions"):
        svcca(rng.normal(size=(30, 20)), rng.normal(size=(30, 20)))
    with pytest.warns(RuntimeWarning, match="inflated"):
        flagged = pwcca(rng.normal(size=(100, 20)), rng.normal(size=(100, 20)))
    assert flagged.small_n


def test_rsa_and_ranks() -> None:
    assert np.array_equal(rankdata(np.array([3.0, 1.0, 3.0, 2.0])), [3.5, 1.0, 3.5, 2.0])
    assert spearman(np.arange(5.0), np.arange(5.0) ** 3) == pytest.approx(1.0)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(80, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert rsa(x, 2.0 * x @ _orthogonal(6, rng)) == pytest.approx(1.0)
    assert abs(rsa(x, rng.normal(size=(80, 6)))) < 0.15
