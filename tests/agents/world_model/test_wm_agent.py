"""The world-model agent: make_agent, learn on a tiny budget, predict with state, save/load, latent modules."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import repgym.envs  # noqa: F401
from repgym.agents import load_agent, make_agent
from repgym.agents.world_model import WorldModelAgent
from repgym.analysis.capture import agent_runner, capture_activations

TINY = {"channels": 2, "latent_dim": 4, "hidden": 8, "vae_epochs": 1, "rnn_epochs": 1, "popsize": 4}


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    env = gym.make("repgym/KeyToDoor-v0", obs_mode="pixels", delay=2)
    agent = make_agent("world-model", env, seed=0, **TINY)
    agent.learn(200)
    return agent


def test_learn_spends_the_budget_on_rollouts_and_cma(trained):
    assert isinstance(trained, WorldModelAgent) and trained.trained_world
    assert trained.search is not None and trained.search.generations >= 1
    # half the budget on random rollouts (the last episode cut), the rest on CMA-ES (it may finish a generation)
    assert trained.num_timesteps - trained.search.steps == 100 and trained.num_timesteps >= 200
    assert len(trained.vision_history) == 1 and len(trained.memory_history) == 1


def test_predict_is_recurrent_and_batched(trained):
    env = gym.make("repgym/KeyToDoor-v0", obs_mode="pixels", delay=2)
    obs, _ = env.reset(seed=1)
    action, state = trained.predict(obs)
    assert env.action_space.contains(int(action))
    assert state[0].shape == state[1].shape == (1, 1, 8)
    _, state2 = trained.predict(obs, state)
    assert not np.allclose(state2[0], state[0])  # the memory moved on
    _, fresh = trained.predict(obs, state, episode_start=np.array([True]))
    np.testing.assert_allclose(fresh[0], state[0], atol=1e-6)  # episode_start resets the memory
    batch = np.stack([obs, obs, obs])
    actions, bstate = trained.predict(batch)
    assert actions.shape == (3,) and bstate[0].shape == (1, 3, 8)


def test_save_load_roundtrip_gives_the_same_predictions(trained, tmp_path):
    trained.save(tmp_path / "wm")
    loaded = load_agent(tmp_path / "wm")
    assert isinstance(loaded, WorldModelAgent) and loaded.num_timesteps == trained.num_timesteps
    assert loaded.search.generations == trained.search.generations
    env = gym.make("repgym/KeyToDoor-v0", obs_mode="pixels", delay=2)
    obs, _ = env.reset(seed=2)
    s1 = s2 = None
    for _ in range(5):
        a1, s1 = trained.predict(obs, s1)
        a2, s2 = loaded.predict(obs, s2)
        assert a1 == a2
        np.testing.assert_allclose(s1[0], s2[0], atol=1e-6)
        obs, *_ = env.step(int(a1))
    loaded.learn(40)  # training continues: more CMA-ES generations
    assert loaded.search.generations > trained.search.generations


def test_latent_modules_expose_encoder_z_and_lstm(trained):
    mods = trained.latent_modules()
    assert {"encoder", "z", "lstm", "controller"} <= set(mods)
    env = gym.make("repgym/KeyToDoor-v0", obs_mode="pixels", delay=2)
    obs = np.stack([env.reset(seed=s)[0] for s in range(6)])
    cap = capture_activations(mods, agent_runner(trained), obs)
    assert cap.activations["z"].shape == (6, 4)
    with torch.no_grad():
        expected = trained.vision.encode(torch.as_tensor(obs).permute(0, 3, 1, 2).float() / 255).numpy()
    np.testing.assert_allclose(cap.activations["z"], expected, atol=1e-5)
    assert cap.activations["lstm.h"].shape[:2] == (6, 8)


def test_dream_training_uses_no_extra_real_steps():
    env = gym.make("repgym/KeyToDoor-v0", obs_mode="pixels", delay=2)
    agent = make_agent("world-model", env, seed=0, dream=True, dream_generations=2, vision="vqvae", code_dim=2,
                       codebook_size=8, **{k: v for k, v in TINY.items() if k != "latent_dim"})  # fmt: skip
    agent.learn(100)
    assert agent.search.generations == 2 and agent.num_timesteps == 100  # rollouts only


def test_bad_hyperparameters_are_named():
    env = gym.make("repgym/KeyToDoor-v0", obs_mode="pixels")
    with pytest.raises(ValueError, match="unknown world-model hyperparameters"):
        make_agent("world-model", env, latnet_dim=3)
    with pytest.raises(ValueError, match="vision must be"):
        make_agent("world-model", env, vision="gan")


def _copy(agent, tmp_path):
    agent.save(tmp_path / "copy")
    return load_agent(tmp_path / "copy")


def test_train_controller_rejects_empty_budgets(trained):
    for kwargs in ({"generations": 0}, {"steps": 0}, {"generations": -1, "steps": 10}):
        name = "generations" if "generations" in kwargs else "steps"
        with pytest.raises(ValueError, match=f"{name} must be >= 1"):
            trained.train_controller(**kwargs)


def test_a_callback_returning_false_stops_training(trained, tmp_path):
    agent = _copy(trained, tmp_path)
    gens, steps = agent.search.generations, agent.num_timesteps
    calls, weights = [], []

    def callback(a):
        calls.append(a.search.generations)
        weights.append((a.controller.get_flat().copy(), a.search.best.copy()))
        return len(calls) < 2

    agent.train_controller(generations=5, callback=callback)
    assert calls == [gens + 1, gens + 2] and agent.search.generations == gens + 2  # stopped after the 2nd
    for played, best in weights:  # mid-search, the controller already holds the search's best candidate
        np.testing.assert_allclose(played, best, rtol=1e-6, atol=1e-7)  # float32 weights
    assert agent.num_timesteps - steps == agent.search.steps - trained.search.steps
    env = gym.make("repgym/KeyToDoor-v0", obs_mode="pixels", delay=2)
    fresh = make_agent("world-model", env, seed=0, **TINY)
    fresh.learn(200, callback=lambda a: False)  # stops after V and M, before CMA-ES
    assert fresh.trained_world and fresh.search is None and fresh.num_timesteps == 100


def test_predict_takes_frames_from_render_like_learn():
    env = gym.make("repgym/KeyToDoor-v0", delay=2, render_mode="rgb_array")  # vector observations
    agent = make_agent("world-model", env, seed=0, **TINY)
    agent.learn(60)
    obs, _ = agent.env.reset(seed=3)
    assert obs.shape == (6,)
    action, state = agent.predict(obs)
    action2, state2 = agent.predict(agent.env.render())  # the same frame given as a picture
    assert action == action2 and state[0].shape == (1, 1, 8)
    np.testing.assert_allclose(state[0], state2[0], atol=1e-6)
    with pytest.raises(ValueError, match="cannot be rendered"):
        agent.predict(np.stack([obs, obs]))
    blind = make_agent("world-model", gym.make("repgym/KeyToDoor-v0", delay=2), seed=0, **TINY)
    with pytest.raises(ValueError, match=r'needs pixel observations .*render_mode="rgb_array"'):
        blind.predict(obs)


def test_best_candidate_is_forgotten_when_the_scoring_changes(trained, tmp_path):
    agent = _copy(trained, tmp_path)
    assert (agent.search.mode, agent.search.tau) == ("real", None)
    agent.search.best_fitness = 1e9  # a real-env score no dream score could beat
    same = agent.train_controller(generations=1)
    assert same.best_fitness == 1e9  # same scoring: the best carries over
    dream = agent.train_controller(generations=1, dream=True, tau=0.5)
    assert (dream.mode, dream.tau) == ("dream", 0.5)
    assert dream.best_fitness == dream.history[-1]["best_fitness"] < 1e9  # scored in this dream only
    dream.best_fitness = 1e8
    assert agent.train_controller(generations=1, dream=True, tau=0.5).best_fitness == 1e8
    hotter = agent.train_controller(generations=1, dream=True, tau=1.5)
    assert hotter.tau == 1.5 and hotter.best_fitness == hotter.history[-1]["best_fitness"]
    agent.save(tmp_path / "dream")
    loaded = load_agent(tmp_path / "dream")
    assert (loaded.search.mode, loaded.search.tau, loaded.search.generations) == ("dream", 1.5, hotter.generations)


def test_making_and_training_leave_the_global_torch_generator_alone_and_stay_reproducible():
    state = torch.random.get_rng_state()
    env = gym.make("repgym/KeyToDoor-v0", obs_mode="pixels", delay=2)
    first = make_agent("world-model", env, seed=0, **TINY)
    second = make_agent("world-model", gym.make("repgym/KeyToDoor-v0", obs_mode="pixels", delay=2), seed=0, **TINY)
    first.learn(60, callback=lambda a: False)  # V (which samples from torch) and M only
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.rand(3)  # the caller draws: the second agent's training does not see it
    second.learn(60, callback=lambda a: False)
    for a, b in zip(first.vision.parameters(), second.vision.parameters(), strict=True):
        assert torch.equal(a, b)


def test_real_and_random_evaluation_play_the_protocol_episodes(trained):
    from repgym.agents.world_model.rollout import play_returns
    from repgym.runs import EvalProtocol, play

    env = gym.make("repgym/KeyToDoor-v0", obs_mode="pixels", delay=2)
    returns = play_returns(env, trained.world, trained.controller, episodes=3, seed=40)
    np.testing.assert_array_equal(returns, play(trained, env, EvalProtocol(3, first_seed=40)).returns)  # = predict
    random_returns = []
    env.action_space.seed(40)
    for seed in (40, 41, 42):  # the random baseline: the action space's own samples, seeded once
        env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total, done = total + reward, terminated or truncated
        random_returns.append(total)
    np.testing.assert_array_equal(play_returns(env, None, None, episodes=3, seed=40), random_returns)
