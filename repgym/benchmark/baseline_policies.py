"""Baseline players for the leaderboard, behind the agents' ``predict`` interface so that one episode loop plays
them and trained agents alike.

- ``random`` exists for every env: uniform over legal actions where the env has action masks, else
  ``action_space.sample()``; on Bubble Breaker / SameGame it is the game's own ``random`` policy (uniform over
  *groups*, :mod:`repgym.envs.bubble.policies`).
- Bubble Breaker / SameGame ids: also every policy of :data:`repgym.envs.bubble.policies.POLICIES`
  (``size-weighted``, ``greedy``, ``tabu-colour``).
- Delayed games: also ``optimal``, the game's oracle (:mod:`repgym.envs.delayed.reference`).
- ``expert`` wherever a family has one (:mod:`.experts`): a node-budgeted search on Bubble Breaker / SameGame, the
  oracle on delayed games, the physics bodies' controllers; not offered elsewhere.

A baseline reads the env it plays (a board, an oracle's hidden state), so it is built for one env instance.
``repgym list`` names baselines ``policy:<name>``; every command takes that name or the bare one
(:func:`baseline_name`), and jobs and leaderboard rows store the bare one.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from repgym.benchmark.experts import EXPERT_DESCRIPTION, has_expert, is_bubble, is_delayed, make_expert
from repgym.runs import EnvSpec, EvalProtocol, EvalResult, play, random_legal_action

LISTED_PREFIX = "policy:"
EXPERT = "expert"


def baseline_names(env: gym.Env) -> list[str]:
    """The baselines that can play ``env``, ``random`` first and ``expert`` last where the env has one."""
    if is_bubble(env):
        from repgym.envs.bubble.policies import POLICIES

        names = list(POLICIES)
    elif is_delayed(env):
        from repgym.envs.delayed.reference import POLICIES

        names = ["random", *(name for name in POLICIES if name != "random")]
    else:
        names = ["random"]
    return [*names, EXPERT] if has_expert(env) else names


def is_baseline(name: str) -> bool:
    """Whether ``name`` (bare or ``policy:<name>``) is a baseline of some env family, not a learning agent."""
    from repgym.envs.bubble.policies import POLICIES as BUBBLE
    from repgym.envs.delayed.reference import POLICIES as DELAYED

    bare = name.removeprefix(LISTED_PREFIX)
    return bare in ("random", EXPERT) or bare in BUBBLE or bare in DELAYED


def baseline_name(name: str) -> str:
    """``policy:greedy`` (as ``repgym list`` prints it) -> ``greedy``; any other name is returned unchanged."""
    bare = name.removeprefix(LISTED_PREFIX)
    return bare if name != bare and is_baseline(bare) else name


def listed_baselines() -> list[tuple[str, str]]:
    """``(policy:<name>, description)`` of every baseline, as ``repgym list`` shows them."""
    from repgym.envs.bubble.policies import POLICIES as BUBBLE

    rows = [(f"{LISTED_PREFIX}random", "every env — uniformly random legal actions (Bubble Breaker / SameGame: "
                                       f"{BUBBLE['random'].description})")]  # fmt: skip
    rows += [(f"{LISTED_PREFIX}{name}", f"Bubble Breaker / SameGame baseline — {p.description}")
             for name, p in BUBBLE.items() if name != "random"]  # fmt: skip
    rows.append((f"{LISTED_PREFIX}optimal", "delayed-game baseline — the game's oracle (optimal_action)"))
    rows.append((f"{LISTED_PREFIX}{EXPERT}", EXPERT_DESCRIPTION))
    return rows


class BaselineAgent:
    """A baseline ``name`` playing ``env``; ``seed`` seeds its random choices."""

    def __init__(self, name: str, env: gym.Env, seed: int | None = 0) -> None:
        name = baseline_name(name)
        self.expert = make_expert(env, seed) if name == EXPERT else None  # its own error for an env without one
        available = baseline_names(env)
        if self.expert is None and name not in available:
            raise ValueError(f"baseline {name!r} cannot play {env.spec.id if env.spec else env}; "
                             f"expected one of {available}")  # fmt: skip
        self.name, self.env = name, env
        self.rng = np.random.default_rng(seed)
        self.family = "bubble" if is_bubble(env) else "delayed" if is_delayed(env) else "generic"
        env.action_space.seed(None if seed is None else int(seed))

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = True,
        action_masks: np.ndarray | None = None,
    ) -> tuple[Any, None]:
        """One action for the env's current state (``observation`` is only passed on to delayed-game policies and
        experts)."""
        if self.expert is not None:
            return self.expert.predict(observation, state, episode_start, deterministic, action_masks)
        if self.family == "bubble":
            from repgym.envs.bubble.policies import policy_action

            return policy_action(self.name, self.env, self.rng), None
        if self.family == "delayed" and self.name != "random":
            from repgym.envs.delayed.reference import POLICIES

            return POLICIES[self.name](self.env.unwrapped, observation, self.rng), None
        return random_legal_action(self.env.action_space, action_masks, self.rng), None


def reference_results(spec: EnvSpec, protocol: EvalProtocol) -> tuple[EvalResult, EvalResult | None]:
    """The references of a score on ``spec``'s env, over ``protocol``'s games: uniformly random legal actions, and
    the family's expert (None where it has none). The zoo's entries and the README's curves use these."""
    random = play(None, spec.make(), protocol)
    env = spec.make()
    return random, (play(BaselineAgent(EXPERT, env), env, protocol) if has_expert(env) else None)


__all__ = [
    "EXPERT",
    "LISTED_PREFIX",
    "BaselineAgent",
    "baseline_name",
    "baseline_names",
    "is_baseline",
    "listed_baselines",
    "reference_results",
]
