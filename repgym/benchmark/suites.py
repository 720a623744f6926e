"""Benchmark suites: which agents, budgets, seeds and episodes run on every registered env.

Every id of :func:`repgym.envs.registry.all_envs` is in every suite; what runs on it follows from the env itself
(its action space, whether it has action masks, its family's baselines), so an env registered later joins the
suites without an edit here. A suite runs on env *configurations* (an id and constructor arguments, written
without the arguments that equal the env's defaults, so ``KeyToDoor delay=20`` and plain ``KeyToDoor`` are one).

- ``quick`` (``repgym bench --suite quick``, the README's first command): every baseline except the slow ones,
  and short-budget learners (a few thousand steps, small networks) on each env, 3 seeds x 10 evaluation episodes;
  plus every shipped agent (``zoo:NAME``, evaluation only, one seed) on the configuration it was trained on, with
  the baselines of that configuration beside it, so the first table ranks learned agents.
- ``full``: every baseline and learners with 50k-step budgets and default hyperparameters, 5 seeds x 30 episodes.
  Hours of CPU: run it with ``--backend ray`` on a cluster, or leave it running.
- ``reference``: every baseline and every agent's tuned entry (:mod:`repgym.agents.hyperparams`) with its own
  hyperparameters, budget and vector-env size, the delayed games at delays 0, 5 and 20 (LaggedControl at 0 and 3,
  HiddenSequence at 3), 5 seeds x 30 episodes. An entry that adds env arguments (pixels) brings its configuration,
  baselines included. A configuration without an entry shows baselines only: that gap is the data's, not hidden.

The ``expert`` baseline runs wherever ``random`` does and the env has an expert, with one seed (``single_seed``):
it is the reference of the expert-normalised score, not a contestant, the delayed oracle and the physics
controllers are deterministic, and the Bubble Breaker search's seed only changes its playouts. ``--seeds K`` asks
for K seeds of every job, the expert's included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gymnasium as gym

from repgym.benchmark.baseline_policies import baseline_name, baseline_names, is_baseline
from repgym.benchmark.jobs import JobSpec
from repgym.runs import ZOO_PREFIX
from repgym.runs.env_spec import canonical_kwargs

if TYPE_CHECKING:
    from repgym.agents.hyperparams import TunedEntry
    from repgym.agents.zoo import ZooEntry

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
    # env id -> the env configurations the suite runs on it (constructor arguments); others: the registered one
    variants: Mapping[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)
    tuned: bool = False  # learners: every agent's tuned entry for the config (hyperparams/*.toml), at its budget
    # tuned suites: an agent named in --agents that has tuned entries also plays the configs it has none for (at the
    # fallback budget); off, naming it selects its entries only
    untuned_configs: bool = False
    zoo: bool = False  # also evaluate the shipped agents (repgym zoo) on their env configs, baselines beside them


_DELAYS = ({"delay": 0}, {"delay": 5}, {"delay": 20})

SUITES: dict[str, Suite] = {
    s.name: s
    for s in (
        Suite("quick", "baselines + learners trained for 2-3k steps, 3 seeds x 10 episodes, and the shipped "
              "(zoo) agents evaluated; minutes on a laptop",
              seeds=3, eval_episodes=10, skip_baselines=("tabu-colour",), zoo=True, learners=(
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
        Suite("reference", "every baseline + every tuned entry (hyperparams/*.toml) at its budget, delayed games "
              "at delays 0/5/20, 5 seeds x 30 episodes; CPU-days",
              seeds=5, eval_episodes=30, learners=(), tuned=True, variants={
                  "repgym/KeyToDoor-v0": _DELAYS,
                  "repgym/Umbrella-v0": _DELAYS,
                  "repgym/LaggedControl-v0": ({"delay": 0}, {"delay": 3}),
                  "repgym/HiddenSequence-v0": ({"delay": 3},),
              }),
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
    """The (env config x agent x seed) jobs of ``suite``, restricted to ``envs`` and ``agents`` when given.

    Env configs: each selected env with the suite's ``variants`` of it (else its registered configuration), plus
    the configs that the suite's tuned entries and shipped agents were trained on; every config gets the baselines.
    Baselines may be named as ``repgym list`` shows them (``policy:greedy``) or bare (``greedy``); jobs store the
    bare name. An agent named in ``agents`` that the suite does not list is added where it can act: a baseline where it
    applies, a registered learning agent with the budget of the suite's first learner for that env kind, a shipped
    agent (``zoo:NAME``) on its own config. In a tuned suite, naming an agent that has tuned entries selects those
    entries only: ``--envs SameGame-v0 Thrower-v0 --agents distill sb3-sac`` runs distill on SameGame and SAC on
    Thrower, not each on the other's env at a guessed budget. ``epsilon > 0`` evaluates epsilon-greedily instead of
    deterministically (a different protocol, other entries). ``env_kwargs`` are constructor arguments for every
    selected env instead of the suite's variants (e.g. ``delay=5``: the configuration people played, so that their
    recordings get random and agent references); an env that rejects them is an error."""
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
    names_zoo = any(a.startswith(ZOO_PREFIX) for a in wanted or ())
    shipped = _shipped_agents(wanted) if names_zoo or (suite.zoo and not wanted) else {}  # --agents X: X's jobs only
    if wanted:
        unknown = [a for a in wanted if not is_baseline(a) and a not in AGENTS and a not in shipped]
        if unknown:
            raise ValueError(f"unknown agent {', '.join(map(repr, unknown))}; expected a baseline (policy:random, "
                             f"policy:greedy, ... as repgym list shows them), one of {sorted(AGENTS)} or a shipped "
                             "agent zoo:NAME (repgym zoo lists them)")  # fmt: skip
    ids = select_envs(envs)
    selected: list[tuple[str, dict[str, Any]]] = []  # the suite's learners play these; the baselines play all
    for env_id in ids:
        variants = (
            [dict(env_kwargs)]
            if env_kwargs
            else [canonical_kwargs(env_id, v) for v in suite.variants.get(env_id, ({},))]
        )
        selected += [(env_id, v) for v in variants]
    configs = list(selected)
    if not env_kwargs:  # the configs the shipped agents were trained on join the selected envs'
        configs += [(e.env.id, canonical_kwargs(e.env.id, e.env.kwargs)) for e in shipped.values() if e.env.id in ids]

    jobs: dict[str, JobSpec] = {}
    done: list[tuple[str, dict[str, Any]]] = []
    while configs:
        env_id, config = configs.pop(0)
        if (env_id, config) in done:
            continue
        done.append((env_id, config))
        plays, more = _plays(suite, env_id, config, shipped, wanted, with_learners=(env_id, config) in selected)
        configs += more
        for play in plays:
            single = seeds is None and (play.agent in suite.single_seed or play.agent in shipped)
            for seed in range(1 if single else n_seeds):
                job = JobSpec(env_id, play.agent, seed, play.steps, episodes, epsilon, env_kwargs=dict(config),
                              hyperparameters=dict(play.hyperparameters), suite=suite.name,
                              num_envs=play.num_envs)  # fmt: skip
                jobs.setdefault(job.key, job)
    return list(jobs.values())


@dataclass(frozen=True)
class _Play:
    """One agent on one env config: budget, hyperparameters and vector-env size of its jobs."""

    agent: str
    steps: int = 0
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    num_envs: int = 1


def _plays(
    suite: Suite,
    env_id: str,
    config: dict[str, Any],
    shipped: dict[str, ZooEntry],
    wanted: list[str] | None,
    with_learners: bool,
) -> tuple[list[_Play], list[tuple[str, dict[str, Any]]]]:
    """What plays on ``env_id`` made with ``config``, and the other configs that a tuned entry moved a learner to
    (an entry may add env arguments, e.g. pixel observations)."""
    from repgym.agents import AGENTS

    try:
        env = gym.make(env_id, **config)
    except TypeError as err:
        raise ValueError(f"{env_id} does not take the env arguments {config}: {err}; choose the envs "
                         "that do with --envs") from None  # fmt: skip
    kind, baselines = env_kind(env), baseline_names(env)
    fitting = [learner for learner in suite.learners if learner.plays(env, kind)]
    env.close()
    plays = [_Play(b) for b in baselines if b not in suite.skip_baselines]
    if with_learners:
        plays += [_Play(learner.agent, learner.steps, learner.hyperparameters) for learner in fitting]
    more: list[tuple[str, dict[str, Any]]] = []
    if suite.tuned:
        for entry in _tuned_entries(env_id, config):
            if wanted and entry.agent not in wanted:
                continue  # --agents leaves it out: its configuration, baselines included, stays out too
            target = canonical_kwargs(env_id, {**config, **entry.env_kwargs})
            if target != config:
                more.append((env_id, target))
            else:
                plays.append(_Play(entry.agent, entry.n_timesteps, entry.hyperparameters, entry.n_envs))
    plays += [_Play(name, entry.train_steps) for name, entry in shipped.items()
              if entry.env.id == env_id and canonical_kwargs(env_id, entry.env.kwargs) == config]  # fmt: skip
    if wanted:
        listed = {p.agent for p in plays}
        extra = [_Play(a) for a in wanted if a in baselines and a not in listed]
        in_suite = {learner.agent for learner in suite.learners}  # those the suite keeps off envs they cannot play
        if suite.tuned and not suite.untuned_configs:  # it plays where it has an entry, not at a guessed budget
            in_suite |= _agents_with_tuned_entries()
        extra += [_Play(a, fitting[0].steps if fitting else 10_000) for a in wanted
                  if a in AGENTS and a not in listed and a not in in_suite and with_learners]  # fmt: skip
        plays = [p for p in plays + extra if p.agent in wanted]
    return plays, more


def _tuned_entries(env_id: str, config: dict[str, Any]) -> list[TunedEntry]:
    """Every agent's tuned entry for ``env_id`` made with ``config``, one per agent that has one."""
    from repgym.agents import AGENTS
    from repgym.agents.hyperparams import tuned_entry

    found = (tuned_entry(agent, env_id, config) for agent in sorted(AGENTS))
    return [entry for entry in found if entry is not None]


def _agents_with_tuned_entries() -> set[str]:
    """The agents that some tuned entry (hyperparams/*.toml) names."""
    from repgym.agents.hyperparams import all_entries

    return {entry.agent for entry in all_entries()}


def _shipped_agents(wanted: list[str] | None) -> dict[str, ZooEntry]:
    """The shipped agents by their ``zoo:NAME`` (only those named in ``wanted``, when it names any)."""
    from repgym.agents.zoo import read_zoo

    entries = {f"{ZOO_PREFIX}{entry.name}": entry for entry in read_zoo()}
    named = [a for a in wanted or () if a.startswith(ZOO_PREFIX)]
    return {a: e for a, e in entries.items() if a in named} if named else entries


__all__ = ["CONTINUOUS", "DISCRETE", "MASKED", "SUITES", "Learner", "Suite", "env_kind", "make_jobs", "select_envs"]
