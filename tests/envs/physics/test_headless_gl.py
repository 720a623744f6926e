"""Choosing MuJoCo's OpenGL backend on a machine without a display, and rendering there."""

from __future__ import annotations

import os
import subprocess
import sys

from repgym.envs.physics.headless import select_gl_backend


def libraries(*present: str):
    return lambda name: f"lib{name}.so.1" if name in present else None


def test_headless_linux_prefers_egl_then_osmesa() -> None:
    env: dict[str, str] = {}
    assert select_gl_backend(env, "Linux", libraries("EGL", "OSMesa")) == "egl" and env["MUJOCO_GL"] == "egl"
    env = {}
    assert select_gl_backend(env, "Linux", libraries("OSMesa")) == "osmesa" and env["MUJOCO_GL"] == "osmesa"
    env = {}
    assert select_gl_backend(env, "Linux", libraries()) is None and "MUJOCO_GL" not in env


def test_a_display_or_a_user_choice_is_left_alone() -> None:
    for env in ({"DISPLAY": ":0"}, {"WAYLAND_DISPLAY": "wayland-0"}):
        assert select_gl_backend(env, "Linux", libraries("EGL")) is None and "MUJOCO_GL" not in env
    env = {"MUJOCO_GL": "osmesa"}
    assert select_gl_backend(env, "Linux", libraries("EGL")) == "osmesa" and env["MUJOCO_GL"] == "osmesa"
    env = {}
    assert select_gl_backend(env, "Darwin", libraries("EGL")) is None and "MUJOCO_GL" not in env


def test_import_sets_the_backend_and_renders_in_a_fresh_headless_process() -> None:
    """With no display and no MUJOCO_GL, ``import repgym`` picks a backend that renders, and exits cleanly."""
    env = {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "PYOPENGL_PLATFORM", "DISPLAY")}
    env.pop("WAYLAND_DISPLAY", None)
    code = (
        "import os, gymnasium as gym, repgym\n"
        "print(os.environ.get('MUJOCO_GL'))\n"
        "env = gym.make('repgym/TwoLinkReach-v0', render_mode='rgb_array', width=32, height=32)\n"
        "env.reset(seed=0)\n"
        "print(env.render().shape)\n"  # env left open: the exit hook must free the GL context quietly
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    backend, shape = result.stdout.split("\n")[:2]
    assert backend in ("egl", "osmesa") and shape == "(32, 32, 3)"
    assert "Error" not in result.stderr and "Exception" not in result.stderr, result.stderr
