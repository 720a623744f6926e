"""Registered ids of the Bubble Breaker / SameGame family."""

from repgym.envs.registry import EnvEntry

_BUBBLE = "repgym.envs.bubble.env:BubbleBreakerEnv"
_BUBBLE_VEC = "repgym.envs.bubble.vector:BubbleBreakerVectorEnv"

BUBBLE_ENVS: list[EnvEntry] = [
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
