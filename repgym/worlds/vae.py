"""V, the vision model: a convolutional (beta-)VAE over 64x64x3 frames, after Ha & Schmidhuber's World Models.

Every vision model (this one and :class:`repgym.worlds.vqvae.VQVAE`) speaks the same interface:

- ``encode(x) -> z``: ``(B, 3, 64, 64)`` floats in [0, 1] to the ``(B, latent_dim)`` latent the memory model and
  the controller read (the posterior mean here: deterministic, what an agent acts on);
- ``decode(z) -> x``: back to ``(B, 3, 64, 64)`` in [0, 1];
- ``loss(x) -> (total, parts)``: the training loss and its named parts (``recon``, ``kl`` or ``vq``...);
- ``config``: the JSON-able constructor arguments, so a checkpoint rebuilds the model.

The latent passes through ``self.z`` (an identity module) so forward hooks see z itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

IMAGE_SHAPE = (3, 64, 64)


def frames_to_tensor(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``(B, 64, 64, 3) uint8`` (or one ``(64, 64, 3)`` frame) to ``(B, 3, 64, 64) float32`` in [0, 1]."""
    x = torch.as_tensor(np.asarray(frames) if not isinstance(frames, torch.Tensor) else frames)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or tuple(x.shape[1:]) != (64, 64, 3):
        raise ValueError(f"expected frames of shape (B, 64, 64, 3), got {tuple(x.shape)}")
    return x.permute(0, 3, 1, 2).float().div_(255.0)


def conv_encoder(channels: int) -> nn.Sequential:
    """4 stride-2 convolutions, 64x64x3 -> 2x2x(8 * channels), as in World Models (32-64-128-256 at channels=32)."""
    c = channels
    return nn.Sequential(
        nn.Conv2d(3, c, 4, 2), nn.ReLU(), nn.Conv2d(c, 2 * c, 4, 2), nn.ReLU(),
        nn.Conv2d(2 * c, 4 * c, 4, 2), nn.ReLU(), nn.Conv2d(4 * c, 8 * c, 4, 2), nn.ReLU(), nn.Flatten(),
    )  # fmt: skip


def deconv_decoder(channels: int) -> nn.Sequential:
    """The mirror: a ``(B, 32 * channels, 1, 1)`` code to ``(B, 3, 64, 64)`` in [0, 1] by 4 transposed convs."""
    c = channels
    return nn.Sequential(
        nn.ConvTranspose2d(32 * c, 4 * c, 5, 2), nn.ReLU(), nn.ConvTranspose2d(4 * c, 2 * c, 5, 2), nn.ReLU(),
        nn.ConvTranspose2d(2 * c, c, 6, 2), nn.ReLU(), nn.ConvTranspose2d(c, 3, 6, 2), nn.Sigmoid(),
    )  # fmt: skip


class VAE(nn.Module):
    """Convolutional VAE; ``beta > 1`` gives the disentangling beta-VAE.

    Args:
        latent_dim: size of z (32 in World Models).
        beta: weight of the KL term.
        channels: width of the first conv layer (32 in World Models; small values make tiny test models).
        kl_tolerance: free nats per latent dimension (World Models' 0.5): the KL term is
            ``max(KL, kl_tolerance * latent_dim)``, so the encoder is not pushed to the prior below that.

    Loss (per image, averaged over the batch): summed squared error over pixels in [0, 1] plus
    ``beta * max(KL(q(z|x) || N(0, I)), kl_tolerance * latent_dim)``.
    """

    kind = "vae"
    discrete = False

    def __init__(self, latent_dim: int = 32, beta: float = 1.0, channels: int = 32, kl_tolerance: float = 0.5) -> None:
        super().__init__()
        if latent_dim < 1 or channels < 1:
            raise ValueError(f"latent_dim and channels must be >= 1, got {latent_dim} and {channels}")
        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        self.latent_dim, self.beta, self.channels, self.kl_tolerance = latent_dim, float(beta), channels, kl_tolerance
        self.encoder = conv_encoder(channels)
        self.mu = nn.Linear(32 * channels, latent_dim)
        self.logvar = nn.Linear(32 * channels, latent_dim)
        self.z = nn.Identity()
        self.expand = nn.Linear(latent_dim, 32 * channels)
        self.decoder = deconv_decoder(channels)

    @property
    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "latent_dim": self.latent_dim, "beta": self.beta, "channels": self.channels,
                "kl_tolerance": self.kl_tolerance}  # fmt: skip

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)``, each ``(B, latent_dim)``."""
        h = self.encoder(x)
        return self.mu(h), self.logvar(h).clamp(-10.0, 10.0)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior mean, ``(B, latent_dim)``."""
        return self.z(self.posterior(x)[0])

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.expand(z)[:, :, None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction of ``x`` through the posterior mean."""
        return self.decode(self.encode(x))

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        mu, logvar = self.posterior(x)
        z = self.z(mu + torch.randn_like(mu) * (0.5 * logvar).exp())
        recon = F.mse_loss(self.decode(z), x, reduction="none").sum(dim=(1, 2, 3)).mean()
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)).mean()
        kl_term = torch.clamp(kl, min=self.kl_tolerance * self.latent_dim)
        total = recon + self.beta * kl_term
        return total, {"loss": total.item(), "recon": recon.item(), "kl": kl.item()}
