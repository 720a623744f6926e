"""Rollout data for world models: collect episodes from any Gymnasium env into compressed shards, read them back.

A data folder holds ``manifest.json`` and shards ``shard-00000.npz`` ... (``np.savez_compressed``), each with
``episodes_per_shard`` episodes laid end to end:

- ``frames``      ``(sum(T_i + 1), 64, 64, 3) uint8``: every observation as a picture, the final one included
- ``actions``     ``(sum(T_i), *action_shape)``: the action taken after each frame but the last
- ``rewards``     ``(sum(T_i),) float32``; ``terminated`` / ``truncated`` ``(sum(T_i),) bool``
- ``lengths``     ``(episodes,) int64``: T_i, the steps of each episode
- ``seeds``       ``(episodes,) int64``: the ``reset(seed=...)`` of each episode
- ``state.<name>`` ``(sum(T_i + 1), ...) float32``: the env's ground truth ``info["state"]`` at each frame, one
  array per named factor (a dict's values flattened to floats, ``None`` as NaN; an array state named by the env's
  ``state_names`` when it has them)

Episode ``j`` is reset with seed ``seed + j``, so a shard is the same whenever it is (re)collected, and collection
resumes by skipping the shards that exist.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from repgym.worlds.progress import progress

FRAME_SIZE = 64
MANIFEST = "manifest.json"
Policy = Callable[[Any, dict], Any]  # (observation, info) -> action; a ``reset()`` method, if any, starts episodes


@dataclass
class Episode:
    """One episode: ``frames (T+1, 64, 64, 3) uint8``, ``actions (T, ...)``, ``rewards (T,)``, ``terminated``,
    ``truncated (T,) bool`` and ``states {name: (T+1, ...) float32}``."""

    frames: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    states: dict[str, np.ndarray] = field(default_factory=dict)
    seed: int | None = None

    def __len__(self) -> int:
        return len(self.actions)


def to_frame(image: np.ndarray, size: int = FRAME_SIZE) -> np.ndarray:
    """``(size, size, 3) uint8`` from an ``(H, W, 3)`` or ``(H, W, 4)`` image (nearest-neighbour resize)."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] not in (3, 4):
        raise ValueError(f"expected an (H, W, 3) image, got shape {image.shape}")
    image = image[..., :3]
    if image.dtype != np.uint8:
        image = np.clip(image * 255.0 if image.max() <= 1.0 else image, 0, 255).astype(np.uint8)
    h, w = image.shape[:2]
    if (h, w) != (size, size):
        rows = (np.arange(size) * h // size).astype(np.int64)
        cols = (np.arange(size) * w // size).astype(np.int64)
        image = image[rows][:, cols]
    return np.ascontiguousarray(image)


def observation_frame(obs: Any, env: gym.Env) -> np.ndarray:
    """The picture of an observation: the observation itself when it is an image, its ``"pixels"`` entry for a
    dict, else ``env.render()`` (the env must then be made with ``render_mode="rgb_array"``)."""
    if isinstance(obs, dict) and "pixels" in obs:
        obs = obs["pixels"]
    if isinstance(obs, np.ndarray) and obs.ndim == 3 and obs.shape[-1] in (3, 4):
        return to_frame(obs)
    if env.render_mode != "rgb_array":
        raise ValueError(
            f"observations of shape {getattr(obs, 'shape', type(obs).__name__)} are not pictures; make the env with "
            'obs_mode="pixels" or render_mode="rgb_array"'
        )
    return to_frame(env.render())


def flatten_state(state: Any, names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """``{name: float64 array}`` of a ground-truth ``info["state"]``: dict values flattened (bools and ints as
    floats, tuples as vectors, ``None`` as an empty array to be NaN-filled), array entries named by ``names``."""
    if state is None:
        return {}
    if isinstance(state, dict):
        out = {}
        for key, value in state.items():
            if value is None:
                out[str(key)] = np.zeros(0)
                continue
            try:
                out[str(key)] = np.asarray(value, dtype=np.float64).reshape(-1)
            except (TypeError, ValueError):
                continue  # non-numeric factors (strings) are not probe targets
        return out
    values = np.asarray(state, dtype=np.float64).reshape(-1)
    if names is not None and len(names) == len(values):
        return {str(n): values[i : i + 1] for i, n in enumerate(names)}
    return {"state": values}


def stack_states(rows: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``{name: (n,) or (n, width) float32}`` from per-frame flattened states (missing/None entries become NaN)."""
    widths: dict[str, int] = {}
    for row in rows:
        for key, value in row.items():
            widths[key] = max(widths.get(key, 0), value.size)
    out = {}
    for key, width in widths.items():
        width = max(width, 1)
        array = np.full((len(rows), width), np.nan, np.float32)
        for i, row in enumerate(rows):
            value = row.get(key)
            if value is not None and value.size == width:
                array[i] = value
        out[key] = array[:, 0] if width == 1 else array
    return out


def random_policy(action_space: gym.Space) -> Policy:
    """Uniform random actions from ``action_space`` (seed it for reproducible data)."""
    return lambda obs, info: action_space.sample()


def run_episode(env: gym.Env, policy: Policy, seed: int, max_steps: int | None = None) -> Episode:
    """Play one episode of ``policy`` from ``env.reset(seed=seed)``, recording frames, actions and ground truth.
    A policy with a ``reset()`` method (e.g. one carrying a recurrent agent's state) has it called first."""
    names = getattr(env.unwrapped, "state_names", None)
    if callable(getattr(policy, "reset", None)):
        policy.reset()
    obs, info = env.reset(seed=int(seed))
    frames, states = [observation_frame(obs, env)], [flatten_state(info.get("state"), names)]
    actions, rewards, terminated, truncated = [], [], [], []
    while True:
        action = policy(obs, info)
        obs, reward, term, trunc, info = env.step(action)
        actions.append(np.asarray(action))
        rewards.append(float(reward))
        terminated.append(bool(term))
        truncated.append(bool(trunc))
        frames.append(observation_frame(obs, env))
        states.append(flatten_state(info.get("state"), names))
        if term or trunc or (max_steps is not None and len(actions) >= max_steps):
            truncated[-1] = truncated[-1] or not term
            break
    return Episode(
        np.stack(frames), np.stack(actions), np.asarray(rewards, np.float32), np.asarray(terminated, bool),
        np.asarray(truncated, bool), stack_states(states), int(seed),
    )  # fmt: skip


def save_shard(path: str | os.PathLike, episodes: Sequence[Episode]) -> Path:
    """Write ``episodes`` as one compressed shard, atomically (a crash leaves no partial file under ``path``)."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {
        "frames": np.concatenate([e.frames for e in episodes]),
        "actions": np.concatenate([e.actions for e in episodes]),
        "rewards": np.concatenate([e.rewards for e in episodes]),
        "terminated": np.concatenate([e.terminated for e in episodes]),
        "truncated": np.concatenate([e.truncated for e in episodes]),
        "lengths": np.asarray([len(e) for e in episodes], np.int64),
        "seeds": np.asarray([-1 if e.seed is None else e.seed for e in episodes], np.int64),
    }
    for key in episodes[0].states:
        parts = [e.states.get(key) for e in episodes]
        if all(p is not None for p in parts) and len({p.shape[1:] for p in parts}) == 1:
            arrays[f"state.{key}"] = np.concatenate(parts)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_shard(path: str | os.PathLike) -> list[Episode]:
    """The episodes of one shard."""
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    episodes, f0, s0 = [], 0, 0
    state_keys = [k for k in arrays if k.startswith("state.")]
    for length, seed in zip(arrays["lengths"], arrays["seeds"], strict=True):
        length = int(length)
        fs, ss = slice(f0, f0 + length + 1), slice(s0, s0 + length)
        episodes.append(
            Episode(
                arrays["frames"][fs],
                arrays["actions"][ss],
                arrays["rewards"][ss],
                arrays["terminated"][ss],
                arrays["truncated"][ss],
                {k[len("state.") :]: arrays[k][fs] for k in state_keys},
                None if seed < 0 else int(seed),
            )  # fmt: skip
        )
        f0, s0 = f0 + length + 1, s0 + length
    return episodes


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.npz"


def read_manifest(folder: str | os.PathLike) -> dict[str, Any]:
    """The ``manifest.json`` of a data folder (``FileNotFoundError`` naming the folder if there is none)."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{folder} holds no collected data ({MANIFEST} not found); run `repgym world collect`")
    return json.loads(path.read_text())


def _write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".manifest.")
    with os.fdopen(fd, "w") as f:
        json.dump(manifest, f, indent=2)
    os.replace(tmp, folder / MANIFEST)


def collect(
    env_id: str,
    out: str | os.PathLike,
    episodes: int,
    episodes_per_shard: int = 10,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    policy: Callable[[gym.Env], Policy] | None = None,
    policy_name: str = "random",
    max_steps: int | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Collect ``episodes`` episodes of ``env_id`` into shards under ``out``; returns the manifest.

    Args:
        policy: ``policy(env) -> (observation, info) -> action``; default uniform random actions (the action space is
            seeded per shard, so data are reproducible).
        max_steps: cut episodes after this many steps (recorded as truncated); default: the env's own limit.

    Resumable: shards already on disk are kept (the manifest must describe the same env and shard size).
    """
    if episodes < 1 or episodes_per_shard < 1:
        raise ValueError(f"episodes and episodes_per_shard must be >= 1, got {episodes} and {episodes_per_shard}")
    import repgym.envs  # noqa: F401  (registers the ids)

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    identity = {"env_id": env_id, "env_kwargs": env_kwargs or {}, "episodes_per_shard": episodes_per_shard,
                "seed": seed, "policy": policy_name, "max_steps": max_steps}  # fmt: skip
    manifest: dict[str, Any] = {**identity, "frame_shape": [FRAME_SIZE, FRAME_SIZE, 3], "shards": []}
    if (folder / MANIFEST).exists():
        old = read_manifest(folder)
        clash = {k: (old.get(k), v) for k, v in identity.items() if old.get(k) != v}
        if clash:
            raise ValueError(f"{folder} already holds data collected differently: {clash} (old, new); use a new folder")
        manifest["shards"] = [s for s in old["shards"] if (folder / s["file"]).exists()]
    env = gym.make(env_id, **(env_kwargs or {}))
    manifest["action_space"] = repr(env.action_space)
    n_shards = -(-episodes // episodes_per_shard)
    done = {s["file"]: s["episodes"] for s in manifest["shards"]}  # a shard of another size is collected again
    with progress(show_progress) as bar:
        task = bar.add_task(f"collect {env_id}", total=episodes, info="")
        for index in range(n_shards):
            first = index * episodes_per_shard
            count = min(episodes_per_shard, episodes - first)
            name = shard_name(index)
            if done.get(name) == count:
                bar.advance(task, count)
                continue
            env.action_space.seed(seed + first)
            act = policy(env) if policy is not None else random_policy(env.action_space)
            batch = []
            for j in range(count):
                batch.append(run_episode(env, act, seed + first + j, max_steps))
                bar.advance(task)
            save_shard(folder / name, batch)
            steps = int(sum(len(e) for e in batch))
            manifest["shards"] = [s for s in manifest["shards"] if s["file"] != name]
            manifest["shards"].append({"file": name, "episodes": count, "steps": steps,
                                       "return_mean": float(np.mean([e.rewards.sum() for e in batch]))})  # fmt: skip
            manifest["shards"].sort(key=lambda s: s["file"])
            _write_manifest(folder, manifest)
            bar.update(task, info=f"{sum(s['steps'] for s in manifest['shards'])} steps")
    env.close()
    _write_manifest(folder, manifest)
    return manifest


def load_episodes(folder: str | os.PathLike, limit: int | None = None) -> list[Episode]:
    """Every episode of a data folder, shard by shard (at most ``limit``)."""
    manifest = read_manifest(folder)
    episodes: list[Episode] = []
    for shard in manifest["shards"]:
        episodes.extend(load_shard(Path(folder) / shard["file"]))
        if limit is not None and len(episodes) >= limit:
            return episodes[:limit]
    return episodes


def split_episodes(episodes: Sequence[Episode], val_fraction: float = 0.1) -> tuple[list[Episode], list[Episode]]:
    """Train / validation split by episode (the last ``val_fraction`` of them, at least one when there are two)."""
    n_val = int(round(len(episodes) * val_fraction))
    if val_fraction > 0 and len(episodes) >= 2:
        n_val = max(n_val, 1)
    n_val = min(n_val, len(episodes) - 1)
    return list(episodes[: len(episodes) - n_val]), list(episodes[len(episodes) - n_val :])
