"""The pseudo-kernel prediction: equal to the explicit kernel sum, exact for small steps, and the toy runs."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from repgym.analysis.pseudo_kernel import (
    ToyNet,
    adjusted_rand_index,
    curriculum,
    explicit_delta_h,
    kmeans,
    make_toy,
    max_stable_lr,
    predicted_delta,
    pseudo_kernel_experiment,
    sharing_index,
    train,
)


def _net(toy, seed: int = 0, hidden: int = 8, scale: float = 1.0) -> ToyNet:
    torch.manual_seed(seed)
    return ToyNet(toy.n_inputs, len(toy.tasks), toy.n_outputs, hidden, scale)


def test_prediction_equals_the_explicit_loss_weighted_kernel_sum() -> None:
    toy = make_toy(2, 2)
    net = _net(toy)
    x, y = toy.single.x, toy.single.y
    fast = predicted_delta(net, [(x, y, 1)], 0.5, x)
    explicit = explicit_delta_h(net, x, x, y, 0.5)
    torch.testing.assert_close(fast, explicit, atol=1e-7, rtol=1e-5)


def test_prediction_matches_training_for_small_steps() -> None:
    toy = make_toy(2, 2)
    net = _net(toy, seed=1)
    phases = curriculum(toy, "single-then-multi", 6)
    with torch.no_grad():
        h0 = net(toy.single.x)[0]
    predicted = predicted_delta(net, phases, 0.05, toy.single.x)
    trained = train(copy.deepcopy(net), phases, 0.05)
    with torch.no_grad():
        actual = trained(toy.single.x)[0] - h0
    cosine = torch.nn.functional.cosine_similarity(predicted.flatten(), actual.flatten(), dim=0)
    assert cosine > 0.99


def test_toy_structure_and_clustering_helpers() -> None:
    toy = make_toy(3, 2)
    assert len(toy.tasks) == 9 and toy.single.x.shape == (8 * 9, 6 + 9)
    assert list(toy.input_dimension()) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert list(toy.output_dimension()) == [0, 1, 2, 0, 1, 2, 0, 1, 2]
    assert all(toy.tasks[a][0] != toy.tasks[b][0] for a, b in toy.multi.cued)
    assert adjusted_rand_index(np.array([0, 0, 1, 1]), np.array([5, 5, 2, 2])) == 1.0
    assert adjusted_rand_index(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])) < 0
    blobs = np.concatenate([np.zeros((5, 2)), np.ones((5, 2)) * 10]) + np.random.default_rng(0).normal(size=(10, 2))
    assert adjusted_rand_index(kmeans(blobs, 2), np.repeat([0, 1], 5)) == 1.0
    similarity = np.array([[1.0, 0.9, 0.1], [0.9, 1.0, 0.1], [0.1, 0.1, 1.0]])
    assert sharing_index(similarity, np.array([0, 0, 1])) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="curriculum must be one of"):
        curriculum(toy, "nope", 10)


def test_experiment_rows_and_the_stability_guard() -> None:
    table = pseudo_kernel_experiment(
        seeds=(0,), init_scales=(1.0,), curricula=("concurrent",), dims=2, features=2, hidden=8, steps=20, lr=0.1
    )
    metrics = {r.metric: r.value for r in table}
    assert {"learned_similarity_correlation", "hidden_sharing_actual", "multitask_accuracy"} <= set(metrics)
    assert {"learned_output_sharing_predicted", "learned_output_sharing_actual"} <= set(metrics)
    assert all(np.isfinite(metrics[m]) for m in ("hidden_sharing_predicted", "hidden_change_predicted"))
    toy = make_toy(2, 2)
    limit = max_stable_lr(_net(toy, scale=10.0), toy.single.x)
    with pytest.raises(ValueError, match="diverge"):
        pseudo_kernel_experiment(
            seeds=(0,),
            init_scales=(10.0,),
            curricula=("concurrent",),
            dims=2,
            features=2,
            hidden=8,
            steps=2,
            lr=2 * limit,
        )


def test_in_the_kernel_regime_the_prediction_tracks_the_output_grouped_change() -> None:
    """Early in training at standard init the learned change is what the kernel predicts, and it groups tasks by
    the output dimension they write (the error reaches the hidden layer through the initial read-out)."""
    table = pseudo_kernel_experiment(
        seeds=(0,), init_scales=(1.0,), curricula=("concurrent",), dims=3, features=2, hidden=32, steps=60, lr=0.1
    )
    metrics = {r.metric: r.value for r in table}
    assert metrics["learned_similarity_correlation"] > 0.95
    assert metrics["learned_output_sharing_predicted"] > 0.5 and metrics["learned_output_sharing_actual"] > 0.5
    assert metrics["learned_sharing_actual"] < 0
