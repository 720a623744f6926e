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


_BUBBLE = "repgym.envs.bubble.env:BubbleBreakerEnv"
_BUBBLE_VEC = "repgym.envs.bubble.vector:BubbleBreakerVectorEnv"

ENVS: list[EnvEntry] = [
    EnvEntry("BubbleBreaker-v0", _BUBBLE, "Bubble Breaker, 14x10, 5 colours, n(n-1) points, columns close right",
             {"variant": "standard"}, 500, _BUBBLE_VEC),
    EnvEntry("BubbleBreakerContinuous-v0", _BUBBLE,
             "Bubble Breaker where a new column arrives for every column cleared (grey after 50)",
             {"variant": "continuous", "max_new_columns": 50}, 2000, _BUBBLE_VEC),
    EnvEntry("BubbleBreakerShifter-v0", _BUBBLE, "Bubble Breaker where bubbles also slide right within each row",
             {"variant": "shifter"}, 500, _BUBBLE_VEC),
    EnvEntry("BubbleBreakerMegaShift-v0", _BUBBLE, "Bubble Breaker with both new columns and row sliding",
             {"variant": "megashift", "max_new_columns": 50}, 2000, _BUBBLE_VEC),
    EnvEntry("SameGame-v0", _BUBBLE,
             "SameGame, 15x15, 5 colours, (n-2)^2 points, +1000 for a clear board, end penalty, columns close left",
             {"rows": 15, "cols": 15, "colours": 5, "scoring": "samegame", "shift": "left", "end_penalty": True},
             1000, _BUBBLE_VEC),
]  # fmt: skip
