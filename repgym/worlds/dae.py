"""SCAN's feature-space reconstruction for V (Higgins et al., the beta-VAE_DAE of DARLA and SCAN).

A pixel likelihood barely notices objects a few pixels wide: on KeyToDoor pixels a VAE can sit at the mean frame
and lose whether the key is held. The remedy: train a denoising autoencoder :class:`DenoisingAutoencoder` J on
the same frames first (corrupted by masking or Gaussian noise, so its features must encode the structure that lets
it fill the gaps), then train the VAE to reconstruct in J's feature space, ``||J(x_hat) - J(x)||^2``, instead of
in pixels: :class:`FeatureVAE`.

The DAE is trained by :func:`repgym.worlds.training.train_vision` (``role="dae"``) and saved in its own checkpoint
folder; a :class:`FeatureVAE` also carries a frozen copy of it in its own weights, so a vision checkpoint loads
on its own.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from repgym.worlds.vae import VAE

NOISES = ("mask", "gaussian")


class DenoisingAutoencoder(nn.Module):
    """A small convolutional DAE over 64x64x3 frames; its encoder output is the feature map J.

    Args:
        channels: width of the first conv layer; J is ``(B, 2 * channels, 16, 16)`` (two stride-2 convs, no
            bottleneck: J keeps where things are, which is what a few-pixel object needs).
        noise: ``"mask"`` zeroes random ``block x block`` squares of the input (each with probability
            ``noise_level``); ``"gaussian"`` adds N(0, noise_level^2) to every pixel (clipped to [0, 1]).
        noise_level: masking probability (in (0, 1)) or noise standard deviation (> 0).
        block: side of the masked squares in pixels (a divisor of 64).

    Loss: mean squared error per pixel between the reconstruction of the corrupted frame and the clean frame.
    """

    kind = "dae"

    def __init__(self, channels: int = 16, noise: str = "mask", noise_level: float = 0.3, block: int = 4) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        if noise not in NOISES:
            raise ValueError(f"noise must be one of {NOISES}, got {noise!r}")
        if noise == "mask" and not 0 < noise_level < 1:
            raise ValueError(f"a masking noise_level is a probability in (0, 1), got {noise_level}")
        if noise == "gaussian" and not noise_level > 0:
            raise ValueError(f"a Gaussian noise_level is a standard deviation > 0, got {noise_level}")
        if block < 1 or 64 % block:
            raise ValueError(f"block must divide 64, got {block}")
        self.channels, self.noise, self.noise_level, self.block = channels, noise, float(noise_level), block
        c = channels
        self.encoder = nn.Sequential(nn.Conv2d(3, c, 4, 2, 1), nn.ReLU(), nn.Conv2d(c, 2 * c, 4, 2, 1), nn.ReLU())
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(c, 3, 4, 2, 1), nn.Sigmoid()
        )

    @property
    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "channels": self.channels, "noise": self.noise, "noise_level": self.noise_level,
                "block": self.block}  # fmt: skip

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        """``x (B, 3, 64, 64)`` with the training noise applied (draws from torch's global generator)."""
        if self.noise == "gaussian":
            return (x + self.noise_level * torch.randn_like(x)).clamp(0.0, 1.0)
        side = x.shape[-1] // self.block
        keep = (torch.rand(x.shape[0], 1, side, side, device=x.device) >= self.noise_level).to(x.dtype)
        return x * F.interpolate(keep, scale_factor=self.block, mode="nearest")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """J(x): ``(B, 2 * channels, 16, 16)``."""
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction of a (clean) frame."""
        return self.decoder(self.encoder(x))

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        recon = F.mse_loss(self(self.corrupt(x)), x)
        return recon, {"loss": recon.item(), "recon": recon.item()}


class FeatureVAE(VAE):
    """The World Models VAE with its reconstruction term measured in a frozen DAE's feature space.

    Args:
        latent_dim, beta, channels, kl_tolerance: as :class:`repgym.worlds.vae.VAE`.
        dae: the :class:`DenoisingAutoencoder` config whose (trained) weights this model carries as J; load them
            with :meth:`use_features` (a checkpoint restores them with the rest of the state dict).
        pixel_weight: weight of the VAE's summed pixel squared error added to the feature term (0: SCAN's pure
            feature loss). J need not be invertible, so a decoder trained on features alone may paint textures
            that match J's features in colours far from the frame's; a little pixel error anchors them.

    Loss (per image, averaged over the batch): ``||J(decode(z)) - J(x)||^2`` summed over J's features, plus
    ``pixel_weight * ||decode(z) - x||^2`` summed over pixels, plus ``beta * max(KL, kl_tolerance * latent_dim)``
    as in the VAE. J is frozen: gradients pass through it to the decoder but never change it.
    """

    kind = "feature-vae"

    def __init__(
        self,
        latent_dim: int = 32,
        beta: float = 1.0,
        channels: int = 32,
        kl_tolerance: float = 0.5,
        dae: dict[str, Any] | None = None,
        pixel_weight: float = 0.0,
    ) -> None:
        super().__init__(latent_dim, beta, channels, kl_tolerance)
        if not pixel_weight >= 0:
            raise ValueError(f"pixel_weight must be >= 0, got {pixel_weight}")
        self.pixel_weight = float(pixel_weight)
        dae = dict(dae or {})
        if dae.pop("kind", "dae") != "dae":
            raise ValueError(f"dae must be a denoising-autoencoder config (kind 'dae'), got {dae}")
        self.features = DenoisingAutoencoder(**dae)
        self.features.requires_grad_(False)
        self.features.eval()

    @property
    def config(self) -> dict[str, Any]:
        return {**super().config, "kind": self.kind, "dae": self.features.config, "pixel_weight": self.pixel_weight}

    def use_features(self, dae: DenoisingAutoencoder) -> FeatureVAE:
        """Copy a trained DAE's weights into J (configs must match); returns self."""
        if dae.config != self.features.config:
            raise ValueError(f"DAE config {dae.config} does not match this model's {self.features.config}")
        self.features.load_state_dict(dae.state_dict())
        return self

    def train(self, mode: bool = True) -> FeatureVAE:
        super().train(mode)
        self.features.eval()  # J is a fixed measuring instrument
        return self

    def feature_distance(self, x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``(B,)`` squared distances ``||J(x_hat) - J(x)||^2`` summed over features."""
        with torch.no_grad():
            target = self.features.features(x)
        return (self.features.features(x_hat) - target).pow(2).flatten(1).sum(1)

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        mu, logvar = self.posterior(x)
        z = self.z(mu + torch.randn_like(mu) * (0.5 * logvar).exp())
        x_hat = self.decode(z)
        recon = self.feature_distance(x_hat, x).mean()
        pixel = F.mse_loss(x_hat, x, reduction="none").sum(dim=(1, 2, 3)).mean()
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)).mean()
        total = recon + self.pixel_weight * pixel + self.beta * torch.clamp(kl, min=self.kl_tolerance * self.latent_dim)
        return total, {"loss": total.item(), "recon": recon.item(), "kl": kl.item(),
                       "pixel_mse": pixel.item() / x[0].numel()}  # fmt: skip
