"""DreamEnv: the Gymnasium contract, seeding, temperature and the VQ-VAE variant."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

from repgym.worlds.dream import DreamEnv
from repgym.worlds.mdn_rnn import MDNRNN
from repgym.worlds.vae import VAE
from repgym.worlds.vqvae import VQVAE


@pytest.fixture
def memory():
    torch.manual_seed(0)
    return MDNRNN(latent_dim=4, action_dim=3, hidden=8, mixtures=2)


def test_check_env_passes(memory):
    env = DreamEnv(memory, torch.randn(5, 4), spaces.Discrete(3), tau=1.0, max_episode_steps=20)
    check_env(env, skip_render_check=True)
    vision = VAE(latent_dim=4, channels=2)
    rendered = DreamEnv(memory, torch.randn(5, 4), spaces.Discrete(3), vision, render_mode="rgb_array")
    check_env(rendered)
    rendered.reset(seed=0)
    frame = rendered.render()
    assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8


def test_observation_is_z_and_h_and_episodes_are_seeded(memory):
    starts = torch.randn(5, 4)
    env = DreamEnv(memory, starts, spaces.Discrete(3), max_episode_steps=7)
    obs, _ = env.reset(seed=3)
    assert obs.shape == (4 + 8,) and (obs[4:] == 0).all()
    assert any(np.allclose(obs[:4], s) for s in starts.numpy())

    def play(seed):
        obs, _ = env.reset(seed=seed)
        out = [obs]
        for t in range(10):
            obs, r, term, trunc, info = env.step(t % 3)
            out.append(np.append(obs, r))
            if term or trunc:
                break
        return np.concatenate(out), t, trunc

    a, steps, truncated = play(1)
    b, _, _ = play(1)
    c, _, _ = play(2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert steps == 6 and truncated  # truncated after max_episode_steps
    with pytest.raises(ValueError, match="not in Discrete"):
        env.step(5)
    z_only = DreamEnv(memory, starts, spaces.Discrete(3), observe_hidden=False)
    assert z_only.reset(seed=0)[0].shape == (4,)


def test_temperature_zero_is_deterministic(memory):
    env = DreamEnv(memory, torch.randn(1, 4), spaces.Discrete(3), tau=0.0)
    runs = []
    for seed in (0, 1):
        env.reset(seed=seed)
        runs.append(np.concatenate([env.step(1)[0] for _ in range(5)]))
    np.testing.assert_array_equal(*runs)


def test_done_probability_terminates(memory):
    with torch.no_grad():
        memory.reward_done.bias[1] = 50.0  # done logit: always certain
    env = DreamEnv(memory, torch.randn(2, 4), spaces.Discrete(3))
    env.reset(seed=0)
    _, _, terminated, truncated, info = env.step(0)
    assert terminated and not truncated and info["done_probability"] > 0.99


def test_vq_dream_and_errors():
    torch.manual_seed(0)
    vq = VQVAE(codebook_size=6, code_dim=2, channels=2)
    mem = MDNRNN(vq.latent_dim, 2, hidden=8, positions=vq.positions, codebook_size=6)
    env = DreamEnv(mem, torch.randint(0, 6, (3, 16)), spaces.Box(-1, 1, (2,)), vq, max_episode_steps=5)
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    obs, *_ = env.step(np.zeros(2, np.float32))
    latent = torch.as_tensor(obs[: vq.latent_dim]).view(2, 16).T  # (positions, code_dim)
    assert all(any(torch.allclose(v, e) for e in vq.codebook.weight) for v in latent)  # latents are code vectors
    with pytest.raises(ValueError, match="vision="):
        DreamEnv(mem, torch.randint(0, 6, (3, 16)), spaces.Box(-1, 1, (2,)))
    with pytest.raises(ValueError, match="tau"):
        DreamEnv(mem, torch.randint(0, 6, (3, 16)), spaces.Box(-1, 1, (2,)), vq, tau=-0.5)
    with pytest.raises(ValueError, match="starts is empty"):
        DreamEnv(MDNRNN(2, 1, 4), torch.zeros(0, 2), spaces.Discrete(1))
