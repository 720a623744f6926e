"""The Gaussian-mixture VQ latent: its two temperature limits (nearest-code VQ, the codebook mean), its loss at
temperature 0 (the VQ-VAE's), annealing, checkpoints, M and the world-model agent on it, and the CLI option."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

import repgym.envs  # noqa: F401
from repgym.agents import load_agent
from repgym.agents.world_model import WorldModelAgent
from repgym.cli import main
from repgym.worlds import checkpoint
from repgym.worlds.data import Episode
from repgym.worlds.gmmvq import GMMVQVAE
from repgym.worlds.mdn_rnn import MDNRNN
from repgym.worlds.training import encode_episodes, train_vision
from repgym.worlds.vqvae import VQVAE


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    torch.set_num_threads(1)


def _model(temperature: float, **kw) -> GMMVQVAE:
    model = GMMVQVAE(codebook_size=7, code_dim=3, channels=2, temperature=temperature, **kw)
    torch.nn.init.normal_(model.codebook.weight)  # spread codes, so assignments differ between positions
    return model.eval()


def _nearest_code_latent(model: GMMVQVAE, x: torch.Tensor) -> torch.Tensor:
    """VQ by brute force: each position's encoder output replaced by its nearest codebook entry."""
    e = model.encoder(x)  # (B, D, g, g)
    book = model.codebook.weight
    if model.spherical:
        e, book = torch.nn.functional.normalize(e, dim=1), torch.nn.functional.normalize(book, dim=1)
    flat = e.flatten(2).transpose(1, 2)  # (B, P, D)
    dist = (flat[:, :, None, :] - book[None, None]).pow(2).sum(-1)  # (B, P, K)
    nearest = book[dist.argmin(-1)]  # (B, P, D)
    return nearest.transpose(1, 2).reshape(x.shape[0], -1)


@pytest.mark.parametrize("seed,spherical", [(0, True), (1, True), (2, False), (3, False)])
def test_temperature_to_zero_is_exactly_nearest_code_vq(seed, spherical):
    torch.manual_seed(seed)
    model = _model(0.5, spherical=spherical)
    x = torch.rand(5, 3, 64, 64)
    with torch.no_grad():
        expected = _nearest_code_latent(model, x)
        assert torch.equal(model.soft_latent(x, 0.0), expected)
        assert torch.equal(model.soft_latent(x, 1e-9), expected)  # the softmax has collapsed to one-hot
        assert torch.equal(model.embed(model.codes(x)), expected)
        hard = _model(0.0)
        assert torch.equal(hard.encode(x), hard.embed(hard.codes(x)))


def test_high_temperature_is_the_codebook_mean_and_weights_sum_to_one():
    model = _model(1e9)
    x = torch.rand(4, 3, 64, 64)
    with torch.no_grad():
        z = model.encode(x).view(4, model.code_dim, model.positions)
        mean = model.book().mean(0)
        torch.testing.assert_close(z, mean[None, :, None].expand_as(z), atol=1e-6, rtol=0)
        w = model.assignments(model.encoder(x), 0.7)
    assert w.shape == (4, 16, 7)
    torch.testing.assert_close(w.sum(-1), torch.ones(4, 16))


def test_loss_at_temperature_zero_equals_the_vqvae_loss():
    soft = _model(0.0, spherical=False).train()
    vq = VQVAE(codebook_size=7, code_dim=3, channels=2).train()
    vq.load_state_dict({k: v for k, v in soft.state_dict().items() if k != "steps"})
    x = torch.rand(4, 3, 64, 64)
    a, parts_vq = vq.loss(x)
    b, parts = soft.loss(x)
    assert a.item() == b.item() and parts["recon"] == parts_vq["recon"] and parts["vq"] == parts_vq["vq"]
    a.backward()
    b.backward()
    for (name, p), q in zip(vq.named_parameters(), soft.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, msg=name)  # the straight-through gradients too


def test_soft_latent_is_differentiable_and_anneals():
    model = _model(0.0, temperature_start=2.0, anneal_steps=4).train()
    assert [model.training_temperature()] == [2.0]
    x = torch.rand(2, 3, 64, 64)
    seen = []
    for _ in range(5):
        loss, parts = model.loss(x)
        seen.append(parts["temperature"])
    assert seen == [2.0, 1.5, 1.0, 0.5, 0.0] and int(model.steps) == 5
    assert model.eval().loss(x)[1]["temperature"] == 0.0  # evaluation uses the final temperature
    warm = _model(1.0).train()
    loss, _ = warm.loss(x)
    loss.backward()
    assert warm.codebook.weight.grad.abs().sum() > 0 and warm.encoder[0].weight.grad.abs().sum() > 0
    assert warm.discrete is False and _model(0.0).discrete is True


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="temperature must be >= 0, got -1"):
        GMMVQVAE(temperature=-1.0)
    with pytest.raises(ValueError, match="anneal_steps"):
        GMMVQVAE(anneal_steps=-2)
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        _model(1.0).soft_latent(torch.rand(1, 3, 64, 64), -0.5)


def _episode(n: int = 9) -> Episode:
    frames = np.random.default_rng(0).integers(0, 255, (n + 1, 64, 64, 3), dtype=np.uint8)
    return Episode(frames, np.arange(n) % 3, np.ones(n, np.float32), np.eye(n, dtype=bool)[n - 1], np.zeros(n, bool))


@pytest.mark.parametrize("temperature", [0.0, 0.3])
def test_checkpoint_and_memory_model_on_the_mixture_latent(tmp_path, temperature):
    frames = _episode().frames
    model = GMMVQVAE(codebook_size=5, code_dim=2, channels=2, temperature=temperature)
    train_vision(model, frames, frames[:3], epochs=1, batch_size=4, folder=tmp_path, show_progress=False)
    loaded, meta = checkpoint.load_vision(tmp_path)
    assert isinstance(loaded, GMMVQVAE) and meta["config"] == model.config and meta["config"]["kind"] == "gmmvq"
    x = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded.encode(x), model.encode(x)) and torch.equal(loaded(x), model(x))
    (enc,) = encode_episodes(loaded, [_episode()], spaces.Discrete(3))
    assert enc.z.shape == (10, 32)
    assert (enc.codes is not None) == (temperature == 0)  # codes for M's categorical head only when discrete
    codes = {"positions": 16, "codebook_size": 5} if loaded.discrete else {}
    memory = MDNRNN(32, 3, hidden=8, **codes)
    out = memory(enc.z[None, :-1], enc.actions[None], codes=None if enc.codes is None else enc.codes[None, :-1])
    target = enc.codes[1:] if enc.codes is not None else enc.z[1:]
    assert torch.isfinite(memory.loss(out, target[None], enc.rewards[None], enc.dones[None])[0])


def test_world_model_agent_runs_on_the_mixture_latent(tmp_path):
    env = gym.make("repgym/KeyToDoor-v0", obs_mode="pixels", delay=2)
    vision = GMMVQVAE(codebook_size=5, code_dim=2, channels=2, temperature=0.3).eval()
    memory = MDNRNN(vision.latent_dim, 4, hidden=8).eval()
    starts = np.zeros((2, vision.latent_dim), np.float32)
    agent = WorldModelAgent.from_world(env, vision, memory, starts, 10, popsize=4)
    assert agent.config.vision == "gmmvq" and agent.config.vision_config == vision.config
    obs, _ = env.reset(seed=0)
    action, state = agent.predict(obs)
    agent.save(tmp_path / "agent")
    loaded = load_agent(tmp_path / "agent")
    assert isinstance(loaded.vision, GMMVQVAE) and loaded.vision.temperature == 0.3
    again, state2 = loaded.predict(obs)
    assert again == action
    np.testing.assert_array_equal(state2[0], state[0])
    with pytest.raises(ValueError, match="vision_config is for a 'gmmvq' model, but vision is 'vae'"):
        WorldModelAgent(env, vision="vae", vision_config=vision.config)


def test_cli_trains_the_mixture_latent_and_m_on_it(tmp_path, capsys):
    run = str(tmp_path / "run")
    base = ["--run", run, "--no-progress"]
    env = ["repgym/KeyToDoor-v0", "--set", "obs_mode=pixels", "--set", "delay=2"]
    assert main(["world", "collect", *env, "--episodes", "3", "--max-steps", "8", *base]) == 0
    vae = ["world", "train-vae", "--epochs", "1", "--channels", "2", "--codebook-size", "6", "--code-dim", "2"]
    assert main([*vae, "--model", "gmmvq", "--temperature", "0.25", "--temperature-start", "1", *base]) == 0
    assert "gmmvq: validation reconstruction MSE" in capsys.readouterr().out
    loaded, _ = checkpoint.load_vision(tmp_path / "run" / "vision")
    assert (loaded.kind, loaded.temperature, loaded.temperature_start, loaded.codebook_size) == ("gmmvq", 0.25, 1, 6)
    assert main(["world", "train-rnn", "--epochs", "1", "--hidden", "8", *base]) == 0
    assert "persistence baseline" in capsys.readouterr().out
    assert main([*vae, "--model", "gmmvq", "--temperature", "-1", "--out", str(tmp_path / "bad"), *base]) == 2
    assert "temperature must be >= 0, got -1" in capsys.readouterr().err


def test_soft_training_keeps_the_codes_apart_on_two_kinds_of_frames():
    """At a temperature where the responsibilities start near uniform, nearest-code updates must not pull every
    code to one point (the soft M-step did: z became constant); the two kinds of frames keep distinct latents."""
    model = GMMVQVAE(codebook_size=8, code_dim=3, channels=4, temperature=1.0).train()
    dark, light = torch.zeros(8, 3, 64, 64), torch.ones(8, 3, 64, 64)
    light[:, :, 16:48, 16:48] = 0.2
    batch = torch.cat([dark, light])
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        loss, parts = model.loss(batch)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    with torch.no_grad():
        z_dark, z_light = model.soft_latent(dark[:1]), model.soft_latent(light[:1])
        codes = model._nearest(model.encoder(batch))  # (16, positions)
    assert parts["entropy"] < np.log(8) - 0.05  # the weights left uniform
    assert not torch.equal(codes[0], codes[8])  # the two kinds of frames pick different codes somewhere
    assert (z_dark - z_light).norm() > 0.1
