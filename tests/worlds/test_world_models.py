"""V (VAE, VQ-VAE) and M (MDN-RNN) on tiny models: shapes, losses, likelihoods, sampling and learning."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from gymnasium import spaces

from repgym.worlds.mdn_rnn import MDNRNN, action_encoder, action_size
from repgym.worlds.training import EncodedEpisode, PersistenceBaseline, memory_metrics, train_memory
from repgym.worlds.vae import VAE, frames_to_tensor
from repgym.worlds.vqvae import VQVAE


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    torch.set_num_threads(1)


def test_frames_to_tensor():
    frames = np.full((2, 64, 64, 3), 255, np.uint8)
    x = frames_to_tensor(frames)
    assert x.shape == (2, 3, 64, 64) and x.dtype == torch.float32 and x.max() == 1.0
    assert frames_to_tensor(frames[0]).shape == (1, 3, 64, 64)
    with pytest.raises(ValueError, match=r"\(B, 64, 64, 3\)"):
        frames_to_tensor(np.zeros((2, 32, 32, 3), np.uint8))


def test_vae_shapes_and_loss():
    vae = VAE(latent_dim=6, beta=4.0, channels=2, kl_tolerance=0.0)
    x = torch.rand(3, 3, 64, 64)
    z = vae.encode(x)
    assert z.shape == (3, 6)
    assert torch.equal(vae.encode(x), z)  # the posterior mean: deterministic
    assert vae.decode(z).shape == (3, 3, 64, 64) and vae.decode(z).min() >= 0 and vae.decode(z).max() <= 1
    loss, parts = vae.loss(x)
    assert loss.item() == pytest.approx(parts["recon"] + 4.0 * parts["kl"], rel=1e-5)
    assert parts["kl"] >= 0 and parts["recon"] > 0
    floored = VAE(latent_dim=6, channels=2, kl_tolerance=0.5)
    floored.load_state_dict(vae.state_dict())
    torch.manual_seed(1)
    _, p1 = floored.loss(x)
    assert p1["loss"] >= p1["recon"] + 0.5 * 6 - 1e-4  # free bits: the KL term is at least tolerance * dims


def test_vae_learns_to_tell_two_pictures_apart():
    vae = VAE(latent_dim=4, channels=4, kl_tolerance=0.0, beta=0.1)
    x = torch.zeros(8, 3, 64, 64)
    x[:4, 0, :32] = 1.0  # red top half
    x[4:, 2, 32:] = 1.0  # blue bottom half
    opt = torch.optim.Adam(vae.parameters(), lr=1e-2)
    before = torch.nn.functional.mse_loss(vae(x), x).item()
    for _ in range(100):
        loss, _ = vae.loss(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    recon = vae(x)
    assert torch.nn.functional.mse_loss(recon, x).item() < 0.01 * before
    assert recon[0, 0, :32].mean() > 0.9 and recon[0, 2, 32:].mean() < 0.1  # each picture through its own z
    assert recon[4, 2, 32:].mean() > 0.9 and recon[4, 0, :32].mean() < 0.1


def test_vqvae_shapes_codes_and_loss():
    vq = VQVAE(codebook_size=5, code_dim=3, channels=2)
    x = torch.rand(2, 3, 64, 64)
    codes = vq.codes(x)
    assert codes.shape == (2, 16) and codes.min() >= 0 and codes.max() < 5
    z = vq.encode(x)
    assert z.shape == (2, vq.latent_dim) == (2, 48)
    assert torch.equal(z, vq.embed(codes))
    assert vq.decode(z).shape == (2, 3, 64, 64)
    loss, parts = vq.loss(x)
    assert loss.item() == pytest.approx(parts["recon"] + parts["vq"] * 1.25, rel=1e-4)  # codebook + 0.25 * commit
    assert VQVAE(4, 2, 2, grid=8).codes(x).shape == (2, 64)
    with pytest.raises(ValueError, match="grid"):
        VQVAE(grid=5)


def test_action_encoding():
    assert action_size(spaces.Discrete(3)) == 3 and action_size(spaces.Box(-1, 1, (2, 2))) == 4
    one_hot = action_encoder(spaces.Discrete(3, start=1))(np.array([1, 3]))
    assert one_hot.tolist() == [[1, 0, 0], [0, 0, 1]]
    assert action_encoder(spaces.Box(-1, 1, (2,)))(np.zeros((5, 2))).shape == (5, 2)
    with pytest.raises(ValueError, match="Discrete, Box"):
        action_size(spaces.Text(3))


def test_mdn_nll_matches_torch_distributions():
    m = MDNRNN(latent_dim=3, action_dim=2, hidden=8, mixtures=4, residual=False)
    z, a = torch.randn(2, 5, 3), torch.randn(2, 5, 2)
    out = m(z, a)
    assert out.logits.shape == out.mu.shape == out.log_sigma.shape == (2, 5, 3, 4)
    assert out.reward.shape == out.done_logit.shape == (2, 5) and out.features.shape == (2, 5, 8)
    target = torch.randn(2, 5, 3)
    mix = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(logits=out.logits), torch.distributions.Normal(out.mu, out.log_sigma.exp())
    )
    expected = -mix.log_prob(target).sum(-1)
    torch.testing.assert_close(m.latent_nll(out, target), expected)


def test_mdn_residual_means_and_sampling():
    m = MDNRNN(latent_dim=2, action_dim=1, hidden=4, mixtures=3)
    z = torch.full((1, 1, 2), 100.0)
    out = m(z, torch.zeros(1, 1, 1))
    assert (out.mu - 100).abs().max() < 10  # means are offsets from the current latent
    top = out.logits[0, -1].argmax(-1)
    mean_of_top = out.mu[0, -1].gather(-1, top[:, None])[:, 0]
    torch.testing.assert_close(m.sample(out, tau=0.0)[0], mean_of_top)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    torch.testing.assert_close(m.sample(out, 1.0, g1), m.sample(out, 1.0, g2))
    spread = torch.stack([m.sample(out, 2.0) for _ in range(200)]).std(0)
    narrow = torch.stack([m.sample(out, 0.1) for _ in range(200)]).std(0)
    assert (spread > narrow).all()
    with pytest.raises(ValueError, match="tau"):
        m.sample(out, -1.0)


def test_categorical_head():
    m = MDNRNN(latent_dim=6, action_dim=2, hidden=8, positions=3, codebook_size=4)
    codes = torch.randint(0, 4, (2, 5, 3))
    out = m(torch.randn(2, 5, 6), torch.randn(2, 5, 2), codes=codes)
    assert out.logits.shape == (2, 5, 3, 4) and out.mu is None
    nll = m.latent_nll(out, codes)
    expected = torch.nn.functional.cross_entropy(out.logits.reshape(-1, 4), codes.reshape(-1), reduction="none")
    torch.testing.assert_close(nll, expected.view(2, 5, 3).sum(-1))
    assert m.sample(out, 1.0).shape == (2, 3)
    with pytest.raises(ValueError, match="codes="):
        m(torch.randn(1, 1, 6), torch.randn(1, 1, 2))
    with pytest.raises(ValueError, match="both"):
        MDNRNN(6, 2, positions=3)


def _toy_episodes(n: int, length: int = 24) -> list[EncodedEpisode]:
    """A deterministic latent orbit: z rotates by 90 degrees a step, from a random phase; actions are noise."""
    ring = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    out = []
    for i in range(n):
        z = ring[(torch.arange(length + 1) + i) % 4]
        out.append(EncodedEpisode(z, None, torch.randn(length, 1), torch.zeros(length), torch.zeros(length)))
    return out


def test_memory_learns_a_deterministic_sequence_far_below_baseline():
    train, val = _toy_episodes(16), _toy_episodes(4)
    m = MDNRNN(latent_dim=2, action_dim=1, hidden=16, mixtures=2)
    baseline = PersistenceBaseline(train).nll(val)
    before = memory_metrics(m, val)["nll"]
    history = train_memory(m, train, val, epochs=40, seq_len=8, batch_size=16, lr=1e-2, show_progress=False)
    after = memory_metrics(m, val)["nll"]
    assert history[-1]["val_baseline_nll"] == pytest.approx(baseline)
    # persistence: each step moves by sqrt(2) in 2-D; the fitted baseline is ~N(z_t, 1) per dimension
    assert baseline == pytest.approx(2 * (0.5 + math.log(math.sqrt(2 * math.pi))), abs=0.3)
    assert after < before and after < baseline - 5.0
