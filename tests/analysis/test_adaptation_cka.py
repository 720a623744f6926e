"""Per-layer change between an agent before and after fine-tuning."""

from __future__ import annotations

import numpy as np
import pytest

from repgym.analysis.adaptation import adaptation, unit_stability


def test_unchanged_layers_are_reused_and_rebuilt_layers_are_not() -> None:
    rng = np.random.default_rng(0)
    before = {"torso": rng.normal(size=(300, 16)), "head": rng.normal(size=(300, 4))}
    after = {"torso": before["torso"] * 2.0, "head": rng.normal(size=(300, 4)), "new": rng.normal(size=(300, 2))}
    generality = {"torso": np.linspace(0, 1, 16)}
    table = adaptation(before, after, generality)
    assert set(table.unique("layer")) == {"torso", "head"}
    cka = {r.layer: r.value for r in table.filter(metric="cka_linear")}
    assert cka["torso"] == pytest.approx(1.0) and abs(cka["head"]) < 0.1
    assert table.filter(layer="torso", metric="mean_stability").rows[0].value == pytest.approx(1.0)
    assert table.filter(metric="generality_stability_spearman").rows[0].n == 16


def test_unit_stability_per_filter_and_errors() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(50, 3, 2, 2))
    b = a.copy()
    b[:, 1] = -b[:, 1]
    b[:, 2] = rng.normal(size=(50, 2, 2))
    s = unit_stability(a, b)
    assert s[0] == pytest.approx(1.0) and s[1] == pytest.approx(-1.0) and abs(s[2]) < 0.3
    with pytest.raises(ValueError, match="same shape"):
        unit_stability(a, b[:, :2])
    with pytest.raises(ValueError, match="no layer with the same name"):
        adaptation({"a": a}, {"b": a})
