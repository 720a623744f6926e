"""Choose MuJoCo's OpenGL backend for machines without a display, before MuJoCo is imported.

MuJoCo reads ``MUJOCO_GL`` once, when ``mujoco`` is first imported, and defaults to GLFW, which needs a display.
On Linux with no ``DISPLAY`` / ``WAYLAND_DISPLAY`` and no ``MUJOCO_GL`` set, :func:`select_gl_backend` picks
``egl`` when ``libEGL`` is installed (a GPU's driver, or Mesa's software renderer: Debian/Ubuntu packages
``libegl1 libopengl0 libegl-mesa0 libgl1-mesa-dri``), else ``osmesa`` when ``libOSMesa`` is (``libosmesa6``).
A value the user set is never overridden. This module imports nothing from MuJoCo.
"""

from __future__ import annotations

import ctypes.util
import os
import platform
from collections.abc import Callable, MutableMapping

INSTALL_HINT = (
    "on Debian/Ubuntu install `libegl1 libopengl0 libegl-mesa0 libgl1-mesa-dri` (EGL) or `libosmesa6` (OSMesa) and set "
    "MUJOCO_GL=egl or MUJOCO_GL=osmesa before MuJoCo is imported"
)


def select_gl_backend(
    environ: MutableMapping[str, str] | None = None,
    system: str | None = None,
    find_library: Callable[[str], str | None] = ctypes.util.find_library,
) -> str | None:
    """Set ``MUJOCO_GL`` for a headless Linux machine if it is unset; return the backend in effect (None: default).

    ``environ`` (default ``os.environ``), ``system`` (default ``platform.system()``) and ``find_library`` are
    parameters so that the choice can be tested without changing the process.
    """
    environ = os.environ if environ is None else environ
    current = environ.get("MUJOCO_GL")
    if current:
        return current
    system = platform.system() if system is None else system
    if system != "Linux" or environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return None  # a display (or macOS / Windows): MuJoCo's default works
    for backend, library in (("egl", "EGL"), ("osmesa", "OSMesa")):
        if find_library(library):
            environ["MUJOCO_GL"] = backend
            return backend
    return None
