"""Training loops: checkpoints after each epoch, resuming, and refusing a different model in the same folder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces

from repgym.worlds import checkpoint
from repgym.worlds.data import Episode
from repgym.worlds.mdn_rnn import MDNRNN
from repgym.worlds.training import (
    EncodedEpisode,
    encode_episodes,
    memory_metrics,
    reconstruction_error,
    sequence_windows,
    train_memory,
    train_vision,
)
from repgym.worlds.vae import VAE
from repgym.worlds.vqvae import VQVAE


def _frames(n=16):
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (n, 64, 64, 3), dtype=np.uint8)


def test_train_vision_saves_and_resumes(tmp_path):
    torch.manual_seed(0)
    frames = _frames()
    vae = VAE(latent_dim=4, channels=2)
    history = train_vision(vae, frames, frames[:4], epochs=2, batch_size=8, folder=tmp_path, show_progress=False)
    assert [h["epoch"] for h in history] == [1, 2]
    assert history[-1]["val_recon_mse"] == pytest.approx(reconstruction_error(vae, frames[:4]))
    loaded, meta = checkpoint.load_vision(tmp_path)
    assert meta["epoch"] == 2 and meta["config"] == vae.config
    x = torch.rand(1, 3, 64, 64)
    torch.testing.assert_close(loaded.encode(x), vae.encode(x))
    again = VAE(latent_dim=4, channels=2)
    history = train_vision(again, frames, None, epochs=3, batch_size=8, folder=tmp_path, show_progress=False)
    assert [h["epoch"] for h in history] == [1, 2, 3]  # two loaded, one trained
    with pytest.raises(ValueError, match="config"):
        train_vision(VAE(latent_dim=5, channels=2), frames, None, epochs=4, folder=tmp_path, show_progress=False)
    with pytest.raises(ValueError, match="vision checkpoint, expected memory"):
        checkpoint.load_memory(tmp_path)


def test_encode_windows_and_memory_checkpoint(tmp_path):
    torch.manual_seed(0)
    frames = _frames(11)
    ep = Episode(frames, np.arange(10) % 3, np.ones(10, np.float32), np.eye(10, dtype=bool)[9],
                 np.zeros(10, bool))  # fmt: skip
    vq = VQVAE(codebook_size=4, code_dim=2, channels=2)
    (enc,) = encode_episodes(vq, [ep], spaces.Discrete(3))
    assert enc.z.shape == (11, 32) and enc.codes.shape == (11, 16) and enc.actions.shape == (10, 3)
    assert enc.dones.tolist() == [0] * 9 + [1]
    w = sequence_windows([enc], seq_len=4)
    assert w["z"].shape == (3, 4, 32) and w["codes"].shape == (3, 4, 16) and w["target"].shape == (3, 4, 16)
    assert w["mask"].sum() == 10 and w["mask"][2].tolist() == [1, 1, 0, 0]
    torch.testing.assert_close(w["target"][0, 0], enc.codes[1])
    mem = MDNRNN(32, 3, hidden=8, positions=16, codebook_size=4)
    history = train_memory(mem, [enc], [enc], epochs=2, seq_len=4, folder=tmp_path, show_progress=False)
    assert len(history) == 2 and history[-1]["val_baseline_nll"] is not None
    loaded, meta = checkpoint.load_memory(tmp_path)
    assert meta["epoch"] == 2
    for a, b in zip(loaded.state_dict().values(), mem.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)
    with pytest.raises(FileNotFoundError, match="no world-model checkpoint"):
        checkpoint.load_memory(tmp_path / "nothing")


def test_resume_uses_the_new_learning_rate(tmp_path):
    torch.manual_seed(0)
    frames = _frames()
    train_vision(VAE(latent_dim=4, channels=2), frames, None, epochs=1, batch_size=8, lr=1e-2, folder=tmp_path,
                 show_progress=False)  # fmt: skip
    saved, _ = checkpoint.load_vision(tmp_path)
    resumed = VAE(latent_dim=4, channels=2)
    # lr=0 on resume: Adam must not move the weights (the saved optimiser state would have restored lr=1e-2)
    train_vision(resumed, frames, None, epochs=2, batch_size=8, lr=0.0, folder=tmp_path, show_progress=False)
    for a, b in zip(saved.parameters(), resumed.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_memory_metrics_score_whole_long_episodes(monkeypatch):
    """An episode longer than any fixed window is scored in one pass from the zero state, as it would be played."""
    from repgym.worlds import training

    windows = []

    def spy(episodes, seq_len):
        windows.append(training_windows(episodes, seq_len))
        return windows[-1]

    training_windows = training.sequence_windows
    monkeypatch.setattr(training, "sequence_windows", spy)
    torch.manual_seed(0)
    episodes = []
    for length in (5, 1100):
        z = torch.randn(length + 1, 2)
        episodes.append(EncodedEpisode(z, None, torch.randn(length, 1), torch.zeros(length), torch.zeros(length)))
    mem = MDNRNN(latent_dim=2, action_dim=1, hidden=8, mixtures=2)
    mem.eval()
    with torch.no_grad():
        total = 0.0
        for e in episodes:  # each episode alone, as one unpadded sequence
            out = mem(e.z[None, :-1], e.actions[None])
            total += mem.latent_nll(out, e.z[None, 1:]).sum().item()
    expected = total / sum(len(e.actions) for e in episodes)
    assert memory_metrics(mem, episodes)["nll"] == pytest.approx(expected, rel=1e-4)
    (w,) = windows
    assert w["mask"].shape == (2, 1100) and w["mask"].sum(1).tolist() == [5, 1100]  # one window per episode
