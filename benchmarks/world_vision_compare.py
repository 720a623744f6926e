"""The world-model vision comparison: several V models on the same frames, judged three ways.

For one env (pixels), collect random-policy episodes (or reuse ``RUN/data``), split them by episode into training
and held-out episodes, and train every vision model of ``--models`` with the same epochs, batch size and seed.
Each model is reported with

- its held-out reconstruction error (MSE per pixel, pixels in [0, 1]) next to the mean-frame baseline (the mean
  training frame as the reconstruction of every held-out frame);
- linear probes of ground-truth factors from z (``vision.encode``: the VAE's posterior mean, the VQ-VAE's code
  vectors, the mixture latent's posterior-mean code) on every episode's frames, 5 folds by episode
  (:func:`repgym.analysis.probes.probe`: ridge regression; a categorical factor is regressed onto one-hot
  indicators and scored by the argmax accuracy against the majority rate, a continuous one by its held-out R²);
- M's held-out next-latent NLL (nats per step) after a short MDN-RNN fit, next to the persistence baseline
  ("the next latent is the current one", fitted on the training episodes). NLLs of different V models live in
  different latent spaces: compare each M with its own baseline, not across models.

Model specs: ``vae``; ``vae-features`` (SCAN's beta-VAE_DAE: reconstruction in the features of a denoising
autoencoder J trained first on the same frames, shared by every feature model of the run) and
``vae-features:W`` (plus W times the pixel error); ``vqvae``; ``gmmvq:T`` (the Gaussian-mixture VQ latent at
temperature T, in squared distance on the unit sphere) and ``gmmvq:T0>T`` (annealed linearly from T0 to T over
the first ``--anneal-epochs`` epochs); ``gmmvq:Tr`` and ``gmmvq:T0r>Tr`` measure the temperatures relative to the
codes instead (``temperature_unit="codes"``: the squared distances are divided by the codebook's current mean
squared distance between codes, so T = 0.3r is 0.3 of the typical distance between codes however close together
they gather). Codebook models also report the mean squared distance between their codes (``code_distance``; 2
for unit codes spread evenly over the sphere) and, for the mixture latent, the mean entropy of its weights.

Probe specs: ``FACTOR`` (continuous), ``FACTOR:cat`` (categorical), ``FACTOR[i]`` (column i of a vector factor),
with an optional condition ``@FACTOR2<op>VALUE`` (op one of >= <= == != > <) restricting the frames probed, e.g.
``key_held:cat@room>=1`` ("key held", after the key room). Frames where the factor is NaN are left out.

With ``--controller-generations G`` (off by default) every model is also judged by what it is for in the
World Models pipeline: a linear controller on ``[z, h]`` (V's z and M's hidden state) is trained by CMA-ES in the
real env (``--controller-popsize`` candidates a generation, each scored on ``--controller-episodes-per-candidate``
episodes, the same seeds for all candidates of a generation; ``--controller-select mean`` keeps the search's
distribution mean instead of its luckiest candidate) and then played greedily on ``--controller-episodes``
real episodes from the run protocol's seeds (:data:`repgym.runs.DEFAULT_FIRST_SEED` + i), next to uniformly random
actions and every constant action (discrete actions: what a controller that ignores its input can reach) on the same
episodes: ``controller_return`` (mean, std, success rate where the env reports it, the env
steps the search spent, CPU seconds), with ``inputs_frozen``: the same controller frozen at the mean of the
features it saw (the constant action it falls back on if ``[z, h]`` did not vary, for continuous actions too) on
the same episodes, so what reading its input adds shows as the difference. ``--dream-tau T`` also trains one in
M's dream at temperature T (``--dream-generations``) and plays it in the dream and in the real env
(``dream_return``). The controllers live
in ``models/<model>/controller/`` and ``models/<model>/dream-T/`` (world-model agent checkpoints, loadable with
``load_agent``, saved after every generation).

Everything lands under ``--run``: ``data/``, ``dae/``, ``models/<model>/{vision,memory}/``, ``results.json``
(written after every model; a rerun skips the finished ones and resumes a half-trained one from its checkpoint,
controllers too: asking for more generations continues a finished controller's search) and ``table.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import repgym.envs  # noqa: F401  (registers the ids)
from repgym.agents import load_agent
from repgym.agents.base import META_FILE
from repgym.agents.world_model.agent import WorldModelAgent
from repgym.agents.world_model.rollout import dream_episodes, real_episodes
from repgym.analysis.probes import probe
from repgym.cli.common import parse_settings
from repgym.runs import DEFAULT_FIRST_SEED, EvalProtocol, EvalResult, play
from repgym.worlds import checkpoint
from repgym.worlds.dae import DenoisingAutoencoder
from repgym.worlds.data import Episode, collect, load_episodes, read_manifest, split_episodes
from repgym.worlds.dream import DreamEnv
from repgym.worlds.gmmvq import mean_squared_distance
from repgym.worlds.mdn_rnn import action_size
from repgym.worlds.training import (
    PersistenceBaseline,
    Vision,
    encode_episodes,
    reconstruction_error,
    stack_frames,
    train_memory,
    train_vision,
)
from repgym.worlds.vae import frames_to_tensor

EPILOG = """\
examples:
  python benchmarks/world_vision_compare.py --env repgym/KeyToDoor-v0 --set delay=10 --run runs/worldcmp/k2d
  python benchmarks/world_vision_compare.py --env repgym/TwoLinkReach-v0 --episodes 50 --run runs/worldcmp/reach
  python benchmarks/world_vision_compare.py --env repgym/TwoLinkReach-v0 --episodes 200 --max-steps 50 \\
      --run runs/worldcmp/reach-short --models vae vqvae gmmvq:0.3 "gmmvq:0.5>0.05"
  python benchmarks/world_vision_compare.py --run runs/worldcmp/k2d --models vae vqvae --probe "key_held:cat"
  python benchmarks/world_vision_compare.py --run runs/worldcmp/reach --models gmmvq:0.05r "gmmvq:0.5r>0.05r"
  (gmmvq:Tr: T in units of the codes' mean squared distance to each other)
  (a second call with the same --run skips finished models; add models to --models to extend the table)
  python benchmarks/world_vision_compare.py --run runs/worldcmp/k2d --set delay=10 --models vae vqvae gmmvq:0.3 \\
      --controller-generations 10 --controller-popsize 8 --controller-episodes 30
  (the controller stage on the finished models: CMA-ES in the real env, then 30 greedy real episodes)
  python benchmarks/world_vision_compare.py --run runs/worldcmp/k2d --set delay=10 --models vae \\
      --controller-generations 10 --dream-tau 1.0 --dream-generations 20
default probes: KeyToDoor key_held:cat, key_held:cat@room>=1, position[0], position[1];
TwoLinkReach / ThreeLinkReach hand_x, hand_z, target_x, target_z.
"""
DEFAULT_PROBES = {
    "KeyToDoor": ["key_held:cat", "key_held:cat@room>=1", "position[0]", "position[1]"],
    "LinkReach": ["hand_x", "hand_z", "target_x", "target_z"],
}
MODEL_KINDS = ("vae", "vae-features", "vqvae", "gmmvq")
DEFAULT_MODELS = ("vae", "vae-features", "vae-features:1", "vqvae", "gmmvq:0.3", "gmmvq:0.5>0.05")
# settings that change what a finished model's numbers mean; a rerun with other values is refused
PROTOCOL_KEYS = ("env", "set", "episodes", "max_steps", "seed", "val_fraction", "epochs", "batch_size", "lr",
                 "channels", "latent_dim", "codebook_size", "code_dim", "anneal_epochs", "dae_epochs",
                 "dae_channels", "rnn_epochs", "hidden", "folds")  # fmt: skip


@dataclass(frozen=True)
class ModelSpec:
    """One vision model of the comparison: ``kind`` (one of :data:`MODEL_KINDS`), ``pixel_weight`` for a feature
    VAE, ``temperature`` (and ``temperature_start`` when annealed) for the mixture latent."""

    name: str
    kind: str
    pixel_weight: float = 0.0
    temperature: float | None = None
    temperature_start: float | None = None
    temperature_unit: str = "absolute"

    @property
    def folder(self) -> str:
        """A file-system-safe name: ``gmmvq:0.5>0.05`` -> ``gmmvq-0.5-0.05``."""
        return re.sub(r"[^A-Za-z0-9.]+", "-", self.name).strip("-")


def parse_model(text: str) -> ModelSpec:
    """``vae``, ``vae-features[:W]``, ``vqvae``, ``gmmvq:T[r]`` or ``gmmvq:T0[r]>T[r]`` as a :class:`ModelSpec`
    (``r``: the temperatures in units of the codes' mean squared distance, on every temperature of the spec)."""
    kind, _, arg = text.partition(":")
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model {text!r}; expected one of {', '.join(MODEL_KINDS)} (gmmvq:T, gmmvq:T0>T, "
                         "gmmvq:Tr, gmmvq:T0r>Tr)")  # fmt: skip
    try:
        if kind == "vae-features":
            return ModelSpec(text, kind, pixel_weight=float(arg) if arg else 0.0)
        if kind == "gmmvq":
            parts = arg.split(">")
            if not arg or len(parts) > 2:
                raise ValueError
            relative = {p.endswith("r") for p in parts}
            if len(relative) != 1:  # gmmvq:0.5>0.05r: which unit did the start mean?
                raise ValueError
            unit = "codes" if relative.pop() else "absolute"
            values = [float(p.removesuffix("r")) for p in parts]
            start = values[0] if len(values) == 2 else None
            return ModelSpec(text, kind, temperature=values[-1], temperature_start=start, temperature_unit=unit)
    except ValueError:
        raise ValueError(f"bad model spec {text!r}: expected vae-features[:W], gmmvq:T, gmmvq:T0>T, gmmvq:Tr or "
                         "gmmvq:T0r>Tr") from None  # fmt: skip
    if arg:
        raise ValueError(f"model {kind!r} takes no argument, got {text!r}")
    return ModelSpec(text, kind)


_PROBE = re.compile(
    r"^(?P<factor>\w+)(?:\[(?P<index>\d+)\])?(?P<cat>:cat)?"
    r"(?:@(?P<cond>\w+)(?:\[(?P<cindex>\d+)\])?(?P<op>>=|<=|==|!=|>|<)(?P<value>-?[0-9.]+))?$"
)
_OPS = {">=": np.greater_equal, "<=": np.less_equal, "==": np.equal, "!=": np.not_equal, ">": np.greater,
        "<": np.less}  # fmt: skip


@dataclass(frozen=True)
class ProbeSpec:
    """A probe target: ``factor`` (column ``index`` of a vector factor), ``categorical`` or continuous, on the
    frames where ``condition`` ``(factor, index, op, value)`` holds (all frames when None)."""

    label: str
    factor: str
    index: int | None
    categorical: bool
    condition: tuple[str, int | None, str, float] | None

    def values(self, states: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """``(values (n,), mask (n,) bool)`` from stacked per-frame states; the mask drops NaNs and the frames
        failing the condition."""
        y = _column(states, self.factor, self.index)
        mask = np.isfinite(y)
        if self.condition is not None:
            name, index, op, value = self.condition
            c = _column(states, name, index)
            mask &= np.isfinite(c) & _OPS[op](c, value)
        return y, mask


def _column(states: dict[str, np.ndarray], name: str, index: int | None) -> np.ndarray:
    if name not in states:
        raise ValueError(f"no ground-truth factor {name!r} in the episodes; they have {sorted(states)}")
    values = states[name]
    if values.ndim == 1:
        if index not in (None, 0):
            raise ValueError(f"factor {name!r} is a scalar; [{index}] is out of range")
        return values.astype(np.float64)
    if index is None or index >= values.shape[1]:
        raise ValueError(f"factor {name!r} has {values.shape[1]} columns; name one as {name}[i]")
    return values[:, index].astype(np.float64)


def parse_probe(text: str) -> ProbeSpec:
    """``FACTOR[i][:cat][@FACTOR2[j]<op>VALUE]`` as a :class:`ProbeSpec`."""
    m = _PROBE.match(text)
    if m is None:
        raise ValueError(f"bad probe spec {text!r}: expected FACTOR[i][:cat][@FACTOR2[j]<op>VALUE], "
                         "e.g. key_held:cat@room>=1")  # fmt: skip
    index = None if m["index"] is None else int(m["index"])
    condition = None
    if m["cond"] is not None:
        cindex = None if m["cindex"] is None else int(m["cindex"])
        condition = (m["cond"], cindex, m["op"], float(m["value"]))
    return ProbeSpec(text, m["factor"], index, m["cat"] is not None, condition)


def default_probes(env_id: str) -> list[str]:
    """The probe specs for ``env_id`` (:data:`DEFAULT_PROBES`); ``ValueError`` when there are none."""
    for key, specs in DEFAULT_PROBES.items():
        if key in env_id:
            return list(specs)
    raise ValueError(f"no default probes for {env_id}; give --probe FACTOR[:cat] (factors: info['state'] names)")


def episode_states(episodes: Sequence[Episode]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-frame ground truth of all ``episodes`` stacked ``{name: (n, ...)}`` and each frame's episode index."""
    names = [k for k in episodes[0].states if all(k in e.states for e in episodes)]
    states = {}
    for k in names:
        parts = [e.states[k] for e in episodes]
        if len({p.shape[1:] for p in parts}) == 1:
            states[k] = np.concatenate(parts)
    groups = np.concatenate([np.full(len(e.frames), i) for i, e in enumerate(episodes)])
    return states, groups


@torch.no_grad()
def latents(vision: Vision, frames: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """``(n, latent_dim)`` z of ``frames`` (``vision.encode``: what M and the controller read)."""
    vision.eval()
    parts = [vision.encode(frames_to_tensor(frames[i : i + batch_size])) for i in range(0, len(frames), batch_size)]
    return torch.cat(parts).numpy()


@torch.no_grad()
def code_stats(vision: Vision, frames: np.ndarray, batch_size: int = 256) -> dict[str, float]:
    """For a codebook model: the distinct nearest codes over ``frames``, the mean squared distance between two
    distinct codes (``code_distance``; over the codes the latent uses, unit vectors for the mixture latent) and
    between two distinct codes used on ``frames`` (``used_code_distance``), and for the mixture latent the mean
    entropy (nats) of the code responsibilities at its temperature (``max_entropy`` = ln K when they are uniform,
    the collapse; 0 when one-hot)."""
    entropies, codes = [], set()
    for i in range(0, len(frames), batch_size):
        x = frames_to_tensor(frames[i : i + batch_size])
        codes.update(vision.codes(x).flatten().tolist())
        if hasattr(vision, "assignments"):
            w = vision.assignments(vision.encoder(x), vision.temperature).clamp(min=1e-12)
            entropies.append(-(w * w.log()).sum(-1).flatten())
    book = vision.book() if hasattr(vision, "book") else vision.codebook.weight
    out: dict[str, float] = {"codes_used": len(codes), "codebook_size": vision.codebook_size,
                             "code_distance": float(mean_squared_distance(book)),
                             "used_code_distance": float(mean_squared_distance(book[sorted(codes)]))}  # fmt: skip
    if entropies:
        out.update(entropy=float(torch.cat(entropies).mean()), max_entropy=math.log(vision.codebook_size))
    return out


def build_model(
    spec: ModelSpec, args: argparse.Namespace, steps_per_epoch: int, dae: DenoisingAutoencoder | None
) -> Vision:
    """The untrained vision model of ``spec`` with the run's sizes (seeded by the caller)."""
    if spec.kind == "vae":
        return checkpoint.build_vision({"kind": "vae", "latent_dim": args.latent_dim, "channels": args.channels})
    if spec.kind == "vae-features":
        config = {"kind": "feature-vae", "latent_dim": args.latent_dim, "channels": args.channels,
                  "dae": dae.config, "pixel_weight": spec.pixel_weight}  # fmt: skip
        return checkpoint.build_vision(config).use_features(dae)
    vq = {"codebook_size": args.codebook_size, "code_dim": args.code_dim, "channels": args.channels}
    if spec.kind == "vqvae":
        return checkpoint.build_vision({"kind": "vqvae", **vq})
    anneal = {}
    if spec.temperature_start is not None:
        anneal = {"temperature_start": spec.temperature_start, "anneal_steps": args.anneal_epochs * steps_per_epoch}
    if spec.temperature_unit != "absolute":  # absolute: the config of the runs made before the option
        anneal["temperature_unit"] = spec.temperature_unit
    return checkpoint.build_vision({"kind": "gmmvq", **vq, "temperature": spec.temperature, **anneal})


def train_dae(args: argparse.Namespace, run: Path, frames: np.ndarray, val_frames: np.ndarray) -> DenoisingAutoencoder:
    """SCAN's J, trained (or resumed) under ``RUN/dae`` on the training frames; shared by every feature VAE."""
    torch.manual_seed(args.seed)
    dae = DenoisingAutoencoder(args.dae_channels)
    train_vision(dae, frames, val_frames, args.dae_epochs, args.batch_size, args.lr, run / "dae", args.seed,
                 not args.no_progress, role="dae")  # fmt: skip
    return checkpoint.load_dae(run / "dae")[0]


def evaluate_model(
    spec: ModelSpec,
    args: argparse.Namespace,
    run: Path,
    split: tuple[list[Episode], list[Episode]],
    probes: list[ProbeSpec],
    action_space: gym.Space,
    dae: DenoisingAutoencoder | None,
) -> dict[str, Any]:
    """Train ``spec``'s V (and M) under ``RUN/models/<name>``, resuming from their checkpoints, and measure it."""
    train, val = split
    frames, val_frames = stack_frames(train), stack_frames(val)
    folder = run / "models" / spec.folder
    t0, c0 = time.time(), time.process_time()
    torch.manual_seed(args.seed)  # the same initial draw for every model, whatever ran before it
    steps_per_epoch = -(-len(frames) // args.batch_size)
    vision = build_model(spec, args, steps_per_epoch, dae)
    history = train_vision(vision, frames, val_frames, args.epochs, args.batch_size, args.lr, folder / "vision",
                           args.seed, not args.no_progress)  # fmt: skip
    out: dict[str, Any] = {"kind": vision.kind, "config": vision.config,
                           "val_recon_mse": reconstruction_error(vision, val_frames),
                           "train_last": history[-1] if history else {}}  # fmt: skip
    everything = list(train) + list(val)
    z = latents(vision, stack_frames(everything))
    out["latent_dim"] = int(z.shape[1])
    out["z_std"] = float(z.std(axis=0).mean())  # ~0 when z is constant (a collapsed latent)
    if spec.kind in ("vqvae", "gmmvq"):
        out["codes"] = code_stats(vision, val_frames)
    states, groups = episode_states(everything)
    out["probes"] = {}
    for p in probes:
        y, mask = p.values(states)
        if mask.sum() < 2 * args.folds or np.unique(y[mask]).size < 2:
            out["probes"][p.label] = {"n": int(mask.sum()), "skipped": "too few frames or a constant factor"}
            continue
        scores, split_kind = probe(z[mask], {p.label: y[mask]}, [p.label] if p.categorical else [], args.folds,
                                   groups[mask], args.seed)  # fmt: skip
        s = scores[p.label]
        row = {"r2": s.r2, "n": int(mask.sum()), "split": split_kind}
        if p.categorical:
            row.update(accuracy=s.accuracy, chance=s.chance)
        out["probes"][p.label] = row
    if args.rnn_epochs > 0:
        out["memory"] = fit_memory(vision, args, folder / "memory", split, action_space)
    out["seconds"] = round(time.time() - t0, 1)
    out["cpu_seconds"] = round(time.process_time() - c0, 1)
    return out


def fit_memory(
    vision: Vision, args: argparse.Namespace, folder: Path, split: tuple[list[Episode], list[Episode]], space: gym.Space
) -> dict[str, float]:
    """A short MDN-RNN fit on V's latents: held-out next-latent NLL and the persistence baseline's (nats/step)."""
    enc_train, enc_val = (encode_episodes(vision, part, space) for part in split)
    codes = {"positions": vision.positions, "codebook_size": vision.codebook_size} if vision.discrete else {}
    torch.manual_seed(args.seed)
    memory = checkpoint.build_memory({"latent_dim": vision.latent_dim, "action_dim": action_size(space),
                                      "hidden": args.hidden, **codes})  # fmt: skip
    history = train_memory(memory, enc_train, enc_val, args.rnn_epochs, 32, 32, args.lr, folder, args.seed,
                           not args.no_progress)  # fmt: skip
    last = history[-1]
    baseline = PersistenceBaseline(enc_train, memory.codebook_size).nll(enc_val)
    return {"nll": last["val_nll"], "baseline_nll": baseline, "reward_mse": last["val_reward_mse"],
            "latent": "codes" if vision.discrete else "gaussian"}  # fmt: skip


# the settings a finished controller was trained with, as the agent config names them (a rerun with others is
# refused, except more generations: the search goes on from the checkpoint)
CONTROLLER_SEARCH = ("popsize", "sigma0", "episodes_per_candidate", "use_hidden", "controller_hidden")


@dataclass
class ControllerWorld:
    """What every controller of the run shares: the real env, its data's episodes (the dream's start frames and
    longest episode) and the real env steps spent collecting them."""

    env: gym.Env
    episodes: list[Episode]
    data_steps: int


def controller_settings(args: argparse.Namespace, dream: bool) -> dict[str, Any]:
    """The CMA-ES settings of a controller as the agent config names them, plus its generations in total and
    (dream) the temperature."""
    out = {"popsize": args.controller_popsize, "sigma0": args.controller_sigma,
           "episodes_per_candidate": args.controller_episodes_per_candidate, "use_hidden": True,
           "controller_hidden": 0, "select": args.controller_select}  # fmt: skip
    out["generations"] = args.dream_generations if dream else args.controller_generations
    if dream:
        out["tau"] = args.dream_tau
    return out


def summary(result: EvalResult) -> dict[str, Any]:
    """Mean, std, success rate (None where the env reports none) and the returns of played episodes."""
    return {"mean": result.mean, "std": result.std, "n": len(result.returns), "success_rate": result.success_rate,
            "mean_length": float(result.lengths.mean()), "first_seed": result.seeds[0] if result.seeds else None,
            "returns": result.returns.tolist()}  # fmt: skip


def random_return(env: gym.Env, episodes: int, seed: int) -> dict[str, Any]:
    """Uniformly random actions on the controllers' evaluation episodes (the action draws seeded with ``seed``)."""
    return summary(play(None, env, EvalProtocol(episodes, first_seed=DEFAULT_FIRST_SEED, rng_seed=seed)))


class ConstantPolicy:
    """Always the same action (a :class:`repgym.runs.Policy`): the floor a controller that ignores [z, h] reaches."""

    def __init__(self, action: int) -> None:
        self.action = action

    def predict(self, observation: Any, state: Any = None, *args: Any, **kwargs: Any) -> tuple[int, None]:
        return self.action, None


def constant_returns(env: gym.Env, episodes: int) -> dict[str, Any] | None:
    """Every constant action of a discrete action space on the controllers' evaluation episodes, and the best one
    (``best``: its action); None for other action spaces."""
    if not isinstance(env.action_space, gym.spaces.Discrete):
        return None
    rows = {str(a): summary(play(ConstantPolicy(a), env, EvalProtocol(episodes, first_seed=DEFAULT_FIRST_SEED)))
            for a in range(int(env.action_space.n))}  # fmt: skip
    return {"best": max(rows, key=lambda a: rows[a]["mean"]), "actions": rows}


def train_controller(
    spec: ModelSpec,
    args: argparse.Namespace,
    run: Path,
    world: ControllerWorld,
    dream: bool,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train (or resume) ``spec``'s controller by CMA-ES on its V and M, in the real env or (``dream``) in M's dream
    at ``--dream-tau``, under ``RUN/models/<model>/controller`` (or ``dream-T``), then play it greedily on
    ``--controller-episodes`` real episodes from the protocol's seeds (and as many dream episodes). ``previous``:
    the row of a finished search that this call continues (its seconds are added to this call's)."""
    folder = run / "models" / spec.folder
    settings = controller_settings(args, dream)
    out = folder / (f"dream-{args.dream_tau:g}" if dream else "controller")
    t0, c0, k0 = time.time(), time.process_time(), _children_cpu()
    resumed = (out / META_FILE).is_file()
    if resumed:
        agent = load_agent(out, env=world.env)
        clash = {k: (getattr(agent.config, k), settings[k]) for k in CONTROLLER_SEARCH
                 if getattr(agent.config, k) != settings[k]}  # fmt: skip
        done = agent.search.generations if agent.search is not None else 0
        if dream and agent.search is not None and agent.search.tau != args.dream_tau:
            clash["tau"] = (agent.search.tau, args.dream_tau)
        if done > settings["generations"]:
            clash["generations"] = (done, settings["generations"])
        if clash:
            raise ValueError(f"{out} holds a controller trained with other settings {clash} (old, new); delete it "
                             "or give its settings")  # fmt: skip
        agent.config.workers = args.controller_workers
        if agent.search is not None:
            agent.select(settings["select"])  # which controller to play does not change the search
    else:
        vision, _ = checkpoint.load_vision(folder / "vision")
        if not checkpoint.exists(folder / "memory"):
            raise ValueError(f"{spec.name} has no M in {folder / 'memory'} (run with --rnn-epochs > 0 first)")
        memory, _ = checkpoint.load_memory(folder / "memory")
        encoded = encode_episodes(vision, world.episodes, world.env.action_space)
        starts = torch.stack([e.codes[0] if e.codes is not None else e.z[0] for e in encoded]).numpy()
        hp = {k: settings[k] for k in (*CONTROLLER_SEARCH, "select")}
        hp.update(workers=args.controller_workers, dream=dream, tau=1.0 if args.dream_tau is None else args.dream_tau)
        longest = max(len(e) for e in world.episodes)
        agent = WorldModelAgent.from_world(world.env, vision, memory, starts, longest, args.seed,
                                           num_timesteps=world.data_steps, **hp)  # fmt: skip
        done = 0
    if done < settings["generations"]:
        agent.train_controller(settings["generations"] - done, None, dream, args.dream_tau if dream else None,
                               not args.no_progress, callback=lambda a: a.save(out))  # fmt: skip
    agent.save(out)  # also after a new --controller-select: the checkpoint is the controller played below
    search = agent.search
    real, frozen = played_and_frozen(agent, world, args)
    row: dict[str, Any] = {"real": summary(real), "generations": search.generations, "settings": settings,
                           "best_fitness": search.best_fitness, "checkpoint": str(out),
                           "inputs_frozen": frozen}  # fmt: skip
    if dream:
        task = agent.rollout_task("dream", args.dream_tau)
        env = DreamEnv(agent.memory, task.starts, world.env.action_space, agent.vision, args.dream_tau,
                       task.max_steps or 1000, observe_hidden=agent.config.use_hidden)  # fmt: skip
        row["dream"] = summary(dream_episodes(env, agent.controller, args.controller_episodes, DEFAULT_FIRST_SEED))
        row["dream_steps"] = search.steps
    else:
        row["env_steps"] = search.steps  # the CMA-ES search's real env steps
        row["env_steps_with_data"] = search.steps + world.data_steps  # and the random episodes V and M learnt from
    # worker processes included; a search resumed from a crash counts from the resume
    seconds, cpu = time.time() - t0, time.process_time() - c0 + _children_cpu() - k0
    if resumed and previous is not None and previous.get("generations", 0) <= search.generations:
        seconds, cpu = seconds + previous.get("seconds", 0.0), cpu + previous.get("cpu_seconds", 0.0)
    row["seconds"], row["cpu_seconds"] = round(seconds, 1), round(cpu, 1)
    return row


class FeatureRecorder:
    """Acts as the wrapped controller does and keeps the mean of the features ``[z, h]`` it was given."""

    def __init__(self, controller: Any) -> None:
        self.controller, self.total, self.count = controller, 0.0, 0

    def act(self, features: torch.Tensor) -> np.ndarray:
        self.total = self.total + features.detach().double().sum(0).numpy()
        self.count += len(features)
        return self.controller.act(features)

    @property
    def mean(self) -> np.ndarray:
        return self.total / max(1, self.count)


def played_and_frozen(agent: Any, world: ControllerWorld, args: argparse.Namespace) -> tuple[EvalResult, dict]:
    """The controller's greedy real episodes, and the same episodes played by it frozen at the mean of the
    features it saw (:meth:`Controller.frozen_at`: the constant action it falls back on if [z, h] did not vary),
    so that what reading its input adds is the difference."""
    recorder = FeatureRecorder(agent.controller)
    steps = agent.config.max_episode_steps
    real = real_episodes(world.env, agent.world, recorder, args.controller_episodes, DEFAULT_FIRST_SEED, steps)
    frozen = agent.controller.frozen_at(recorder.mean)
    return real, summary(real_episodes(world.env, agent.world, frozen, args.controller_episodes, DEFAULT_FIRST_SEED,
                                       steps))  # fmt: skip


def controller_stages(
    spec: ModelSpec, args: argparse.Namespace, run: Path, world: ControllerWorld, model: dict[str, Any], label: str
) -> None:
    """The controller stages asked for, on one finished model's row ``model`` (updated in place): the real-env
    controller (``controller_return``) and the dream one (``dream_return[tau]``); a finished one with the same
    settings and evaluation episodes is skipped."""
    stages = [(False, "controller_return")] if args.controller_generations > 0 else []
    if args.dream_tau is not None:
        stages.append((True, f"dream_return/{args.dream_tau:g}"))
    for dream, key in stages:
        rows = model.setdefault("dream_return", {}) if dream else model
        name = key.rpartition("/")[2]
        old = rows.get(name)
        settings = controller_settings(args, dream)
        if old is not None and old["settings"] == settings and old["real"]["n"] == args.controller_episodes:
            print(f"{label} {spec.name}: {key} done earlier, skipped")
            if "inputs_frozen" not in old:  # finished before this was measured: play it now, from the checkpoint
                agent = load_agent(old["checkpoint"], env=world.env)
                real, old["inputs_frozen"] = played_and_frozen(agent, world, args)
                old.pop("inputs_zeroed", None)  # an earlier, cruder measure (inputs set to 0, not to their mean)
                if summary(real)["returns"] != old["real"]["returns"]:
                    print(f"{label} {spec.name}: note: replaying the controller gave other returns than recorded")
            continue
        print(f"{label} {spec.name}: {key} ({settings['generations']} CMA-ES generations, popsize "
              f"{settings['popsize']})")  # fmt: skip
        row = train_controller(spec, args, run, world, dream, previous=old)
        rows[name] = row
        r = row["real"]
        where = f"dream {row['dream']['mean']:.3f}, " if dream else ""
        print(f"{label} {spec.name}: {where}real return {r['mean']:.3f} ± {r['std']:.3f}"
              + ("" if r["success_rate"] is None else f", success {r['success_rate']:.0%}")
              + f" over {r['n']} episodes; {row['cpu_seconds']:.0f} CPU s")  # fmt: skip


def _children_cpu() -> float:
    t = os.times()
    return t.children_user + t.children_system


def backfill_code_stats(results: dict[str, Any], run: Path, val_frames: np.ndarray) -> bool:
    """Add the code distances to finished codebook models measured before they were reported (cheap: their
    vision checkpoints, the held-out frames); True when any was added."""
    added = False
    for name, model in results["models"].items():
        folder = run / "models" / parse_model(name).folder / "vision"
        if "codes" in model and "code_distance" not in model["codes"] and checkpoint.exists(folder):
            vision, _ = checkpoint.load_vision(folder)
            model["codes"] = code_stats(vision, val_frames)
            added = True
    return added


def _fmt(x: float | None, digits: int = 3) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def table_rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the comparison table (shared by the rich table and the markdown file)."""
    probes = results["protocol"]["probes"]
    chance = {}
    for model in results["models"].values():
        for label, row in model["probes"].items():
            chance.setdefault(label, row.get("chance"))
    header = ["V", f"recon (mean frame {results['data']['mean_frame_mse']:.5f})"]
    for label in probes:
        header.append(f"{label} acc (chance {_fmt(chance.get(label))})" if ":cat" in label else f"{label} R²")
    header += ["M NLL / persistence", "codes used (weight entropy), code d²", "z std", "train s"]
    models = results["models"].values()
    controller = any("controller_return" in m for m in models)
    taus = sorted({t for m in models for t in m.get("dream_return", {})}, key=float)
    if controller:
        const = results.get("constant_return")
        best = f"; always action {const['best']}: {_return(const['actions'][const['best']])}" if const else ""
        header += [f"C real return (random {_return(results.get('random_return'))}{best})",
                   "C frozen at its mean input", "C env steps, CPU s"]  # fmt: skip
    header += [f"C dream τ={t}: dream / real return" for t in taus]
    rows = []
    for name, m in results["models"].items():
        cells = [name, f"{m['val_recon_mse']:.5f}"]
        for label in probes:
            row = m["probes"].get(label, {})
            cells.append(_fmt(row.get("accuracy" if ":cat" in label else "r2")))
        mem = m.get("memory")
        cells.append(f"{mem['nll']:.1f} / {mem['baseline_nll']:.1f}" if mem else "–")
        cells += [_codes(m.get("codes")), _fmt(m["z_std"]), f"{m['seconds']:.0f}"]
        if controller:
            c = m.get("controller_return")
            cells += ([_return(c["real"]), _return(c.get("inputs_frozen")), f"{c['env_steps']}, {c['cpu_seconds']:.0f}"]
                      if c else ["–", "–", "–"])  # fmt: skip
        for t in taus:
            d = m.get("dream_return", {}).get(t)
            cells.append(f"{d['dream']['mean']:.2f} / {_return(d['real'])}" if d else "–")
        rows.append(cells)
    return header, rows


def _return(r: dict[str, Any] | None) -> str:
    """``mean ± std`` of played episodes, with the success rate where the env reports one."""
    if r is None:
        return "–"
    text = f"{r['mean']:.2f} ± {r['std']:.2f}"
    return text + ("" if r.get("success_rate") is None else f", {r['success_rate']:.0%} success")


def _codes(stats: dict[str, float] | None) -> str:
    if stats is None:
        return "–"
    text = f"{stats['codes_used']}/{stats['codebook_size']}"
    text += f" ({stats['entropy']:.2f} of {stats['max_entropy']:.2f})" if "entropy" in stats else ""
    return text + (f", d² {stats['code_distance']:.3g}" if "code_distance" in stats else "")


def markdown(results: dict[str, Any]) -> str:
    """The comparison as a markdown table with the protocol above it."""
    pr, data = results["protocol"], results["data"]
    header, rows = table_rows(results)
    lines = [
        f"## {pr['env']} (pixels) {' '.join(pr['set'])}",
        f"{data['episodes']} random-policy episodes ({data['frames']} frames; {data['val_episodes']} held out), "
        f"{pr['epochs']} epochs, batch {pr['batch_size']}, channels {pr['channels']}, seed {pr['seed']}; probes "
        f"{pr['folds']} folds by episode on all frames; M: hidden {pr['hidden']}, {pr['rnn_epochs']} epochs",
        *_controller_lines(results),
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]
    return "\n".join(lines) + "\n"


def _controller_lines(results: dict[str, Any]) -> list[str]:
    """The controllers' protocol, when there are any (their settings as the first model with one has them)."""
    rows = [m["controller_return"] for m in results["models"].values() if "controller_return" in m]
    rows += [d for m in results["models"].values() for d in m.get("dream_return", {}).values()]
    if not rows:
        return []
    s, n = rows[0]["settings"], rows[0]["real"]["n"]
    text = (f"C: linear on [z, h], CMA-ES popsize {s['popsize']}, sigma {s['sigma0']}, "
            f"{s['episodes_per_candidate']} episode(s) per candidate")  # fmt: skip
    real = [r["settings"]["generations"] for r in rows if "tau" not in r["settings"]]
    dream = [r["settings"]["generations"] for r in rows if "tau" in r["settings"]]
    text += f"; {real[0]} generations in the real env" if real else ""
    text += f"; {dream[0]} generations in the dream" if dream else ""
    data = [r["env_steps_with_data"] - r["env_steps"] for r in rows if "env_steps" in r]
    text += f"; returns: greedy, {n} real episodes from seed {rows[0]['real']['first_seed']:,} (random actions: the "
    text += "same episodes)"
    return [text + (f"; env steps: the search's, besides the {data[0]} steps of V and M's data" if data else "")]


def print_table(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    header, rows = table_rows(results)
    table = Table(title=f"{results['protocol']['env']} (pixels): vision models, held-out metrics")
    for i, h in enumerate(header):
        table.add_column(h, justify="left" if i == 0 else "right")
    for r in rows:
        table.add_row(*r)
    Console(width=max(160, Console().width)).print(table)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    raw = argparse.RawDescriptionHelpFormatter
    p = argparse.ArgumentParser(description=__doc__, epilog=EPILOG, formatter_class=raw)
    p.add_argument("--env", default=None, help="env id (default: the one of RUN/data when it exists)")
    p.add_argument("--set", action="append", default=[], help="env kwargs key=value (obs_mode=pixels is forced)")
    p.add_argument("--run", required=True, help="output folder (reused: data, checkpoints, results)")
    p.add_argument("--episodes", type=int, default=200, help="random-policy episodes to collect (default: 200)")
    p.add_argument("--max-steps", type=int, default=None, help="cut collected episodes after this many steps")
    p.add_argument("--val-fraction", type=float, default=0.1, help="held-out episodes (default: 0.1)")
    p.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), help="vision models to compare "
                   f"(default: {' '.join(DEFAULT_MODELS)})")  # fmt: skip
    p.add_argument("--probe", action="append", default=None, help="probe spec; repeat (default: per env)")
    p.add_argument("--epochs", type=int, default=6, help="V epochs, every model (default: 6)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--channels", type=int, default=16, help="first conv width of every V (default: 16)")
    p.add_argument("--latent-dim", type=int, default=32, help="VAE z size (default: 32)")
    p.add_argument("--codebook-size", type=int, default=64)
    p.add_argument("--code-dim", type=int, default=8)
    p.add_argument("--anneal-epochs", type=int, default=3, help="gmmvq:T0>T anneals over these epochs (default: 3)")
    p.add_argument("--dae-epochs", type=int, default=5, help="epochs of the feature VAEs' J (default: 5)")
    p.add_argument("--dae-channels", type=int, default=16)
    p.add_argument("--rnn-epochs", type=int, default=20, help="M epochs; 0 skips M (default: 20)")
    p.add_argument("--hidden", type=int, default=256, help="M's LSTM units (default: 256)")
    p.add_argument("--folds", type=int, default=5, help="probe folds, split by episode (default: 5)")
    p.add_argument("--controller-generations", type=int, default=0, help="CMA-ES generations of a controller "
                   "trained in the real env on each model's V and M; 0: no controller stage (default: 0)")  # fmt: skip
    p.add_argument("--controller-popsize", type=int, default=8, help="CMA-ES candidates per generation (default: 8)")
    p.add_argument("--controller-episodes-per-candidate", type=int, default=1,
                   help="episodes averaged per candidate's score (default: 1)")  # fmt: skip
    p.add_argument("--controller-sigma", type=float, default=0.1, help="CMA-ES initial step size (default: 0.1)")
    p.add_argument("--controller-select", choices=("best", "mean"), default="best",
                   help="the controller played after the search: the best-scoring candidate seen, or the "
                   "CMA-ES distribution mean (less favoured by lucky episodes when fitness is noisy; default: best)",
                   )  # fmt: skip
    p.add_argument("--controller-episodes", type=int, default=30, help="greedy real evaluation episodes of each "
                   f"controller and of random actions, seeds {DEFAULT_FIRST_SEED:,} + i (default: 30)")  # fmt: skip
    p.add_argument("--controller-workers", type=int, default=0, help="CMA-ES worker processes; 0 = in process "
                   "(default: 0)")  # fmt: skip
    p.add_argument("--dream-tau", type=float, default=None, help="also train a controller in M's dream at this "
                   "temperature, played in the dream and the real env (default: none)")  # fmt: skip
    p.add_argument("--dream-generations", type=int, default=None, help="CMA-ES generations in the dream "
                   "(default: --controller-generations)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    if args.dream_generations is None:
        args.dream_generations = args.controller_generations
    if args.dream_tau is not None and args.dream_generations < 1:
        p.error("--dream-tau needs --dream-generations or --controller-generations >= 1")
    for name in ("controller_popsize", "controller_episodes_per_candidate", "controller_episodes"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the comparison; returns the results (also in ``RUN/results.json`` and ``RUN/table.md``)."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    specs = [parse_model(m) for m in args.models]
    if len({s.folder for s in specs}) != len(specs):
        raise ValueError(f"--models names one model twice: {args.models}")
    run = Path(args.run)
    run.mkdir(parents=True, exist_ok=True)
    data = run / "data"
    kwargs = {**parse_settings(args.set), "obs_mode": "pixels"}
    if (data / "manifest.json").exists() and args.env is None:  # reuse the data as they are
        manifest = read_manifest(data)
        args.env, kwargs = manifest["env_id"], manifest["env_kwargs"]
    elif args.env is None:
        raise ValueError(f"--env is required: {data} holds no collected data yet")
    else:
        collect(args.env, data, args.episodes, 10, args.seed, kwargs, max_steps=args.max_steps,
                show_progress=not args.no_progress)  # fmt: skip
    probes = [parse_probe(p) for p in (args.probe or default_probes(args.env))]
    args.probe = [p.label for p in probes]
    episodes = load_episodes(data, args.episodes)
    split = split_episodes(episodes, args.val_fraction)
    if not split[1]:
        raise ValueError(f"need at least 2 episodes (one held out), got {len(episodes)}")
    frames, val_frames = stack_frames(split[0]), stack_frames(split[1])
    mean_frame = frames.astype(np.float32).mean(0) / 255.0
    protocol = {**{k: getattr(args, k) for k in PROTOCOL_KEYS}, "probes": args.probe, "env_kwargs": kwargs}
    res_path = run / "results.json"
    results: dict[str, Any] = json.loads(res_path.read_text()) if res_path.exists() else {"models": {}}
    old = results.get("protocol")
    if old is not None:
        clash = {k: (old.get(k), v) for k, v in protocol.items() if k != "probes" and old.get(k) != v}
        if clash:
            raise ValueError(f"{res_path} was measured with other settings {clash} (old, new); use another --run")
        if old.get("probes") != protocol["probes"]:  # the probes are cheap: re-measure every model with the new ones
            results["models"] = {}
    results["protocol"] = protocol
    baseline = float(((val_frames.astype(np.float32) / 255.0 - mean_frame) ** 2).mean())
    results["data"] = {"episodes": len(episodes), "frames": int(sum(len(e.frames) for e in episodes)),
                       "val_episodes": len(split[1]), "mean_frame_mse": baseline}  # fmt: skip
    action_space = gym.make(args.env, **kwargs).action_space
    dae = train_dae(args, run, frames, val_frames) if any(s.kind == "vae-features" for s in specs) else None
    world = None
    if args.controller_generations > 0 or args.dream_tau is not None:
        env = gym.make(args.env, **kwargs)
        world = ControllerWorld(env, episodes, sum(len(e) for e in episodes))
        results["random_return"] = random_return(env, args.controller_episodes, args.seed)
        results["constant_return"] = constant_returns(env, args.controller_episodes)
    for i, spec in enumerate(specs):
        if spec.name in results["models"]:
            print(f"[{i + 1}/{len(specs)}] {spec.name}: done earlier, skipped")
        else:
            print(f"[{i + 1}/{len(specs)}] {spec.name}")
            results["models"][spec.name] = evaluate_model(spec, args, run, split, probes, action_space, dae)
            res_path.write_text(json.dumps(results, indent=2))
        if world is not None:
            controller_stages(spec, args, run, world, results["models"][spec.name], f"[{i + 1}/{len(specs)}]")
            res_path.write_text(json.dumps(results, indent=2))
    if backfill_code_stats(results, run, val_frames):
        res_path.write_text(json.dumps(results, indent=2))
    named = {s.name: results["models"][s.name] for s in specs}  # the table in --models order, then older ones
    results["models"] = {**named, **{k: v for k, v in results["models"].items() if k not in named}}
    res_path.write_text(json.dumps(results, indent=2))
    (run / "table.md").write_text(markdown(results))
    print_table(results)
    print(f"results in {res_path} and {run / 'table.md'}")
    return results


if __name__ == "__main__":
    main()
