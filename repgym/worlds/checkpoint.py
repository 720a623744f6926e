"""Safe checkpoints for world-model parts (V, M): a folder with ``model.json`` (kind, constructor config, training
progress, metrics) and ``weights.pt`` (state dicts only, read with ``torch.load(weights_only=True)``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

import repgym
from repgym.atomic_files import write_files_atomically
from repgym.worlds.dae import DenoisingAutoencoder, FeatureVAE
from repgym.worlds.gmmvq import GMMVQVAE
from repgym.worlds.mdn_rnn import MDNRNN
from repgym.worlds.vae import VAE
from repgym.worlds.vqvae import VQVAE

FORMAT = "repgym-world"
META_FILE = "model.json"
WEIGHTS_FILE = "weights.pt"
VISION_KINDS: dict[str, type[nn.Module]] = {"vae": VAE, "vqvae": VQVAE, "gmmvq": GMMVQVAE, "feature-vae": FeatureVAE}


def build_vision(config: dict[str, Any]) -> VAE | VQVAE:
    """A vision model from its ``config`` (``kind`` names the class: one of :data:`VISION_KINDS`)."""
    config = dict(config)
    kind = config.pop("kind", "vae")
    if kind not in VISION_KINDS:
        raise ValueError(f"unknown vision model {kind!r}; expected one of {sorted(VISION_KINDS)}")
    return VISION_KINDS[kind](**config)


def build_memory(config: dict[str, Any]) -> MDNRNN:
    return MDNRNN(**config)


def save(folder: str | os.PathLike, role: str, config: dict[str, Any], tensors: dict[str, Any], **meta: Any) -> Path:
    """Write ``model.json`` + ``weights.pt`` atomically; ``role`` is ``"vision"``, ``"memory"``, ``"controller"`` or
    ``"dae"`` (the feature-space VAE's denoising autoencoder)."""
    full = {"format": FORMAT, "role": role, "repgym_version": repgym.__version__, "config": config, **meta}
    return write_files_atomically(folder, {
        WEIGHTS_FILE: lambda f: torch.save(tensors, f),
        META_FILE: lambda f: f.write(json.dumps(full, indent=2).encode()),
    })  # fmt: skip


def exists(folder: str | os.PathLike) -> bool:
    return (Path(folder) / META_FILE).is_file()


def load(folder: str | os.PathLike, role: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(meta, tensors)``; ``FileNotFoundError``/``ValueError`` naming the folder when it is not a checkpoint of
    ``role``."""
    path = Path(folder)
    if not (path / META_FILE).is_file():
        raise FileNotFoundError(f"{path} holds no world-model checkpoint ({META_FILE} not found)")
    meta = json.loads((path / META_FILE).read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path / META_FILE} is not a repgym world-model checkpoint")
    if role is not None and meta.get("role") != role:
        raise ValueError(f"{path} holds a {meta.get('role')} checkpoint, expected {role}")
    tensors = torch.load(path / WEIGHTS_FILE, map_location="cpu", weights_only=True)
    return meta, tensors


def load_vision(folder: str | os.PathLike) -> tuple[VAE | VQVAE, dict[str, Any]]:
    """The trained vision model of a checkpoint folder (in eval mode) and its meta."""
    meta, tensors = load(folder, "vision")
    model = build_vision(meta["config"])
    model.load_state_dict(tensors["model"])
    return model.eval(), meta


def load_dae(folder: str | os.PathLike) -> tuple[DenoisingAutoencoder, dict[str, Any]]:
    """The trained denoising autoencoder (SCAN's J) of a checkpoint folder (in eval mode) and its meta."""
    meta, tensors = load(folder, "dae")
    config = dict(meta["config"])
    config.pop("kind", None)
    model = DenoisingAutoencoder(**config)
    model.load_state_dict(tensors["model"])
    return model.eval(), meta


def load_memory(folder: str | os.PathLike) -> tuple[MDNRNN, dict[str, Any]]:
    """The trained memory model of a checkpoint folder (in eval mode) and its meta."""
    meta, tensors = load(folder, "memory")
    model = build_memory(meta["config"])
    model.load_state_dict(tensors["model"])
    return model.eval(), meta
