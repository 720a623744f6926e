"""The shell every physics env shares: model loading, gravity, frame skip, action checks, observations, rendering.

A body subclass supplies its MJCF file, its starting state (:meth:`PhysicsEnv._reset_body`) and what it measures
after each step (:meth:`PhysicsEnv._measure`); everything else lives here. The step path works on Python floats
rather than small numpy operations, so that an env step costs little more than MuJoCo's own ``mj_step`` (see
``benchmarks/physics_speed.py``).
"""

from __future__ import annotations

import math
import struct
from importlib.resources import files
from typing import Any, ClassVar, Literal

import gymnasium as gym
import mujoco  # the package's __init__ has chosen the OpenGL backend by now (see .headless)
import numpy as np
from gymnasium import spaces

from repgym.envs.arguments import check_choice, check_render_mode, is_integer
from repgym.envs.physics.render import ImageWindow, OffscreenCamera

ObsMode = Literal["state", "pixels"]
OBS_MODES = ("state", "pixels")
_isfinite = math.isfinite
_mj_step = mujoco.mj_step


def load_model(file_name: str) -> mujoco.MjModel:
    """A fresh ``MjModel`` from an MJCF file shipped in ``repgym/assets/physics`` (each env owns its model)."""
    return mujoco.MjModel.from_xml_string(files("repgym").joinpath("assets", "physics", file_name).read_text())


def finite_float(value: Any, name: str) -> float:
    """``value`` as a float, or a ValueError naming ``name`` if it is not a finite number."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number, got {value!r}") from None
    if not math.isfinite(out):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return out


def positive_int(value: Any, name: str, upper: int | None = None) -> int:
    """``value`` as an int >= 1 (and <= ``upper``), or a ValueError naming ``name``."""
    if not is_integer(value) or value < 1 or (upper and value > upper):
        bound = f"1..{upper}" if upper else ">= 1"
        raise ValueError(f"{name} must be an integer {bound}, got {value!r}")
    return int(value)


class PhysicsEnv(gym.Env):
    """A jointed body in MuJoCo whose gravity can be switched; see the subclasses for the bodies and tasks.

    Subclasses pass their MJCF file name, ``obs_names`` and ``state_names`` (gravity excluded: the shell adds
    it), set ``reset_option_names`` (and ``extra_action_names``), and implement ``_reset_body`` and ``_measure``
    (and ``_extra_action``).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["human", "rgb_array"], "render_fps": 50}
    camera: ClassVar[str] = "side"  # the MJCF camera used for pictures
    reset_option_names: ClassVar[tuple[str, ...]] = ()  # reset options a body accepts besides "gravity"
    extra_action_names: ClassVar[tuple[str, ...]] = ()  # action entries after the motors' (e.g. "release")

    def __init__(
        self,
        model_file: str,
        obs_names: tuple[str, ...],
        state_names: tuple[str, ...],
        gravity: float = 9.81,
        observe_gravity: bool = False,
        obs_mode: ObsMode = "state",
        frame_skip: int = 2,
        render_mode: str | None = None,
        width: int = 256,
        height: int = 256,
        pixel_size: int = 64,
    ) -> None:
        check_choice("obs_mode", obs_mode, OBS_MODES)
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.frame_skip = positive_int(frame_skip, "frame_skip")
        self.model = load_model(model_file)
        self.data = mujoco.MjData(self.model)
        max_size = min(self.model.vis.global_.offwidth, self.model.vis.global_.offheight)
        self.width = positive_int(width, "width", max_size)
        self.height = positive_int(height, "height", max_size)
        self.pixel_size = positive_int(pixel_size, "pixel_size", max_size)
        self.obs_mode = obs_mode
        self.observe_gravity = bool(observe_gravity)
        self.render_mode = render_mode
        self.obs_names = obs_names + (("gravity",) if self.observe_gravity else ())
        self.state_names = state_names + ("gravity",)
        self.metadata = {**type(self).metadata, "render_fps": round(1.0 / self.dt)}
        self.gravity = gravity

        nu = self.model.nu
        self._nu = nu
        self._action_shape = (nu + len(self.extra_action_names),)
        self.action_space = spaces.Box(-1.0, 1.0, self._action_shape, np.float32)
        self.observation_space = self._make_observation_space()
        # _measure packs the observation's entries, the gravity, then the state's (see there) as float64 bytes, in
        # one call: faster than array.array or np.array. The observation ends before or after the gravity entry.
        self._obs_end = len(self.obs_names)
        self._state_start = len(obs_names) + 1
        self._pack = struct.Struct(f"{self._state_start + len(self.state_names)}d").pack
        self._ctrl = self.data.ctrl  # a view: writing it sets the motors
        self._write_ctrl = struct.Struct(f"{nu}d").pack_into  # (ctrl, 0, *values): faster than ctrl[:] = values
        self._has_extra_action = bool(self.extra_action_names)
        self._human = render_mode == "human"
        self._state_obs = obs_mode == "state"
        self._ready = False
        self._last_state = np.zeros(0)
        self._pixel_camera: OffscreenCamera | None = None
        self._render_camera: OffscreenCamera | None = None
        self._window: ImageWindow | None = None

    # -- gravity ---------------------------------------------------------------------------------------------------

    @property
    def gravity(self) -> float:
        """Gravitational acceleration in m/s², pulling along -z (0: off). Setting it takes effect on the next step."""
        return self._g

    @gravity.setter
    def gravity(self, value: float) -> None:
        g = finite_float(value, "gravity")
        self._g = g
        self.model.opt.gravity[:] = (0.0, 0.0, -g)

    @property
    def dt(self) -> float:
        """Seconds of simulated time per env step (MuJoCo timestep x frame_skip)."""
        return float(self.model.opt.timestep) * self.frame_skip

    # -- Gymnasium API ---------------------------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - {"gravity", *self.reset_option_names}
        if unknown:
            expected = ", ".join(repr(k) for k in ("gravity", *self.reset_option_names))
            raise ValueError(f"unknown reset option(s) {sorted(unknown)}; expected {expected}")
        if "gravity" in options:
            self.gravity = options.pop("gravity")
        self._ready = False  # until the body's options are accepted
        mujoco.mj_resetData(self.model, self.data)
        self._reset_body(options)
        mujoco.mj_forward(self.model, self.data)
        self._ready = True
        obs, info = self._observe()
        if self.render_mode == "human":
            self.render()
        return obs, info

    def step(self, action):
        if not self._ready:
            raise RuntimeError("call reset() before step()")
        a = np.asarray(action)
        if a.shape != self._action_shape or a.dtype.kind not in "biuf":
            raise ValueError(f"action must be {self._action_shape} numbers in [-1, 1], got {action!r}")
        values = a.tolist()
        for x in values:  # one pass of Python comparisons beats min() and max() on a few entries
            if not -1.0 <= x <= 1.0:  # out of range, infinite or NaN
                values = self._clipped(values, action)
                break
        if self._has_extra_action:
            self._extra_action(values[self._nu :])
            values = values[: self._nu]
        ctrl_cost = 0.0
        for x in values:  # left to right, as sum() adds floats before Python 3.12; a loop is faster here
            ctrl_cost += x * x
        self._write_ctrl(self._ctrl, 0, *values)
        _mj_step(self.model, self.data, self.frame_skip)
        measured, reward, terminated, info = self._measure(ctrl_cost)
        buffer = np.frombuffer(bytearray(measured))  # a writable float64 array; obs and state are views into it
        info["state"] = self._last_state = buffer[self._state_start :]
        obs = buffer[: self._obs_end] if self._state_obs else self._pixel_obs()
        if self._human:
            self.render()
        return obs, reward, terminated, False, info

    @staticmethod
    def _clipped(values: list[float], action: Any) -> list[float]:
        """``values`` clipped to [-1, 1], or a ValueError if one is not finite."""
        if not all(map(_isfinite, values)):
            raise ValueError(f"action entries must be finite numbers, got {action!r}")
        return [1.0 if x > 1.0 else (-1.0 if x < -1.0 else x) for x in values]

    def render(self):
        if self.render_mode is None:
            return None
        if self._render_camera is None:
            self._render_camera = OffscreenCamera(self.model, self.width, self.height, self.camera)
        image = self._render_camera.render(self.data)
        if self.render_mode == "rgb_array":
            return image
        if self._window is None:
            self._window = ImageWindow(self.width, self.height, f"repgym — {type(self).__name__}")
        self._window.show(image, self.metadata["render_fps"])
        return None

    def close(self) -> None:
        for camera in (self._pixel_camera, self._render_camera):
            if camera is not None:
                camera.close()
        self._pixel_camera = self._render_camera = None
        if self._window is not None:
            self._window.close()
            self._window = None

    # -- ground truth ----------------------------------------------------------------------------------------------

    def state_dict(self, state: np.ndarray | None = None) -> dict[str, float]:
        """``info["state"]`` (default: the current one) as ``{name: value}``, names from ``state_names``."""
        if state is None:
            if not self._ready:
                raise RuntimeError("call reset() before state_dict()")
            state = self._last_state
        return dict(zip(self.state_names, np.asarray(state, dtype=np.float64).tolist(), strict=True))

    # -- for subclasses --------------------------------------------------------------------------------------------

    def _reset_body(self, options: dict[str, Any]) -> None:
        """Set the starting state in ``self.data`` from ``self.np_random`` and the body's reset ``options``."""
        raise NotImplementedError

    def _measure(self, ctrl_cost: float) -> tuple[bytes, float, bool, dict[str, Any]]:
        """After a step: (values, reward, terminated, info).

        ``values`` is ``self._pack(...)`` of, in order: the state observation's entries (``obs_names`` order,
        without the gravity), ``self._g`` (an observation entry only with ``observe_gravity``), then
        ``info["state"]``'s entries (``state_names`` order, the last being ``self._g``). Packing Python floats in
        one call, without ``*`` arguments, keeps the step fast.
        ``ctrl_cost`` is the sum of squared (clipped) motor commands of the step.
        """
        raise NotImplementedError

    def _extra_action(self, values: list[float]) -> None:
        """Act on the action entries after the motors' (already clipped to [-1, 1])."""
        raise NotImplementedError

    # -- helpers ---------------------------------------------------------------------------------------------------

    def _make_observation_space(self) -> spaces.Space:
        if self.obs_mode == "state":
            return spaces.Box(-np.inf, np.inf, (len(self.obs_names),), np.float64)
        pixels = spaces.Box(0, 255, (self.pixel_size, self.pixel_size, 3), np.uint8)
        if self.observe_gravity:
            return spaces.Dict({"pixels": pixels, "gravity": spaces.Box(-np.inf, np.inf, (1,), np.float64)})
        return pixels

    def _observe(self) -> tuple[Any, dict[str, Any]]:
        """Observation and info of the current state (at reset; :meth:`step` inlines the same for speed)."""
        values, _, _, info = self._measure(0.0)
        buffer = np.frombuffer(bytearray(values))
        info["state"] = self._last_state = buffer[self._state_start :]
        return (buffer[: self._obs_end] if self._state_obs else self._pixel_obs()), info

    def _pixel_obs(self) -> np.ndarray | dict[str, np.ndarray]:
        if self._pixel_camera is None:
            self._pixel_camera = OffscreenCamera(self.model, self.pixel_size, self.pixel_size, self.camera)
        pixels = self._pixel_camera.render(self.data)
        return {"pixels": pixels, "gravity": np.array([self._g])} if self.observe_gravity else pixels
