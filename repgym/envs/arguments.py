"""Checks of what every env family takes the same way (``render_mode``, ``obs_mode``, integer arguments, one
Discrete action), so that each check and its message has one owner."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def is_integer(value: Any) -> bool:
    """``value`` is a Python or numpy integer, and not a bool."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    """ValueError naming ``name`` unless ``value`` is one of ``choices`` (e.g. ``obs_mode``)."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def check_render_mode(render_mode: str | None, render_modes: Sequence[str]) -> None:
    """ValueError unless ``render_mode`` is None or one of the env's ``metadata["render_modes"]``."""
    if render_mode is not None and render_mode not in render_modes:
        raise ValueError(f"render_mode must be one of {render_modes} or None, got {render_mode!r}")


def one_integer(action: Any) -> int | None:
    """``action`` as an int when it is one integer (a Python or numpy integer, or a one-element integer array),
    else None; the caller checks the range and words the error."""
    arr = np.asarray(action)
    if arr.size != 1 or not np.issubdtype(arr.dtype, np.integer):
        return None
    return int(arr.reshape(()))
