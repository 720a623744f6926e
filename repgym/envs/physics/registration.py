"""Registered ids of the physics family (strings only: registering must not import MuJoCo)."""

from repgym.envs.registry import EnvEntry

_REACH = "repgym.envs.physics.reach:ReachEnv"
_THROWER = "repgym.envs.physics.thrower:ThrowerEnv"

PHYSICS_ENVS: list[EnvEntry] = [
    EnvEntry("TwoLinkReach-v0", _REACH, "2-link arm in a vertical plane reaches and holds a target; gravity 9.81 m/s²",
             {"links": 2, "gravity": 9.81}, 200),
    EnvEntry("TwoLinkReachZeroG-v0", _REACH, "TwoLinkReach with gravity off (0 m/s²)",
             {"links": 2, "gravity": 0.0}, 200),
    EnvEntry("ThreeLinkReach-v0", _REACH,
             "3-link arm in a vertical plane reaches and holds a target; gravity 9.81 m/s²",
             {"links": 3, "gravity": 9.81}, 200),
    EnvEntry("ThreeLinkReachZeroG-v0", _REACH, "ThreeLinkReach with gravity off (0 m/s²)",
             {"links": 3, "gravity": 0.0}, 200),
    EnvEntry("Thrower-v0", _THROWER, "2-link arm throws a ball into a goal out of its reach; gravity 9.81 m/s²",
             {"gravity": 9.81}, 150),
    EnvEntry("ThrowerZeroG-v0", _THROWER, "Thrower with gravity off (0 m/s²): the ball flies straight",
             {"gravity": 0.0}, 150),
]  # fmt: skip
