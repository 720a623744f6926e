"""The table of repgym environments: id, entry points, defaults and a one-line description for ``repgym list``."""

from __future__ import annotations

from dataclasses import dataclass, field

NAMESPACE = "repgym"


@dataclass(frozen=True)
class EnvEntry:
    """One registered environment id."""

    name: str  # without namespace, e.g. "BubbleBreaker-v0"
    entry_point: str
    description: str
    kwargs: dict = field(default_factory=dict)
    max_episode_steps: int | None = None
    vector_entry_point: str | None = None

    @property
    def id(self) -> str:
        return f"{NAMESPACE}/{self.name}"


def all_envs() -> list[EnvEntry]:
    """Every repgym env entry, family by family (each family lists its own ids in its ``registration`` module)."""
    from repgym.envs.bubble.registration import BUBBLE_ENVS
    from repgym.envs.delayed.registration import DELAYED_ENVS
    from repgym.envs.physics.registration import PHYSICS_ENVS

    return [*BUBBLE_ENVS, *PHYSICS_ENVS, *DELAYED_ENVS]
