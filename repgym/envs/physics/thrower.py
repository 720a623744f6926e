"""A two-link arm in a vertical plane that must throw a ball into a goal out of its reach."""

from __future__ import annotations

import math
from typing import Any

import mujoco
import numpy as np

from repgym.envs.physics.base import ObsMode, PhysicsEnv, finite_float

_cos, _sin, _hypot, _remainder, _tau = math.cos, math.sin, math.hypot, math.remainder, math.tau

GOAL_X = (1.6, 3.0)  # m from the shoulder, beyond the 1.0 m reach
GOAL_Z = (-0.8, 0.8)
ARENA_X = (-2.0, 4.5)  # m from the shoulder; a ball outside ends the episode
ARENA_TOP = 3.3  # m above the shoulder


class ThrowerEnv(PhysicsEnv):
    """A jointed arm throws a ball into a goal, with gravity on (the ball flies in an arc) or off (a straight line).

    ## Description
    A two-link arm (2 x 0.5 m x 1 kg) hangs from a shoulder 1.2 m above the floor, moves in the vertical x-z plane
    and holds a 0.1 kg ball in its hand (``repgym/assets/physics/thrower.xml``; the grip is a weld constraint, so
    the arm feels the ball's weight; the timestep is 0.002 s to keep the grip stiff).
    The goal, a sphere of radius ``goal_radius``, lies 1.6..3.0 m in front of the shoulder, out of reach, so the
    ball must be thrown: swung up and released. Gravity (``gravity`` m/s² along -z) weighs on the arm and bends
    the ball's flight into a parabola; with ``gravity=0`` the arm floats and the ball flies straight, so a throw
    aimed for one regime misses in the other. Angles grow counter-clockwise as the camera sees the arm (0 along
    +x, pi/2 straight up); the elbow stops at +-2.8 rad. Nothing collides.

    ## Action Space
    ``Box(-1, 1, (3,), float32)``: shoulder and elbow motor commands (torque limits 20 and 10 N m; holding arm and
    ball straight out against 9.81 m/s² takes 10.8 and 3.4 N m) and ``release``: the hand lets go of the ball at
    the first step where it is > 0 (for the rest of the episode). Entries outside [-1, 1] are clipped; a
    non-finite entry or a wrong shape raises ``ValueError``.

    ## Observation Space
    - ``"state"`` (default): ``(15,) float64``: cos and sin of the two joint angles, joint velocities (rad/s), ball
      position (x, z; m from the shoulder) and velocity (m/s), goal position (x, z), ball minus goal (x, z), and
      1.0 while the ball is held (else 0.0); then the gravity (m/s²) if ``observe_gravity``. Names in
      ``env.unwrapped.obs_names``.
    - ``"pixels"``: ``(pixel_size, pixel_size, 3) uint8`` RGB from the side camera (64 x 64 by default); with
      ``observe_gravity`` a ``Dict`` of ``"pixels"`` and ``"gravity"`` ``(1,) float64``.

    ## Rewards
    ``shaping_weight * (d_before - d_after)`` where d is the ball-to-goal distance (m) — so the return sums to
    the distance gained — ``- ctrl_cost_weight * sum(motor commands ** 2)``, plus ``hit_bonus`` on the step the
    ball's centre comes within ``goal_radius`` of the goal's.

    ## Starting State
    The arm hangs down (shoulder ``-pi/2``, elbow 0, each plus uniform noise in [-0.1, 0.1] rad), at rest, with
    the ball in the hand. The goal is uniform over x in [1.6, 3.0] m and z in [-0.8, 0.8] m from the shoulder.
    ``reset(options={"goal": (x, z)})`` places it (m from the shoulder, anywhere in the arena);
    ``reset(options={"gravity": g})`` sets the gravity from this episode on.

    ## Episode End
    Terminated when the ball reaches the goal (success), or, once thrown, when it reaches the floor or leaves the
    arena (x outside -2.0..4.5 m of the shoulder, or more than 3.3 m above it). The registered ids truncate after
    150 steps (3 s at the default ``frame_skip=10``).

    ## Info
    ``distance`` (ball to goal, m), ``is_success``, ``released`` and ``state``: ``(14,) float64`` ground truth —
    joint angles (rad, wrapped to [-pi, pi]) and velocities, hand (x, z), ball (x, z) and velocity (x, z), goal
    (x, z), all relative to the shoulder in m and m/s, held (1.0 / 0.0), gravity (m/s²). Names in
    ``env.unwrapped.state_names``; ``env.unwrapped.state_dict(info["state"])`` names the values.

    ## Arguments
    ```python
    gymnasium.make(
        "repgym/Thrower-v0",        # ThrowerZeroG-v0 defaults to gravity=0.0
        gravity=9.81,               # m/s², along -z; 0.0 = off (any finite value; negative pulls up)
        observe_gravity=False,      # append the gravity to the observation
        obs_mode="state",           # "state" | "pixels"
        frame_skip=10,              # MuJoCo steps (0.002 s each) per env step
        goal_radius=0.15,           # m; the ball's centre must come this close to the goal's
        hit_bonus=10.0,             # reward for reaching the goal
        shaping_weight=1.0,         # reward per metre the ball gains toward the goal
        ctrl_cost_weight=0.01,      # weight of sum(motor commands ** 2) in the reward
        render_mode=None,           # "human" | "rgb_array"
        width=256, height=256,      # rendered image size (pixels)
        pixel_size=64,              # side of the "pixels" observation
    )
    ```

    ## Version History
    - v0: initial version.
    """

    reset_option_names = ("goal",)
    extra_action_names = ("release",)

    def __init__(
        self,
        gravity: float = 9.81,
        observe_gravity: bool = False,
        obs_mode: ObsMode = "state",
        frame_skip: int = 10,
        goal_radius: float = 0.15,
        hit_bonus: float = 10.0,
        shaping_weight: float = 1.0,
        ctrl_cost_weight: float = 0.01,
        render_mode: str | None = None,
        width: int = 256,
        height: int = 256,
        pixel_size: int = 64,
    ) -> None:
        obs_names = (
            "cos_shoulder", "cos_elbow", "sin_shoulder", "sin_elbow", "shoulder_velocity", "elbow_velocity",
            "ball_x", "ball_z", "ball_velocity_x", "ball_velocity_z", "goal_x", "goal_z",
            "ball_minus_goal_x", "ball_minus_goal_z", "held",
        )  # fmt: skip
        state_names = (
            "shoulder_angle", "elbow_angle", "shoulder_velocity", "elbow_velocity", "hand_x", "hand_z",
            "ball_x", "ball_z", "ball_velocity_x", "ball_velocity_z", "goal_x", "goal_z", "held",
        )  # fmt: skip
        super().__init__(
            "thrower.xml", obs_names, state_names, gravity, observe_gravity, obs_mode, frame_skip, render_mode,
            width, height, pixel_size,
        )  # fmt: skip
        self.goal_radius = finite_float(goal_radius, "goal_radius")
        self.hit_bonus = finite_float(hit_bonus, "hit_bonus")
        self.shaping_weight = finite_float(shaping_weight, "shaping_weight")
        self.ctrl_cost_weight = finite_float(ctrl_cost_weight, "ctrl_cost_weight")
        shoulder = self.model.body("link1").pos
        self._shoulder_x, self._shoulder_z = float(shoulder[0]), float(shoulder[2])
        self._ball_radius = float(self.model.geom("ball").size[0])
        self._grip = self.model.equality("grip").id
        self._link2 = self.model.body("link2").id
        self._hand = self.data.site("hand").xpos
        self._qpos, self._qvel = self.data.qpos, self.data.qvel
        self._goal_x = self._goal_z = 0.0
        self._held = True
        self._previous_distance = 0.0

    def _reset_body(self, options: dict[str, Any]) -> None:
        rng = self.np_random
        qpos = self.data.qpos
        qpos[:2] = rng.uniform(-0.1, 0.1, 2)
        qpos[0] -= math.pi / 2
        mujoco.mj_kinematics(self.model, self.data)  # the hand's pose, to put the ball in it
        qpos[2:5] = self._hand
        qpos[5:9] = self.data.xquat[self._link2]  # the grip holds the ball in link 2's orientation
        self.data.eq_active[self._grip] = 1
        self._held = True
        if "goal" in options:
            self._goal_x, self._goal_z = self._goal_option(options.pop("goal"))
        else:
            self._goal_x, self._goal_z = rng.uniform(*GOAL_X), rng.uniform(*GOAL_Z)
        self.data.mocap_pos[0] = (self._shoulder_x + self._goal_x, 0.0, self._shoulder_z + self._goal_z)

    def _goal_option(self, goal: Any) -> tuple[float, float]:
        xz = np.asarray(goal, dtype=np.float64)
        floor = -self._shoulder_z
        if (
            xz.shape != (2,) or not np.isfinite(xz).all() or not ARENA_X[0] < xz[0] < ARENA_X[1]
            or not floor < xz[1] < ARENA_TOP
        ):  # fmt: skip
            raise ValueError(
                f"goal must be (x, z) in m from the shoulder inside the arena (x in {ARENA_X}, z in "
                f"({floor}, {ARENA_TOP})), got {goal!r}"
            )
        return float(xz[0]), float(xz[1])

    def _extra_action(self, values: list[float]) -> None:
        if self._held and values[0] > 0.0:
            self.data.eq_active[self._grip] = 0
            self._held = False

    def _measure(self, ctrl_cost: float) -> tuple[bytes, float, bool, dict[str, Any]]:
        q = self._qpos.tolist()
        v = self._qvel.tolist()
        hx, _, hz = self._hand.tolist()
        sx, sz = self._shoulder_x, self._shoulder_z
        bx, bz, bvx, bvz = q[2] - sx, q[4] - sz, v[2], v[4]
        gx, gz = self._goal_x, self._goal_z
        dx, dz = bx - gx, bz - gz
        distance = _hypot(dx, dz)
        success = distance < self.goal_radius
        out = not (ARENA_X[0] < bx < ARENA_X[1] and q[4] > self._ball_radius and bz < ARENA_TOP)
        reward = self.shaping_weight * (self._previous_distance - distance) - self.ctrl_cost_weight * ctrl_cost
        if success:
            reward += self.hit_bonus
        self._previous_distance = distance
        held = 1.0 if self._held else 0.0
        q0, q1 = q[0], q[1]
        values = self._pack(
            _cos(q0), _cos(q1), _sin(q0), _sin(q1), v[0], v[1], bx, bz, bvx, bvz, gx, gz, dx, dz, held,
            self._g,  # observation, gravity, state
            _remainder(q0, _tau), _remainder(q1, _tau), v[0], v[1], hx - sx, hz - sz, bx, bz, bvx, bvz, gx, gz, held,
            self._g,
        )  # fmt: skip
        info = {"distance": distance, "is_success": success, "released": not self._held}
        return values, reward, success or out, info
