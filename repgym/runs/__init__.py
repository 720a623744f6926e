"""The run protocol, owned in one place: how an env is named (:class:`EnvSpec`), how a checkpoint is read
(:class:`Checkpoint`) and how episodes are played (:class:`EvalProtocol`, :func:`play`).

It sits between the envs and everything that acts: agents save and load through it, and evaluation, benchmark
jobs, analysis, human baselines and experiments play through :func:`play`.
"""

from repgym.runs.checkpoint import Checkpoint, CheckpointError, write_checkpoint
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
    "Checkpoint",
    "CheckpointError",
    "EnvSpec",
    "EvalProtocol",
    "EvalResult",
    "Policy",
    "Step",
    "action_mask",
    "env_action",
    "play",
    "random_legal_action",
    "write_checkpoint",
]
