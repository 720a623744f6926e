"""The run protocol, owned in one place: how an env is named (:class:`EnvSpec`), how a checkpoint is read
(:class:`Checkpoint`) and how episodes are played (:class:`EvalProtocol`, :func:`play`).

It sits between the envs and everything that acts: agents save and load through it, and evaluation, benchmark
jobs, analysis, human baselines and experiments play through :func:`play`.
"""

from repgym.runs.checkpoint import (
    ZOO_DIR_VAR,
    ZOO_PREFIX,
    Checkpoint,
    CheckpointError,
    is_checkpoint_ref,
    resolve_checkpoint_path,
    shipped_zoo_dir,
    write_checkpoint,
    zoo_dir,
    zoo_names,
)
from repgym.runs.env_spec import EnvSpec
from repgym.runs.protocol import (
    DEFAULT_FIRST_SEED,
    EvalProtocol,
    EvalResult,
    Policy,
    Step,
    action_mask,
    env_action,
    play,
    random_legal_action,
)

__all__ = [
    "DEFAULT_FIRST_SEED",
    "ZOO_DIR_VAR",
    "ZOO_PREFIX",
    "Checkpoint",
    "CheckpointError",
    "EnvSpec",
    "EvalProtocol",
    "EvalResult",
    "Policy",
    "Step",
    "action_mask",
    "env_action",
    "is_checkpoint_ref",
    "play",
    "random_legal_action",
    "resolve_checkpoint_path",
    "shipped_zoo_dir",
    "write_checkpoint",
    "zoo_dir",
    "zoo_names",
]
