"""SCAN's feature-space VAE: the denoising autoencoder J learns, the feature loss is zero for identical pictures,
J stays frozen, the model saves/loads with identical outputs, and ``--loss features`` trains (and reuses) J."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from repgym.cli import main
from repgym.worlds import checkpoint
from repgym.worlds.dae import DenoisingAutoencoder, FeatureVAE
from repgym.worlds.training import train_vision
from repgym.worlds.vae import VAE


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    torch.set_num_threads(1)


def _pictures(n: int = 8) -> torch.Tensor:
    """Frames with one small coloured square each (the few-pixel objects the feature loss is for)."""
    x = torch.zeros(n, 3, 64, 64)
    for i in range(n):
        r, c = 8 * (i % 4) + 8, 12 * (i // 4) + 10
        x[i, i % 3, r : r + 6, c : c + 6] = 1.0
    return x


def _frames(n: int = 8) -> np.ndarray:
    return (_pictures(n).permute(0, 2, 3, 1).numpy() * 255).astype(np.uint8)


def _held_out_loss(dae: DenoisingAutoencoder, x: torch.Tensor) -> float:
    torch.manual_seed(123)  # the same corruption before and after training
    with torch.no_grad():
        return dae.loss(x)[0].item()


@pytest.mark.parametrize("noise", ["mask", "gaussian"])
def test_denoising_loss_falls_on_a_tiny_dataset(noise):
    dae = DenoisingAutoencoder(channels=4, noise=noise, noise_level=0.3)
    x = _pictures()
    before = _held_out_loss(dae, x)
    opt = torch.optim.Adam(dae.parameters(), lr=1e-2)
    for _ in range(60):
        loss, _ = dae.loss(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert _held_out_loss(dae, x) < 0.5 * before
    assert dae.features(x).shape == (8, 8, 16, 16)


def test_corruption_masks_whole_blocks_or_adds_clipped_noise():
    x = torch.ones(64, 3, 64, 64)
    masked = DenoisingAutoencoder(channels=2, noise="mask", noise_level=0.25, block=8).corrupt(x)
    blocks = masked[:, 0].unfold(1, 8, 8).unfold(2, 8, 8)  # (B, 8, 8, 8, 8): each 8x8 block all 0 or all 1
    assert torch.equal(blocks.amin((-1, -2)), blocks.amax((-1, -2)))
    assert abs((masked == 0).float().mean().item() - 0.25) < 0.03
    noisy = DenoisingAutoencoder(channels=2, noise="gaussian", noise_level=0.2).corrupt(torch.full((2, 3, 64, 64), 0.5))
    assert noisy.min() >= 0 and noisy.max() <= 1 and noisy.std() > 0.1
    for bad, match in (({"noise": "salt"}, "noise must be one of"), ({"noise_level": 1.5}, "probability in"),
                       ({"noise": "gaussian", "noise_level": 0}, "standard deviation"), ({"block": 5}, "divide 64"),
                       ({"channels": 0}, "channels must be")):  # fmt: skip
        with pytest.raises(ValueError, match=match):
            DenoisingAutoencoder(**bad)


def test_feature_loss_is_zero_for_identical_pictures_and_never_moves_j():
    dae = DenoisingAutoencoder(channels=4)
    vae = FeatureVAE(latent_dim=4, channels=2, kl_tolerance=0.0, dae=dae.config).use_features(dae)
    x = torch.rand(3, 3, 64, 64)
    assert torch.equal(vae.feature_distance(x, x), torch.zeros(3))
    assert (vae.feature_distance(x.roll(1, 0), x) > 0).all()
    frozen = {k: v.clone() for k, v in vae.features.state_dict().items()}
    opt = torch.optim.Adam([p for p in vae.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(3):
        loss, parts = vae.train().loss(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert not vae.features.training and all(p.grad is None for p in vae.features.parameters())
    assert all(torch.equal(frozen[k], v) for k, v in vae.features.state_dict().items())
    assert {"recon", "kl", "pixel_mse"} <= set(parts)
    with pytest.raises(ValueError, match="does not match"):
        vae.use_features(DenoisingAutoencoder(channels=3))


def test_pixel_weight_adds_the_summed_pixel_error():
    dae = DenoisingAutoencoder(channels=4)
    vae = FeatureVAE(latent_dim=4, channels=2, kl_tolerance=0.0, dae=dae.config, pixel_weight=0.5).use_features(dae)
    loss, parts = vae.loss(torch.rand(3, 3, 64, 64))
    expected = parts["recon"] + 0.5 * parts["pixel_mse"] * 3 * 64 * 64 + parts["kl"]
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="pixel_weight must be >= 0, got -1"):
        FeatureVAE(pixel_weight=-1.0)


def test_feature_vae_trains_one_epoch_and_saves_and_loads_identically(tmp_path):
    frames = _frames()
    dae = DenoisingAutoencoder(channels=4)
    history = train_vision(dae, frames, frames[:2], epochs=2, batch_size=4, folder=tmp_path / "dae",
                           show_progress=False, role="dae")  # fmt: skip
    assert [h["epoch"] for h in history] == [1, 2] and history[-1]["val_recon_mse"] > 0
    j, meta = checkpoint.load_dae(tmp_path / "dae")
    assert meta["role"] == "dae" and j.config == dae.config
    with pytest.raises(ValueError, match="holds a dae checkpoint, expected vision"):
        checkpoint.load_vision(tmp_path / "dae")
    vae = FeatureVAE(latent_dim=4, channels=2, dae=j.config).use_features(j)
    history = train_vision(vae, frames, frames[:2], epochs=1, batch_size=4, folder=tmp_path / "v", show_progress=False)
    assert len(history) == 1 and np.isfinite(history[0]["train_recon"])
    loaded, meta = checkpoint.load_vision(tmp_path / "v")
    assert isinstance(loaded, FeatureVAE) and meta["config"]["kind"] == "feature-vae"
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded.encode(x), vae.encode(x)) and torch.equal(loaded(x), vae(x))
        assert torch.equal(loaded.features.features(x), j.features(x))  # J travels inside the vision checkpoint
    assert isinstance(loaded, VAE) and loaded.latent_dim == 4 and not loaded.discrete


def test_cli_feature_loss_trains_the_dae_first_and_reuses_it(tmp_path, capsys):
    run = tmp_path / "run"
    base = ["--run", str(run), "--no-progress"]
    env = ["repgym/KeyToDoor-v0", "--set", "obs_mode=pixels", "--set", "delay=2"]
    assert main(["world", "collect", *env, "--episodes", "3", "--max-steps", "8", *base]) == 0
    vae = ["world", "train-vae", "--epochs", "1", "--channels", "2", "--latent-dim", "4", "--loss", "features"]
    dae = ["--dae-epochs", "1", "--dae-channels", "2"]
    assert main([*vae, *dae, *base]) == 0
    out = capsys.readouterr().out
    assert "denoising autoencoder (mask noise 0.3)" in out and "feature-vae: validation reconstruction MSE" in out
    j, meta = checkpoint.load_dae(run / "dae")
    assert meta["epoch"] == 1
    loaded, _ = checkpoint.load_vision(run / "vision")
    x = torch.rand(1, 3, 64, 64)
    assert torch.equal(loaded.features.features(x), j.features(x))
    weights = (run / "dae" / "weights.pt").read_bytes()
    assert main([*vae, *dae, "--out", str(run / "again"), *base]) == 0  # J is there: reused, not retrained
    assert (run / "dae" / "weights.pt").read_bytes() == weights
    assert main(["world", "train-rnn", "--epochs", "1", "--hidden", "8", *base]) == 0
    capsys.readouterr()
    assert main([*vae, *dae, "--dae-channels", "3", "--out", str(run / "other"), *base]) == 2
    assert "holds a dae model with config" in capsys.readouterr().err
    assert main(["world", "train-vae", "--model", "vqvae", "--loss", "features", *base]) == 2
    assert "--loss features applies to --model vae, not vqvae" in capsys.readouterr().err
    assert main(["world", "train-vae", "--pixel-weight", "1", *base]) == 2
    assert "--pixel-weight applies to --loss features" in capsys.readouterr().err
