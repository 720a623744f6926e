"""The front-end-independent game session and the per-family guides: checked actions, named controls, steps
left, recordings (including ``disconnect``) that replay."""

from __future__ import annotations

import gymnasium as gym
import pytest

import repgym  # noqa: F401
from repgym.human.guides import allowed_settings, guide_for, parse_settings, playable_envs, step_limit
from repgym.human.recording import read_recording
from repgym.human.replay import replay
from repgym.human.session import GameSession, SessionError


def test_every_registered_env_has_a_guide_with_a_goal_and_a_way_to_play() -> None:
    for env_id in playable_envs():
        env = gym.make(env_id)
        try:
            guide = guide_for(env)
        finally:
            env.close()
        assert guide.goal and guide.legend, env_id
        assert guide.kind == "board" or guide.controls, env_id
        assert all("dim " not in c.label for c in guide.controls), env_id  # controls say what they do


def test_physics_controls_name_the_motor_and_run_several_steps_per_press(tmp_path) -> None:
    with GameSession("repgym/TwoLinkReach-v0", seed=3, record_dir=tmp_path, durable=False) as s:
        labels = [c.label for c in s.guide.controls]
        assert "shoulder torque + (counter-clockwise)" in labels and "elbow torque − (clockwise)" in labels
        s.reset()
        s.press("q")
        assert s.steps == s.guide.press_steps > 1 and s.view()["steps_left"] == 200 - s.steps
        assert s.view()["image"].startswith("data:image/png;base64,")
    rec = read_recording(s.path)
    assert len(rec.episodes[0].steps) == s.guide.press_steps and rec.episodes[0].end_reason == "quit"
    replay(rec)


def test_thrower_has_a_release_key() -> None:
    env = gym.make("repgym/Thrower-v0")
    guide = guide_for(env)
    env.close()
    release = guide.control(" ")
    assert release is not None and release.label == "release the ball" and release.action == [0.0, 0.0, 1.0]


def test_key_to_door_played_by_keys_is_recorded_and_replays(tmp_path) -> None:
    with GameSession("repgym/KeyToDoor-v0", {"delay": 2}, seed=7, player="ann", record_dir=tmp_path,
                     durable=False) as s:  # fmt: skip
        keys = {c.action: c.key for c in s.guide.controls if c.key.startswith("Arrow")}
        s.reset()
        assert s.view()["steps_left"] == 8 + 2 + 8 and s.view()["delay"] == 2
        while not s.over:
            s.press(keys[s.game.optimal_action()])
        assert s.success and s.view()["success"] is True and s.view()["score"] == s.total >= 10.0
        with pytest.raises(SessionError, match="game is over") as err:
            s.press("ArrowUp")
        assert err.value.code == "game_over"
    rec = read_recording(s.path)
    assert rec.closed and rec.episodes[0].finished and rec.episodes[0].success is True
    assert replay(rec).returns == [s.total]


def test_session_refuses_bad_actions_and_keys_without_stepping(tmp_path) -> None:
    with GameSession("repgym/KeyToDoor-v0", seed=1, record_dir=tmp_path, durable=False) as s:
        s.reset()
        for action in (4, -1, 1.5, [1], "up", None, True, {"a": 1}):
            with pytest.raises(SessionError) as err:
                s.act(action)
            assert err.value.code == "bad_action"
        with pytest.raises(SessionError) as err:
            s.press("F5")
        assert err.value.code == "unknown_key" and s.steps == 0


def test_umbrella_keys_have_one_meaning_each(tmp_path) -> None:
    with GameSession("repgym/Umbrella-v0", {"delay": 3}, seed=2, record_dir=tmp_path, durable=False) as s:
        s.reset()
        with pytest.raises(SessionError, match="choose first"):
            s.press(" ")  # waiting would silently leave the umbrella
        s.press("u")
        with pytest.raises(SessionError, match="choice is made"):
            s.press("n")
        while not s.over:
            s.press(" ")
        assert s.game.umbrella is True and s.steps == 4


def test_a_disconnect_mid_episode_is_recorded_as_such(tmp_path) -> None:
    s = GameSession("repgym/Umbrella-v0", seed=4, record_dir=tmp_path, durable=False)
    s.reset()
    s.press("n")
    s.close("disconnect")
    s.close()  # idempotent
    rec = read_recording(s.path)
    assert rec.closed and rec.episodes[0].end_reason == "disconnect" and not rec.episodes[0].finished
    replay(rec)
    with pytest.raises(SessionError) as err:
        s.reset()
    assert err.value.code == "closed"


def test_bubble_view_labels_groups_with_their_points(tmp_path) -> None:
    with GameSession("repgym/BubbleBreaker-v0", {"rows": 3, "cols": 3, "colours": 2}, seed=0, record_dir=tmp_path,
                     durable=False) as s:  # fmt: skip
        s.reset()
        view = s.view()
        flat_groups = [g for row in view["groups"] for g in row]
        flat_points = [p for row in view["points"] for p in row]
        for label in {g for g in flat_groups if g >= 0}:
            n = flat_groups.count(label)
            assert {p for g, p in zip(flat_groups, flat_points, strict=True) if g == label} == {n * (n - 1)}
        assert list(s.legal_mask()) == [g >= 0 for g in flat_groups]
        illegal = flat_groups.index(-1) if -1 in flat_groups else None
        if illegal is not None:  # a click on a lone bubble is a recorded no-op, as in the env
            s.act(illegal)
            assert s.steps == 1 and s.total == 0 and "not a group" in s.message


def test_settings_are_checked_against_what_the_env_accepts() -> None:
    assert set(allowed_settings("repgym/KeyToDoor-v0")) == {"delay", "size"}
    assert parse_settings("repgym/KeyToDoor-v0", {"delay": "5"}) == {"delay": 5}
    assert parse_settings("repgym/TwoLinkReach-v0", {"gravity": "0"}) == {"gravity": 0.0}
    for query, message in (({"delay": "1e9"}, "integer in 0..200"), ({"delay": "-1"}, "0..200"),
                           ({"render_mode": "human"}, "unknown setting"), ({"size": "99"}, "3..12")):  # fmt: skip
        with pytest.raises(ValueError, match=message):
            parse_settings("repgym/KeyToDoor-v0", query)
    with pytest.raises(ValueError, match="number"):
        parse_settings("repgym/Thrower-v0", {"gravity": "nan"})
    with pytest.raises(KeyError):
        allowed_settings("CartPole-v1")


def test_step_limit_is_the_time_limit_or_the_games_own() -> None:
    assert step_limit(gym.make("repgym/BubbleBreaker-v0")) == 500
    assert step_limit(gym.make("repgym/Umbrella-v0", delay=5)) == 6
    assert step_limit(gym.make("repgym/HiddenSequence-v0")) == gym.make("repgym/HiddenSequence-v0").unwrapped.max_steps
