"""Ablating a unit the output ignores changes nothing; ablating a used one does."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from repgym.analysis.ablation import ablated, curve_points, return_impact, unit_ablation
from repgym.analysis.capture import capture_activations
from repgym.runs import DEFAULT_FIRST_SEED, EvalProtocol, play


class TinyPolicy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 8)
        self.relu = nn.ReLU()
        self.head = nn.Linear(8, 2)
        with torch.no_grad():
            self.head.weight[:, 3] = 0.0  # the output ignores unit 3
            self.fc.bias[5] = 5.0  # unit 5 is always on, and used

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.relu(self.fc(x)))


class TinyAgent:
    """Just enough of the agent interface: predict and latent_modules."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        self.net = TinyPolicy()

    def latent_modules(self) -> dict[str, nn.Module]:
        return {"fc": self.net.fc, "relu": self.net.relu, "head": self.net.head}

    def predict(self, obs, state=None, episode_start=None, deterministic=True, action_masks=None):
        with torch.no_grad():
            q = self.net(torch.as_tensor(np.asarray(obs), dtype=torch.float32).reshape(-1, 4))
        actions = q.argmax(dim=1).numpy()
        return (actions if np.ndim(obs) > 1 else actions[0]), None


def _setup():
    agent = TinyAgent()
    obs = np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32)
    cap = capture_activations(agent.latent_modules(), lambda o: agent.predict(o), obs)
    return agent, obs, cap, (lambda o: agent.predict(o)[0])


def test_ablating_an_ignored_unit_changes_nothing() -> None:
    agent, obs, cap, act = _setup()
    table, impacts = unit_ablation(cap, act, obs, layers=["relu"], mode="zero")
    ignored = table.filter(layer="relu", unit=3)
    assert {r.metric: r.value for r in ignored} == {"output_change": 0.0, "action_change": 0.0}
    assert impacts["relu"][5] > 0.1 and impacts["relu"][3] == 0.0
    mean_table, _ = unit_ablation(cap, act, obs, layers=["relu"], mode="mean")
    assert mean_table.filter(unit=3, metric="output_change").rows[0].value == 0.0


def test_ablation_hook_edits_only_the_chosen_units_and_curves_are_monotone_in_size() -> None:
    agent, obs, cap, act = _setup()
    x = torch.as_tensor(obs[:5])
    with torch.no_grad(), ablated(agent.net.relu, [1, 5], cap.unit_axes["relu"]):
        h = agent.net.relu(agent.net.fc(x))
    assert torch.all(h[:, [1, 5]] == 0)
    with torch.no_grad():
        untouched = agent.net.relu(agent.net.fc(x))
    assert torch.equal(h[:, [0, 2, 3, 4, 6, 7]], untouched[:, [0, 2, 3, 4, 6, 7]])
    table, _ = unit_ablation(cap, act, obs, layers=["fc"])
    curve = table.filter(analyzer="ablation_curve", layer="fc", metric="output_change", params_order="impact")
    assert [r.params["k"] for r in curve] == curve_points(8) == [0, 1, 2, 4, 8]
    assert curve.rows[0].value == 0.0


def test_return_impact_plays_episodes_with_units_ablated() -> None:
    agent, obs, cap, act = _setup()
    env = gym.make("CartPole-v1")
    _, impacts = unit_ablation(cap, act, obs, layers=["relu"])
    protocol = EvalProtocol(episodes=2, max_steps=50)
    table = return_impact(agent, env, cap, {"relu": impacts["relu"]}, ks=(0, 8), protocol=protocol)
    by_k = {r.params["k"]: r for r in table}
    assert by_k[0].value == play(agent, env, protocol).returns.mean()
    assert by_k[0].params["seed"] == DEFAULT_FIRST_SEED
    assert by_k[8].n == 2 and len(by_k[8].params["units"]) == 8
