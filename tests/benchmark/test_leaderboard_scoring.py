"""IQM, the stratified bootstrap and normalised scores on numbers worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from repgym.benchmark.scoring import (
    bootstrap_ci,
    human_normalised,
    iqm,
    iqm_rows,
    random_normalised,
    stratified_bootstrap_ci,
)


def test_iqm_drops_a_quarter_at_each_end():
    assert iqm([1, 2, 3, 100]) == 2.5  # int(0.25 * 4) = 1 dropped at each end
    assert iqm([5, 1, 3]) == 3.0  # int(0.75) = 0: three runs are all kept (as scipy's trim_mean)
    assert iqm(np.arange(8.0)) == 3.5  # drops 0, 1 and 6, 7
    assert iqm([7.0]) == 7.0
    with pytest.raises(ValueError, match="no values"):
        iqm([])


def test_iqm_rows_matches_iqm_row_by_row():
    x = np.random.default_rng(0).normal(size=(50, 9))
    np.testing.assert_allclose(iqm_rows(x), [iqm(row) for row in x])


def test_bootstrap_of_two_seeds_has_the_exact_resampling_quantiles():
    # Resamples of (a, b): (a, a) with p 1/4, (a, b) 1/2, (b, b) 1/4; IQM of two values is their mean.
    point, low, high = bootstrap_ci([2.0, 6.0], reps=4000, seed=1)
    assert point == 4.0
    assert (low, high) == (2.0, 6.0)  # 2.5% and 97.5% quantiles fall in the (a, a) and (b, b) masses


def test_bootstrap_is_reproducible_and_narrows_with_more_seeds():
    rng = np.random.default_rng(3)
    few, many = rng.normal(10, 2, size=5), rng.normal(10, 2, size=200)
    assert bootstrap_ci(few, seed=7) == bootstrap_ci(few, seed=7)
    _, lo5, hi5 = bootstrap_ci(few)
    point, lo200, hi200 = bootstrap_ci(many)
    assert lo200 <= point <= hi200
    assert hi200 - lo200 < hi5 - lo5
    assert bootstrap_ci([3.0]) == (3.0, 3.0, 3.0)  # one seed: nothing to resample


def test_stratified_bootstrap_resamples_within_each_task():
    # Each task's runs are constant, so every stratified resample holds 3 copies of each task's value: the
    # interval collapses to the point. A pooled (unstratified) bootstrap would mix the tasks and spread.
    scores = np.array([[0.0, 10.0]] * 3)
    point, low, high = stratified_bootstrap_ci(scores, reps=500)
    assert point == low == high == iqm([0, 0, 0, 10, 10, 10])
    with pytest.raises(ValueError, match="non-empty"):
        stratified_bootstrap_ci(np.zeros((0, 2)))
    with pytest.raises(ValueError, match="confidence"):
        stratified_bootstrap_ci(scores, confidence=1.5)


def test_normalised_scores():
    assert random_normalised(150.0, 100.0) == 0.5
    assert random_normalised(-25.0, -50.0) == 0.5  # negative returns: halving the cost is +0.5
    assert random_normalised(100.0, 100.0) == 0.0
    assert random_normalised(3.0, 0.0) is None
    assert random_normalised(3.0, None) is None
    assert human_normalised(60.0, 10.0, 110.0) == 0.5
    assert human_normalised(110.0, 10.0, 110.0) == 1.0
    assert human_normalised(5.0, 10.0, 10.0) is None
    assert human_normalised(5.0, None, 10.0) is None
