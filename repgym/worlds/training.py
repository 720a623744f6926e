"""Training and evaluation of V and M on collected episodes, resumable from checkpoints.

``train_vision`` fits a VAE / VQ-VAE on frames; ``encode_episodes`` turns episodes into latent sequences;
``train_memory`` fits the MDN-RNN on them. Both save a checkpoint after every epoch (model, optimiser, epoch,
metrics history) when given a folder, and continue from it when called again with more epochs.

The memory model is judged against the persistence baseline (:class:`PersistenceBaseline`): "the next latent is
the current one", as a Gaussian centred on ``z_t`` with a per-dimension variance fitted on the training data (or,
for codes, "the code stays" with the fitted probability of staying). M must beat it to have learned dynamics.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from repgym.worlds import checkpoint
from repgym.worlds.data import Episode
from repgym.worlds.mdn_rnn import LOG_SIGMA_MIN, LOG_SQRT_2PI, MDNRNN, action_encoder
from repgym.worlds.progress import progress
from repgym.worlds.vae import VAE, frames_to_tensor
from repgym.worlds.vqvae import VQVAE

Vision = VAE | VQVAE


@dataclass
class EncodedEpisode:
    """An episode in latent space: ``z (T+1, latent_dim)``, ``codes (T+1, positions)`` for a VQ-VAE (else None),
    ``actions (T, action_dim)`` features, ``rewards (T,)`` and ``dones (T,)`` (terminated, not truncated)."""

    z: torch.Tensor
    codes: torch.Tensor | None
    actions: torch.Tensor
    rewards: torch.Tensor
    dones: torch.Tensor


def stack_frames(episodes: Sequence[Episode]) -> np.ndarray:
    """All frames of ``episodes``, ``(N, 64, 64, 3) uint8``."""
    return np.concatenate([e.frames for e in episodes]) if episodes else np.zeros((0, 64, 64, 3), np.uint8)


@torch.no_grad()
def reconstruction_error(vision: Vision, frames: np.ndarray, batch_size: int = 256) -> float:
    """Mean squared error per pixel (pixel values in [0, 1]) of ``vision``'s reconstructions of ``frames``."""
    vision.eval()
    total, count = 0.0, 0
    for i in range(0, len(frames), batch_size):
        x = frames_to_tensor(frames[i : i + batch_size])
        total += torch.nn.functional.mse_loss(vision(x), x, reduction="sum").item()
        count += x.numel()
    return total / max(count, 1)


def train_vision(
    vision: Vision,
    frames: np.ndarray,
    val_frames: np.ndarray | None = None,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 1e-3,
    folder: str | os.PathLike | None = None,
    seed: int = 0,
    show_progress: bool = True,
    role: str = "vision",
) -> list[dict[str, float]]:
    """Fit ``vision`` on ``frames (N, 64, 64, 3) uint8`` for ``epochs`` epochs in total; returns the per-epoch
    history (train loss parts, ``val_recon_mse`` per pixel). With ``folder``: resume from its checkpoint and save
    one after every epoch. Any frame model with ``loss``, ``config``, ``kind`` and ``forward`` (a reconstruction)
    trains the same way: ``role="dae"`` fits the feature-space VAE's denoising autoencoder."""
    opt = torch.optim.Adam([p for p in vision.parameters() if p.requires_grad], lr=lr)
    history, start = _resume(folder, role, vision, opt)
    n = len(frames)
    if n == 0:
        raise ValueError("no frames to train the vision model on")
    with progress(show_progress) as bar:
        task = bar.add_task(f"train {vision.kind}", total=epochs, completed=start, info="")
        for epoch in range(start, epochs):
            vision.train()
            order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch)).numpy()
            sums: dict[str, float] = {}
            batches = 0
            for i in range(0, n, batch_size):
                loss, parts = vision.loss(frames_to_tensor(frames[np.sort(order[i : i + batch_size])]))
                opt.zero_grad()
                loss.backward()
                opt.step()
                for k, v in parts.items():
                    sums[k] = sums.get(k, 0.0) + v
                batches += 1
            row = {"epoch": epoch + 1, **{f"train_{k}": v / batches for k, v in sums.items()}}
            if val_frames is not None and len(val_frames):
                row["val_recon_mse"] = reconstruction_error(vision, val_frames)
            history.append(row)
            if folder is not None:
                tensors = {"model": vision.state_dict(), "optimizer": opt.state_dict()}
                checkpoint.save(folder, role, vision.config, tensors, epoch=epoch + 1, history=history, seed=seed)
            bar.update(task, advance=1, info=_fmt(row))
    vision.eval()
    return history


@torch.no_grad()
def encode_episodes(
    vision: Vision, episodes: Sequence[Episode], action_space: spaces.Space, batch_size: int = 256
) -> list[EncodedEpisode]:
    """Each episode's frames through ``vision.encode`` (and ``codes`` for a VQ-VAE), actions as M's features."""
    vision.eval()
    encode_action = action_encoder(action_space)
    out = []
    for episode in episodes:
        zs, codes = [], []
        for i in range(0, len(episode.frames), batch_size):
            x = frames_to_tensor(episode.frames[i : i + batch_size])
            if vision.discrete:
                c = vision.codes(x)
                codes.append(c)
                zs.append(vision.embed(c))
            else:
                zs.append(vision.encode(x))
        rewards = torch.as_tensor(episode.rewards, dtype=torch.float32)
        dones = torch.as_tensor(episode.terminated, dtype=torch.float32)
        actions = encode_action(episode.actions)
        out.append(EncodedEpisode(torch.cat(zs), torch.cat(codes) if codes else None, actions, rewards, dones))
    return out


def sequence_windows(episodes: Sequence[EncodedEpisode], seq_len: int) -> dict[str, torch.Tensor]:
    """Episodes cut into ``seq_len``-step windows, zero-padded: ``z (N, L, D)``, ``actions (N, L, A)``, ``target``
    (next z, or next codes), ``rewards``, ``dones``, ``mask (N, L)`` (1 on real steps), and the current ``codes``
    for a VQ-VAE."""
    if seq_len < 1:
        raise ValueError(f"seq_len must be >= 1, got {seq_len}")
    rows: dict[str, list[torch.Tensor]] = {}
    for e in episodes:
        target = e.codes[1:] if e.codes is not None else e.z[1:]
        for s in range(0, len(e.actions), seq_len):
            t = slice(s, s + seq_len)
            length = len(e.actions[t])
            parts = {"z": e.z[:-1][t], "actions": e.actions[t], "target": target[t], "rewards": e.rewards[t],
                     "dones": e.dones[t], "mask": torch.ones(length)}  # fmt: skip
            if e.codes is not None:
                parts["codes"] = e.codes[:-1][t]
            for key, value in parts.items():
                pad = torch.zeros((seq_len - length, *value.shape[1:]), dtype=value.dtype)
                rows.setdefault(key, []).append(torch.cat([value, pad]))
    if not rows:
        raise ValueError("no steps to train the memory model on (every episode is empty)")
    return {k: torch.stack(v) for k, v in rows.items()}


class PersistenceBaseline:
    """ "The next latent is the current one", fitted on training episodes.

    Gaussian latents: ``N(z_t, diag(var))`` with ``var_d`` the mean squared one-step change of dimension d (at
    least M's smallest variance, so neither model gets unbounded likelihood on a latent that never moves).
    Codes: the code at each position stays with probability ``p_stay`` (the fitted fraction), else is uniform
    over the other ``codebook_size - 1`` codes.
    """

    def __init__(self, episodes: Sequence[EncodedEpisode], codebook_size: int | None = None) -> None:
        self.codebook_size = codebook_size
        if codebook_size is None:
            diffs = torch.cat([e.z[1:] - e.z[:-1] for e in episodes])
            self.var = diffs.pow(2).mean(0).clamp(min=math.exp(2 * LOG_SIGMA_MIN))  # M's floor too
        else:
            same = torch.cat([(e.codes[1:] == e.codes[:-1]).float().flatten() for e in episodes])
            self.p_stay = float(same.mean().clamp(1e-4, 1 - 1e-4))

    def nll(self, episodes: Sequence[EncodedEpisode]) -> float:
        """Mean per-step negative log-likelihood (nats, summed over dimensions or positions) of the next latent."""
        if self.codebook_size is None:
            d = torch.cat([e.z[1:] - e.z[:-1] for e in episodes])
            per_step = (0.5 * d.pow(2) / self.var + 0.5 * self.var.log() + LOG_SQRT_2PI).sum(1)
            return float(per_step.mean())
        same = torch.cat([(e.codes[1:] == e.codes[:-1]).float() for e in episodes])
        p_other = (1 - self.p_stay) / (self.codebook_size - 1)
        logp = same * math.log(self.p_stay) + (1 - same) * math.log(p_other)
        return float(-logp.sum(1).mean())


@torch.no_grad()
def memory_metrics(memory: MDNRNN, episodes: Sequence[EncodedEpisode]) -> dict[str, float]:
    """Per-step next-latent NLL, reward MSE and done BCE of ``memory`` on whole ``episodes`` (LSTM from zero state,
    one window per episode: as long as the longest, so none is cut and padding stays that of the batch)."""
    memory.eval()
    w = sequence_windows(episodes, max(1, max(len(e.actions) for e in episodes)))
    out = memory(w["z"], w["actions"], codes=w.get("codes"))
    _, parts = memory.loss(out, w["target"], w["rewards"], w["dones"], w["mask"])
    return {"nll": parts["nll"], "reward_mse": parts["reward_mse"], "done_bce": parts["done_bce"]}


def train_memory(
    memory: MDNRNN,
    episodes: Sequence[EncodedEpisode],
    val_episodes: Sequence[EncodedEpisode] | None = None,
    epochs: int = 20,
    seq_len: int = 32,
    batch_size: int = 32,
    lr: float = 1e-3,
    folder: str | os.PathLike | None = None,
    seed: int = 0,
    show_progress: bool = True,
) -> list[dict[str, float]]:
    """Fit ``memory`` on latent sequences for ``epochs`` epochs in total (teacher forcing on ``seq_len`` windows);
    returns the per-epoch history with validation NLL next to the persistence baseline's. With ``folder``: resume
    from its checkpoint and save one after every epoch."""
    opt = torch.optim.Adam(memory.parameters(), lr=lr)
    history, start = _resume(folder, "memory", memory, opt)
    windows = sequence_windows(episodes, seq_len)
    baseline = PersistenceBaseline(episodes, memory.codebook_size)
    baseline_nll = baseline.nll(val_episodes) if val_episodes else None
    n = windows["z"].shape[0]
    with progress(show_progress) as bar:
        task = bar.add_task("train MDN-RNN", total=epochs, completed=start, info="")
        for epoch in range(start, epochs):
            memory.train()
            order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch))
            sums: dict[str, float] = {}
            batches = 0
            for i in range(0, n, batch_size):
                b = {k: v[order[i : i + batch_size]] for k, v in windows.items()}
                loss, parts = memory.loss(
                    memory(b["z"], b["actions"], codes=b.get("codes")), b["target"], b["rewards"], b["dones"], b["mask"]
                )
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(memory.parameters(), 1.0)
                opt.step()
                for k, v in parts.items():
                    sums[k] = sums.get(k, 0.0) + v
                batches += 1
            row: dict[str, float] = {"epoch": epoch + 1, **{f"train_{k}": v / batches for k, v in sums.items()}}
            if val_episodes:
                row.update({f"val_{k}": v for k, v in memory_metrics(memory, val_episodes).items()})
                row["val_baseline_nll"] = baseline_nll
            history.append(row)
            if folder is not None:
                tensors = {"model": memory.state_dict(), "optimizer": opt.state_dict()}
                checkpoint.save(folder, "memory", memory.config, tensors, epoch=epoch + 1, history=history, seed=seed)
            bar.update(task, advance=1, info=_fmt(row))
    memory.eval()
    return history


def _resume(
    folder: str | os.PathLike | None, role: str, model: torch.nn.Module, opt: torch.optim.Optimizer
) -> tuple[list[dict[str, Any]], int]:
    """Load model + optimiser state from ``folder`` when it holds a checkpoint; ``(history, epochs done)``. The
    learning rate stays the one ``opt`` was built with (the saved one would silently override a new ``--lr``)."""
    if folder is None or not checkpoint.exists(folder):
        return [], 0
    meta, tensors = checkpoint.load(folder, role)
    own = model.config
    if meta["config"] != own:
        raise ValueError(f"{Path(folder)} holds a {role} model with config {meta['config']}, not {own}; "
                         "use another folder or the same settings")  # fmt: skip
    model.load_state_dict(tensors["model"])
    lrs = [group["lr"] for group in opt.param_groups]
    opt.load_state_dict(tensors["optimizer"])
    for group, lr in zip(opt.param_groups, lrs, strict=True):
        group["lr"] = lr
    return list(meta.get("history", [])), int(meta.get("epoch", 0))


def _fmt(row: dict[str, Any]) -> str:
    keys = [k for k in ("train_loss", "val_recon_mse", "val_nll", "val_baseline_nll") if k in row]
    return "  ".join(f"{k}={row[k]:.4g}" for k in keys)
