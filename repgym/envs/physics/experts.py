"""Analytic expert controllers for the physics bodies, gravity on or off: the reference for every physics env.

An expert is built for one env instance and reads that env's MuJoCo model and state (never its observation), so it
works with state and pixel observations alike. It computes the arm's dynamics on a private ``MjData``, so the
env's own data is never touched and an episode plays the same with or without an expert watching.

- Reach: inverse kinematics for the target, then a minimum-jerk joint trajectory tracked by computed-torque
  control (the model's inertia, Coriolis, gravity and damping terms plus a PD correction).
- Thrower: a wind-up and an underhand swing of the straight arm tracked the same way, timed so that the hand
  reaches the release angle and speed exactly at a step and lets go there; angle and speed come from projectile
  kinematics (a straight line without gravity, a parabola through the goal with it).

```python
env = gymnasium.make("repgym/ThreeLinkReach-v0")
expert = make_expert(env)
result = play(expert, env, EvalProtocol(30))
```
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from repgym.envs.physics.base import PhysicsEnv
from repgym.envs.physics.reach import ReachEnv
from repgym.envs.physics.thrower import ThrowerEnv

JOINT_MARGIN = 0.1  # rad kept clear of the elbow and wrist stops (+-2.8 rad) by the inverse kinematics
RELEASE_ANGLES = np.linspace(-math.pi + 0.01, -0.01, 600)  # rad; the lower half, where the swinging hand moves +x


def make_expert(env: gym.Env) -> PhysicsExpert:
    """The expert for ``env`` (``gym.make(...)`` of a repgym physics body, wrappers allowed)."""
    body = env.unwrapped
    if isinstance(body, ReachEnv):
        return ReachExpert(body)
    if isinstance(body, ThrowerEnv):
        return ThrowerExpert(body)
    raise ValueError(f"make_expert needs a repgym physics body (ReachEnv or ThrowerEnv), got {type(body).__name__}")


class ArmDynamics:
    """The arm's joint-space dynamics at the env's current state, computed on a private ``MjData``.

    Motor ``i`` drives joint dof ``dofs[i]``; :meth:`commands` turns joint torques (N m) into the env's motor
    commands (torque / gear, clipped to the ctrlrange and to the action space's [-1, 1]).
    """

    def __init__(self, model: mujoco.MjModel) -> None:
        self.model = model
        self.data = mujoco.MjData(model)
        self.dofs = model.jnt_dofadr[model.actuator_trnid[:, 0]]
        self.gear = model.actuator_gear[:, 0].copy()
        self.low = np.maximum(model.actuator_ctrlrange[:, 0], -1.0)
        self.high = np.minimum(model.actuator_ctrlrange[:, 1], 1.0)
        self._mass_matrix = np.zeros((model.nv, model.nv))

    def sync(self, data: mujoco.MjData) -> None:
        """Copy the env's state and compute its positions and velocities terms (no acceleration, no step)."""
        mine = self.data
        mine.qpos[:] = data.qpos
        mine.qvel[:] = data.qvel
        mine.eq_active[:] = data.eq_active
        mujoco.mj_fwdPosition(self.model, mine)
        mujoco.mj_fwdVelocity(self.model, mine)

    def inertia(self) -> np.ndarray:
        """``(motors, motors)`` joint-space inertia of the driven joints (kg m², armature included)."""
        mujoco.mj_fullM(self.model, self._mass_matrix, self.data.qM)
        return self._mass_matrix[np.ix_(self.dofs, self.dofs)]

    def bias(self) -> np.ndarray:
        """``(motors,)`` torque (N m) that cancels Coriolis, centrifugal, gravity and joint damping forces."""
        return self.data.qfrc_bias[self.dofs] - self.data.qfrc_passive[self.dofs]

    def commands(self, torque: np.ndarray) -> np.ndarray:
        """``(motors,)`` motor commands that apply ``torque`` (N m) as far as the motors' limits allow."""
        return np.clip(torque / self.gear, self.low, self.high)


class PhysicsExpert:
    """An expert for one physics env: ``predict`` acts on that env's current state, whatever the observation.

    A new episode is recognised by the simulation clock (``data.time``) starting again, so ``predict`` needs no
    ``episode_start``; it must be called once per step, right after ``reset``/``step``.
    """

    def __init__(self, env: PhysicsEnv) -> None:
        self.env = env
        self.dynamics = ArmDynamics(env.model)
        self.nu = env.model.nu
        self._last_time = -1.0

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
        action_masks: np.ndarray | None = None,
    ) -> tuple[np.ndarray, None]:
        """The action for the env's current state, shaped and typed as its action space; no recurrent state."""
        time = float(self.env.data.time)
        if time == 0.0 or time < self._last_time:
            self.start_episode()
        self._last_time = time
        return self.act(time).astype(self.env.action_space.dtype), None

    def start_episode(self) -> None:
        """Plan the episode from the env's state just after ``reset``."""
        raise NotImplementedError

    def act(self, time: float) -> np.ndarray:
        """The action at simulation time ``time`` (s from the episode's start)."""
        raise NotImplementedError

    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Angles (rad, unwrapped) and velocities (rad/s) of the driven joints."""
        dofs = self.dynamics.dofs
        return self.env.data.qpos[dofs].copy(), self.env.data.qvel[dofs].copy()

    def track(
        self, q_ref: np.ndarray, qd_ref: np.ndarray, qdd_ref: np.ndarray, gains: tuple[float, float]
    ) -> np.ndarray:
        """Computed-torque control: joint torques (N m) that follow the reference angles, velocities, accelerations.

        ``tau = M (qdd_ref + kp (q_ref - q) + kd (qd_ref - qd)) + bias``, with M and bias read from the model.
        """
        kp, kd = gains
        q, qd = self.joint_state()
        self.dynamics.sync(self.env.data)
        desired = qdd_ref + kp * (q_ref - q) + kd * (qd_ref - qd)
        return self.dynamics.inertia() @ desired + self.dynamics.bias()


def minimum_jerk(start: np.ndarray, end: np.ndarray, duration: float, t: float) -> tuple[np.ndarray, ...]:
    """Position, velocity and acceleration at time ``t`` of the rest-to-rest minimum-jerk path ``start`` -> ``end``."""
    tau = min(max(t / duration, 0.0), 1.0)
    delta = end - start
    s = tau**3 * (10 - 15 * tau + 6 * tau**2)
    ds = 30 * tau**2 * (1 - tau) ** 2 / duration
    dds = 60 * tau * (1 - tau) * (1 - 2 * tau) / duration**2
    return start + s * delta, ds * delta, dds * delta


def link_lengths(model: mujoco.MjModel, links: int) -> np.ndarray:
    """``(links,)`` lengths (m) of a planar chain ``link1``..``linkN`` ending at the ``hand`` site."""
    inner = [model.body(f"link{i}").pos[0] for i in range(2, links + 1)]
    return np.array([*inner, model.site("hand").pos[0]], dtype=np.float64)


def two_link_ik(x: float, z: float, l1: float, l2: float) -> list[np.ndarray]:
    """Both (shoulder, elbow) solutions (rad) putting a two-link chain's tip at (x, z) m; [] if out of reach."""
    cos_elbow = (x * x + z * z - l1 * l1 - l2 * l2) / (2 * l1 * l2)
    if not -1.0 <= cos_elbow <= 1.0:
        return []
    solutions = []
    for elbow in (math.acos(cos_elbow), -math.acos(cos_elbow)):
        shoulder = math.atan2(z, x) - math.atan2(l2 * math.sin(elbow), l1 + l2 * math.cos(elbow))
        solutions.append(np.array([shoulder, elbow]))
    return solutions


def nearest_turn(angle: float, reference: float) -> float:
    """``angle`` plus whole turns, as close as possible to ``reference`` (rad): the shoulder turns freely."""
    return reference + math.remainder(angle - reference, math.tau)


def reach_posture(
    target: tuple[float, float], lengths: np.ndarray, limits: np.ndarray, current: np.ndarray
) -> np.ndarray:
    """Joint angles (rad) that put the hand on ``target`` (x, z; m from the shoulder), closest to ``current``.

    ``limits`` bound the elbow (and wrist) angles: ``|q[1:]| <= limits``. The three-link arm is redundant: its
    candidates are the two-link solutions for the wrist at each of 360 hand orientations; the one needing the
    least joint motion (shoulder taken modulo a turn) wins.
    """
    x, z = target
    if len(lengths) == 2:
        candidates = two_link_ik(x, z, *lengths)
    else:
        candidates = []
        for phi in np.linspace(-math.pi, math.pi, 360, endpoint=False):
            wrist_x, wrist_z = x - lengths[2] * math.cos(phi), z - lengths[2] * math.sin(phi)
            for shoulder, elbow in two_link_ik(wrist_x, wrist_z, lengths[0], lengths[1]):
                candidates.append(np.array([shoulder, elbow, math.remainder(phi - shoulder - elbow, math.tau)]))
    best, best_cost = None, math.inf
    for q in candidates:
        q[0] = nearest_turn(q[0], current[0])
        cost = float(np.sum((q - current) ** 2))
        if np.all(np.abs(q[1:]) <= limits) and cost < best_cost:
            best, best_cost = q, cost
    if best is None:
        raise ValueError(f"target {target} is out of the arm's reach within its joint stops (m from the shoulder)")
    return best


class ReachExpert(PhysicsExpert):
    """Reach: inverse kinematics for the target, then a minimum-jerk joint path tracked by computed torque.

    The path takes ``move_time`` seconds; the PD correction is critically damped at ``frequency`` rad/s.
    """

    def __init__(self, env: ReachEnv, move_time: float = 0.5, frequency: float = 10.0) -> None:
        super().__init__(env)
        self.move_time = move_time
        self.gains = (frequency**2, 2.0 * frequency)
        self.lengths = link_lengths(env.model, env.links)
        self.limits = env.model.jnt_range[1:, 1] - JOINT_MARGIN
        self._start = self._goal = np.zeros(env.links)

    def start_episode(self) -> None:
        state = self.env.state_dict()
        self._start = self.joint_state()[0]
        self._goal = reach_posture((state["target_x"], state["target_z"]), self.lengths, self.limits, self._start)

    def act(self, time: float) -> np.ndarray:
        q_ref, qd_ref, qdd_ref = minimum_jerk(self._start, self._goal, self.move_time, time)
        return self.dynamics.commands(self.track(q_ref, qd_ref, qdd_ref, self.gains))


def release_state(goal: tuple[float, float], gravity: float, reach: float, speed: float) -> tuple[float, float]:
    """Shoulder angle (rad) and hand speed (m/s) at which a straight arm's counter-clockwise swing throws into ``goal``.

    The hand moves on the circle of radius ``reach`` (m) around the shoulder, its velocity tangent to it. Without
    gravity the ball flies straight: the release point is where the tangent from the goal touches the circle, and
    the hand moves at ``speed``. With gravity it flies a parabola: of the throws no faster than ``speed`` (or than
    the slowest parabola, if that is faster) the quickest to arrive wins, so that weak gravity gives nearly the
    straight throw rather than a slow lob that lands after the episode.
    """
    gx, gz = goal
    distance = math.hypot(gx, gz)
    if gravity == 0.0:
        if distance <= reach:
            raise ValueError(f"goal {goal} (m from the shoulder) cannot be reached by a forward underhand throw")
        return math.atan2(gz, gx) - math.acos(reach / distance), speed
    angles = RELEASE_ANGLES
    px, pz, ux, uz = reach * np.cos(angles), reach * np.sin(angles), -np.sin(angles), np.cos(angles)
    dx = gx - px
    drop = pz + uz / ux * dx - gz  # how far above the goal the ball would pass without gravity (m)
    feasible = (dx > 0.0) & (drop * gravity > 0.0)
    if not feasible.any():
        raise ValueError(f"goal {goal} (m from the shoulder) cannot be reached by a forward underhand throw")
    speeds = np.full(angles.shape, np.inf)
    speeds[feasible] = np.sqrt(gravity * dx[feasible] ** 2 / (2 * ux[feasible] ** 2 * drop[feasible]))
    flight = np.where(speeds <= max(speed, speeds.min()), dx / (speeds * ux), np.inf)  # s, of the allowed throws
    best = int(np.argmin(flight))
    return float(angles[best]), float(speeds[best])


class ThrowerExpert(PhysicsExpert):
    """Thrower: wind up, swing the straight arm forward and let go at the step the ball's flight needs.

    The plan is step-aligned: a minimum-jerk wind-up in ``windup_time`` s, a hold until ``swing_start`` s, then a
    constant-acceleration swing of ``swing_time`` s (rounded to whole steps) that ends at the release angle and
    speed, where the hand lets go (``speed``: see :func:`release_state`). Tracked by computed torque, the held
    ball's weight and inertia included; the motors rest once the ball flies. The hand lets go 1.7 s into the
    episode and the ball arrives by about 2.5 s: the registered 3 s episode (150 steps at ``frame_skip=10``) is
    needed, a shorter one ends before the throw.
    """

    def __init__(
        self,
        env: ThrowerEnv,
        windup_time: float = 0.8,
        swing_start: float = 0.9,
        swing_time: float = 0.8,
        speed: float = 5.0,
        frequency: float = 10.0,
    ) -> None:
        super().__init__(env)
        self.dt = env.dt
        self.windup_time = windup_time
        self.swing_start = round(swing_start / self.dt) * self.dt
        self.swing_time = max(1, round(swing_time / self.dt)) * self.dt
        self.speed = speed
        self.gains = (frequency**2, 2.0 * frequency)
        self.reach = float(link_lengths(env.model, 2).sum())
        self._ball_mass = float(env.model.body("ball").mass[0])
        self._hand = env.model.site("hand").id
        self._jacobian = np.zeros((3, env.model.nv))
        self._start = self._windup = np.zeros(2)
        self._acceleration = 0.0  # rad/s² of the shoulder during the swing
        self._release_step = 0

    def start_episode(self) -> None:
        state = self.env.state_dict()
        goal = (state["goal_x"], state["goal_z"])
        angle, speed = release_state(goal, self.env.gravity, self.reach, self.speed)
        omega = speed / self.reach
        self._start = self.joint_state()[0]
        self._windup = np.array([angle - omega * self.swing_time / 2, 0.0])
        self._acceleration = omega / self.swing_time
        self._release_step = round((self.swing_start + self.swing_time) / self.dt)

    def reference(self, time: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Reference angles (rad), velocities (rad/s) and accelerations (rad/s²) of (shoulder, elbow) at ``time`` s."""
        if time < self.swing_start:
            return minimum_jerk(self._start, self._windup, self.windup_time, time)
        t, a = time - self.swing_start, self._acceleration
        return self._windup + np.array([a * t * t / 2, 0.0]), np.array([a * t, 0.0]), np.array([a, 0.0])

    def act(self, time: float) -> np.ndarray:
        if not self.env.state_dict()["held"]:
            return np.array([0.0] * self.nu + [1.0])
        q_ref, qd_ref, qdd_ref = self.reference(time)
        torque = self.track(q_ref, qd_ref, qdd_ref, self.gains) + self._ball_torque(qdd_ref)
        release = 1.0 if round(time / self.dt) >= self._release_step else -1.0
        return np.array([*self.dynamics.commands(torque), release])

    def _ball_torque(self, qdd_ref: np.ndarray) -> np.ndarray:
        """Joint torques (N m) that carry the held ball, a point mass in the hand: its weight and its inertia.

        The velocity-product part of the hand's acceleration is left out: on a straight arm it is radial and
        needs no torque. Uses the kinematics :meth:`track` has just computed.
        """
        mujoco.mj_jacSite(self.dynamics.model, self.dynamics.data, self._jacobian, None, self._hand)
        jacobian = self._jacobian[:, self.dynamics.dofs]
        force = self._ball_mass * (jacobian @ qdd_ref - self.dynamics.model.opt.gravity)
        return jacobian.T @ force
