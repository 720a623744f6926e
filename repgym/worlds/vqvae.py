"""V with a discrete latent: a VQ-VAE (van den Oord et al., 2017) over 64x64x3 frames.

Same interface as :class:`repgym.worlds.vae.VAE` (``encode``, ``decode``, ``loss``, ``config``). The encoder maps
a frame to a ``grid x grid`` map of ``code_dim`` vectors, each snapped to its nearest of ``codebook_size`` codebook
entries; ``encode`` returns the snapped vectors flattened, ``(B, code_dim * grid * grid)``, and ``codes`` the
``(B, grid * grid)`` indices that the memory model's categorical head predicts.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F


class VQVAE(nn.Module):
    """VQ-VAE with a straight-through estimator, commitment loss and dead-code restarts.

    Args:
        codebook_size: number of codebook entries (K).
        code_dim: size of each codebook vector.
        channels: width of the first conv layer.
        commitment: weight of the commitment term ``||z_e - sg(e)||^2`` (the paper's beta, 0.25).
        grid: side of the latent map, 4 (four stride-2 convs) or 8 (three).

    Loss: mean squared error per pixel + ``||sg(z_e) - e||^2 + commitment * ||z_e - sg(e)||^2``. While training,
    codes that no batch has picked for a while are moved onto random encoder outputs, so the codebook stays in use.
    """

    kind = "vqvae"
    discrete = True

    def __init__(
        self, codebook_size: int = 64, code_dim: int = 8, channels: int = 32, commitment: float = 0.25, grid: int = 4
    ) -> None:
        super().__init__()
        if grid not in (4, 8):
            raise ValueError(f"grid must be 4 or 8, got {grid}")
        if codebook_size < 2 or code_dim < 1 or channels < 1:
            raise ValueError(f"need codebook_size >= 2, code_dim >= 1, channels >= 1; got {codebook_size}, "
                             f"{code_dim}, {channels}")  # fmt: skip
        self.codebook_size, self.code_dim, self.channels = codebook_size, code_dim, channels
        self.commitment, self.grid = float(commitment), grid
        self.positions = grid * grid
        self.latent_dim = code_dim * self.positions
        c = channels
        widths = [3, c, 2 * c, 4 * c, 4 * c][: 5 if grid == 4 else 4]  # one stride-2 conv per halving
        down: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:], strict=True):
            down += [nn.Conv2d(a, b, 4, 2, 1), nn.ReLU()]
        self.encoder = nn.Sequential(*down, nn.Conv2d(widths[-1], code_dim, 1))
        up: list[nn.Module] = [nn.Conv2d(code_dim, widths[-1], 1), nn.ReLU()]
        rev = widths[::-1]
        for a, b in zip(rev[:-1], rev[1:], strict=True):
            up += [nn.ConvTranspose2d(a, b, 4, 2, 1), nn.ReLU()]
        up[-1] = nn.Sigmoid()
        self.decoder = nn.Sequential(*up)
        self.codebook = nn.Embedding(codebook_size, code_dim)
        nn.init.uniform_(self.codebook.weight, -1.0 / codebook_size, 1.0 / codebook_size)
        self.z = nn.Identity()
        self.register_buffer("usage", torch.ones(codebook_size))

    @property
    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "codebook_size": self.codebook_size, "code_dim": self.code_dim,
                "channels": self.channels, "commitment": self.commitment, "grid": self.grid}  # fmt: skip

    def _nearest(self, z_e: torch.Tensor) -> torch.Tensor:
        """Codebook indices ``(B, P)`` of encoder outputs ``(B, code_dim, g, g)``."""
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, self.code_dim)
        dist = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.codebook.weight.T + self.codebook.weight.pow(2).sum(1)
        return dist.argmin(1).view(z_e.shape[0], self.positions)

    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, grid * grid) int64`` codebook indices of frames ``x``."""
        return self._nearest(self.encoder(x))

    def embed(self, codes: torch.Tensor) -> torch.Tensor:
        """``(B, latent_dim)`` flattened codebook vectors of indices ``(B, grid * grid)``."""
        e = self.codebook(codes)  # (B, P, D)
        return e.permute(0, 2, 1).reshape(codes.shape[0], self.latent_dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.z(self.embed(self.codes(x)))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z.view(z.shape[0], self.code_dim, self.grid, self.grid))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        z_e = self.encoder(x)
        codes = self._nearest(z_e)
        z_q = self.embed(codes).view_as(z_e)
        codebook = F.mse_loss(z_q, z_e.detach())
        commit = F.mse_loss(z_e, z_q.detach())
        z_st = z_e + (z_q - z_e).detach()  # straight-through: decoder gradients flow to the encoder
        recon = F.mse_loss(self.decode(self.z(z_st.flatten(1))), x)
        total = recon + codebook + self.commitment * commit
        if self.training:
            self._restart_dead_codes(z_e.detach(), codes)
        used = codes.unique().numel()
        return total, {"loss": total.item(), "recon": recon.item(), "vq": codebook.item(), "codes_used": float(used)}

    @torch.no_grad()
    def _restart_dead_codes(self, z_e: torch.Tensor, codes: torch.Tensor, decay: float = 0.99) -> None:
        counts = torch.bincount(codes.flatten(), minlength=self.codebook_size).float()
        self.usage.mul_(decay).add_(counts / counts.sum() * self.codebook_size, alpha=1 - decay)
        dead = (self.usage < 0.03).nonzero().flatten()
        if dead.numel():
            flat = z_e.permute(0, 2, 3, 1).reshape(-1, self.code_dim)
            pick = torch.randint(0, flat.shape[0], (dead.numel(),), device=flat.device)
            self.codebook.weight.data[dead] = flat[pick]
            self.usage[dead] = 1.0
