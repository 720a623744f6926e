"""Augmentations of sampled replay batches: ``fn(obs, next_obs, rng) -> (obs, next_obs)`` on numpy arrays.

An augmentation must map a transition to an equally valid one: the same change for ``obs`` and ``next_obs``, with
actions, rewards and masks untouched. Each is registered by name (``DQNConfig.augmentation``) with a factory that
receives the env, so the name alone is saved with a checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

Augmentation = Callable[[np.ndarray, np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]]
AugmentationFactory = Callable[[gym.Env | gym.vector.VectorEnv], Augmentation]

AUGMENTATIONS: dict[str, AugmentationFactory] = {}


def register_augmentation(name: str, factory: AugmentationFactory) -> None:
    """Make ``factory(env) -> augmentation`` available as ``DQNConfig(augmentation=name)``."""
    AUGMENTATIONS[name] = factory


def make_augmentation(name: str | None, env: gym.Env | gym.vector.VectorEnv) -> Augmentation | None:
    """The augmentation called ``name`` for ``env`` (None for no augmentation)."""
    if name is None or name == "none":
        return None
    if name not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {name!r}; expected None or one of {sorted(AUGMENTATIONS)}")
    return AUGMENTATIONS[name](env)


def colour_permutations(env: gym.Env | gym.vector.VectorEnv) -> Augmentation:
    """Bubble Breaker / SameGame: rename the colours of each sampled transition by its own random permutation,
    the same one for ``obs`` and ``next_obs`` (:func:`repgym.envs.bubble.symmetry.augment`)."""
    from repgym.envs.bubble import symmetry
    from repgym.envs.bubble.rules import BubbleConfig

    base = env.unwrapped
    if isinstance(env, gym.vector.SyncVectorEnv | gym.vector.AsyncVectorEnv) and hasattr(env, "envs"):
        base = env.envs[0].unwrapped
    config, obs_mode = getattr(base, "config", None), getattr(base, "obs_mode", None)
    if not isinstance(config, BubbleConfig) or obs_mode not in ("planes", "board"):
        raise ValueError(
            f"augmentation 'colours' needs a Bubble Breaker / SameGame env with obs_mode 'planes' or 'board', got "
            f"{type(base).__name__} with obs_mode {obs_mode!r}"
        )

    def augment(obs: np.ndarray, next_obs: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        renamed, perm = symmetry.augment(obs, rng, config)
        return renamed, symmetry.permute(next_obs, perm)

    return augment


register_augmentation("colours", colour_permutations)
