"""An arm of 2 or 3 links in a vertical plane that must bring its hand to a target and hold it there."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from repgym.envs.physics.base import ObsMode, PhysicsEnv, finite_float

ARM_MODELS = {2: "arm2.xml", 3: "arm3.xml"}
JOINTS = ("shoulder", "elbow", "wrist")
_cos, _sin, _hypot, _remainder, _tau = math.cos, math.sin, math.hypot, math.remainder, math.tau


class ReachEnv(PhysicsEnv):
    """A jointed arm in a vertical plane reaches for a target and holds its hand there, with gravity on or off.

    ## Description
    An arm of ``links`` (2 or 3) capsules hangs from a shoulder 1.3 m above the floor and moves in the vertical
    x-z plane (``repgym/assets/physics/arm2.xml``, ``arm3.xml``). Torque-limited motors drive the hinges. Gravity
    pulls along -z with ``gravity`` m/s², so an arm must spend torque to hold a pose; with ``gravity=0`` any pose
    is free to hold. Angles grow counter-clockwise as the camera sees the arm: 0 points along +x, pi/2 straight
    up. Links: 2 x 0.5 m x 1 kg (reach 1.0 m) or 3 x 0.35 m x 0.7 kg (reach 1.05 m). The elbow and wrist stop at
    +-2.8 rad; the shoulder turns freely. Unlike Gymnasium's Reacher (horizontal plane), gravity matters here.

    ## Action Space
    ``Box(-1, 1, (links,), float32)``: one motor command per joint (shoulder first), scaled by the motor gear to
    a torque. Torque limits: 2 links — shoulder 15, elbow 6 N m; 3 links — 18, 9, 4 N m. Holding the arm
    straight out against 9.81 m/s² takes 9.8 and 2.5 N m (2 links) or 10.8, 4.8 and 1.2 N m (3 links).
    Entries outside [-1, 1] are clipped; a non-finite entry or a wrong shape raises ``ValueError``.

    ## Observation Space
    - ``"state"`` (default): ``(3 * links + 4,) float64``: cos and sin of each joint angle, joint velocities
      (rad/s), target position relative to the shoulder (x, z; m), hand minus target (x, z; m); then the gravity
      (m/s²) if ``observe_gravity``. Names in ``env.unwrapped.obs_names``.
    - ``"pixels"``: ``(pixel_size, pixel_size, 3) uint8`` RGB from the side camera (64 x 64 by default); with
      ``observe_gravity`` a ``Dict`` of ``"pixels"`` and ``"gravity"`` ``(1,) float64``.

    ## Rewards
    ``-distance(hand, target) - ctrl_cost_weight * sum(action ** 2)`` per step (distance in m, action clipped), so
    reaching fast and holding still at the target both pay.

    ## Starting State
    The arm hangs down: shoulder angle ``-pi/2``, the other joints 0, each plus uniform noise in [-0.1, 0.1] rad,
    joint velocities uniform in [-0.1, 0.1] rad/s. The target is uniform over the ring 0.3..0.9 x reach around the
    shoulder (any direction, above or below it). ``reset(options={"target": (x, z)})`` places it (m, relative to
    the shoulder); ``reset(options={"gravity": g})`` sets the gravity from this episode on.

    ## Episode End
    Never terminates; the registered ids truncate after 200 steps (4 s at the default ``frame_skip=2``).

    ## Info
    ``distance`` (m), ``is_success`` (distance below ``success_radius``) and ``state``: ``(2 * links + 5,)
    float64`` ground truth — joint angles (rad, wrapped to [-pi, pi]), joint velocities (rad/s), hand (x, z) and
    target (x, z) relative to the shoulder (m), gravity (m/s²). Names in ``env.unwrapped.state_names``;
    ``env.unwrapped.state_dict(info["state"])`` names the values.

    ## Arguments
    ```python
    gymnasium.make(
        "repgym/TwoLinkReach-v0",   # also ThreeLinkReach-v0; ...ZeroG-v0 ids default to gravity=0.0
        links=2,                    # 2 or 3
        gravity=9.81,               # m/s², along -z; 0.0 = off (any finite value; negative pulls up)
        observe_gravity=False,      # append the gravity to the observation
        obs_mode="state",           # "state" | "pixels"
        frame_skip=2,               # MuJoCo steps (0.01 s each) per env step
        ctrl_cost_weight=0.05,      # weight of sum(action ** 2) in the reward
        success_radius=0.05,        # m; info["is_success"] when the hand is this close to the target
        render_mode=None,           # "human" | "rgb_array"
        width=256, height=256,      # rendered image size (pixels)
        pixel_size=64,              # side of the "pixels" observation
    )
    ```

    ## Version History
    - v0: initial version.
    """

    reset_option_names = ("target",)

    def __init__(
        self,
        links: int = 2,
        gravity: float = 9.81,
        observe_gravity: bool = False,
        obs_mode: ObsMode = "state",
        frame_skip: int = 2,
        ctrl_cost_weight: float = 0.05,
        success_radius: float = 0.05,
        render_mode: str | None = None,
        width: int = 256,
        height: int = 256,
        pixel_size: int = 64,
    ) -> None:
        if links not in ARM_MODELS:
            raise ValueError(f"links must be one of {sorted(ARM_MODELS)}, got {links!r}")
        joints = JOINTS[:links]
        obs_names = (
            *(f"cos_{j}" for j in joints), *(f"sin_{j}" for j in joints), *(f"{j}_velocity" for j in joints),
            "target_x", "target_z", "hand_minus_target_x", "hand_minus_target_z",
        )  # fmt: skip
        state_names = (
            *(f"{j}_angle" for j in joints), *(f"{j}_velocity" for j in joints),
            "hand_x", "hand_z", "target_x", "target_z",
        )  # fmt: skip
        super().__init__(
            ARM_MODELS[links], obs_names, state_names, gravity, observe_gravity, obs_mode, frame_skip, render_mode,
            width, height, pixel_size,
        )  # fmt: skip
        self.links = links
        self.ctrl_cost_weight = finite_float(ctrl_cost_weight, "ctrl_cost_weight")
        self.success_radius = finite_float(success_radius, "success_radius")
        shoulder = self.model.body("link1").pos
        self._shoulder_x, self._shoulder_z = float(shoulder[0]), float(shoulder[2])
        self.reach = float(sum(self.model.body(f"link{i + 2}").pos[0] for i in range(links - 1)))
        self.reach += float(self.model.site("hand").pos[0])
        self._hand = self.data.site("hand").xpos  # views into MjData, read after every step
        self._qpos, self._qvel = self.data.qpos, self.data.qvel
        self._target_x = self._target_z = 0.0

    def _reset_body(self, options: dict[str, Any]) -> None:
        rng = self.np_random
        qpos = rng.uniform(-0.1, 0.1, self.links)
        qpos[0] -= math.pi / 2
        self.data.qpos[:] = qpos
        self.data.qvel[:] = rng.uniform(-0.1, 0.1, self.links)
        if "target" in options:
            self._target_x, self._target_z = self._target_option(options.pop("target"))
        else:  # uniform over the ring's area
            radius = self.reach * math.sqrt(rng.uniform(0.3**2, 0.9**2))
            angle = rng.uniform(-math.pi, math.pi)
            self._target_x, self._target_z = radius * math.cos(angle), radius * math.sin(angle)
        self.data.mocap_pos[0] = (self._shoulder_x + self._target_x, 0.0, self._shoulder_z + self._target_z)

    def _target_option(self, target: Any) -> tuple[float, float]:
        xz = np.asarray(target, dtype=np.float64)
        if xz.shape != (2,) or not np.isfinite(xz).all() or np.hypot(*xz) > self.reach:
            raise ValueError(
                f"target must be (x, z) in m relative to the shoulder, within the reach {self.reach:.2f} m, got "
                f"{target!r}"
            )
        return float(xz[0]), float(xz[1])

    def _measure(self, ctrl_cost: float) -> tuple[bytes, float, bool, dict[str, Any]]:
        hx, _, hz = self._hand.tolist()
        hx -= self._shoulder_x
        hz -= self._shoulder_z
        tx, tz = self._target_x, self._target_z
        dx, dz = hx - tx, hz - tz
        distance = _hypot(dx, dz)
        reward = -distance - self.ctrl_cost_weight * ctrl_cost
        # Observation (cos, sin, velocities, target, hand - target), gravity, then state (angles wrapped to
        # [-pi, pi], velocities, hand, target, gravity). Spelled out per arm: twice as fast as map() over joints.
        g = self._g
        if self.links == 2:
            q0, q1 = self._qpos.tolist()
            v0, v1 = self._qvel.tolist()
            values = self._pack(
                _cos(q0), _cos(q1), _sin(q0), _sin(q1), v0, v1, tx, tz, dx, dz, g,
                _remainder(q0, _tau), _remainder(q1, _tau), v0, v1, hx, hz, tx, tz, g,
            )  # fmt: skip
        else:
            q0, q1, q2 = self._qpos.tolist()
            v0, v1, v2 = self._qvel.tolist()
            values = self._pack(
                _cos(q0), _cos(q1), _cos(q2), _sin(q0), _sin(q1), _sin(q2), v0, v1, v2, tx, tz, dx, dz, g,
                _remainder(q0, _tau), _remainder(q1, _tau), _remainder(q2, _tau), v0, v1, v2, hx, hz, tx, tz, g,
            )  # fmt: skip
        return values, reward, False, {"distance": distance, "is_success": distance < self.success_radius}
