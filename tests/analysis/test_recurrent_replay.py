"""Recurrent agents: the states are captured with the recurrent state each had while the agent played, so the
batched capture equals the latents seen step by step along the episodes."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from repgym.analysis.capture import capture_activations, recurrent_runner, stack_memory
from repgym.analysis.states import collect_states


class TinyRecurrent:
    """An LSTM policy speaking the agent interface: state ``(h, c)`` each ``(1, batch, 6)``, as SB3 returns it."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        self.lstm = nn.LSTM(4, 6)
        self.head = nn.Linear(6, 2)

    @torch.no_grad()
    def predict(self, obs, state=None, episode_start=None, deterministic=True, action_masks=None):
        x = torch.as_tensor(np.asarray(obs, np.float32)).reshape(-1, 4)
        if state is None:
            h = c = torch.zeros(1, x.shape[0], 6)
        else:
            h, c = (torch.as_tensor(s) for s in state)
            if episode_start is not None:
                keep = torch.as_tensor(~np.asarray(episode_start), dtype=torch.float32)[None, :, None]
                h, c = h * keep, c * keep
        out, (h, c) = self.lstm(x[None], (h, c))
        action = self.head(out[0]).argmax(dim=1).numpy()
        return (action[0] if np.ndim(obs) == 1 else action), (h.numpy(), c.numpy())


def test_replayed_capture_equals_the_latents_along_the_episodes() -> None:
    agent = TinyRecurrent()
    states = collect_states(gym.make("CartPole-v1"), agent, 50, seed=0, epsilon=0.3, progress=False)
    assert states.memory is not None and states.memory[0] is None
    run = recurrent_runner(agent, states.obs, states.memory)
    cap = capture_activations({"lstm": agent.lstm}, run, np.arange(len(states)), batch_size=16)
    expected, memory = [], None
    for i, obs in enumerate(states.obs):
        if i == 0 or states.episode[i] != states.episode[i - 1]:
            memory = None
        _, memory = agent.predict(obs, memory)
        expected.append(memory[0][0, 0])
    np.testing.assert_allclose(cap.activations["lstm.h"].reshape(50, -1), np.stack(expected), atol=1e-6)
    fresh = capture_activations({"lstm": agent.lstm}, lambda o: agent.predict(o), states.obs)
    assert not np.allclose(fresh.activations["lstm.h"].reshape(50, -1), np.stack(expected), atol=1e-3)


def test_stack_memory_joins_on_the_batch_axis_and_marks_starts() -> None:
    h = np.ones((1, 1, 3))
    stacked, starts = stack_memory([None, (h, 2 * h)])
    assert stacked[0].shape == (1, 2, 3) and np.all(stacked[0][:, 0] == 0) and np.all(stacked[1][:, 1] == 2)
    assert starts.tolist() == [True, False]
    assert stack_memory([None, None]) is None
    assert stack_memory([np.ones((2, 3))]) is None  # no batch axis of size 1


def test_ablating_a_recurrent_unit_silences_it_in_the_carried_state_too() -> None:
    from repgym.analysis.ablation import ablated

    agent = TinyRecurrent()
    obs = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    _, (h, c) = agent.predict(obs)
    with ablated(agent.lstm, [2], (1, 2)):  # the LSTM's (time, batch, hidden) output: batch axis 1, units last
        _, (h_ablated, c_ablated) = agent.predict(obs)
    assert np.all(h_ablated[0, :, 2] == 0) and np.all(c_ablated[0, :, 2] == 0)
    keep = [0, 1, 3, 4, 5]
    np.testing.assert_array_equal(h_ablated[0][:, keep], h[0][:, keep])
    assert np.any(h[0, :, 2] != 0) and np.any(c[0, :, 2] != 0)
