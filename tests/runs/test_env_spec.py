"""EnvSpec: one name for an env — JSON round trip, equality and hash, make and make_vec."""

from __future__ import annotations

import pytest

from repgym.runs import EnvSpec


def test_json_round_trip_equality_and_hash() -> None:
    a = EnvSpec("repgym/KeyToDoor-v0", {"delay": 5, "obs_mode": "pixels"})
    b = EnvSpec("repgym/KeyToDoor-v0", {"obs_mode": "pixels", "delay": 5})  # key order does not matter
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert EnvSpec.from_json(a.to_json()) == a and EnvSpec.from_dict(a.to_dict()) == a
    assert a != EnvSpec("repgym/KeyToDoor-v0", {"delay": 6}) and a != "repgym/KeyToDoor-v0"
    assert str(a) == "repgym/KeyToDoor-v0(delay=5, obs_mode='pixels')"


def test_make_make_vec_and_from_env() -> None:
    spec = EnvSpec("repgym/BubbleBreaker-v0", {"rows": 5, "cols": 4})
    env = spec.make(render_mode="rgb_array", colours=3)
    assert env.unwrapped.config.rows == 5 and env.unwrapped.config.colours == 3 and env.render_mode == "rgb_array"
    assert EnvSpec.from_env(env).kwargs["cols"] == 4
    vec = spec.make_vec(3)
    assert vec.num_envs == 3
    recovered = EnvSpec.from_env(vec)
    assert recovered.id == spec.id and "num_envs" not in recovered.kwargs and recovered.kwargs["rows"] == 5
    from gymnasium.envs.classic_control import CartPoleEnv

    assert EnvSpec.from_env(CartPoleEnv()) is None  # made without gym.make: no spec


def test_bad_specs_are_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match="non-empty string"):
        EnvSpec("")
    with pytest.raises(ValueError, match="must be JSON values"):
        EnvSpec("CartPole-v1", {"render": object()})
    with pytest.raises(ValueError, match="num_envs must be at least 1"):
        EnvSpec("CartPole-v1").make_vec(0)


def test_canonical_kwargs_drop_what_the_env_is_made_with_anyway():
    from repgym.runs.env_spec import canonical_kwargs, env_arguments

    assert canonical_kwargs("repgym/KeyToDoor-v0", {"delay": 20}) == {}  # the constructor's default
    assert canonical_kwargs("repgym/KeyToDoor-v0", {"obs_mode": "pixels", "delay": 5}) == {
        "delay": 5,
        "obs_mode": "pixels",
    }
    assert canonical_kwargs("repgym/TwoLinkReachZeroG-v0", {"links": 2, "gravity": 0.0}) == {}  # registered kwargs
    assert canonical_kwargs("repgym/TwoLinkReachZeroG-v0", {"gravity": 9.81}) == {"gravity": 9.81}
    assert env_arguments("repgym/KeyToDoor-v0")["delay"] == 20
    assert env_arguments("NotRegistered-v9", {"a": 1}) == {"a": 1}
