"""RUDDER's return decomposition: the credit lands on the decisive step, the predictor learns, the sums are right."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import repgym  # noqa: F401  (registers the repgym ids)
from repgym.agents import make_agent
from repgym.agents.credit.config import RudderConfig
from repgym.agents.credit.episodes import Episode, EpisodeRecorder, EpisodeStore
from repgym.agents.credit.networks import Credit, ReturnPredictor, RunningMax
from repgym.agents.credit.redistribution import (
    pad_episodes,
    predict_returns,
    predictor_errors,
    redistribute,
    remaining_targets,
)
from repgym.analysis.capture import unit_axis

UMBRELLA = {"delay": 10, "distractor_reward": 0.0}


def random_episodes(env_id: str, env_kwargs: dict, n: int, first_seed: int = 10_000) -> list[Episode]:
    """``n`` episodes of uniformly random actions (seeded), recorded whole."""
    env = gym.make(env_id, **env_kwargs)
    rng = np.random.default_rng(first_seed)
    episodes = []
    for i in range(n):
        recorder = EpisodeRecorder()
        obs, _ = env.reset(seed=first_seed + i)
        recorder.start(obs, None)
        done = False
        while not done:
            action = int(rng.integers(env.action_space.n))
            obs, reward, terminated, truncated, _ = env.step(action)
            recorder.step(action, reward, obs, None)
            done = terminated or truncated
        episodes.append(recorder.finish())
    return episodes


def test_the_umbrella_choice_step_gets_the_credit_for_the_outcome() -> None:
    """Umbrella, delay 10, fixed seed: after 3,000 steps, the reward redistributed to the choice step explains most
    of the outcome (+1 / -1) on random-action episodes; without redistribution it all sits 10 steps later."""
    agent = make_agent("rudder", "repgym/Umbrella-v0", env_kwargs=UMBRELLA, seed=0)
    agent.learn(3_000)
    episodes = random_episodes("repgym/Umbrella-v0", UMBRELLA, 200)
    outcome = np.array([np.sign(e.rewards[-1]) for e in episodes])
    rewards = np.stack(agent.redistribution(episodes))  # (200, 11)
    credit_for_outcome = np.abs((rewards * outcome[:, None]).mean(axis=0))  # per step
    assert credit_for_outcome[0] / credit_for_outcome.sum() > 0.8
    assert credit_for_outcome[0] == pytest.approx(1.0, abs=0.15)
    # Return-equivalent: each episode's redistributed rewards sum to its return.
    np.testing.assert_allclose(rewards.sum(axis=1), [e.episode_return for e in episodes], atol=1e-4)


def test_the_return_predictor_loss_falls_with_training() -> None:
    """On held-out random episodes (the distractors left out: their noise is a floor no predictor goes below)."""
    episodes = random_episodes("repgym/Umbrella-v0", UMBRELLA, 100)
    agent = make_agent("rudder", "repgym/Umbrella-v0", env_kwargs=UMBRELLA, seed=1)
    before = agent.predictor_loss(episodes)
    agent.learn(1_500)
    after = agent.predictor_loss(episodes)
    assert agent.n_predictor_updates > 400
    assert after < 0.5 * before


def test_redistribute_moves_the_return_without_changing_it() -> None:
    """Differences of the predictions, plus the unexplained return at each episode's last step, 0 past its end."""
    episodes = [
        Episode(np.zeros((4, 1), np.float32), np.zeros(3, np.int64), np.array([0, 0, 2], np.float32), None),
        Episode(np.zeros((3, 1), np.float32), np.zeros(2, np.int64), np.array([1, -1], np.float32), None),
    ]
    batch = pad_episodes(episodes, torch.device("cpu"))
    predictions = torch.tensor([[1.5, 1.5, 2.5], [0.5, 0.0, 9.0]])
    rewards = redistribute(predictions, Credit()(predictions), batch)
    torch.testing.assert_close(rewards, torch.tensor([[1.5, 0.0, 0.5], [0.5, -0.5, 0.0]]))


def test_credit_continues_from_the_previous_prediction() -> None:
    predictions = torch.tensor([[2.0], [3.0]])
    torch.testing.assert_close(Credit()(predictions, torch.tensor([1.0, 3.0])), torch.tensor([[1.0], [0.0]]))


def test_the_store_keeps_whole_episodes_and_round_trips() -> None:
    store = EpisodeStore(capacity=5)
    for length in (2, 3, 2):
        store.add(Episode(np.arange(length + 1, dtype=np.float32)[:, None], np.ones(length, np.int64),
                          np.full(length, 0.5, np.float32), None))  # fmt: skip
    assert [len(e) for e in store.episodes] == [3, 2] and store.transitions == 5
    copy = EpisodeStore(capacity=5)
    copy.load_state_dict(store.state_dict())
    for mine, theirs in zip(store.episodes, copy.episodes, strict=True):
        assert np.array_equal(mine.obs, theirs.obs) and np.array_equal(mine.actions, theirs.actions)
        assert np.array_equal(mine.rewards, theirs.rewards) and mine.error == theirs.error
    with pytest.raises(ValueError, match="empty"):
        EpisodeStore(3).sample(np.random.default_rng(0), 2, 1.0)


def test_predicting_what_remains_pays_each_reward_where_it_was_received() -> None:
    """``g_t = R_t + f_t``: the redistributed reward is ``r_t + f_t - f_{t-1}`` (at the last step ``r - f_{T-2}``,
    the remainder ``-f_{T-1}`` added), so it still sums to the return."""
    config = RudderConfig(predict_remaining=True, lstm_hidden=8)
    episodes = [
        Episode(np.zeros((4, 1), np.float32), np.zeros(3, np.int64), np.array([1, -1, 2], np.float32), None),
        Episode(np.zeros((3, 1), np.float32), np.zeros(2, np.int64), np.array([3, 0], np.float32), None),
    ]
    batch = pad_episodes(episodes, torch.device("cpu"))
    torch.testing.assert_close(batch.received, torch.tensor([[1.0, 0.0, 2.0], [3.0, 3.0, 3.0]]))
    predictor = ReturnPredictor(gym.spaces.Box(-1, 1, (1,)), 2, config)
    g, _ = predict_returns(predictor, batch)
    f, _, _ = predictor(batch.obs, batch.actions)
    torch.testing.assert_close(g, f + batch.received)
    f = torch.tensor([[0.5, 0.25, 0.125], [1.0, 2.0, 9.0]])
    rewards = redistribute(f + batch.received, Credit()(f + batch.received), batch)
    torch.testing.assert_close(rewards, torch.tensor([[1.5, -1.25, 1.75], [4.0, -1.0, 0.0]]))
    torch.testing.assert_close(rewards.sum(dim=1), batch.returns)
    # Its loss weights step t by 1 / (steps after t + 1), and the final-step weight goes to the step before the
    # last: its target, the last reward, is the cleanest (after the last step nothing remains to predict).
    errors = ((f + batch.received - batch.returns[:, None]) ** 2).numpy()
    weights = [np.array([1 / 3, 1 / 2, 1]), np.array([1 / 2, 1])]
    expected = [
        float((w * e[: len(w)]).sum() / w.sum() + 2 * e[len(w) - 2]) for w, e in zip(weights, errors, strict=False)
    ]
    got = predictor_errors(f + batch.received, batch, final_step_weight=2.0, by_remaining=True)
    torch.testing.assert_close(got, torch.tensor(expected))


def test_lambda_targets_bootstrap_what_remains_from_the_next_predictions() -> None:
    """``predictor_lambda``: the target of ``g_t`` is ``R_t + y_t`` with ``y_t = r_{t+1} + (1 - lam) f_{t+1} + lam
    y_{t+1}`` (``y = 0`` from the last step on): the return at ``lam = 1``, one step of bootstrapping at 0; the loss
    weights step ``t`` by ``1 / (1 + sum_{j < n} lam ** 2j)``, ``n`` the steps after it."""
    episodes = [
        Episode(np.zeros((4, 1), np.float32), np.zeros(3, np.int64), np.array([1, -1, 2], np.float32), None),
        Episode(np.zeros((3, 1), np.float32), np.zeros(2, np.int64), np.array([3, 0], np.float32), None),
    ]
    batch = pad_episodes(episodes, torch.device("cpu"))
    f = torch.tensor([[0.5, 0.25, 0.125], [1.0, 2.0, 9.0]])  # predictions of what remains (the last ones unused)
    g = f + batch.received
    torch.testing.assert_close(remaining_targets(g, batch, 1.0), batch.returns[:, None].expand(2, 3))
    # lam = 0: R_t + r_{t+1} + f_{t+1}; the step before the last: R_t + r_last; the last: R_t
    torch.testing.assert_close(remaining_targets(g, batch, 0.0), torch.tensor([[0.25, 2.0, 2.0], [3.0, 3.0, 3.0]]))
    # lam = 0.5, first episode, step 0: 1 + r_1 + 0.5 f_1 + 0.5 * r_2 = 1 - 1 + 0.125 + 1
    torch.testing.assert_close(remaining_targets(g, batch, 0.5)[0, 0], torch.tensor(1.125))
    errors = ((g - remaining_targets(g, batch, 0.5)) ** 2).numpy()
    weights = [1 / (1 + np.array([1 + 0.25, 1, 0])), 1 / (1 + np.array([1, 0]))]
    expected = [float((w * e[: len(w)]).sum() / w.sum() + e[len(w) - 2]) for w, e in zip(weights, errors, strict=False)]
    got = predictor_errors(g, batch, final_step_weight=1.0, by_remaining=True, lam=0.5)
    torch.testing.assert_close(got, torch.tensor(expected))
    with pytest.raises(ValueError, match="predictor_lambda < 1 needs predict_remaining"):
        RudderConfig(predictor_lambda=0.9)
    with pytest.raises(ValueError, match=r"predictor_lambda must be in \[0, 1\]"):
        RudderConfig(predict_remaining=True, predictor_lambda=1.5)


def test_forget_bias_opens_the_forget_gate_at_initialisation() -> None:
    space = gym.spaces.Box(-1, 1, (3,))
    torch.manual_seed(0)
    plain = ReturnPredictor(space, 2, RudderConfig(lstm_hidden=4)).lstm.bias_ih_l0.detach()
    torch.manual_seed(0)
    biased = ReturnPredictor(space, 2, RudderConfig(lstm_hidden=4, forget_bias=5.0)).lstm.bias_ih_l0.detach()
    torch.testing.assert_close(biased - plain, torch.tensor([0.0] * 4 + [5.0] * 4 + [0.0] * 8))
    with pytest.raises(ValueError, match="forget_bias must be finite"):
        RudderConfig(forget_bias=float("inf"))


def test_predicting_what_remains_finds_the_umbrella_choice_through_distractor_noise() -> None:
    """Umbrella, delay 10, distractors of +-1 (the return's noise has standard deviation 3.2 against an outcome of
    +-1), fixed seed: predicting only what remains puts the outcome's credit on the choice step within 3,000 steps
    (1.00 of it; the default predictor of the whole return puts 0.18 there, lost in the noise of its targets)."""
    noisy = {"delay": 10, "distractor_reward": 1.0}
    agent = make_agent("rudder", "repgym/Umbrella-v0", env_kwargs=noisy, seed=0, predict_remaining=True)
    agent.learn(3_000)
    episodes = random_episodes("repgym/Umbrella-v0", noisy, 200)
    outcome = np.array([np.sign(e.rewards[-1]) for e in episodes])
    rewards = np.stack(agent.redistribution(episodes))  # (200, 11): r_t + f_t - f_{t-1}
    credit_for_outcome = np.abs((rewards * outcome[:, None]).mean(axis=0))  # the distractors average out
    assert credit_for_outcome[0] == pytest.approx(1.0, abs=0.25)  # predicting the whole return: 0.18 here
    assert credit_for_outcome[0] > 2 * credit_for_outcome[1:].max()
    np.testing.assert_allclose(rewards.sum(axis=1), [e.episode_return for e in episodes], atol=1e-4)


def test_the_running_max_holds_what_fired_once_and_continues_across_calls() -> None:
    features = torch.tensor([[[0.0, 2.0], [3.0, 0.0], [1.0, 1.0]]])  # (B=1, T=3, W=2)
    pooled = RunningMax()(features)
    torch.testing.assert_close(pooled, torch.tensor([[[0.0, 2.0], [3.0, 2.0], [3.0, 2.0]]]))
    # stepping one step at a time from the last maximum gives the same as the whole sequence at once
    previous = torch.zeros(1, 2)
    for t in range(3):
        previous = RunningMax()(features[:, t : t + 1], previous)[:, -1]
    torch.testing.assert_close(previous, pooled[:, -1])
    assert unit_axis(RunningMax(), 3) == 2  # analyzers read its (batch, time, features) output by feature


def test_an_agent_with_the_running_max_threads_it_through_predict_and_exposes_it() -> None:
    agent = make_agent("rudder", "repgym/Umbrella-v0", env_kwargs={"delay": 3}, seed=0, memory_pool=True,
                       lstm_hidden=8, encoder_arch=[8], q_arch=[8])  # fmt: skip
    obs = np.array([1.0, 0.0, 0.0], np.float32)
    _, state = agent.predict(obs)
    assert [s.shape for s in state] == [(1, 1, 8), (1, 1, 8), (1, 1, 1), (1, 1, 8)]
    _, later = agent.predict(np.array([0.0, 1.0, 0.5], np.float32), state)
    assert np.all(later[3] >= state[3])  # a running maximum never falls within an episode
    assert "memory_pool" in agent.latent_modules()


def test_a_predictor_with_the_running_max_steps_like_it_reads_whole_episodes() -> None:
    """Stepping the predictor one pair at a time (as acting does) gives the predictions of the whole episode."""
    config = RudderConfig(memory_pool=True, lstm_hidden=8)
    predictor = ReturnPredictor(gym.spaces.Box(-1, 1, (3,)), 2, config)
    obs, actions = torch.randn(2, 5, 3), torch.randint(0, 2, (2, 5))
    whole, _, final = predictor(obs, actions)
    assert final[2].shape == (1, 2, 8)
    state = (torch.zeros(1, 2, 8), torch.zeros(1, 2, 8), torch.zeros(1, 2, 8))
    steps = []
    for t in range(5):
        g, _, state = predictor(obs[:, t : t + 1], actions[:, t : t + 1], state)
        steps.append(g)
    torch.testing.assert_close(torch.cat(steps, dim=1), whole)
    torch.testing.assert_close(state[2], final[2])
