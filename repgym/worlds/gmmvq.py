"""V with a Gaussian-mixture VQ latent (after Ben Poole's GMM-VQ-VAE idea): a soft assignment over a codebook.

Read each codebook entry ``c_k`` as the mean of an isotropic Gaussian of variance ``temperature / 2`` with equal
weights. The responsibility of entry ``k`` for an encoder output ``e`` is then
``w_k = softmax_k(-||e - c_k||^2 / temperature)`` and the latent is the posterior-mean code
``z = sum_k w_k c_k``. The temperature moves the latent between the two World Models vision models:

- ``temperature = 0``: ``w`` is one-hot on the nearest code, exactly the VQ-VAE's ``z`` (on the unit sphere by
  default: see ``spherical``);
- ``temperature -> inf``: ``w`` is uniform, and every frame maps to the codebook mean (no information);
- in between, a smooth mixture, continuous in ``e`` and differentiable without a straight-through estimator.

The temperature has a unit (``temperature_unit``). ``"absolute"`` divides the squared distances as they are, so
``T`` is a fixed squared distance on the sphere; when the encoder outputs and codes gather in a small cap (mean
squared distance between codes 0.12 on KeyToDoor pixels and 0.004 on TwoLinkReach, against 2 for codes spread
evenly over the sphere) a fixed ``T`` is huge against every distance, the weights stay near uniform and ``z`` can
become constant. ``"codes"`` divides them by the codebook's current mean squared distance between codes
(:meth:`GMMVQVAE.code_distance`, detached), so ``T`` is measured in units of the typical distance between codes
and cannot grow by the codes bunching: the weights depend only on the geometry of outputs and codes relative to
each other, not on their scale. The mean is a global scale, dominated by the farthest codes: trained codes gather
in clusters whose nearest-neighbour spacing can be a hundred to a thousand times below it (TwoLinkReach pixels),
so even in this unit T = 0.3 spreads the weights over many neighbouring codes; T = 0.05, or annealing down to it,
keeps ``z`` moving there (``benchmarks/world_vision_compare.py`` measures both units).

Same interface as :class:`repgym.worlds.vae.VAE` (``encode``, ``decode``, ``loss``, ``config``) plus the VQ-VAE's
``codes``/``embed``. ``discrete`` is True only at temperature 0, where the memory model can predict codes with
its categorical head; above it the latent is continuous and M's Gaussian mixture models it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

from repgym.worlds.vqvae import VQVAE

TEMPERATURE_UNITS = ("absolute", "codes")


def mean_squared_distance(vectors: torch.Tensor) -> torch.Tensor:
    """Mean squared distance between two distinct rows of ``vectors`` ``(n, d)`` (float64, detached; NaN for fewer
    than two rows), in O(n d): the sum over ordered pairs of ``||v_i - v_j||^2`` is ``2n sum ||v||^2 - 2 ||sum v||^2``
    (the diagonal adds 0)."""
    v = vectors.detach().double()
    n = v.shape[0]
    if n < 2:
        return torch.tensor(float("nan"), dtype=torch.float64)
    total = 2 * n * v.pow(2).sum() - 2 * v.sum(0).pow(2).sum()
    return (total / (n * (n - 1))).clamp(min=0.0)


class GMMVQVAE(VQVAE):
    """VQ-VAE whose latent is a temperature-controlled soft mixture of codebook entries.

    Args:
        codebook_size, code_dim, channels, commitment, grid: as :class:`repgym.worlds.vqvae.VQVAE`.
        temperature: the softmax temperature in units of squared code distance, used by ``encode`` and (after
            annealing) in training; ``0`` is hard nearest-code VQ.
        temperature_start: training temperature at step 0; it falls linearly to ``temperature`` over
            ``anneal_steps`` training batches (default: no annealing). Annealing from a soft mixture lets every
            code receive gradient early, then sharpens the latent towards codes.
        anneal_steps: training batches over which the temperature anneals (0: none).
        temperature_unit: ``"absolute"`` (the default, and the unit of checkpoints saved before the option
            existed): ``T`` in squared distance; ``"codes"``: ``T`` in units of the codebook's current mean squared
            distance between codes (see the module docstring). ``T = 0`` is nearest-code VQ in either unit.
        spherical: put encoder outputs and codes on the unit sphere before measuring distances (squared distances
            then lie in [0, 4], so the model cannot shrink its scale below the temperature). ``False`` is the plain
            VQ-VAE geometry, whose loss this model then equals exactly at temperature 0.

    Loss: mean squared error per pixel + ``||sg(z_e) - c_n||^2 + commitment * ||z_e - sg(c_n)||^2`` with ``c_n``
    the *nearest* code of each encoder output, at every temperature: the VQ-VAE's codebook and commitment terms
    (k-means updates), so at temperature 0 the loss is exactly the VQ-VAE's. The temperature acts on the latent
    only: above 0 the decoder reads the soft mixture and its gradients flow through the softmax; at 0 they pass
    straight through to the encoder as in the VQ-VAE. Dead codes are restarted as in the VQ-VAE.

    Why hard assignments in the codebook terms: the soft alternative, ``E_w ||z_e - c||^2`` under the
    responsibilities (the M-step of a Gaussian-mixture fit), collapses. Early in training the encoder outputs sit
    close together, the responsibilities are near uniform, and a uniform M-step pulls every code to the mean of all
    outputs while the commitment term pulls every output to the mean of the codes; the distances become equal,
    the weights stay uniform (entropy ln K) and z is constant. That was measured on KeyToDoor pixels annealed from
    temperature 1, with and without ``spherical``; nearest-code updates keep the codes apart at any temperature
    (``tests/worlds/test_gmmvq_latent.py`` checks it).
    """

    kind = "gmmvq"

    def __init__(
        self,
        codebook_size: int = 64,
        code_dim: int = 8,
        channels: int = 32,
        commitment: float = 0.25,
        grid: int = 4,
        temperature: float = 1.0,
        temperature_start: float | None = None,
        anneal_steps: int = 0,
        spherical: bool = True,
        temperature_unit: str = "absolute",
    ) -> None:
        super().__init__(codebook_size, code_dim, channels, commitment, grid)
        if not temperature >= 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if temperature_start is not None and not temperature_start >= 0:
            raise ValueError(f"temperature_start must be >= 0, got {temperature_start}")
        if anneal_steps < 0:
            raise ValueError(f"anneal_steps must be >= 0, got {anneal_steps}")
        if temperature_unit not in TEMPERATURE_UNITS:
            raise ValueError(f"temperature_unit must be one of {TEMPERATURE_UNITS}, got {temperature_unit!r}")
        self.temperature = float(temperature)
        self.temperature_unit = temperature_unit
        self.temperature_start = None if temperature_start is None else float(temperature_start)
        self.anneal_steps = int(anneal_steps)
        self.spherical = bool(spherical)
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))  # training batches seen (for annealing)

    @property
    def discrete(self) -> bool:  # type: ignore[override]
        """True at temperature 0, where ``encode`` is exactly ``embed(codes)``."""
        return self.temperature == 0

    @property
    def config(self) -> dict[str, Any]:
        config = {**super().config, "kind": self.kind, "temperature": self.temperature,
                  "temperature_start": self.temperature_start, "anneal_steps": self.anneal_steps,
                  "spherical": self.spherical}  # fmt: skip
        if self.temperature_unit != "absolute":  # absolute: the configs saved before the option, unchanged, so
            config["temperature_unit"] = self.temperature_unit  # their checkpoints load and resume as they were
        return config

    def training_temperature(self) -> float:
        """The temperature of the next training batch: ``temperature_start`` annealed linearly to ``temperature``."""
        if self.temperature_start is None or self.anneal_steps == 0:
            return self.temperature
        left = max(0.0, 1.0 - int(self.steps) / self.anneal_steps)
        return self.temperature + (self.temperature_start - self.temperature) * left

    def book(self) -> torch.Tensor:
        """The codebook ``(K, code_dim)`` as the latent uses it (unit rows when ``spherical``)."""
        return F.normalize(self.codebook.weight, dim=1) if self.spherical else self.codebook.weight

    @torch.no_grad()
    def code_distance(self) -> float:
        """Mean squared distance between two distinct codebook entries of :meth:`book` (2 for unit codes spread
        evenly over the sphere; near 0 when they bunch)."""
        return float(self._code_distance())

    def _code_distance(self) -> torch.Tensor:
        return mean_squared_distance(self.book())

    def temperature_scale(self) -> torch.Tensor:
        """The squared distance that one unit of temperature stands for: 1 in the ``"absolute"`` unit, the mean
        squared distance between codes (detached, never below 1e-12) in the ``"codes"`` unit."""
        if self.temperature_unit == "absolute":
            return torch.ones((), dtype=self.codebook.weight.dtype)
        return self._code_distance().clamp(min=1e-12).to(self.codebook.weight.dtype)

    def _outputs(self, z_e: torch.Tensor) -> torch.Tensor:
        """Encoder outputs ``(B, code_dim, g, g)`` as compared with the codes (unit vectors when ``spherical``)."""
        return F.normalize(z_e, dim=1) if self.spherical else z_e

    def _distances(self, z_e: torch.Tensor) -> torch.Tensor:
        """Squared distances ``(B * P, K)`` of encoder outputs ``(B, code_dim, g, g)`` to every codebook entry."""
        flat = self._outputs(z_e).permute(0, 2, 3, 1).reshape(-1, self.code_dim)
        book = self.book()
        return flat.pow(2).sum(1, keepdim=True) - 2 * flat @ book.T + book.pow(2).sum(1)  # as VQVAE._nearest

    def _nearest(self, z_e: torch.Tensor) -> torch.Tensor:
        return self._distances(z_e).argmin(1).view(z_e.shape[0], self.positions)

    def embed(self, codes: torch.Tensor) -> torch.Tensor:
        e = self.book()[codes]  # (B, P, D)
        return e.permute(0, 2, 1).reshape(codes.shape[0], self.latent_dim)

    def assignments(self, z_e: torch.Tensor, temperature: float) -> torch.Tensor:
        """Responsibilities ``(B, P, K)`` of the codebook entries for encoder outputs ``(B, code_dim, g, g)``
        (one-hot on the nearest code at temperature 0); ``temperature`` is in the model's ``temperature_unit``."""
        dist = self._distances(z_e)
        if temperature == 0:
            w = F.one_hot(dist.argmin(1), self.codebook_size).to(dist.dtype)
        else:
            absolute = self.temperature_unit == "absolute"  # dividing by the float itself, as before the option
            w = F.softmax(-dist / (temperature if absolute else temperature * self.temperature_scale()), dim=1)
        return w.view(z_e.shape[0], self.positions, self.codebook_size)

    def mix(self, weights: torch.Tensor) -> torch.Tensor:
        """``(B, latent_dim)`` latent ``sum_k w_k c_k`` of responsibilities ``(B, P, K)``, laid out like ``embed``."""
        z = weights @ self.book()  # (B, P, D)
        return z.permute(0, 2, 1).reshape(weights.shape[0], self.latent_dim)

    def soft_latent(self, x: torch.Tensor, temperature: float | None = None) -> torch.Tensor:
        """``(B, latent_dim)`` mixture latent of frames ``x`` at ``temperature`` (default: the model's)."""
        t = self.temperature if temperature is None else float(temperature)
        if t < 0:
            raise ValueError(f"temperature must be >= 0, got {t}")
        z_e = self.encoder(x)
        if t == 0:  # exactly the VQ-VAE latent (no 0 * c_k sums that could round)
            return self.embed(self._nearest(z_e))
        return self.mix(self.assignments(z_e, t))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.z(self.soft_latent(x))

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        t = self.training_temperature() if self.training else self.temperature
        z_e = self.encoder(x)
        outputs = self._outputs(z_e)
        flat = outputs.permute(0, 2, 3, 1).reshape(-1, self.code_dim)
        soft = self.assignments(z_e, t)
        w = soft.reshape(-1, self.codebook_size).detach()
        book = self.book()
        codes = self._nearest(z_e)  # (B, P); the codebook and commitment terms use these (see the class docstring)
        nearest = book[codes.flatten()]  # (B*P, D)
        codebook = (flat.detach() - nearest).pow(2).mean()
        commit = (flat - nearest.detach()).pow(2).mean()
        if t == 0:
            z_q = self.embed(codes).view_as(z_e)
            z = (outputs + (z_q - outputs).detach()).flatten(1)  # straight-through, as in the VQ-VAE
        else:
            z = self.mix(soft)
        recon = F.mse_loss(self.decode(self.z(z)), x)
        total = recon + codebook + self.commitment * commit
        if self.training:
            self._restart_dead_codes(z_e.detach(), codes)
            self.steps += 1
        entropy = -(w * w.clamp(min=1e-12).log()).sum(1).mean()
        return total, {"loss": total.item(), "recon": recon.item(), "vq": codebook.item(),
                       "codes_used": float(codes.unique().numel()), "entropy": entropy.item(),
                       "temperature": t, "code_distance": self.code_distance()}  # fmt: skip
