"""Learned world models (Ha & Schmidhuber's World Models): V encodes frames (:class:`VAE`, :class:`VQVAE`, the
mixture-VQ :class:`GMMVQVAE`, SCAN's feature-space :class:`FeatureVAE`), M predicts the next latent, reward and done
(:class:`MDNRNN`), and :class:`DreamEnv` runs V + M as a Gymnasium env.

Pipeline: :func:`repgym.worlds.data.collect` -> :func:`repgym.worlds.training.train_vision` ->
:func:`repgym.worlds.training.train_memory` -> a controller (:mod:`repgym.agents.world_model`).
"""

from repgym.worlds.dae import DenoisingAutoencoder, FeatureVAE
from repgym.worlds.dream import DreamEnv
from repgym.worlds.gmmvq import GMMVQVAE
from repgym.worlds.mdn_rnn import MDNRNN
from repgym.worlds.vae import VAE
from repgym.worlds.vqvae import VQVAE

__all__ = ["GMMVQVAE", "MDNRNN", "VAE", "VQVAE", "DenoisingAutoencoder", "DreamEnv", "FeatureVAE"]
