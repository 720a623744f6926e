"""CMA-ES search and its worker processes; the controller's parameter vector and actions."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import torch
from gymnasium import spaces

from repgym.agents.world_model.cma_search import CandidatePool, WorkerCrashed, cma_search
from repgym.agents.world_model.controller import Controller, space_from_json, space_to_json

TARGET = np.array([0.5, -0.3, 0.8, 0.1])


class Quadratic:
    """Fitness ``-|x - TARGET|^2`` (built in the worker, like a real rollout evaluator); 1 "step" per call."""

    def __call__(self, params: np.ndarray, seed: int) -> tuple[float, int]:
        return -float(np.sum((params - TARGET) ** 2)), 1


class Crashing:
    """Kills its worker process, as a segfault or the OOM killer would."""

    def __call__(self, params: np.ndarray, seed: int) -> tuple[float, int]:
        os._exit(3)


class Raising:
    def __call__(self, params: np.ndarray, seed: int) -> tuple[float, int]:
        raise RuntimeError("rollout failed: env exploded")


def test_cma_improves_on_a_toy_task_with_a_fixed_seed():
    with CandidatePool(Quadratic) as pool:
        result = cma_search(pool, np.zeros(4), sigma0=0.3, generations=25, popsize=8, seed=1)
        again = cma_search(pool, np.zeros(4), sigma0=0.3, generations=25, popsize=8, seed=1)
    start = Quadratic()(np.zeros(4), 0)[0]
    assert result.generations == 25 and result.steps == 25 * 8 and len(result.history) == 25
    assert result.best_fitness > -1e-3 > start  # from -1.19 to within 0.03 of the target
    np.testing.assert_allclose(result.mean, TARGET, atol=0.05)
    np.testing.assert_array_equal(result.best, again.best)  # reproducible
    assert result.history[-1]["mean_fitness"] > result.history[0]["mean_fitness"]


def test_search_resumes_and_stops_on_a_step_budget():
    with CandidatePool(Quadratic) as pool:
        first = cma_search(pool, np.zeros(4), 0.3, generations=5, popsize=6, seed=0)
        more = cma_search(pool, np.zeros(4), 0.3, generations=8, popsize=6, seed=0, start=first)
        capped = cma_search(pool, np.zeros(4), 0.3, generations=100, popsize=6, seed=0, max_steps=20)
    assert more.generations == 8 and len(more.history) == 8 and more.steps == 48
    assert capped.generations == 4 and capped.steps == 24  # stops at the first generation past 20 steps
    with pytest.raises(ValueError, match="at least 2"):
        cma_search(CandidatePool(Quadratic), np.zeros(1))


def test_worker_processes_give_the_same_result_as_in_process():
    with CandidatePool(Quadratic) as local, CandidatePool(Quadratic, workers=2) as remote:
        a = cma_search(local, np.zeros(4), 0.3, generations=3, popsize=6, seed=4)
        b = cma_search(remote, np.zeros(4), 0.3, generations=3, popsize=6, seed=4)
    np.testing.assert_array_equal(a.mean, b.mean)


def test_a_dead_worker_raises_fast_instead_of_hanging():
    t0 = time.monotonic()
    with pytest.raises(WorkerCrashed, match="worker process died"), CandidatePool(Crashing, workers=1) as pool:
        cma_search(pool, np.zeros(4), 0.3, generations=3, popsize=4)
    assert time.monotonic() - t0 < 30


def test_an_exception_in_a_worker_is_raised_in_the_parent():
    with pytest.raises(RuntimeError, match="env exploded"), CandidatePool(Raising, workers=1) as pool:
        cma_search(pool, np.zeros(4), 0.3, generations=1, popsize=4)


def test_controller_parameters_and_actions():
    box = spaces.Box(np.array([-2.0, 0.0], np.float32), np.array([2.0, 1.0], np.float32))
    c = Controller(3, box, hidden=0)
    assert c.num_params == 3 * 2 + 2
    flat = np.arange(8, dtype=np.float64) / 10
    c.set_flat(flat)
    np.testing.assert_allclose(c.get_flat(), flat, atol=1e-7)
    actions = c.act(torch.randn(50, 3) * 10)
    assert actions.shape == (50, 2) and box.contains(actions[0])
    assert (actions >= box.low).all() and (actions <= box.high).all()
    with pytest.raises(ValueError, match="expected 8"):
        c.set_flat(np.zeros(5))
    d = Controller(4, spaces.Discrete(3, start=1), hidden=5)
    assert d.num_params == 4 * 5 + 5 + 5 * 3 + 3
    d.set_flat(np.random.default_rng(0).normal(size=d.num_params))
    assert set(d.act(torch.randn(100, 4)).tolist()) <= {1, 2, 3}
    rebuilt = Controller.from_config(d.config)
    assert rebuilt.action_space == d.action_space and rebuilt.num_params == d.num_params
    assert space_from_json(space_to_json(box)) == box
    with pytest.raises(ValueError, match="Discrete or Box"):
        Controller(2, spaces.MultiBinary(3))


@pytest.mark.parametrize("hidden", [0, 5])
def test_a_frozen_controller_plays_one_constant_action_its_original_plays_there(hidden: int) -> None:
    box = spaces.Box(np.array([-2.0, 0.0], np.float32), np.array([2.0, 1.0], np.float32))
    c = Controller(3, box, hidden=hidden)
    c.set_flat(np.random.default_rng(1).normal(size=c.num_params))
    before = c.get_flat()
    point = np.array([0.5, -1.0, 2.0])
    frozen = c.frozen_at(point)
    actions = frozen.act(torch.randn(20, 3) * 10)
    np.testing.assert_allclose(actions, np.repeat(actions[:1], 20, axis=0), atol=1e-6)  # whatever the features
    np.testing.assert_allclose(actions[0], c.act(torch.as_tensor(point, dtype=torch.float32)[None])[0], atol=1e-5)
    np.testing.assert_array_equal(c.get_flat(), before)  # the controller itself is untouched
    assert not np.allclose(c.act(torch.randn(20, 3) * 10), actions[0])
    with pytest.raises(ValueError, match="expected 3 features"):
        c.frozen_at(np.zeros(4))
