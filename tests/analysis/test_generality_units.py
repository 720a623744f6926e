"""Unit generality and dormancy on activations with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from repgym.analysis.generality import generality, unit_activity


def test_active_fractions_dead_and_dormant_units() -> None:
    n = 100
    act = np.zeros((n, 4))
    act[:, 0] = 1.0  # always on: general
    act[: n // 4, 1] = 2.0  # on for a quarter of the states
    act[:, 3] = 1e-4  # technically always on, but does nothing: dormant
    fraction, score = unit_activity(act)
    assert fraction.tolist() == [1.0, 0.25, 0.0, 1.0]
    assert score[2] == 0.0 and score[3] < 0.025 and score[0] > 1.0
    table = generality({"layer": act})
    layer = {r.metric: r.value for r in table.filter(unit=None)}
    assert layer["general_fraction"] == 0.5
    assert layer["dead_fraction"] == 0.25
    assert layer["dormant_fraction"] == 0.5


def test_a_conv_filter_is_active_if_it_fires_anywhere() -> None:
    act = np.zeros((10, 2, 3, 3))
    act[:, 0, 2, 2] = 1.0
    assert unit_activity(act)[0].tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="must be"):
        unit_activity(np.zeros(5))
