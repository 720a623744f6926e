"""Figures for world models: originals next to V's reconstructions (matplotlib, PNG)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from repgym.worlds.vae import VAE, frames_to_tensor
from repgym.worlds.vqvae import VQVAE


@torch.no_grad()
def save_reconstructions(
    vision: VAE | VQVAE, frames: np.ndarray, path: str | os.PathLike, n: int = 8, title: str | None = None
) -> Path:
    """A PNG with ``n`` frames (evenly spread over ``frames (N, 64, 64, 3) uint8``) on the top row and their
    reconstructions below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    picks = np.linspace(0, len(frames) - 1, min(n, len(frames))).round().astype(int)
    originals = frames[picks]
    recon = vision.eval()(frames_to_tensor(originals)).permute(0, 2, 3, 1).clamp(0, 1).numpy()
    fig, axes = plt.subplots(2, len(picks), figsize=(1.4 * len(picks), 3.1), squeeze=False)
    for col in range(len(picks)):
        for row, image in enumerate((originals[col], recon[col])):
            axes[row, col].imshow(image)
            axes[row, col].set_xticks([])
            axes[row, col].set_yticks([])
    axes[0, 0].set_ylabel("original")
    axes[1, 0].set_ylabel(vision.kind)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
