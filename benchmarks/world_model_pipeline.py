"""The World Models pipeline end to end on one env, with the figures the world-model issue asks for.

1. collect random episodes (pixels);  2. V: held-out reconstruction MSE vs a mean-frame baseline + samples PNG;
3. M: held-out next-latent NLL vs the "next z = current z" baseline;  4. the controller trained by CMA-ES in the
real env vs random and vs SB3 PPO given the same env steps;  5. controllers trained in the dream at several
temperatures, each evaluated in the dream and in the real env (World Models' Table 2).

Every stage keeps its result under ``--run`` and is skipped on a rerun (delete the folder to start again).

    python benchmarks/world_model_pipeline.py --env repgym/KeyToDoor-v0 --set delay=10 --run runs/wm-k2d
    python benchmarks/world_model_pipeline.py --env repgym/TwoLinkReach-v0 --episodes 30 --run runs/wm-reach
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

import repgym.envs  # noqa: F401
from repgym.agents import load_agent, make_agent
from repgym.agents.base import META_FILE
from repgym.agents.world_model.agent import WorldModelAgent
from repgym.agents.world_model.rollout import dream_returns, play_returns
from repgym.cli.common import parse_settings
from repgym.worlds import checkpoint
from repgym.worlds.data import collect, load_episodes, split_episodes
from repgym.worlds.dream import DreamEnv
from repgym.worlds.figures import save_reconstructions
from repgym.worlds.mdn_rnn import MDNRNN, action_size
from repgym.worlds.training import (
    PersistenceBaseline,
    encode_episodes,
    memory_metrics,
    stack_frames,
    train_memory,
    train_vision,
)
from repgym.worlds.vae import VAE
from repgym.worlds.vqvae import VQVAE


def stage(results: dict, path: Path, name: str, fn: Callable[[], dict]) -> dict:
    """Run ``fn()`` unless ``results`` already holds ``name``; save results after it."""
    if name not in results:
        t0 = time.time()
        results[name] = fn()
        results[name]["seconds"] = round(time.time() - t0, 1)
        path.write_text(json.dumps(results, indent=2))
    return results[name]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", required=True)
    p.add_argument("--set", action="append", default=[], help="env kwargs (obs_mode=pixels is always set)")
    p.add_argument("--run", required=True)
    p.add_argument("--episodes", type=int, default=200)
    p.add_argument("--vision", choices=("vae", "vqvae"), default="vae")
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--vae-batch-size", type=int, default=64)
    p.add_argument("--vae-epochs", type=int, default=6)
    p.add_argument("--rnn-epochs", type=int, default=30)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--generations", type=int, default=10)
    p.add_argument("--popsize", type=int, default=8)
    p.add_argument("--dream-generations", type=int, default=20)
    p.add_argument("--taus", default="0.1,0.5,1.0,1.5")
    p.add_argument("--eval-episodes", type=int, default=20)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--sb3", default="sb3-ppo")
    args = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    run = Path(args.run)
    run.mkdir(parents=True, exist_ok=True)
    kwargs = {**parse_settings(args.set), "obs_mode": "pixels"}
    res_path = run / "results.json"
    results = json.loads(res_path.read_text()) if res_path.exists() else {}
    results["protocol"] = vars(args)

    def do_collect() -> dict:
        m = collect(args.env, run / "data", args.episodes, 10, 0, kwargs)
        return {"episodes": args.episodes, "steps": sum(s["steps"] for s in m["shards"])}

    data = stage(results, res_path, "collect", do_collect)
    episodes = load_episodes(run / "data")
    train, val = split_episodes(episodes, 0.1)
    env = gym.make(args.env, **kwargs)

    def do_vision() -> dict:
        vision = VAE(32, channels=args.channels) if args.vision == "vae" else VQVAE(64, 8, args.channels)
        frames, val_frames = stack_frames(train), stack_frames(val)
        hist = train_vision(vision, frames, val_frames, args.vae_epochs, args.vae_batch_size, 1e-3, run / "vision")
        mean = frames.astype(np.float32).mean(0) / 255.0
        base = float(((val_frames.astype(np.float32) / 255.0 - mean) ** 2).mean())
        png = save_reconstructions(vision, val_frames, run / "samples.png", title=f"{args.env}: real / {args.vision}")
        return {"val_recon_mse": hist[-1]["val_recon_mse"], "mean_frame_mse": base, "png": str(png)}

    stage(results, res_path, "vision", do_vision)
    vision, _ = checkpoint.load_vision(run / "vision")
    enc_train = encode_episodes(vision, train, env.action_space)
    enc_val = encode_episodes(vision, val, env.action_space)

    def do_memory() -> dict:
        codes = {"positions": vision.positions, "codebook_size": vision.codebook_size} if vision.discrete else {}
        memory = MDNRNN(vision.latent_dim, action_size(env.action_space), args.hidden, **codes)
        train_memory(memory, enc_train, enc_val, args.rnn_epochs, 32, 32, 1e-3, run / "memory")
        m = memory_metrics(memory, enc_val)
        base = PersistenceBaseline(enc_train, memory.codebook_size).nll(enc_val)
        reward_var = float(torch.cat([e.rewards for e in enc_val]).var())
        return {"val_nll": m["nll"], "baseline_nll": base, "val_reward_mse": m["reward_mse"],
                "val_done_bce": m["done_bce"], "reward_var": reward_var}  # fmt: skip

    stage(results, res_path, "memory", do_memory)
    memory, _ = checkpoint.load_memory(run / "memory")
    starts = torch.stack([e.codes[0] if vision.discrete else e.z[0] for e in enc_train + enc_val]).numpy()
    longest = max(len(e) for e in episodes)
    seed0 = 10_000
    hp = {"popsize": args.popsize, "workers": args.workers, "sigma0": 0.1}

    def controller(out: Path, dream: bool, tau: float, generations: int) -> WorldModelAgent:
        if (out / META_FILE).is_file():
            return load_agent(out)
        agent = WorldModelAgent.from_world(env, vision, memory, starts, longest, 0, **hp)
        agent.train_controller(generations, None, dream, tau, show_progress=True)
        agent.save(out)
        return agent

    def do_real() -> dict:
        agent = controller(run / "controller", False, 1.0, args.generations)
        steps = data["steps"] + agent.search.steps
        ctrl = play_returns(env, agent.world, agent.controller, args.eval_episodes, seed0)
        rand = play_returns(env, None, None, args.eval_episodes, seed0)
        t0 = time.time()
        sb3 = make_agent(args.sb3, gym.make(args.env, **kwargs), seed=0)
        sb3.learn(steps, progress_bar=True)
        sb3_seconds = time.time() - t0
        sb3_returns = []
        for i in range(args.eval_episodes):
            obs, _ = env.reset(seed=seed0 + i)
            total, done = 0.0, False
            while not done:
                obs, r, te, tr, _ = env.step(sb3.predict(obs, deterministic=True)[0])
                total, done = total + float(r), te or tr
            sb3_returns.append(total)
        return {"env_steps": steps, "cma_steps": agent.search.steps, "generations": agent.search.generations,
                "controller": _summary(ctrl), "random": _summary(rand), args.sb3: _summary(np.array(sb3_returns)),
                "sb3_seconds": round(sb3_seconds, 1)}  # fmt: skip

    stage(results, res_path, "real", do_real)

    def do_dream() -> dict:
        rows = {}
        for tau in [float(t) for t in args.taus.split(",")]:
            agent = controller(run / f"dream-{tau}", True, tau, args.dream_generations)
            dream = DreamEnv(memory, starts, env.action_space, vision, tau, longest)
            rows[str(tau)] = {
                "dream": _summary(dream_returns(dream, agent.controller, args.eval_episodes, seed0)),
                "real": _summary(play_returns(env, agent.world, agent.controller, args.eval_episodes, seed0)),
            }
        return rows

    stage(results, res_path, "dream", do_dream)
    print(report(results))
    (run / "report.md").write_text(report(results))


def _summary(r: np.ndarray) -> dict:
    return {"mean": float(np.mean(r)), "std": float(np.std(r)), "n": int(len(r))}


def report(res: dict) -> str:
    pr, v, m, real = res["protocol"], res["vision"], res["memory"], res["real"]
    sb3 = pr["sb3"]
    f = lambda s: f"{s['mean']:.2f} ± {s['std']:.2f}"  # noqa: E731
    lines = [
        f"## {pr['env']} (pixels) {' '.join(pr['set'])}",
        f"data: {res['collect']['episodes']} random episodes, {res['collect']['steps']} steps; "
        f"V={pr.get('vision', 'vae')} (VAE z=32 | VQ-VAE 64 codes x 16 positions), channels={pr['channels']}, "
        f"{pr['vae_epochs']} epochs; MDN-RNN hidden={pr['hidden']}, 5 Gaussians or a categorical over codes, "
        f"{pr['rnn_epochs']} epochs; CMA-ES popsize {pr['popsize']}, 1 episode per candidate",
        "",
        "| V (held-out) | MSE per pixel |", "|---|---|",
        f"| {pr.get('vision', 'vae')} reconstruction | {v['val_recon_mse']:.5f} |",
        f"| mean-frame baseline | {v['mean_frame_mse']:.5f} |",
        "",
        "| M (held-out, per step) | next-z NLL (nats) |", "|---|---|",
        f"| MDN-RNN | {m['val_nll']:.2f} |",
        f"| next z = current z (fitted: Gaussian variance, or P(code stays)) | {m['baseline_nll']:.2f} |",
        f"\nreward MSE {m['val_reward_mse']:.4g} (reward variance {m['reward_var']:.4g}), "
        f"done BCE {m['val_done_bce']:.4g}",
        "",
        f"| policy ({pr['eval_episodes']} episodes, seeds 10000+) | real return | env steps used |", "|---|---|---|",
        f"| random | {f(real['random'])} | 0 |",
        f"| world model + CMA-ES controller ({real['generations']} gens) | {f(real['controller'])} "
        f"| {real['env_steps']} |",
        f"| {sb3} | {f(real[sb3])} | {real['env_steps']} |",
        "",
        f"| dream temperature | dream return | real return | ({pr['dream_generations']} CMA-ES generations "
        "in the dream) |",
        "|---|---|---|---|",
    ]  # fmt: skip
    for tau, row in res.get("dream", {}).items():
        if not isinstance(row, dict):
            continue  # the stage's "seconds"
        lines.append(f"| {tau} | {f(row['dream'])} | {f(row['real'])} | |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
