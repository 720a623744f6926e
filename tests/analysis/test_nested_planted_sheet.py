"""Nested manifolds from a planted case: a 2-D sheet of states (three of five factors held fixed) inside a 5-D
cloud is found as a ~2-D submanifold of a ~5-D class manifold; sub-classes come from ground-truth predicates."""

from __future__ import annotations

import numpy as np
import pytest

from repgym.analysis.nested import (
    board_colours_left,
    default_subclass,
    nested_manifold,
    nested_manifolds,
    parse_subclass,
)


def _planted(seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    cloud = rng.uniform(size=(2000, 5))
    sheet = rng.uniform(size=(300, 5))
    sheet[:, 2:] = 0.5  # the sub-class: three factors fixed, two free
    u = np.vstack([cloud, sheet])
    basis, _ = np.linalg.qr(rng.normal(size=(12, 5)))
    latents = u @ basis.T + 0.2 * np.sin(3.0 * u) @ rng.normal(size=(5, 12))  # a curved 5-D manifold in 12-D
    factors = {f"u{i}": u[:, i] for i in range(5)}
    factors["on_sheet"] = np.r_[np.zeros(2000), np.ones(300)]
    return latents, factors


def test_a_planted_2d_sheet_inside_a_5d_cloud_is_found() -> None:
    latents, factors = _planted()
    member = factors["on_sheet"] == 1
    truth = np.stack([factors[f"u{i}"] for i in range(5)], axis=1)
    r = nested_manifold(latents, member, truth, k=12)
    assert r.twonn_subclass == pytest.approx(2.0, abs=0.4)
    assert r.twonn_class == pytest.approx(5.0, abs=0.8)
    assert r.local_pca_subclass < 2.6 < 3.5 < r.local_pca_class
    assert r.tangent_containment > 0.75 > 2 * r.containment_chance
    assert r.neighbourhood_preservation > 3 * r.preservation_chance
    assert (r.n_class, r.n_subclass) == (2000, 300)  # at most 2000 points: the sheet kept whole


def test_the_table_uses_a_predicate_over_ground_truth() -> None:
    latents, factors = _planted(1)
    obs = np.arange(len(latents))[:, None]  # every state distinct
    table = nested_manifolds({"layer": latents}, factors, obs, parse_subclass("on_sheet == 1"), k=12)
    got = {r.metric: r.value for r in table}
    assert got["twonn_subclass"] < 2.5 < 4.0 < got["twonn_class"]
    assert table.rows[0].params["subclass"] == "on_sheet == 1"
    few = nested_manifolds({"layer": latents}, factors, obs, parse_subclass("u0 < 0.002 and on_sheet == 0"))
    assert len(few) == 1 and np.isnan(few.rows[0].value) and "sub-class points" in few.rows[0].params["error"]


def test_subclass_parsing_and_defaults() -> None:
    factors = {"state.key_held": np.array([0.0, 1.0, 1.0]), "hand_z": np.array([-0.1, 0.2, 0.0])}
    assert parse_subclass("state.key_held == 1").members(factors, 3).tolist() == [False, True, True]
    assert parse_subclass("hand_z > 0 and state.key_held >= 1").members(factors, 3).tolist() == [False, True, False]
    assert default_subclass(factors).name == "state.key_held == 1"
    assert default_subclass({"hand_z": factors["hand_z"]}).name == "hand_z > 0"
    with pytest.raises(ValueError, match="NAME OP NUMBER"):
        parse_subclass("hand_z >> 0")
    with pytest.raises(ValueError, match="unknown factor"):
        parse_subclass("elbow > 0").members(factors, 3)
    # a bare name stands for the one factor *.NAME (KeyToDoor's ground truth is flattened as state.key_held)
    assert parse_subclass("key_held == 1").members(factors, 3).tolist() == [False, True, True]
    two = {"state.key_held": factors["state.key_held"], "info.key_held": np.zeros(3)}
    with pytest.raises(ValueError, match=r"ambiguous.*'info\.key_held', 'state\.key_held'"):
        parse_subclass("key_held == 1").members(two, 3)
    assert parse_subclass("state.key_held == 1").members(two, 3).tolist() == [False, True, True]
    board = {"state[0,0]": np.array([1.0, 2.0, 0.0]), "state[0,1]": np.array([1.0, 1.0, 3.0])}
    assert board_colours_left(board, 2).tolist() == [1, 2, 0]  # 3 is the grey bubble when there are 2 colours

    class Env:
        class unwrapped:  # noqa: N801 - mimics gymnasium's attribute
            class config:  # noqa: N801
                colours = 2

    bubble = default_subclass(board, Env())
    assert bubble.name == "colours_left <= 1" and bubble.members(board, 3).tolist() == [True, False, True]
