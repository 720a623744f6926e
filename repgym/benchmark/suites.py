"""Benchmark suites: which agents, budgets, seeds and episodes run on every registered env.

Every id of :func:`repgym.envs.registry.all_envs` is in every suite; what runs on it follows from the env itself
(its action space, whether it has action masks, its family's baselines), so an env registered later joins the
suites without an edit here.

- ``quick`` (``repgym bench --suite quick``, the README's first command): every baseline except the slow ones,
  and short-budget learners (a few thousand steps, small networks) on each env, 3 seeds x 10 evaluation episodes.
  Sized to finish in well under 10 minutes on a 2-core CPU machine.
- ``full``: every baseline and learners with 50k-step budgets and default hyperparameters, 5 seeds x 30 episodes.
  Hours of CPU: run it with ``--backend ray`` on a cluster, or leave it running.

The ``expert`` baseline runs wherever ``random`` does and the env has an expert, with one seed (``single_seed``):
it is the reference of the expert-normalised score, not a contestant, the delayed oracle and the physics
controllers are deterministic, and the Bubble Breaker search's seed only changes its playouts. ``--seeds K`` asks
for K seeds of every job, the expert's included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from repgym.benchmark.baseline_policies import baseline_name, baseline_names, is_baseline
from repgym.benchmark.jobs import JobSpec

# Env kinds, from the env: what a learner can act in.
MASKED, DISCRETE, CONTINUOUS = "discrete+masks", "discrete", "continuous"

_BUBBLE = ("repgym.envs.bubble",)  # the look-ahead agent plays Bubble Breaker / SameGame only
_PPO_SHORT = {"n_steps": 512, "batch_size": 64, "n_epochs": 4}
_QR_SHORT = {"net_arch": [64, 64], "cnn_channels": [8, 16], "cnn_hidden": 64, "n_quantiles": 32,
             "buffer_size": 10_000, "learning_starts": 500, "exploration_steps": 1_500,
             "target_update_interval": 250, "log_interval": 250}  # fmt: skip


@dataclass(frozen=True)
class Learner:
    """A learning agent of a suite: registry name, env steps, hyperparameters, and the env kinds it plays."""

    agent: str
    steps: int
    kinds: tuple[str, ...]
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    modules: tuple[str, ...] = ()  # only envs whose class is defined under one of these modules (empty: any env)

    def plays(self, env: gym.Env, kind: str) -> bool:
        """Whether this learner can act in ``env`` (of kind ``kind``)."""
        module = type(env.unwrapped).__module__
        return kind in self.kinds and (not self.modules or any(module.startswith(m) for m in self.modules))


@dataclass(frozen=True)
class Suite:
    """A benchmark suite (see the module docstring)."""

    name: str
    description: str
    seeds: int
    eval_episodes: int
    learners: tuple[Learner, ...]
    skip_baselines: tuple[str, ...] = ()
    single_seed: tuple[str, ...] = ("expert",)  # baselines that run with seed 0 only (unless seeds are asked for)


SUITES: dict[str, Suite] = {
    s.name: s
    for s in (
        Suite("quick", "baselines + learners trained for 2-3k steps, 3 seeds x 10 episodes; minutes on a laptop",
              seeds=3, eval_episodes=10, skip_baselines=("tabu-colour",), learners=(
                  Learner("sb3-maskable-ppo", 2048, (MASKED,), _PPO_SHORT),
                  Learner("sb3-ppo", 2048, (DISCRETE, CONTINUOUS), _PPO_SHORT),
                  Learner("qr-dqn", 2000, (MASKED, DISCRETE), _QR_SHORT),
                  Learner("lookahead", 3000, (MASKED,), modules=_BUBBLE),
              )),
        Suite("full", "every baseline + learners trained for 50k steps, 5 seeds x 30 episodes; hours of CPU",
              seeds=5, eval_episodes=30, learners=(
                  Learner("sb3-maskable-ppo", 50_000, (MASKED,)),
                  Learner("sb3-ppo", 50_000, (DISCRETE, CONTINUOUS)),
                  Learner("qr-dqn", 50_000, (MASKED, DISCRETE)),
                  Learner("lookahead", 50_000, (MASKED,), modules=_BUBBLE),
                  Learner("sb3-sac", 50_000, (CONTINUOUS,)),
              )),
    )
}  # fmt: skip


def env_kind(env: gym.Env) -> str:
    """``discrete+masks``, ``discrete`` or ``continuous``: which learners can act in ``env``."""
    if isinstance(env.action_space, gym.spaces.Discrete):
        return MASKED if hasattr(env.unwrapped, "action_masks") else DISCRETE
    return CONTINUOUS


def select_envs(names: Sequence[str] | None = None) -> list[str]:
    """Registered repgym ids, all of them or those named (``repgym/X-v0`` or just ``X-v0``)."""
    from repgym.envs.registry import all_envs

    ids = [e.id for e in all_envs()]
    if not names:
        return ids
    by_name = {i: i for i in ids} | {i.split("/", 1)[1]: i for i in ids}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f"unknown env {', '.join(map(repr, unknown))}; expected registered ids such as "
                         f"{', '.join(ids[:3])} (repgym list shows them all)")  # fmt: skip
    return list(dict.fromkeys(by_name[n] for n in names))


def make_jobs(
    suite: str | Suite = "quick",
    envs: Sequence[str] | None = None,
    agents: Sequence[str] | None = None,
    seeds: int | None = None,
    eval_episodes: int | None = None,
    epsilon: float = 0.0,
    env_kwargs: dict[str, Any] | None = None,
) -> list[JobSpec]:
    """The (env x agent x seed) jobs of ``suite``, restricted to ``envs`` and ``agents`` when given.

    Baselines may be named as ``repgym list`` shows them (``policy:greedy``) or bare (``greedy``); jobs store the
    bare name. An agent named in ``agents`` that the suite does not list is added where it can act: a baseline where it
    applies, a registered learning agent with the budget of the suite's first learner for that env kind.
    ``epsilon > 0`` evaluates epsilon-greedily instead of deterministically (a different protocol, other entries).
    ``env_kwargs`` are constructor arguments for every selected env (e.g. ``delay=5``: the configuration people
    played, so that their recordings get random and agent references); an env that rejects them is an error."""
    import repgym.envs  # noqa: F401  (registers the ids)
    from repgym.agents import AGENTS

    suite = SUITES[suite] if isinstance(suite, str) and suite in SUITES else suite
    if not isinstance(suite, Suite):
        raise ValueError(f"unknown suite {suite!r}; expected one of {sorted(SUITES)}")
    n_seeds = suite.seeds if seeds is None else int(seeds)
    episodes = suite.eval_episodes if eval_episodes is None else int(eval_episodes)
    if n_seeds < 1 or episodes < 1:
        raise ValueError(f"seeds and eval episodes must be at least 1, got {n_seeds} and {episodes}")
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    wanted = list(dict.fromkeys(baseline_name(a) for a in agents)) if agents else None
    if wanted:
        unknown = [a for a in wanted if not is_baseline(a) and a not in AGENTS]
        if unknown:
            raise ValueError(f"unknown agent {', '.join(map(repr, unknown))}; expected a baseline (policy:random, "
                             f"policy:greedy, ... as repgym list shows them) or one of {sorted(AGENTS)}")  # fmt: skip
    jobs: list[JobSpec] = []
    for env_id in select_envs(envs):
        try:
            env = gym.make(env_id, **(env_kwargs or {}))
        except TypeError as err:
            raise ValueError(f"{env_id} does not take the env arguments {env_kwargs}: {err}; choose the envs "
                             "that do with --envs") from None  # fmt: skip
        kind, baselines = env_kind(env), baseline_names(env)
        fitting = [learner for learner in suite.learners if learner.plays(env, kind)]
        env.close()
        plays: list[tuple[str, int, dict[str, Any]]] = [(b, 0, {}) for b in baselines if b not in suite.skip_baselines]
        plays += [(learner.agent, learner.steps, learner.hyperparameters) for learner in fitting]
        if wanted:
            listed = {name for name, _, _ in plays}
            extra = [(a, 0, {}) for a in wanted if a in baselines and a not in listed]
            in_suite = {learner.agent for learner in suite.learners}  # those the suite keeps off envs they cannot play
            extra += [(a, fitting[0].steps if fitting else 10_000, {}) for a in wanted
                      if a in AGENTS and a not in listed and a not in in_suite]  # fmt: skip
            plays = [p for p in plays + extra if p[0] in wanted]
        for agent, steps, hp in plays:
            agent_seeds = 1 if seeds is None and agent in suite.single_seed else n_seeds
            jobs += [JobSpec(env_id, agent, seed, steps, episodes, epsilon, env_kwargs=dict(env_kwargs or {}),
                             hyperparameters=dict(hp), suite=suite.name)
                     for seed in range(agent_seeds)]  # fmt: skip
    return jobs


__all__ = ["CONTINUOUS", "DISCRETE", "MASKED", "SUITES", "Learner", "Suite", "env_kind", "make_jobs", "select_envs"]
