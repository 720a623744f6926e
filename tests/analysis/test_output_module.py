"""Which module is the agent's output, and ablation of continuous actions: an SAC-like actor computes ``log_std``
after ``mu`` but acts on ``mu`` alone."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from repgym.analysis.ablation import unit_ablation
from repgym.analysis.analyze import output_module
from repgym.analysis.capture import capture_activations


class Actor(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.latent = nn.Linear(5, 8)
        self.mu = nn.Linear(8, 2)
        self.log_std = nn.Linear(8, 2)

    def act(self, obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            h = torch.relu(self.latent(torch.as_tensor(obs, dtype=torch.float32)))
            mu = self.mu(h)
            self.log_std(h)  # runs last, but a deterministic action ignores it
            return torch.tanh(mu).numpy()


def test_the_output_is_the_leaf_the_actions_read_and_continuous_action_change_is_relative() -> None:
    actor = Actor()
    obs = np.random.default_rng(0).normal(size=(64, 5)).astype(np.float32)
    modules = {"latent": actor.latent, "mu": actor.mu, "log_std": actor.log_std}
    cap = capture_activations(modules, actor.act, obs)
    assert cap.last_module() == "log_std"
    assert output_module(cap, actor.act, obs) == "mu"
    with torch.no_grad():
        actor.mu.weight[:, 3] = 0.0  # unit 3 of the latent layer is now ignored by the action
    table, impacts = unit_ablation(cap, actor.act, obs, layers=["latent"], output="mu")
    change = table.filter(analyzer="ablation", metric="action_change").values()
    assert change[3] == 0.0 and impacts["latent"][3] == 0.0
    assert np.any((change > 0) & (change < 1))  # relative to the actions' spread, not "any coordinate moved"
