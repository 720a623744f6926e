"""The variable-magnitude task of Dabney et al. (2020), "A distributional code for value in dopamine-based
reinforcement learning" (Nature 577), reproduced with repgym's expectile and quantile agents.

One state, one cue, then a reward drawn with equal probability from ``{0.1, 0.3, 1.2, 2.5, 5, 10, 20}``. In the
paper's model each dopamine cell is a value predictor with its own asymmetry ``tau = a+ / (a+ + a-)`` between how
much it learns from positive and from negative prediction errors; it converges to the tau-*expectile* of the reward
distribution, which is its *reversal point* (the reward at which its response flips sign). Here the expectile agent's
units play the cells and the quantile agent is the quantile-code variant. Reported (:func:`run_dopamine`):

- each unit's learned value against the true tau-expectile (tau-quantile) of the reward distribution;
- the Wasserstein-1 distance between the true distribution and the one *imputed* from the learned expectiles
  (decoded from the learned quantiles) — with, for reference, the same distance for imputation from the *true*
  expectiles (the floor: finitely many expectiles do not pin a distribution down);
- reversal points against asymmetries (their correlation; the paper found reversal points rising with asymmetry).

Run it with ``repgym dopamine`` (table, CSV and figure); see ``repgym dopamine --help``.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from matplotlib.figure import Figure

from repgym.agents.distributional.distributions import expectiles, quantiles, wasserstein1
from repgym.agents.distributional.heads import midpoint_taus
from repgym.agents.distributional.imputation import impute_distribution

REWARDS = (0.1, 0.3, 1.2, 2.5, 5.0, 10.0, 20.0)


class VariableMagnitudeTask(gym.Env):
    """One-step task: a constant cue, then a reward drawn uniformly from ``rewards``; the episode ends.

    Observation ``Box(0, 1, (1,))`` (always 1), action ``Discrete(1)`` (nothing to choose), reward one of
    ``rewards`` with equal probability, terminated after the one step. ``info["reward_distribution"]`` holds the
    rewards, for reference.
    """

    metadata = {"render_modes": []}

    def __init__(self, rewards: tuple[float, ...] = REWARDS) -> None:
        self.rewards = np.asarray(rewards, dtype=np.float64)
        self.observation_space = spaces.Box(0.0, 1.0, (1,), np.float32)
        self.action_space = spaces.Discrete(1)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        return np.ones(1, np.float32), {"reward_distribution": self.rewards}

    def step(self, action):
        reward = float(self.rewards[self.np_random.integers(len(self.rewards))])
        return np.ones(1, np.float32), reward, True, False, {}


@dataclass(frozen=True)
class DopamineResult:
    """Learned and true statistics of the variable-magnitude task (see the module docstring)."""

    taus: np.ndarray  # (N,) asymmetries of the expectile units = quantile levels of the quantile units
    learned_expectiles: np.ndarray  # (N,) the expectile agent's units (their reversal points)
    true_expectiles: np.ndarray  # (N,)
    learned_quantiles: np.ndarray  # (N,)
    true_quantiles: np.ndarray  # (N,)
    imputed: tuple[np.ndarray, np.ndarray]  # (atoms, probs) imputed from the learned expectiles
    w1_imputed: float  # W1(true, imputed from learned expectiles)
    w1_imputed_from_true: float  # W1(true, imputed from the true expectiles): the floor
    w1_quantiles: float  # W1(true, learned quantiles as atoms of mass 1/N)
    reversal_correlation: float  # Pearson r between asymmetries and learned reversal points
    reversal_rank_correlation: float  # Spearman rho between them (1: reversal points strictly rise with tau)
    steps: int
    seed: int

    def rows(self) -> list[dict[str, float]]:
        """One row per unit: tau, learned and true expectile and quantile, and the errors."""
        return [
            {"tau": float(t), "learned_expectile": float(le), "true_expectile": float(te),
             "expectile_error": float(le - te), "learned_quantile": float(lq), "true_quantile": float(tq),
             "quantile_error": float(lq - tq)}
            for t, le, te, lq, tq in zip(self.taus, self.learned_expectiles, self.true_expectiles,
                                         self.learned_quantiles, self.true_quantiles, strict=True)
        ]  # fmt: skip


def dopamine_agent_settings(steps: int) -> dict:
    """Hyperparameters for the one-step task: no discounting needed (every episode ends), small net, one gradient
    step per env step, epsilon irrelevant (one action)."""
    return dict(gamma=0.99, net_arch=(64,), learning_rate=1e-3, batch_size=64, learning_starts=256,
                buffer_size=min(steps, 20_000), train_freq=1, gradient_steps=1, target_update_interval=100,
                exploration_steps=1, log_interval=max(steps, 1))  # fmt: skip


def run_dopamine(steps: int = 20_000, n: int = 21, seed: int = 0, progress_bar: bool = False) -> DopamineResult:
    """Train an expectile and a quantile agent (``n`` units each, asymmetries ``(2i+1)/2n``) on the task for
    ``steps`` env steps and compare what they learned with the truth."""
    from repgym.agents import make_agent

    if n < 3 or n % 2 == 0:
        raise ValueError(f"n must be odd and at least 3 (tau = 0.5 among the asymmetries), got {n}")
    settings = dopamine_agent_settings(steps)
    obs = torch.ones(1, 1)
    learned = {}
    for head, extra in (("expectile-dqn", {"n_expectiles": n}), ("qr-dqn", {"n_quantiles": n, "kappa": 0.0})):
        agent = make_agent(head, VariableMagnitudeTask(), seed=seed, **settings, **extra)
        agent.learn(steps, progress_bar=progress_bar)
        with torch.no_grad():
            learned[head] = agent.q_net(obs.to(agent.device))[0, 0].cpu().double()
    taus = midpoint_taus(n).double()
    rewards = torch.tensor(REWARDS, dtype=torch.float64)
    true_e = expectiles(rewards, taus)
    true_q = quantiles(np.array(REWARDS), np.full(len(REWARDS), 1 / len(REWARDS)), taus.numpy())
    atoms, probs = impute_distribution(learned["expectile-dqn"], taus)
    floor_atoms, floor_probs = impute_distribution(true_e, taus)
    uniform = np.full(len(REWARDS), 1 / len(REWARDS))
    learned_q = learned["qr-dqn"].numpy()
    reversal = learned["expectile-dqn"].numpy()  # taus are increasing, so their ranks are 0..n-1
    return DopamineResult(
        taus=taus.numpy(), learned_expectiles=reversal, true_expectiles=true_e.numpy(),
        learned_quantiles=learned_q, true_quantiles=true_q, imputed=(atoms.numpy(), probs.numpy()),
        w1_imputed=wasserstein1(atoms.numpy(), probs.numpy(), rewards.numpy(), uniform),
        w1_imputed_from_true=wasserstein1(floor_atoms.numpy(), floor_probs.numpy(), rewards.numpy(), uniform),
        w1_quantiles=wasserstein1(learned_q, np.full(n, 1 / n), rewards.numpy(), uniform),
        reversal_correlation=float(np.corrcoef(taus.numpy(), reversal)[0, 1]),
        reversal_rank_correlation=float(np.corrcoef(np.arange(n), np.argsort(np.argsort(reversal)))[0, 1]),
        steps=steps, seed=seed,
    )  # fmt: skip


def dopamine_markdown(result: DopamineResult) -> str:
    """The per-unit table and the summary distances as Markdown."""
    lines = ["| tau | learned expectile | true expectile | learned quantile | true quantile |", "|---|---|---|---|---|"]
    for r in result.rows():
        lines.append(f"| {r['tau']:.3f} | {r['learned_expectile']:.3f} | {r['true_expectile']:.3f} | "
                     f"{r['learned_quantile']:.3f} | {r['true_quantile']:.3f} |")  # fmt: skip
    e_err = np.abs(result.learned_expectiles - result.true_expectiles)
    q_err = np.abs(result.learned_quantiles - result.true_quantiles)
    lines += [
        "",
        f"- expectile units: mean |error| {e_err.mean():.3f}, max {e_err.max():.3f}; quantile units: mean |error| "
        f"{q_err.mean():.3f}, max {q_err.max():.3f}",
        f"- W1(true, imputed from learned expectiles) = {result.w1_imputed:.3f} (imputed from the true expectiles: "
        f"{result.w1_imputed_from_true:.3f}); W1(true, learned quantiles) = {result.w1_quantiles:.3f}",
        f"- reversal points vs asymmetries: Pearson r = {result.reversal_correlation:.3f}, Spearman rho = "
        f"{result.reversal_rank_correlation:.3f}",
        f"- {result.steps} steps per agent, seed {result.seed}",
    ]
    return "\n".join(lines)


def dopamine_figure(result: DopamineResult) -> Figure:
    """Three panels: reversal points vs asymmetries (expectile units), quantile units vs levels, and the CDFs of
    the true, imputed and quantile-decoded distributions."""
    fig = Figure(figsize=(13, 4), layout="constrained")
    ax_e, ax_q, ax_cdf = fig.subplots(1, 3)
    fine = np.linspace(0.005, 0.995, 199)
    rewards = np.array(REWARDS)
    ax_e.plot(fine, expectiles(torch.tensor(rewards), torch.tensor(fine)).numpy(), color="0.5", label="true expectile")
    ax_e.scatter(result.taus, result.learned_expectiles, color="C0", zorder=3, label="learned (reversal point)")
    ax_e.set(xlabel="asymmetry tau = a+ / (a+ + a-)", ylabel="reversal point (reward)",
             title=f"Expectile units (r = {result.reversal_correlation:.2f})")  # fmt: skip
    ax_q.plot(fine, quantiles(rewards, np.full(len(rewards), 1 / len(rewards)), fine), color="0.5",
              label="true quantile")  # fmt: skip
    ax_q.scatter(result.taus, result.learned_quantiles, color="C1", zorder=3, label="learned")
    ax_q.set(xlabel="quantile level tau", ylabel="reward", title="Quantile units")
    grid = np.linspace(-1, 22, 1000)
    ax_cdf.step(grid, (rewards[None, :] <= grid[:, None]).mean(axis=1), where="post", color="k", linewidth=4,
                alpha=0.3, label="true")  # fmt: skip
    atoms, probs = result.imputed
    ax_cdf.step(grid, (probs[None, :] * (atoms[None, :] <= grid[:, None])).sum(axis=1), where="post", color="C0",
                label=f"imputed from expectiles (W1 {result.w1_imputed:.2f})")  # fmt: skip
    n = len(result.learned_quantiles)
    ax_cdf.step(grid, (result.learned_quantiles[None, :] <= grid[:, None]).sum(axis=1) / n, where="post",
                color="C1", label=f"decoded from quantiles (W1 {result.w1_quantiles:.2f})")  # fmt: skip
    ax_cdf.set(xlabel="reward", ylabel="P(reward <= x)", title="Reward distribution")
    for ax in (ax_e, ax_q, ax_cdf):
        ax.legend(fontsize=8)
    fig.suptitle(f"Variable-magnitude task (Dabney et al. 2020): {n} units per agent, {result.steps} steps")
    return fig
