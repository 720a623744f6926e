"""The n-step window and the replay buffer, checked transition by transition."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from repgym.agents.distributional.replay import NStepWindow, ReplayBuffer, Transitions

GAMMA = 0.5


def push(window: NStepWindow, t: int, reward, terminated=(False,), truncated=(False,), valid=(True,)):
    """Step ``t`` of every env: observation ``t``, action ``t``, next observation ``t + 1``."""
    n = len(reward)
    obs = np.full((n, 1), float(t), np.float32)
    flags = [np.broadcast_to(np.array(f), (n,)) for f in (terminated, truncated, valid)]
    return window.push(obs, np.full(n, t), np.asarray(reward, float), obs + 1, None, *flags)


def test_three_step_returns_termination_and_flush() -> None:
    w = NStepWindow(3, GAMMA, 1, (1,), np.float32)
    assert len(push(w, 0, [1.0]).action) == 0
    assert len(push(w, 1, [2.0]).action) == 0
    out = push(w, 2, [4.0])  # completes step 0: 1 + 0.5 * 2 + 0.25 * 4
    assert out.action.tolist() == [0] and out.reward.tolist() == [3.0] and out.discount.tolist() == [0.125]
    assert out.next_obs.tolist() == [[3.0]]  # the observation after step 2
    out = push(w, 3, [8.0], terminated=(True,))  # ends: steps 1, 2, 3 all emitted, no bootstrap
    order = np.argsort(out.action)
    assert out.action[order].tolist() == [1, 2, 3]
    assert out.reward[order].tolist() == [2 + 0.5 * 4 + 0.25 * 8, 4 + 0.5 * 8, 8.0]
    assert out.discount.tolist() == [0.0, 0.0, 0.0]
    push(w, 4, [1.0])
    push(w, 5, [1.0])
    out = w.flush(np.full((1, 1), 9.0, np.float32), None)  # learn() returns: pending steps end as truncations
    order = np.argsort(out.action)
    assert out.action[order].tolist() == [4, 5] and out.reward[order].tolist() == [1.5, 1.0]
    assert out.discount[order].tolist() == [0.25, 0.5] and out.next_obs.tolist() == [[9.0], [9.0]]


def test_truncation_bootstraps_and_invalid_steps_are_skipped() -> None:
    w = NStepWindow(2, GAMMA, 2, (1,), np.float32)
    out = push(w, 0, [1.0, 1.0], truncated=(False, True))
    assert out.action.tolist() == [0] and out.discount.tolist() == [0.5]  # env 1 truncated after one step
    # env 1's next step is a next-step autoreset (invalid): it must not start a transition.
    out = push(w, 1, [2.0, 5.0], valid=(True, False))
    assert out.reward.tolist() == [1 + 0.5 * 2] and out.discount.tolist() == [0.25]
    out = push(w, 2, [4.0, 4.0])
    assert out.reward.tolist() == [2.0 + 0.5 * 4.0]  # env 0's step 1; env 1's step 2 is pending
    out = w.flush(np.zeros((2, 1), np.float32), None)
    assert sorted(out.reward.tolist()) == [4.0, 4.0]


def test_one_step_window_passes_valid_transitions_through() -> None:
    w = NStepWindow(1, GAMMA, 3, (1,), np.float32)
    out = push(w, 0, [1.0, 2.0, 3.0], terminated=(False, True, False), valid=(True, True, False))
    assert out.reward.tolist() == [1.0, 2.0] and out.discount.tolist() == [0.5, 0.0]


def test_replay_buffer_wraps_and_round_trips() -> None:
    buf = ReplayBuffer(5, (2,), np.float32, 3, masks=True)
    for start in (0, 3, 6):
        n = 3
        obs = np.arange(start, start + n, dtype=np.float32)[:, None].repeat(2, axis=1)
        mask = np.zeros((n, 3), bool)
        mask[:, 1] = True
        buf.add(Transitions(obs, np.arange(n), np.ones(n), np.ones(n), obs, mask))
    assert buf.size == 5 and buf.pos == 4
    assert sorted(buf.obs[:, 0].tolist()) == [4, 5, 6, 7, 8]  # the oldest four were overwritten
    state = buf.state_dict()
    assert all(isinstance(v, torch.Tensor) for k, v in state.items() if k not in ("pos", "size"))
    other = ReplayBuffer(5, (2,), np.float32, 3, masks=True)
    other.load_state_dict(state)
    assert np.array_equal(other.obs, buf.obs) and np.array_equal(other.next_mask, buf.next_mask)
    with pytest.raises(ValueError, match="shape"):
        ReplayBuffer(5, (3,), np.float32, 3, masks=True).load_state_dict(state)
