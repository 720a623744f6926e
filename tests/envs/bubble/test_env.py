"""The single-board Gymnasium env: API contract, determinism, masks, starting positions, rendering."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import repgym  # noqa: F401  (registers the ids)
from repgym.envs.bubble.registration import BUBBLE_ENVS

BUBBLE_IDS = [e.id for e in BUBBLE_ENVS]


@pytest.mark.parametrize("env_id", BUBBLE_IDS)
@pytest.mark.parametrize("obs_mode", ["planes", "board", "pixels"])
def test_check_env(env_id: str, obs_mode: str) -> None:
    env = gym.make(env_id, obs_mode=obs_mode)
    check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)


@pytest.mark.parametrize("env_id", BUBBLE_IDS)
def test_seeded_determinism_and_masks(env_id: str) -> None:
    def play(seed: int) -> tuple[list[float], list[np.ndarray]]:
        env = gym.make(env_id)
        obs, info = env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        rewards, boards = [], [info["state"]]
        for _ in range(40):
            mask = env.unwrapped.action_masks()
            assert np.array_equal(mask, info["action_mask"])
            if not mask.any():
                break
            obs, reward, terminated, truncated, info = env.step(int(rng.choice(np.flatnonzero(mask))))
            assert not info["illegal_action"] and info["removed"] >= 2
            rewards.append(reward)
            boards.append(info["state"])
            if terminated or truncated:
                break
        return rewards, boards

    r1, b1 = play(3)
    r2, b2 = play(3)
    r3, _ = play(4)
    assert r1 == r2 and all(np.array_equal(x, y) for x, y in zip(b1, b2, strict=True))
    assert r1 != r3


def test_illegal_click_is_a_noop() -> None:
    env = gym.make("repgym/BubbleBreaker-v0", rows=3, cols=3, colours=3)
    board = "123\n312\n231"
    obs, info = env.reset(seed=0, options={"board": board})
    assert info["groups"] == 0
    env = gym.make("repgym/BubbleBreaker-v0", rows=3, cols=3, colours=3)
    obs, info = env.reset(seed=0, options={"board": "123\n311\n231"})
    assert np.flatnonzero(info["action_mask"]).tolist() == [4, 5, 8]  # the three 1s
    obs2, reward, terminated, truncated, info2 = env.step(0)
    assert info2["illegal_action"] and reward == 0 and not terminated
    assert np.array_equal(obs, obs2) and info2["score"] == 0
    _, reward, terminated, _, info3 = env.step(5)
    assert reward == 6 and not info3["illegal_action"] and info3["score"] == 6


@pytest.mark.parametrize("bad", [-1, 9, 3.5, np.array([1, 2]), "a"])
def test_malformed_actions_raise(bad) -> None:
    env = gym.make("repgym/BubbleBreaker-v0", rows=3, cols=3, colours=2).unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match="cell index"):
        env.step(bad)


def test_info_contents() -> None:
    env = gym.make("repgym/BubbleBreakerContinuous-v0")
    _, info = env.reset(seed=1)
    assert set(info) >= {"score", "groups", "largest_group", "bubbles_left", "new_columns", "action_mask", "state",
                         "next_column", "illegal_action", "removed"}  # fmt: skip
    assert info["state"].shape == (14, 10) and info["bubbles_left"] == 140
    assert info["next_column"].shape == (14,)
    assert info["groups"] > 0 and info["largest_group"] >= 2


def test_reset_from_board_array_text_and_file(tmp_path) -> None:
    env = gym.make("repgym/BubbleBreaker-v0", rows=3, cols=4, colours=3, obs_mode="board")
    text = "1...\n12.3\n1223"
    obs_t, _ = env.reset(options={"board": text})
    # Given positions are settled: the floating 1 at top-left falls, the lone 3 stays on its column.
    expected = np.array([[1, 0, 0, 0], [1, 2, 0, 3], [1, 2, 2, 3]])
    assert obs_t.tolist() == expected.tolist()
    obs_a, _ = env.reset(options={"board": expected})
    path = tmp_path / "board.txt"
    path.write_text("# a comment\n" + text + "\n")
    obs_f, _ = env.reset(options={"board": str(path)})
    assert np.array_equal(obs_a, obs_t) and np.array_equal(obs_f, obs_t)
    floating = "2.\n.1\n11"
    env2 = gym.make("repgym/BubbleBreaker-v0", rows=3, cols=2, colours=2, obs_mode="board")
    obs, _ = env2.reset(options={"board": floating})
    assert obs.tolist() == [[0, 0], [2, 1], [1, 1]]


def test_reset_errors() -> None:
    env = gym.make("repgym/BubbleBreaker-v0", rows=3, cols=3, colours=3)
    with pytest.raises(ValueError, match="line 2, column 2"):
        env.reset(options={"board": "123\n1x3\n123"})
    with pytest.raises(ValueError, match="line 3: 2 cells, expected 3"):
        env.reset(options={"board": "123\n123\n12"})
    with pytest.raises(ValueError, match="does not match rows x cols"):
        env.reset(options={"board": "12\n12"})
    with pytest.raises(ValueError, match="holds 4"):
        env.reset(options={"board": "123\n124\n123"})
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"colours": 3})


def test_constructor_errors() -> None:
    with pytest.raises(ValueError, match="obs_mode"):
        gym.make("repgym/BubbleBreaker-v0", obs_mode="rgb")
    with pytest.raises(ValueError, match="variant"):
        gym.make("repgym/BubbleBreaker-v0", variant="tetris")
    with pytest.raises(ValueError, match="colours must be"):
        gym.make("repgym/BubbleBreaker-v0", colours=12)


def test_step_limit_truncates_illegal_loops() -> None:
    env = gym.make("repgym/BubbleBreaker-v0", rows=3, cols=3, colours=3, max_episode_steps=5)
    env.reset(options={"board": "123\n311\n231"})
    for _ in range(4):
        *_, terminated, truncated, _ = env.step(0)
        assert not truncated
    *_, terminated, truncated, _ = env.step(0)
    assert truncated and not terminated


def test_samegame_rules() -> None:
    env = gym.make("repgym/SameGame-v0")
    _, info = env.reset(seed=0)
    u = env.unwrapped
    assert (u.config.rows, u.config.cols, u.config.scoring, u.config.shift) == (15, 15, "samegame", "left")
    assert info["state"].shape == (15, 15)


def test_renderers() -> None:
    env = gym.make("repgym/BubbleBreakerContinuous-v0", render_mode="ansi", rows=3, cols=3, colours=2)
    env.reset(options={"board": "121\n212\n122"})
    text = env.render()
    assert "score 0" in text and "1 2 1" in text
    env = gym.make("repgym/BubbleBreaker-v0", render_mode="rgb_array", rows=3, cols=4)
    env.reset(seed=0)
    img = env.render()
    assert img.shape == (3 * 16, 4 * 16, 3) and img.dtype == np.uint8
    env = gym.make("repgym/BubbleBreaker-v0", obs_mode="pixels", cell_size=4, rows=3, cols=4)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (12, 16, 3) and obs.std() > 0


def test_human_window_headless() -> None:
    env = gym.make("repgym/BubbleBreaker-v0", render_mode="human", rows=3, cols=4)
    env.reset(seed=0)
    window = env.unwrapped._window
    x0, y0 = window.board_origin()
    assert window.cell_at((x0 + window.cell * 2 + 1, y0 + window.cell * 1 + 1)) == 1 * 4 + 2
    assert window.cell_at((0, 0)) is None
    env.close()


def test_make_with_module_prefix_in_fresh_interpreter() -> None:
    import subprocess
    import sys

    code = "import gymnasium as gym; e = gym.make('repgym:repgym/BubbleBreaker-v0'); print(e.spec.max_episode_steps)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "500"


def test_board_option_tells_a_missing_file_from_board_text(tmp_path) -> None:
    env = gym.make("repgym/BubbleBreaker-v0", rows=3, cols=3, colours=3)
    with pytest.raises(ValueError, match=r"^board file not found: /no/such/file$"):
        env.reset(options={"board": "/no/such/file"})
    with pytest.raises(ValueError, match=r"^board file not found: boards\.txt$"):
        env.reset(options={"board": "boards.txt"})
    with pytest.raises(ValueError, match="is not a file"):
        env.reset(options={"board": str(tmp_path)})
    with pytest.raises(ValueError, match="line 1, column 2: unexpected 'x'"):  # one-row text is still board text
        env.reset(options={"board": "1x3"})
