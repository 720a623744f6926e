"""Distributional DQN: one agent whose head is a choice — C51, quantile regression, expectiles, or the mean.

``make_agent("c51-dqn" | "qr-dqn" | "expectile-dqn" | "dqn", env, **hyperparameters)`` builds it (the fields of
:class:`DQNConfig`); ``agent.return_distribution(obs)`` gives what it learned at a state and
:func:`repgym.agents.distributional.plot.plot_return_distribution` draws it.

Modules, one job each: ``config`` (hyperparameters), ``heads`` (what differs between C51/QR/expectile/DQN),
``losses`` (the losses and the C51 projection), ``imputation`` (expectiles back to a distribution),
``distributions`` (expectiles, quantiles, Wasserstein-1), ``networks`` (torsos and heads), ``replay`` (buffer and
n-step window), ``rollout`` (single and vector envs), ``augment`` (batch augmentations), ``agent`` (the learner),
``plot`` (the return-distribution figure), ``dopamine`` (the Dabney et al. 2020 reproduction).
"""

from repgym.agents.distributional.agent import DistributionalDQN
from repgym.agents.distributional.config import HEADS, DQNConfig
from repgym.agents.distributional.distributions import ReturnDistribution

__all__ = ["HEADS", "DQNConfig", "DistributionalDQN", "ReturnDistribution"]
