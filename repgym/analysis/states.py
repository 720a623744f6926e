"""A fixed set of states to analyse: observations from an agent (or a random policy) playing its env, with the
env's ground truth for each, flattened into named scalar factors.

Ground truth comes from ``info["state"]`` (an array, a dict of arrays/scalars, or a scalar; the names of a flat
vector come from ``env.unwrapped.state_names`` when the env provides them), plus every numeric scalar in ``info``
(``info.groups``, ``info.largest_group``...). An env that reports no ground truth and has a flat observation is
its own ground truth (``obs[i]``). The decision label of a state, used by the conflation analysis, is
``env.unwrapped.optimal_action()`` where the env has an oracle, else a hash of the legal-action mask (states with
different legal moves cannot share every optimal move), else None.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from repgym.runs import EvalProtocol, Step, play

# info entries that are bookkeeping, not a property of the state
_INFO_SKIP = {"state", "action_mask", "illegal_action", "TimeLimit.truncated", "episode", "terminal_observation"}
MAX_CATEGORIES = 12  # an integer-valued factor with at most this many values is treated as categorical


@dataclass
class StateSet:
    """``n`` states, each an observation with its ground truth.

    Attributes:
        obs: ``(n, *obs_shape)`` the observations, as the env returned them.
        factors: ``{name: (n,) float64}`` ground-truth factors (constant ones dropped).
        categorical: names of the factors that take few integer values (probed by classification).
        actions: ``(n,)`` the action taken in each state (agent or random), for attribution targets.
        masks: ``(n, n_actions) bool`` legal actions where the env reports them, else None.
        episode: ``(n,) int64`` which episode each state came from (probes split folds by episode).
        labels: ``(n,) int64`` decision labels (see the module docstring) or None.
        episode_returns: return of each episode played while collecting.
        n_actions: size of a Discrete action space, else None.
        dropped_factors: factors left out because they never changed.
        memory: a recurrent agent's state as it was passed to ``predict`` for each state (None at an episode's
            start), or None for feed-forward agents.
        defined: ``{name: (n,) bool}`` for factors the env reports only in some states (``steps_since_key`` before
            the key is taken): where it is False the column holds the mean of the defined values, and probes use
            only the defined states.
    """

    obs: np.ndarray
    factors: dict[str, np.ndarray]
    categorical: set[str]
    actions: np.ndarray
    masks: np.ndarray | None
    episode: np.ndarray
    labels: np.ndarray | None
    episode_returns: list[float] = field(default_factory=list)
    n_actions: int | None = None
    dropped_factors: list[str] = field(default_factory=list)
    defined: dict[str, np.ndarray] = field(default_factory=dict)
    memory: list[Any] | None = None

    def __len__(self) -> int:
        return int(self.obs.shape[0])

    def factor_matrix(self, names: list[str] | None = None) -> tuple[list[str], np.ndarray]:
        """``(names, (n, k) float64)`` of the chosen factors (default: all)."""
        names = list(self.factors) if names is None else names
        return names, np.stack([self.factors[k] for k in names], axis=1) if names else np.zeros((len(self), 0))

    def subset(self, index: np.ndarray) -> StateSet:
        """The states at ``index`` (factors that become constant are kept: analyses skip them themselves)."""
        return StateSet(
            obs=self.obs[index],
            factors={k: v[index] for k, v in self.factors.items()},
            categorical=set(self.categorical),
            actions=self.actions[index],
            masks=None if self.masks is None else self.masks[index],
            episode=self.episode[index],
            labels=None if self.labels is None else self.labels[index],
            episode_returns=list(self.episode_returns),
            n_actions=self.n_actions,
            dropped_factors=list(self.dropped_factors),
            defined={k: v[index] for k, v in self.defined.items()},
            memory=None if self.memory is None else [self.memory[i] for i in np.arange(len(self))[index]],
        )


def flatten_ground_truth(value: Any, prefix: str = "state", names: list[str] | None = None) -> dict[str, float]:
    """Named scalars of a ground-truth value: dicts recurse (``prefix.key``), arrays give ``prefix[i,j]``
    (or ``names[i]`` for a flat vector whose length matches ``names``), numbers give ``prefix``."""
    out: dict[str, float] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            out.update(flatten_ground_truth(item, f"{prefix}.{key}"))
        return out
    arr = np.asarray(value)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        return out  # strings and other non-numeric entries are not factors
    if arr.ndim == 0:
        out[prefix] = float(arr)
        return out
    if names is not None and arr.ndim == 1 and len(names) == arr.size:
        return {str(name): float(v) for name, v in zip(names, arr, strict=True)}
    for index in np.ndindex(arr.shape):
        out[f"{prefix}[{','.join(map(str, index))}]"] = float(arr[index])
    return out


def ground_truth(env: gym.Env, obs: np.ndarray, info: dict[str, Any]) -> dict[str, float]:
    """All factors of one state (see the module docstring)."""
    names = getattr(env.unwrapped, "state_names", None)
    factors: dict[str, float] = {}
    if "state" in info:
        factors.update(flatten_ground_truth(info["state"], "state", list(names) if names is not None else None))
    elif np.asarray(obs).ndim == 1:
        factors.update(flatten_ground_truth(np.asarray(obs, dtype=np.float64), "obs"))
    for key, value in info.items():
        if key in _INFO_SKIP or key.startswith("_"):
            continue
        if isinstance(value, bool | int | float | np.number | np.bool_):
            factors[f"info.{key}"] = float(value)
    return factors


def decision_label(env: gym.Env, info: dict[str, Any]) -> int | None:
    """The optimal action where the env has an oracle, else a stable hash of the legal-action mask, else None."""
    oracle = getattr(env.unwrapped, "optimal_action", None)
    if callable(oracle):
        try:
            return int(np.asarray(oracle()).reshape(-1)[0])
        except (TypeError, ValueError, RuntimeError):
            pass
    mask = info.get("action_mask")
    if mask is not None:
        digest = hashlib.blake2b(np.packbits(np.asarray(mask, dtype=bool)).tobytes(), digest_size=7).digest()
        return int.from_bytes(digest, "little")
    return None


def collect_states(
    env: gym.Env,
    agent: Any = None,
    n_states: int = 1000,
    seed: int = 0,
    epsilon: float = 0.1,
    deterministic: bool = False,
    max_episode_steps: int = 200,
    progress: bool = True,
) -> StateSet:
    """Play episodes (``reset(seed=seed + i)``) until ``n_states`` states are recorded, through
    :func:`repgym.runs.play`.

    Each step the agent acts through ``predict(obs, deterministic=..., action_masks=mask)``; with probability
    ``epsilon`` (always, when ``agent`` is None) a random legal action is taken instead (draws seeded by ``seed``),
    so that the set covers more than the agent's own habits. A recurrent agent's state is passed back within an
    episode (and it is shown the random steps too). A step that leaves the observation unchanged (an illegal,
    no-op move) is not recorded twice, and an episode is cut after ``max_episode_steps`` steps.
    """
    if n_states < 2:
        raise ValueError(f"n_states must be >= 2, got {n_states}")
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    space = env.action_space
    n_actions = int(space.n) if isinstance(space, gym.spaces.Discrete) else None
    obs_list: list[np.ndarray] = []
    rows: list[dict[str, float]] = []
    actions: list[Any] = []
    masks: list[np.ndarray | None] = []
    episodes: list[int] = []
    labels: list[int | None] = []
    memories: list[Any] = []
    # every episode records at least its first state, so n_states episodes are always enough
    protocol = EvalProtocol(episodes=n_states, first_seed=seed, deterministic=deterministic, epsilon=epsilon,
                            rng_seed=seed, max_steps=max_episode_steps)  # fmt: skip
    with _progress(progress) as bar:
        task = bar.add_task("collecting states", total=n_states)
        previous: Any = None  # the observation of the episode's previous step

        def record(step: Step) -> bool:
            """Keep the state unless it repeats the previous one; True (stop) once ``n_states`` are kept."""
            nonlocal previous
            if step.t > 0 and np.array_equal(step.obs, previous):
                return False
            previous = step.obs
            obs_list.append(np.asarray(step.obs).copy())
            rows.append(ground_truth(step.env, step.obs, step.info))
            if n_actions is not None:
                actions.append(int(np.asarray(step.action).reshape(-1)[0]))
            else:
                actions.append(np.asarray(step.action).reshape(space.shape or ()))
            masks.append(step.mask)
            episodes.append(step.episode)
            labels.append(decision_label(step.env, step.info))
            memories.append(step.memory)
            bar.advance(task)
            return len(obs_list) >= n_states

        result = play(agent, env, protocol, on_step=record)
    factors, categorical, dropped, defined = _factor_columns(rows)
    have_masks = all(m is not None for m in masks)
    have_labels = all(label is not None for label in labels)
    recurrent = any(m is not None for m in memories)  # a feed-forward agent's memory is always None
    return StateSet(
        obs=np.stack(obs_list),
        factors=factors,
        categorical=categorical,
        actions=np.asarray(actions),
        masks=np.stack(masks) if have_masks else None,
        episode=np.asarray(episodes, dtype=np.int64),
        labels=np.asarray(labels, dtype=np.int64) if have_labels else None,
        episode_returns=[float(r) for r in result.returns],
        n_actions=n_actions,
        dropped_factors=dropped,
        defined=defined,
        memory=memories if recurrent else None,
    )


def _factor_columns(
    rows: list[dict[str, float]],
) -> tuple[dict[str, np.ndarray], set[str], list[str], dict[str, np.ndarray]]:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    factors: dict[str, np.ndarray] = {}
    categorical: set[str] = set()
    dropped: list[str] = []
    defined: dict[str, np.ndarray] = {}
    for name in names:
        column = np.array([row.get(name, np.nan) for row in rows], dtype=np.float64)
        known = ~np.isnan(column)
        if not known.all():
            column = np.where(known, column, np.nanmean(column) if known.any() else 0.0)
        distinct = np.unique(column[known])
        if distinct.size < 2:
            dropped.append(name)
            continue
        factors[name] = column
        if not known.all():
            defined[name] = known
        if distinct.size <= MAX_CATEGORIES and np.all(distinct == np.round(distinct)):
            categorical.add(name)
    return factors, categorical, dropped, defined


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not enabled,
        transient=True,
    )
