"""Checkpoint folders: the one writer and the one reader.

A checkpoint is a folder::

    <path>/agent.json   what produced it: agent name, env (id and kwargs), hyperparameters, seed, step counters,
                        repgym / gymnasium / torch versions, plus whatever the agent needs to rebuild itself
    <path>/weights.pt   tensors only (state dicts), read with ``torch.load(weights_only=True)``
    <path>/replay.pt    optional: state that only resuming training needs (a replay buffer), read only on request

Nothing is pickled, so loading a checkpoint from someone else cannot run their code. :meth:`Checkpoint.read`
validates a folder once and every failure is one line naming the file and what is wrong; tensors are loaded on
first use, and ``replay.pt`` only when training resumes.

Wherever a checkpoint folder is accepted, ``zoo:NAME`` names a trained checkpoint shipped with repgym
(``repgym/assets/zoo/NAME``, or ``$REPGYM_ZOO_DIR/NAME``): :func:`resolve_checkpoint_path` maps it to the folder,
here and nowhere else. The manifest describing those checkpoints is read by :mod:`repgym.agents.zoo`.
"""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import repgym
from repgym.atomic_files import write_files_atomically
from repgym.runs.env_spec import EnvSpec

FORMAT = "repgym-agent"
FORMAT_VERSION = 1
META_FILE = "agent.json"
WEIGHTS_FILE = "weights.pt"
REPLAY_FILE = "replay.pt"
# Tensors that only resuming training needs; older checkpoints kept them in weights.pt under these keys.
RESUME_ONLY_KEYS = ("replay",)
ZOO_PREFIX = "zoo:"  # zoo:NAME names a checkpoint shipped with repgym
ZOO_DIR_VAR = "REPGYM_ZOO_DIR"  # set: the zoo is read from this folder instead of the package's (tests, builds)


class CheckpointError(ValueError):
    """A folder that is not a readable repgym checkpoint; the message is one line naming the file."""


@dataclass
class Checkpoint:
    """A validated checkpoint folder: typed metadata now, tensors on first use.

    Attributes:
        path: the folder.
        meta: ``agent.json`` as written (agent-specific entries included).
        agent: the registry name of the agent that wrote it (``qr-dqn``, ``sb3-ppo``...).
        env: the env it was trained on, or None when it was trained on an env made without ``gym.make``.
        hyperparameters: the agent's constructor arguments.
        seed, num_timesteps: the agent's seed and its env-step counter when saved.
        num_envs, vectorization_mode: the vector env it trained on (None: a single env).
        versions: ``{"repgym": ..., "gymnasium": ..., "torch": ...}`` (absent ones None).
    """

    path: Path
    meta: dict[str, Any]
    agent: str
    env: EnvSpec | None
    hyperparameters: dict[str, Any]
    seed: int | None
    num_timesteps: int
    num_envs: int | None = None
    vectorization_mode: str | None = None
    versions: dict[str, str | None] = field(default_factory=dict)
    _tensors: dict[str, Any] | None = field(default=None, repr=False)
    _resume_tensors: dict[str, Any] | None = field(default=None, repr=False)

    # -- reading -------------------------------------------------------------------------------------------------
    @classmethod
    def read(cls, path: str | os.PathLike | Checkpoint) -> Checkpoint:
        """Validate the folder ``path`` (or ``zoo:NAME``) and read its metadata (tensors wait until
        :meth:`tensors`)."""
        if isinstance(path, Checkpoint):
            return path
        folder = resolve_checkpoint_path(path)
        if not folder.exists():
            raise CheckpointError(f"{folder}: no such checkpoint folder")
        if not folder.is_dir():
            raise CheckpointError(f"{folder}: not a repgym checkpoint (a checkpoint is a folder with {META_FILE})")
        meta_path = folder / META_FILE
        if not meta_path.is_file():
            raise CheckpointError(f"{folder}: not a repgym checkpoint ({META_FILE} is missing)")
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as err:
            raise CheckpointError(f"{meta_path}: invalid JSON at line {err.lineno}, column {err.colno}") from None
        except UnicodeDecodeError:
            raise CheckpointError(f"{meta_path}: not a text file") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise CheckpointError(f'{meta_path}: not a repgym checkpoint (no "format": "{FORMAT}")')
        version = meta.get("format_version", 0)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise CheckpointError(f"{meta_path}: written by a newer repgym (format {version}); upgrade repgym")
        if not isinstance(meta.get("agent"), str) or not meta["agent"]:
            raise CheckpointError(f"{meta_path}: names no agent")
        weights = folder / WEIGHTS_FILE
        if not weights.is_file():
            raise CheckpointError(f"{folder}: {WEIGHTS_FILE} is missing")
        if weights.stat().st_size == 0:
            raise CheckpointError(f"{weights}: empty file (the save was cut short?)")
        if not zipfile.is_zipfile(weights):
            raise CheckpointError(f"{weights}: not a torch tensor archive (truncated or another format)")
        env = None
        if meta.get("env_id"):
            try:
                env = EnvSpec(meta["env_id"], meta.get("env_kwargs") or {})
            except ValueError as err:
                raise CheckpointError(f"{meta_path}: {err}") from None
        return cls(
            path=folder,
            meta=meta,
            agent=meta["agent"],
            env=env,
            hyperparameters=dict(meta.get("hyperparameters") or {}),
            seed=meta.get("seed"),
            num_timesteps=int(meta.get("num_timesteps") or 0),
            num_envs=meta.get("num_envs"),
            vectorization_mode=meta.get("vectorization_mode"),
            versions={
                "repgym": meta.get("repgym_version"),
                "gymnasium": meta.get("gymnasium_version"),
                "torch": meta.get("torch_version"),
            },
        )

    def tensors(self) -> dict[str, Any]:
        """The tensors that acting needs (``weights.pt``), loaded once; resume-only state is left out."""
        if self._tensors is None:
            loaded = _load_tensors(self.path / WEIGHTS_FILE)
            self._tensors = {k: v for k, v in loaded.items() if k not in RESUME_ONLY_KEYS}
            # a checkpoint written before replay.pt existed keeps the buffer in weights.pt: set it aside
            old = {k: v for k, v in loaded.items() if k in RESUME_ONLY_KEYS}
            if old and self._resume_tensors is None:
                self._resume_tensors = old
        return self._tensors

    def resume_tensors(self) -> dict[str, Any]:
        """State only resuming training needs (``replay.pt``: a replay buffer); empty when none was saved."""
        if self._resume_tensors is None:
            replay = self.path / REPLAY_FILE
            self._resume_tensors = _load_tensors(replay) if replay.is_file() else {}
            if not self._resume_tensors:
                self.tensors()  # an older checkpoint: the buffer sits in weights.pt
                self._resume_tensors = self._resume_tensors or {}
        return self._resume_tensors

    # -- what it was trained on ---------------------------------------------------------------------------------
    def require_env(self) -> EnvSpec:
        """The recorded env; a one-line error when the checkpoint has none."""
        if self.env is None:
            raise CheckpointError(f"{self.path / META_FILE}: records no env id; give the env to act in")
        return self.env

    def make_env(self, render_mode: str | None = None, **overrides: Any) -> gym.Env:
        """A single env as recorded (also for agents trained on a vector env), ``overrides`` replacing arguments:
        what evaluation, analysis and videos play in."""
        return self.require_env().make(render_mode=render_mode, **overrides)

    def make_training_env(self) -> gym.Env | gym.vector.VectorEnv:
        """The env training used: a vector env of the recorded size and mode, else a single env."""
        if self.num_envs:
            return self.require_env().make_vec(int(self.num_envs), self.vectorization_mode)
        return self.make_env()


# -- zoo:NAME ------------------------------------------------------------------------------------------------------
def shipped_zoo_dir() -> Path:
    """``repgym/assets/zoo`` of the installed package, where the shipped checkpoints and ``zoo.toml`` live."""
    folder = files("repgym").joinpath("assets", "zoo")
    if not isinstance(folder, Path):  # a zipped install: checkpoints must be real folders to be read lazily
        raise CheckpointError(f"{folder}: the zoo needs repgym installed as files, not inside an archive")
    return folder


def zoo_dir() -> Path:
    """The zoo that ``zoo:NAME`` is read from: ``$REPGYM_ZOO_DIR`` when set, else :func:`shipped_zoo_dir`."""
    override = os.environ.get(ZOO_DIR_VAR)
    return Path(override).expanduser() if override else shipped_zoo_dir()


def zoo_names(folder: str | os.PathLike | None = None) -> list[str]:
    """The checkpoint names of a zoo folder (default :func:`zoo_dir`): its sub-folders, sorted."""
    root = Path(folder) if folder is not None else zoo_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def is_checkpoint_ref(text: str | os.PathLike | Checkpoint) -> bool:
    """Whether ``text`` names a checkpoint rather than something else (a baseline or agent name): a
    :class:`Checkpoint`, any ``zoo:NAME`` (an unknown name then fails on reading, listing the known ones) or a
    folder holding ``agent.json``."""
    if isinstance(text, Checkpoint):
        return True
    if str(text).startswith(ZOO_PREFIX):
        return True
    return (Path(text) / META_FILE).is_file()


def resolve_checkpoint_path(path: str | os.PathLike) -> Path:
    """The folder ``path`` names: ``zoo:NAME`` -> ``<zoo>/NAME`` (:func:`zoo_dir`), anything else as given.

    An unknown zoo name is a one-line :class:`CheckpointError` listing the known ones."""
    text = str(path)
    if not text.startswith(ZOO_PREFIX):
        return Path(path)
    name = text[len(ZOO_PREFIX) :]
    root = zoo_dir()
    known = zoo_names(root)
    if name not in known:  # also keeps zoo:../x inside the zoo
        listing = f"{', '.join(known)} (repgym zoo describes them)" if known else f"none yet ({root} is empty)"
        raise CheckpointError(f"{text}: no such checkpoint in the zoo; known: {listing}")
    return root / name


def _load_tensors(path: Path) -> dict[str, Any]:
    """``torch.load(path, weights_only=True)`` with every failure turned into one line naming the file."""
    import torch

    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError:
        raise CheckpointError(f"{path} needs pickle to load and was refused (repgym loads tensors only)") from None
    except (EOFError, RuntimeError, zipfile.BadZipFile, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path}: unreadable tensor file ({first})") from None
    if not isinstance(loaded, dict):
        raise CheckpointError(f"{path}: holds a {type(loaded).__name__}, not a dict of tensors")
    return loaded


# -- writing ------------------------------------------------------------------------------------------------------
def write_checkpoint(
    path: str | os.PathLike,
    meta: dict[str, Any],
    tensors: dict[str, Any],
    resume_tensors: dict[str, Any] | None = None,
) -> Path:
    """Write ``agent.json`` + ``weights.pt`` (+ ``replay.pt`` from ``resume_tensors``) into folder ``path``,
    each file atomically (a crash leaves the old file); a stale ``replay.pt`` is removed when none is given."""
    import torch

    full_meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "repgym_version": repgym.__version__,
        "gymnasium_version": gym.__version__,
        "torch_version": torch.__version__,
        **meta,
    }
    writers = {WEIGHTS_FILE: lambda f: torch.save(tensors, f)}
    if resume_tensors:
        writers[REPLAY_FILE] = lambda f: torch.save(resume_tensors, f)
    # agent.json last: a folder whose agent.json is new has all its new files
    writers[META_FILE] = lambda f: f.write(json.dumps(full_meta, indent=2, default=_json_default).encode())
    if not resume_tensors:
        (Path(path) / REPLAY_FILE).unlink(missing_ok=True)
    return write_files_atomically(path, writers)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in {META_FILE}")
