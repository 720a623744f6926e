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

Everything lands under ``--run``: ``data/``, ``dae/``, ``models/<model>/{vision,memory}/``, ``results.json``
(written after every model; a rerun skips the finished ones and resumes a half-trained one from its checkpoint)
and ``table.md``.
"""

from __future__ import annotations

import argparse
import json
import math
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
from repgym.analysis.probes import probe
from repgym.cli.common import parse_settings
from repgym.worlds import checkpoint
from repgym.worlds.dae import DenoisingAutoencoder
from repgym.worlds.data import Episode, collect, load_episodes, read_manifest, split_episodes
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
                             "code_distance": mean_sq_distance(book),
                             "used_code_distance": mean_sq_distance(book[sorted(codes)])}  # fmt: skip
    if entropies:
        out.update(entropy=float(torch.cat(entropies).mean()), max_entropy=math.log(vision.codebook_size))
    return out


def mean_sq_distance(vectors: torch.Tensor) -> float:
    """Mean squared distance between two distinct rows of ``vectors (n, d)`` (NaN for fewer than two rows)."""
    n = vectors.shape[0]
    if n < 2:
        return float("nan")
    v = vectors.detach().double()
    return float((2 * n * v.pow(2).sum() - 2 * v.sum(0).pow(2).sum()) / (n * (n - 1)))


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
    rows = []
    for name, m in results["models"].items():
        cells = [name, f"{m['val_recon_mse']:.5f}"]
        for label in probes:
            row = m["probes"].get(label, {})
            cells.append(_fmt(row.get("accuracy" if ":cat" in label else "r2")))
        mem = m.get("memory")
        cells.append(f"{mem['nll']:.1f} / {mem['baseline_nll']:.1f}" if mem else "–")
        cells += [_codes(m.get("codes")), _fmt(m["z_std"]), f"{m['seconds']:.0f}"]
        rows.append(cells)
    return header, rows


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
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]
    return "\n".join(lines) + "\n"


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
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p.parse_args(argv)


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
    for i, spec in enumerate(specs):
        if spec.name in results["models"]:
            print(f"[{i + 1}/{len(specs)}] {spec.name}: done earlier, skipped")
            continue
        print(f"[{i + 1}/{len(specs)}] {spec.name}")
        results["models"][spec.name] = evaluate_model(spec, args, run, split, probes, action_space, dae)
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
