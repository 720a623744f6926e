"""Hyperparameters of the distilled policy agent (:mod:`repgym.agents.distill`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from repgym.agents.averaging import check_keep


@dataclass
class DistillConfig:
    """Network, teacher and DAgger schedule of :class:`~repgym.agents.distill.DistilledPolicyAgent`."""

    teacher: str = ""  # a lookahead checkpoint (folder or zoo:NAME) whose one-step choices are imitated
    temperature: float = 0.05  # teacher targets: softmax((r + V) / (temperature * value scale)) over the moves
    channels: int = 32  # conv channels of the policy network
    blocks: int = 5  # 3x3 conv layers after the stem (each also reads the board-wide pooled context)
    learning_rate: float = 1e-3  # Adam step size
    batch_size: int = 256  # labelled positions per gradient step
    games: int = 64  # games advanced in lockstep while collecting positions
    buffer_size: int = 100_000  # labelled positions kept; the oldest are replaced first
    learning_starts: int = 2_000  # positions in the buffer before the first update
    gradient_steps: int = 1  # updates after each lockstep move
    teacher_mix_start: float = 1.0  # probability that the teacher's move is played instead of the student's ...
    teacher_mix_end: float = 0.0  # ... falling linearly to this over mix_steps moves (DAgger's beta)
    mix_steps: int = 50_000  # moves over which the teacher's share falls
    epsilon: float = 0.05  # probability of a uniformly random move while collecting (more varied positions)
    max_grad_norm: float = 10.0  # gradient clipping
    policy_averaging: float = 0.0  # acting weights <- this * themselves + (1 - this) * the trained ones after each
    #                                update (Polyak averaging; 0: act with the trained weights, and a checkpoint's
    #                                averaged weights are not loaded)

    def __post_init__(self) -> None:
        check_keep("policy_averaging", self.policy_averaging)
        for name in ("teacher_mix_start", "teacher_mix_end", "epsilon"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("channels", "batch_size", "games", "buffer_size", "mix_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.blocks < 0 or self.gradient_steps < 0 or self.learning_starts < 0:
            raise ValueError(f"blocks, gradient_steps and learning_starts must be >= 0, got {self.blocks}, "
                             f"{self.gradient_steps}, {self.learning_starts}")  # fmt: skip
        if self.temperature <= 0.0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
