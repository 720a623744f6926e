"""The evaluation protocol and the one loop that plays episodes.

Every evaluation, benchmark job, analyzer state collection, ablation return, gravity-shift curve, random/human
baseline and world-model evaluation plays through :func:`play`, so "the same evaluation games" means the same reset
seeds everywhere: episode ``i`` starts from ``reset(seed=protocol.first_seed + i)``, and the default first seed is
:data:`DEFAULT_FIRST_SEED`, far from the seeds training uses.

```python
result = play(agent, EnvSpec("repgym/Umbrella-v0", {"delay": 5}), EvalProtocol(episodes=30))
result.mean, result.returns, result.successes
```
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from repgym.runs.env_spec import EnvSpec

DEFAULT_FIRST_SEED = 1_000_000  # evaluation episodes reset from 1,000,000 + i: apart from every training seed


@runtime_checkable
class Policy(Protocol):
    """Anything that acts: repgym agents, the benchmark's baseline players, a world-model controller.

    ``predict`` takes one observation (or a batch), the recurrent ``state`` it returned last (None at first),
    ``episode_start`` (a bool array, True on an episode's first step), and the legal actions where the env has
    them; it returns the action(s) and the new recurrent state (None for feed-forward policies)."""

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
        action_masks: np.ndarray | None = None,
    ) -> tuple[Any, Any]: ...


@dataclass(frozen=True)
class EvalProtocol:
    """How episodes are played: which, how many, and how actions are chosen.

    Attributes:
        episodes: episodes to play (episode ``i`` from ``reset(seed=first_seed + i)``).
        first_seed: reset seed of the first episode (default :data:`DEFAULT_FIRST_SEED`).
        deterministic: passed to ``predict``.
        epsilon: probability that a uniformly random legal action replaces the policy's (epsilon-greedy); a
            recurrent policy still sees every step, so its memory stays current.
        rng_seed: seeds the epsilon draws and the random actions (and the action space's ``sample()`` when random
            actions are played).
        max_steps: cut an episode after this many steps (it counts as truncated); None: the env's own limit.
    """

    episodes: int = 10
    first_seed: int = DEFAULT_FIRST_SEED
    deterministic: bool = True
    epsilon: float = 0.0
    rng_seed: int = 0
    max_steps: int | None = None

    def __post_init__(self) -> None:
        if self.episodes is not None and self.episodes < 1:
            raise ValueError(f"episodes must be at least 1, got {self.episodes}")
        if not 0.0 <= self.epsilon <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {self.epsilon}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {self.max_steps}")

    @property
    def name(self) -> str:
        """``deterministic``, ``stochastic`` or ``epsilon=<e>``: the protocol as the leaderboard records it."""
        if self.epsilon > 0:
            return f"epsilon={self.epsilon:g}"
        return "deterministic" if self.deterministic else "stochastic"

    def seeds(self) -> range:
        """The reset seeds of the episodes, in order."""
        return range(self.first_seed, self.first_seed + self.episodes)


@dataclass
class Step:
    """One step of :func:`play`, as ``on_step`` sees it: the state before acting and what was done in it.

    ``obs``/``info`` are the observation and info the action was chosen on; ``memory`` is the recurrent state the
    policy was given (None at an episode's start or for feed-forward policies); ``explored`` says that the action
    was the epsilon-random one; ``env`` is the env, still in that state (read its ground truth or oracle here)."""

    env: gym.Env
    episode: int
    t: int
    obs: Any
    info: dict[str, Any]
    mask: np.ndarray | None
    action: Any
    explored: bool
    memory: Any


@dataclass(frozen=True)
class EvalResult:
    """What :func:`play` measured, one entry per episode.

    ``returns``/``lengths`` ``(episodes,)``; ``successes`` ``(episodes,) bool`` from ``info["success"]`` (or
    ``info["is_success"]``, SB3's name, which the physics bodies use) at each episode's end where the env reports it
    (else None); ``scores`` from ``info["score"]`` likewise;
    ``illegal_actions`` counts ``info["illegal_action"]``; ``truncated`` says which episodes were cut."""

    returns: np.ndarray
    lengths: np.ndarray
    illegal_actions: int = 0
    scores: np.ndarray | None = None
    successes: np.ndarray | None = None
    truncated: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    seeds: tuple[int, ...] = ()

    @property
    def mean(self) -> float:
        return float(np.mean(self.returns))

    @property
    def std(self) -> float:
        return float(np.std(self.returns))

    @property
    def success_rate(self) -> float | None:
        return None if self.successes is None else float(np.mean(self.successes))


def play(
    policy: Policy | None,
    env: gym.Env | EnvSpec,
    protocol: EvalProtocol | None = None,
    *,
    on_step: Callable[[Step], bool | None] | None = None,
) -> EvalResult:
    """Play ``protocol.episodes`` episodes of ``policy`` in ``env`` (an instance, or a spec made and closed here).

    ``policy`` None plays uniformly random legal actions. Each step calls ``policy.predict(obs, state,
    episode_start, deterministic, action_masks)`` (masks from ``info["action_mask"]`` or the env's
    ``action_masks()``), threading the recurrent state through the episode. ``on_step(step)`` sees every step before
    the env moves on; returning True stops play at once (the current episode is counted as truncated): analysis
    collects states this way.
    """
    protocol = protocol or EvalProtocol()
    if isinstance(env, gym.vector.VectorEnv):
        raise ValueError("play() plays a single env; pass gym.make(...) or an EnvSpec, not a vector env")
    if isinstance(env, EnvSpec):
        made = env.make()
        try:
            return play(policy, made, protocol, on_step=on_step)
        finally:
            made.close()
    rng = np.random.default_rng(protocol.rng_seed)
    if policy is None or protocol.epsilon > 0:  # random actions here; a policy's own sampling is its business
        env.action_space.seed(protocol.rng_seed)
    returns, lengths, scores, successes, cut, seeds = [], [], [], [], [], []
    illegal = 0
    recurrent: bool | None = None  # unknown until the policy's first answer
    stop = False
    for episode, seed in enumerate(protocol.seeds()):
        obs, info = env.reset(seed=seed)
        total, steps, done, truncated = 0.0, 0, False, False
        memory, start = None, np.ones(1, dtype=bool)
        while not done:
            mask = action_mask(env, info)
            explore = policy is None or (protocol.epsilon > 0 and rng.random() < protocol.epsilon)
            given = memory
            if policy is not None and (not explore or recurrent is not False):
                chosen, memory = policy.predict(obs, state=memory, episode_start=start,
                                                deterministic=protocol.deterministic, action_masks=mask)  # fmt: skip
                recurrent = bool(recurrent) or memory is not None
            start = np.zeros(1, dtype=bool)
            action = random_legal_action(env.action_space, mask, rng) if explore else chosen
            if on_step is not None and on_step(Step(env, episode, steps, obs, info, mask, action, explore, given)):
                stop, truncated = True, True
                break
            obs, reward, terminated, truncated, info = env.step(env_action(action, env.action_space))
            total += float(reward)
            steps += 1
            illegal += bool(info.get("illegal_action", False))
            if protocol.max_steps is not None and steps >= protocol.max_steps and not terminated:
                truncated = True
            done = terminated or truncated
        returns.append(total)
        lengths.append(steps)
        cut.append(bool(truncated))
        seeds.append(seed)
        if "score" in info:
            scores.append(float(info["score"]))
        success = info.get("success", info.get("is_success"))  # repgym's games / the physics bodies (SB3's key)
        if success is not None:
            successes.append(bool(success))
        if stop:
            break
    n = len(returns)
    return EvalResult(
        returns=np.asarray(returns, dtype=np.float64),
        lengths=np.asarray(lengths, dtype=np.int64),
        illegal_actions=illegal,
        scores=np.asarray(scores) if len(scores) == n else None,
        successes=np.asarray(successes, dtype=bool) if len(successes) == n and n else None,
        truncated=np.asarray(cut, dtype=bool),
        seeds=tuple(seeds),
    )


def random_legal_action(space: gym.Space, mask: np.ndarray | None, rng: np.random.Generator) -> Any:
    """A uniformly random action of ``space``, among the legal ones (``mask``) of a discrete space."""
    if mask is not None and isinstance(space, spaces.Discrete):
        legal = np.flatnonzero(mask)
        if legal.size:
            return int(space.start + rng.choice(legal))
    return space.sample()


def env_action(action: Any, space: gym.Space) -> Any:
    """An action from ``predict`` in the form ``env.step`` takes for ``space``.

    ``Discrete``: a Python int (predict returns a 0-d or 1-element array). ``Box``, ``MultiDiscrete`` and
    ``MultiBinary``: an array of the space's shape and dtype, so continuous actions stay floats (float32 for a
    float32 ``Box``). Other spaces: unchanged.
    """
    if isinstance(space, spaces.Discrete):
        return int(np.asarray(action).reshape(()))
    if isinstance(space, spaces.Box | spaces.MultiDiscrete | spaces.MultiBinary):
        array = np.asarray(action, dtype=space.dtype)
        if array.size != math.prod(space.shape):
            raise ValueError(f"the policy's action has {array.size} entries; the env's action space is {space}")
        return array.reshape(space.shape)
    return action


def action_mask(env: gym.Env, info: dict) -> np.ndarray | None:
    """The legal actions of ``env`` now (``info["action_mask"]`` or the env's ``action_masks()``), else None."""
    if "action_mask" in info:
        return np.asarray(info["action_mask"], dtype=bool)
    try:
        return np.asarray(env.get_wrapper_attr("action_masks")(), dtype=bool)
    except AttributeError:
        return None
