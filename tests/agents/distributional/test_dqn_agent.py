"""The DQN agent's contract: masks everywhere, exact resume, checkpoints, vector envs, augmentation, API errors."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from dqn_toy_envs import Chain

import repgym  # noqa: F401
from repgym.agents import AGENTS, load_agent, make_agent
from repgym.agents.distributional import DistributionalDQN
from repgym.agents.distributional.agent import masked_argmax
from repgym.agents.distributional.augment import make_augmentation
from repgym.envs.bubble import rules
from repgym.envs.bubble.symmetry import invert_permutation, permute
from repgym.runs import Checkpoint

TINY = {"rows": 4, "cols": 4, "colours": 3}
FAST = dict(learning_starts=64, batch_size=16, train_freq=4, n_quantiles=8, cnn_channels=(8, 8), cnn_hidden=32,
            net_arch=(32,), target_update_interval=50, exploration_steps=300)  # fmt: skip


def test_registry_names_every_head() -> None:
    for name, head in (("c51-dqn", "c51"), ("qr-dqn", "qr"), ("expectile-dqn", "expectile"), ("dqn", "mean")):
        assert dict(AGENTS[name].kwargs) == {"head": head}
        agent = make_agent(name, "CartPole-v1", seed=0, net_arch=(8,))
        assert agent.name == name and agent.config.head == head


def test_masked_argmax_never_picks_an_illegal_action() -> None:
    q = torch.tensor([[5.0, 1.0, 2.0], [0.0, 9.0, 1.0], [3.0, 2.0, 1.0]])
    mask = torch.tensor([[False, True, True], [True, False, False], [False, False, False]])
    assert masked_argmax(q, mask).tolist() == [2, 0, 0]  # the last row has no legal action: plain argmax
    assert masked_argmax(q, None).tolist() == [0, 1, 0]


def _illegal_count(env: gym.Env, agent, episodes: int, deterministic: bool) -> int:
    illegal = 0
    for ep in range(episodes):
        obs, info = env.reset(seed=100 + ep)
        done = False
        while not done:
            action, _ = agent.predict(obs, deterministic=deterministic, action_masks=info["action_mask"])
            obs, _, terminated, truncated, info = env.step(int(action))
            illegal += info["illegal_action"]
            done = terminated or truncated
    return illegal


def test_no_illegal_action_on_bubble_breaker_single_env() -> None:
    env = gym.make("repgym/BubbleBreaker-v0", **TINY)
    agent = make_agent("qr-dqn", env, seed=0, **FAST)
    agent.learn(400)  # epsilon from 1: mostly random moves, all among the legal ones
    assert agent.illegal_actions == 0 and agent.n_episodes > 10
    # Make the net prefer cell 0 above all: only the masks keep it from clicking there when cell 0 is illegal.
    with torch.no_grad():
        agent.q_net.head.linear.bias[: agent.head.n_outputs] += 100.0
    eval_env = gym.make("repgym/BubbleBreaker-v0", **TINY)
    obs, info = eval_env.reset(options={"board": "1231\n2312\n3123\n1132"})  # legal cells: 9, 12, 13
    assert int(agent.predict(obs)[0]) == 0 and not info["action_mask"][0]
    assert int(agent.predict(obs, action_masks=info["action_mask"])[0]) in (9, 12, 13)
    assert _illegal_count(eval_env, agent, 5, deterministic=True) == 0
    assert _illegal_count(eval_env, agent, 5, deterministic=False) == 0


def test_no_illegal_action_on_the_native_vector_env_and_masks_stored_for_next_states() -> None:
    envs = gym.make_vec("repgym/BubbleBreaker-v0", num_envs=6, vectorization_mode="vector_entry_point", **TINY)
    agent = make_agent("c51-dqn", envs, seed=1, **FAST, augmentation="colours", n_steps=2)
    agent.learn(600)
    assert agent.illegal_actions == 0 and agent.n_episodes > 10
    buf = agent.buffer
    assert buf.next_mask is not None and buf.size > 300
    # Every stored next-state mask is the legal-move mask of the stored next observation.
    config = envs.unwrapped.config
    boards = buf.next_obs[: buf.size].argmax(axis=1).astype(np.int8)  # planes -> board (plane 0 is empty)
    legal = rules.legal_mask(boards, config).reshape(buf.size, -1)
    assert np.array_equal(legal, buf.next_mask[: buf.size])
    obs, info = envs.reset(seed=5)
    for _ in range(20):
        actions, _ = agent.predict(obs, deterministic=False, action_masks=envs.action_masks())
        obs, _, _, _, info = envs.step(actions)
        assert not info["illegal_action"].any()


def test_target_with_no_legal_next_action_stays_finite() -> None:
    env = gym.make("repgym/BubbleBreaker-v0", **TINY)
    agent = make_agent("c51-dqn", env, seed=0, **FAST)
    agent.learn(100)
    agent.buffer.next_mask[: agent.buffer.size] = False  # as after a terminal board
    before = agent.optimizer.params.clone()
    agent._train(3)
    assert torch.isfinite(agent.optimizer.params).all() and not torch.equal(before, agent.optimizer.params)


def test_colour_augmentation_renames_obs_and_next_obs_alike() -> None:
    env = gym.make("repgym/BubbleBreaker-v0", **TINY)
    augment = make_augmentation("colours", env)
    obs = np.stack([env.reset(seed=s)[0] for s in range(8)])
    a, b = augment(obs, obs.copy(), np.random.default_rng(0))
    assert np.array_equal(a, b) and not np.array_equal(a, obs)
    boards, renamed = obs.argmax(axis=1), a.argmax(axis=1)
    perm = np.zeros((8, 5), np.int64)
    for i in range(8):  # recover each renaming and check it is a permutation of the colours only
        for c in range(5):
            perm[i, c] = renamed[i][boards[i] == c][0] if (boards[i] == c).any() else c
    assert (perm[:, 0] == 0).all()
    assert np.array_equal(permute(a, invert_permutation(perm.astype(np.int8))), obs)
    with pytest.raises(ValueError, match="Bubble Breaker"):
        make_augmentation("colours", gym.make("CartPole-v1"))


def _same_state(a: DistributionalDQN, b: DistributionalDQN) -> None:
    assert a.num_timesteps == b.num_timesteps and a.n_updates == b.n_updates and a.n_episodes == b.n_episodes
    assert torch.equal(a.optimizer.params, b.optimizer.params)
    assert torch.equal(a.target_params, b.target_params)
    assert torch.equal(a.optimizer.exp_avg_sq, b.optimizer.exp_avg_sq)
    assert a.buffer.size == b.buffer.size and np.array_equal(a.buffer.obs, b.buffer.obs)
    assert np.array_equal(a.buffer.reward, b.buffer.reward)


@pytest.mark.parametrize("name", ["qr-dqn", "expectile-dqn"])
def test_save_and_resume_continue_identically(tmp_path, name: str) -> None:
    kwargs = dict(FAST, n_steps=3, tau=0.5, target_update_interval=20, learning_starts=100)
    if name == "expectile-dqn":
        kwargs.pop("n_quantiles")
    agent = make_agent(name, "CartPole-v1", seed=3, **kwargs)
    agent.learn(300)
    agent.save(tmp_path / "ckpt")
    resumed = load_agent(tmp_path / "ckpt")
    _same_state(agent, resumed)
    agent.learn(300)
    resumed.learn(300)
    _same_state(agent, resumed)
    obs = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    assert np.array_equal(agent.predict(obs)[0], resumed.predict(obs)[0])


def test_resume_on_a_vector_env_with_augmentation(tmp_path) -> None:
    envs = gym.make_vec("repgym/BubbleBreaker-v0", num_envs=4, **TINY)
    agent = make_agent("qr-dqn", envs, seed=2, **FAST, augmentation="colours")
    agent.learn(200)
    agent.save(tmp_path / "vec")
    checkpoint = Checkpoint.read(tmp_path / "vec")
    assert checkpoint.num_envs == 4 and checkpoint.env.id == "repgym/BubbleBreaker-v0"
    assert checkpoint.env.kwargs["rows"] == 4
    resumed = load_agent(tmp_path / "vec")
    assert isinstance(resumed.env, gym.vector.VectorEnv) and resumed.env.num_envs == 4
    agent.learn(200)
    resumed.learn(200)
    _same_state(agent, resumed)


def test_checkpoint_records_the_protocol(tmp_path) -> None:
    agent = make_agent("c51-dqn", "CartPole-v1", seed=7, net_arch=(16,), v_min=0.0, v_max=50.0, learning_starts=50)
    agent.learn(100)
    agent.save(tmp_path / "c51", include_resume_state=False)
    meta = json.loads((tmp_path / "c51" / "agent.json").read_text())
    assert meta["agent"] == "c51-dqn" and meta["env_id"] == "CartPole-v1" and meta["seed"] == 7
    assert meta["num_timesteps"] == 100 and meta["repgym_version"] == repgym.__version__
    assert meta["hyperparameters"]["v_max"] == 50.0 and meta["hyperparameters"]["net_arch"] == [16]
    loaded = load_agent(tmp_path / "c51")
    assert loaded.buffer.size == 0 and loaded.config.v_max == 50.0


def test_latent_modules_name_torso_layers_and_head() -> None:
    mlp = make_agent("qr-dqn", "CartPole-v1", net_arch=(16, 8))
    assert list(mlp.latent_modules()) == ["torso.fc1", "torso.relu1", "torso.fc2", "torso.relu2", "head"]
    cnn = make_agent("dqn", gym.make("repgym/BubbleBreaker-v0", **TINY), dueling=True, cnn_channels=(4, 4))
    names = list(cnn.latent_modules())
    assert names[:2] == ["torso.conv1", "torso.relu1"] and {"head", "head.value", "head.advantage"} <= set(names)
    seen = {}

    def record(name):
        def hook(module, inputs, output) -> None:
            seen[name] = tuple(output.shape)

        return hook

    hooks = [m.register_forward_hook(record(n)) for n, m in mlp.latent_modules().items()]
    mlp.predict(np.zeros((3, 4), np.float32))
    for h in hooks:
        h.remove()
    assert seen["torso.relu2"] == (3, 8) and seen["head"] == (3, 2, 200)


def test_return_distribution_means_are_the_action_values() -> None:
    for name in ("c51-dqn", "qr-dqn", "expectile-dqn", "dqn"):
        agent = make_agent(name, Chain(), seed=0, net_arch=(8,))
        dist = agent.return_distribution(np.eye(4, dtype=np.float32)[0])
        assert dist.values.shape == dist.probs.shape and dist.values.shape[0] == 2
        assert np.allclose(dist.probs.sum(axis=1), 1.0, atol=1e-5)
        if name == "expectile-dqn":  # the mean is the 0.5-expectile, once the predicted expectiles are sorted
            with torch.no_grad():
                outputs = agent.q_net(torch.eye(4)[:1])[0].sort(dim=-1).values.numpy()
            assert np.allclose(dist.means, outputs[:, agent.head.mean_index], atol=1e-5)
        else:
            assert np.allclose(dist.means, dist.q_values, atol=1e-5)


def test_same_step_autoreset_vector_env() -> None:
    envs = gym.make_vec("CartPole-v1", num_envs=3, vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP})  # fmt: skip
    agent = make_agent("dqn", envs, seed=0, learning_starts=10_000, net_arch=(8,))
    agent.learn(600)
    buf = agent.buffer
    terminal = buf.discount[: buf.size] == 0
    assert terminal.sum() == agent.n_episodes > 10
    # A terminal transition's next_obs is the final observation (out of bounds), not the next episode's start.
    assert (np.abs(buf.next_obs[: buf.size][terminal][:, [0, 2]]) > [2.4, 12 * 2 * np.pi / 360]).any(axis=1).all()


def test_errors_name_the_bad_value() -> None:
    with pytest.raises(ValueError, match=r"unknown hyperparameter\(s\) \['learning_rat'\]"):
        make_agent("qr-dqn", "CartPole-v1", learning_rat=1e-3)
    with pytest.raises(ValueError, match="n_expectiles must be odd"):
        make_agent("expectile-dqn", "CartPole-v1", n_expectiles=10)
    with pytest.raises(ValueError, match="Discrete"):
        make_agent("qr-dqn", "Pendulum-v1")
    with pytest.raises(ValueError, match="net_arch must be"):
        make_agent("qr-dqn", "CartPole-v1", net_arch="wide")
    agent = make_agent("qr-dqn", "CartPole-v1", net_arch="16,16")
    assert agent.config.net_arch == (16, 16)
    with pytest.raises(ValueError, match=r"observation must have shape \(4,\)"):
        agent.predict(np.zeros(3))
    with pytest.raises(ValueError, match="action_masks must hold 2 entries"):
        agent.predict(np.zeros(4, np.float32), action_masks=np.ones(3, bool))
    with pytest.raises(ValueError, match="total_timesteps must be >= 1"):
        agent.learn(0)


def test_making_and_training_leave_the_global_torch_generator_alone() -> None:
    state = torch.random.get_rng_state()
    make_agent("qr-dqn", "CartPole-v1", seed=0, **FAST).learn(100)
    assert torch.equal(torch.random.get_rng_state(), state)
