"""``repgym world``: the World Models pipeline — collect, train-vae, train-rnn, train-controller, eval.

Every stage reads and writes folders under ``--run`` (default ``runs/world``): ``data/`` (shards + manifest),
``vision/``, ``memory/`` and ``controller/`` (a ``world-model`` agent checkpoint, loadable with ``load_agent``).
Each stage resumes from what is already there: collect skips existing shards, training continues from its
checkpoint up to the requested epochs / generations.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from repgym.cli.common import Handler, add_command, add_settings, add_threads, parse_settings, set_torch_threads
from repgym.runs.protocol import DEFAULT_FIRST_SEED

EPILOG_WORLD = """\
the pipeline, small budgets (minutes on a laptop CPU):
  repgym world collect repgym/KeyToDoor-v0 --set obs_mode=pixels --episodes 200 --run runs/k2d
  repgym world train-vae --run runs/k2d --epochs 10
  repgym world train-rnn --run runs/k2d --epochs 20
  repgym world train-controller --run runs/k2d --generations 10 --workers 2
  repgym world train-controller --run runs/k2d --dream --tau 1.0 --generations 30 --out runs/k2d/dream-1.0
  repgym world eval runs/k2d/controller --episodes 20
"""
EPILOG_COLLECT = """\
frames are stored as 64x64x3 uint8; episode j is reset with seed SEED + j; existing shards are kept (resume).
examples:
  repgym world collect repgym/TwoLinkReach-v0 --set obs_mode=pixels --episodes 50
  repgym world collect repgym/KeyToDoor-v0 --set obs_mode=pixels --set delay=10 --episodes 200 --run runs/k2d
"""
EPILOG_VAE = """\
prints the held-out reconstruction error next to a mean-frame baseline; writes OUT/samples.png.
examples:
  repgym world train-vae --run runs/k2d --epochs 10
  repgym world train-vae --run runs/k2d --model vqvae --codebook-size 64 --out runs/k2d/vq
  repgym world train-vae --run runs/k2d --model gmmvq --temperature 0.1 --out runs/k2d/gmmvq
  repgym world train-vae --run runs/k2d --loss features --dae-epochs 5 --out runs/k2d/feature-vae
--model gmmvq: a soft mixture of codebook entries, softmax(-||e - c_k||^2 / T); T = 0 is the VQ-VAE's latent.
  --temperature-unit codes divides the distances by the codes' mean squared distance to each other first, so T
  stays measured against the codebook's spread however close together the codes gather.
--loss features (SCAN's beta-VAE_DAE): reconstruct in the features of a denoising autoencoder trained first on
the same frames and kept in --dae (default RUN/dae; reused when it is there).
"""
EPILOG_RNN = """\
prints the held-out next-latent NLL next to the "next z = current z" baseline's.
examples:
  repgym world train-rnn --run runs/k2d --epochs 20
  repgym world train-rnn --run runs/k2d --vision runs/k2d/vq --out runs/k2d/vq-memory
"""

EPILOG_CONTROLLER = """\
resuming (OUT holds a controller): a given --popsize, --sigma, --episodes-per-candidate or --max-episode-steps
applies from now on; a --controller-hidden, --z-only, --vision or --memory the checkpoint cannot take is refused.
switching between real env and dream (or another --tau) forgets the best candidate: its score is not comparable.
examples:
  repgym world train-controller --run runs/k2d --generations 10 --workers 2
  repgym world train-controller --run runs/k2d --dream --tau 1.5 --generations 30 --out runs/k2d/dream-1.5
"""


def register(sub) -> dict[str, Handler]:
    world = add_command(sub, "world", "World Models pipeline: collect, train-vae, train-rnn, train-controller, eval",
                        epilog=EPILOG_WORLD)  # fmt: skip
    stages = world.add_subparsers(dest="world_command", metavar="STAGE")

    p = add_command(stages, "collect", "record random-policy episodes (frames, actions, rewards, ground truth)",
                    epilog=EPILOG_COLLECT)  # fmt: skip
    p.add_argument("env_id", help="a Gymnasium env id with picture observations (or rgb_array rendering)")
    p.add_argument("--episodes", type=int, default=100, help="episodes in total (default: 100)")
    p.add_argument("--shard-size", type=int, default=10, help="episodes per shard file (default: 10)")
    p.add_argument("--max-steps", type=int, default=None, help="cut episodes after this many steps")
    p.add_argument("--policy", default=None, help="an agent checkpoint to act with instead of random actions")
    _common(p)
    add_settings(p)

    p = add_command(stages, "train-vae", "train V (VAE, beta-VAE, VQ-VAE or mixture VQ) on the collected frames",
                    epilog=EPILOG_VAE)  # fmt: skip
    p.add_argument("--model", choices=("vae", "vqvae", "gmmvq"), default="vae", help="vision model (default: vae)")
    p.add_argument("--latent-dim", type=int, default=32, help="VAE z size (default: 32)")
    p.add_argument("--beta", type=float, default=1.0, help="VAE KL weight; > 1 for a beta-VAE (default: 1)")
    p.add_argument("--channels", type=int, default=32, help="width of the first conv layer (default: 32)")
    p.add_argument("--codebook-size", type=int, default=64, help="VQ-VAE codes (default: 64)")
    p.add_argument("--code-dim", type=int, default=8, help="VQ-VAE code vector size (default: 8)")
    p.add_argument("--temperature", type=float, default=1.0,
                   help="gmmvq softmax temperature, in --temperature-unit; 0 = hard VQ (default: 1)")  # fmt: skip
    p.add_argument("--temperature-start", type=float, default=None,
                   help="gmmvq: anneal linearly from this to --temperature over --anneal-steps batches")  # fmt: skip
    p.add_argument("--anneal-steps", type=int, default=0, help="gmmvq: training batches of annealing (default: 0)")
    p.add_argument("--temperature-unit", choices=("absolute", "codes"), default="absolute",
                   help="gmmvq: T in squared distance, or in units of the mean squared distance between codes "
                   "(default: absolute)")  # fmt: skip
    p.add_argument("--loss", choices=("pixels", "features"), default="pixels",
                   help="VAE reconstruction in pixels or in a DAE's features (default: pixels)")  # fmt: skip
    p.add_argument("--pixel-weight", type=float, default=0.0,
                   help="--loss features: weight of an added pixel error term (default: 0)")  # fmt: skip
    p.add_argument("--dae", default=None, help="--loss features: the DAE checkpoint folder (default: RUN/dae)")
    p.add_argument("--dae-epochs", type=int, default=5, help="DAE epochs in total (default: 5)")
    p.add_argument("--dae-channels", type=int, default=16, help="DAE first conv width (default: 16)")
    p.add_argument("--dae-noise", choices=("mask", "gaussian"), default="mask", help="DAE corruption (default: mask)")
    p.add_argument("--dae-noise-level", type=float, default=0.3,
                   help="masked fraction of 4x4 squares, or Gaussian noise std (default: 0.3)")  # fmt: skip
    p.add_argument("--epochs", type=int, default=10, help="epochs in total, counting resumed ones (default: 10)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--out", default=None, help="checkpoint folder (default: RUN/vision)")
    _common(p)

    p = add_command(stages, "train-rnn", "train M (MDN-LSTM) on the encoded episodes", epilog=EPILOG_RNN)
    p.add_argument("--vision", default=None, help="V checkpoint (default: RUN/vision)")
    p.add_argument("--hidden", type=int, default=256, help="LSTM units (default: 256)")
    p.add_argument("--mixtures", type=int, default=5, help="Gaussians per latent dimension (default: 5)")
    p.add_argument("--seq-len", type=int, default=32, help="training window length (default: 32)")
    p.add_argument("--epochs", type=int, default=20, help="epochs in total, counting resumed ones (default: 20)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--out", default=None, help="checkpoint folder (default: RUN/memory)")
    _common(p)

    p = add_command(stages, "train-controller", "optimise the controller with CMA-ES, in the real env or the dream",
                    epilog=EPILOG_CONTROLLER)  # fmt: skip
    p.add_argument("--vision", default=None, help="V checkpoint (default: RUN/vision)")
    p.add_argument("--memory", default=None, help="M checkpoint (default: RUN/memory)")
    p.add_argument("--dream", action="store_true", help="score candidates inside M's dream, not the real env")
    p.add_argument("--tau", type=float, default=1.0, help="dream temperature (default: 1.0)")
    p.add_argument("--generations", type=int, default=None, help="more generations to run (default: 10)")
    p.add_argument("--steps", type=int, default=None, help="more env (or dream) steps to spend, instead or as well")
    p.add_argument("--popsize", type=int, default=None, help="candidates per generation (default: 16)")
    p.add_argument("--sigma", type=float, default=None, help="CMA-ES step size (default: 0.1; resuming: the new one)")
    p.add_argument("--episodes-per-candidate", type=int, default=None, help="episodes averaged per score (default: 1)")
    p.add_argument("--controller-hidden", type=int, default=None, help="hidden units; 0 = linear (default: 0)")
    p.add_argument("--z-only", action="store_true", help="the controller reads z alone, not [z, h]")
    p.add_argument("--max-episode-steps", type=int, default=None, help="cap on episode length while scoring")
    p.add_argument("--workers", type=int, default=2, help="worker processes scoring candidates; 0 = in process")
    p.add_argument("--out", default=None, help="agent checkpoint folder (default: RUN/controller)")
    _common(p)

    p = add_command(stages, "eval", "play a trained controller in the real env (and the dream) against random",
                    epilog="examples:\n  repgym world eval runs/k2d/controller --episodes 20\n"
                    "  repgym world eval runs/k2d/dream-1.0 --dream-tau 1.0 --json k2d.json\n")  # fmt: skip
    p.add_argument("checkpoint", help="a world-model agent checkpoint folder")
    p.add_argument("--episodes", type=int, default=10, help="episodes (default: 10)")
    p.add_argument("--dream-tau", type=float, default=None, help="also play the dream at this temperature")
    p.add_argument("--seed", type=int, default=DEFAULT_FIRST_SEED,
                   help=f"reset seed of the first episode (default: {DEFAULT_FIRST_SEED:,})")  # fmt: skip
    p.add_argument("--json", default=None, help="write the results to this JSON file")
    p.add_argument("--no-progress", action="store_true", help=argparse.SUPPRESS)
    add_threads(p)

    handlers = {"collect": _collect, "train-vae": _train_vae, "train-rnn": _train_rnn,
                "train-controller": _train_controller, "eval": _eval}  # fmt: skip

    def dispatch(args: argparse.Namespace) -> int:
        if args.world_command is None:
            world.print_help()
            return 0
        return handlers[args.world_command](args)

    return {"world": dispatch}


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", default="runs/world", help="folder of this pipeline's stages (default: runs/world)")
    p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_threads(p)


def _collect(args: argparse.Namespace) -> int:
    from repgym.worlds.data import collect

    policy = None
    name = "random"
    if args.policy:
        from repgym.agents import load_agent
        from repgym.runs import resolve_checkpoint_path

        agent = load_agent(args.policy)
        name = f"agent:{resolve_checkpoint_path(args.policy).resolve()}"

        def policy(env):  # the loaded agent acts on the env's own observations
            return _AgentPolicy(agent, env)

    set_torch_threads(args.threads)
    manifest = collect(args.env_id, Path(args.run) / "data", args.episodes, args.shard_size, args.seed,
                       parse_settings(args.set), policy, name, args.max_steps, not args.no_progress)  # fmt: skip
    steps = sum(s["steps"] for s in manifest["shards"])
    print(f"{len(manifest['shards'])} shards, {steps} steps in {Path(args.run) / 'data'}")
    return 0


class _AgentPolicy:
    """A loaded agent as a collection policy, carrying its recurrent state within an episode (reset between).
    A world-model agent is given the collecting env's frame (its own env's render() would be another episode)."""

    def __init__(self, agent, env) -> None:
        self.agent, self.env = agent, env
        self.state = None

    def reset(self) -> None:
        self.state = None

    def __call__(self, obs, info):
        if getattr(self.agent, "name", None) == "world-model":
            from repgym.worlds.data import observation_frame

            obs = observation_frame(obs, self.env)
        action, self.state = self.agent.predict(obs, self.state, deterministic=False)
        return action


def _split(episodes: list) -> tuple[list, list]:
    """Train / validation episodes; the stages report held-out metrics, so one episode is not enough."""
    from repgym.worlds.data import split_episodes

    if len(episodes) < 2:
        raise ValueError(f"need at least 2 episodes (one held out for validation), got {len(episodes)}; "
                         "collect more with `repgym world collect --episodes N`")  # fmt: skip
    return split_episodes(episodes, 0.1)


def _train_vae(args: argparse.Namespace) -> int:
    import numpy as np

    from repgym.worlds.checkpoint import build_vision
    from repgym.worlds.data import load_episodes
    from repgym.worlds.figures import save_reconstructions
    from repgym.worlds.training import stack_frames, train_vision

    set_torch_threads(args.threads)
    import torch

    torch.manual_seed(args.seed)
    if args.loss == "features" and args.model != "vae":
        raise ValueError(f"--loss features applies to --model vae, not {args.model}")
    if args.pixel_weight and args.loss != "features":
        raise ValueError("--pixel-weight applies to --loss features (the pixel VAE's loss is all pixels)")
    train, val = _split(load_episodes(Path(args.run) / "data"))
    frames, val_frames = stack_frames(train), stack_frames(val)
    vae = {"latent_dim": args.latent_dim, "beta": args.beta, "channels": args.channels}
    vq = {"codebook_size": args.codebook_size, "code_dim": args.code_dim, "channels": args.channels}
    if args.model == "vae" and args.loss == "features":
        dae = _feature_extractor(args, frames, val_frames)
        vision = build_vision({"kind": "feature-vae", **vae, "dae": dae.config, "pixel_weight": args.pixel_weight})
        vision.use_features(dae)
    elif args.model == "vae":
        vision = build_vision({"kind": "vae", **vae})
    elif args.model == "vqvae":
        vision = build_vision({"kind": "vqvae", **vq})
    else:
        anneal = {"temperature_start": args.temperature_start, "anneal_steps": args.anneal_steps}
        vision = build_vision({"kind": "gmmvq", **vq, "temperature": args.temperature, **anneal,
                               "temperature_unit": args.temperature_unit})  # fmt: skip
    out = Path(args.out or Path(args.run) / "vision")
    history = train_vision(vision, frames, val_frames, args.epochs, args.batch_size, args.lr, out, args.seed,
                           not args.no_progress)  # fmt: skip
    mean_frame = frames.astype(np.float32).mean(0) / 255.0
    baseline = float(((val_frames.astype(np.float32) / 255.0 - mean_frame) ** 2).mean())
    png = save_reconstructions(vision, val_frames, out / "samples.png", title=f"{args.model}, {out}")
    last = history[-1] if history else {}
    print(f"{vision.kind}: validation reconstruction MSE per pixel {last.get('val_recon_mse', float('nan')):.5f} "
          f"(mean-frame baseline {baseline:.5f}); samples in {png}")  # fmt: skip
    return 0


def _feature_extractor(args: argparse.Namespace, frames, val_frames):
    """SCAN's J for ``--loss features``: the denoising autoencoder in ``--dae``, trained there first (or further,
    up to ``--dae-epochs``) on the same frames; an existing one with other settings is refused."""
    from repgym.worlds.checkpoint import load_dae
    from repgym.worlds.dae import DenoisingAutoencoder
    from repgym.worlds.training import train_vision

    folder = Path(args.dae or Path(args.run) / "dae")
    dae = DenoisingAutoencoder(args.dae_channels, args.dae_noise, args.dae_noise_level)
    history = train_vision(dae, frames, val_frames, args.dae_epochs, args.batch_size, args.lr, folder, args.seed,
                           not args.no_progress, role="dae")  # fmt: skip
    dae, _ = load_dae(folder)
    last = history[-1] if history else {}
    print(f"denoising autoencoder ({dae.noise} noise {dae.noise_level}): validation reconstruction MSE per pixel "
          f"{last.get('val_recon_mse', float('nan')):.5f}; checkpoint in {folder}")  # fmt: skip
    return dae


def _train_rnn(args: argparse.Namespace) -> int:
    from repgym.worlds.checkpoint import build_memory, load_vision
    from repgym.worlds.data import load_episodes, read_manifest
    from repgym.worlds.mdn_rnn import action_size
    from repgym.worlds.training import encode_episodes, train_memory

    set_torch_threads(args.threads)
    import gymnasium as gym
    import torch

    import repgym.envs  # noqa: F401

    torch.manual_seed(args.seed)
    data = Path(args.run) / "data"
    manifest = read_manifest(data)
    train, val = _split(load_episodes(data))
    space = gym.make(manifest["env_id"], **manifest["env_kwargs"]).action_space
    vision, _ = load_vision(args.vision or Path(args.run) / "vision")
    enc_train, enc_val = encode_episodes(vision, train, space), encode_episodes(vision, val, space)
    codes = {"positions": vision.positions, "codebook_size": vision.codebook_size} if vision.discrete else {}
    memory = build_memory({"latent_dim": vision.latent_dim, "action_dim": action_size(space), "hidden": args.hidden,
                           "mixtures": args.mixtures, **codes})  # fmt: skip
    out = Path(args.out or Path(args.run) / "memory")
    history = train_memory(memory, enc_train, enc_val, args.epochs, args.seq_len, args.batch_size, args.lr, out,
                           args.seed, not args.no_progress)  # fmt: skip
    last = history[-1]
    print(f"next-latent NLL per step on held-out episodes: M {last['val_nll']:.3f} nats, persistence baseline "
          f"{last['val_baseline_nll']:.3f} nats (lower is better); reward MSE {last['val_reward_mse']:.4g}, "
          f"done BCE {last['val_done_bce']:.4g}; checkpoint in {out}")  # fmt: skip
    return 0


def _train_controller(args: argparse.Namespace) -> int:
    from repgym.agents import load_agent
    from repgym.agents.base import META_FILE
    from repgym.agents.world_model.agent import WorldModelAgent, load_world_model
    from repgym.worlds.data import load_episodes, read_manifest
    from repgym.worlds.training import encode_episodes

    set_torch_threads(args.threads)
    run = Path(args.run)
    out = Path(args.out or run / "controller")
    manifest = read_manifest(run / "data")
    # search settings: given ones apply on resume too; None = not given (the default, or the checkpoint's)
    search = {"popsize": args.popsize, "sigma0": args.sigma, "episodes_per_candidate": args.episodes_per_candidate,
              "max_episode_steps": args.max_episode_steps}  # fmt: skip
    given = {k: v for k, v in search.items() if v is not None}
    if (out / META_FILE).is_file():
        agent = load_agent(out)
        _check_resume(agent, args, out)
        agent.config.workers = args.workers
        for key, value in given.items():
            setattr(agent.config, key, value)
        if args.sigma is not None and agent.search is not None:
            agent.search.sigma = float(args.sigma)  # the search goes on with the given step size
        print(f"resuming from {out}: {agent.search.generations if agent.search else 0} generations done"
              + (f"; now with {', '.join(f'{k}={v}' for k, v in given.items())}" if given else ""))  # fmt: skip
    else:
        hp = {"popsize": 16, "sigma0": 0.1, "episodes_per_candidate": 1, **given,
              "controller_hidden": args.controller_hidden or 0, "use_hidden": not args.z_only,
              "workers": args.workers, "dream": args.dream, "tau": args.tau}  # fmt: skip
        vision, memory = load_world_model(args.vision or run / "vision", args.memory or run / "memory")
        episodes = load_episodes(run / "data")
        import gymnasium as gym

        import repgym.envs  # noqa: F401

        env = gym.make(manifest["env_id"], **manifest["env_kwargs"])
        encoded = encode_episodes(vision, episodes, env.action_space)
        import torch

        starts = torch.stack([e.codes[0] if e.codes is not None else e.z[0] for e in encoded]).numpy()
        collected = sum(s["steps"] for s in manifest["shards"])  # V and M's data count as real env steps
        agent = WorldModelAgent.from_world(env, vision, memory, starts, max(len(e) for e in episodes), args.seed,
                                           num_timesteps=collected, **hp)  # fmt: skip
    generations = args.generations if args.generations is not None or args.steps is not None else 10
    result = agent.train_controller(generations, args.steps, args.dream, args.tau, not args.no_progress)
    agent.save(out)
    where = f"dream (tau={args.tau})" if args.dream else "real env"
    print(f"CMA-ES in the {where}: {result.generations} generations, best score {result.best_fitness:.3f}, last "
          f"generation mean {result.history[-1]['mean_fitness']:.3f}; {agent.num_timesteps} real env steps in "
          f"total (data collection and controller search); agent saved to {out}")  # fmt: skip
    return 0


def _check_resume(agent, args: argparse.Namespace, out: Path) -> None:
    """Refuse given settings that the checkpoint in ``out`` cannot take: the controller's shape, or V / M
    checkpoints other than the ones it was trained with."""
    import torch

    from repgym.worlds.checkpoint import load_memory, load_vision

    conflicts = []
    if args.controller_hidden is not None and args.controller_hidden != agent.config.controller_hidden:
        conflicts.append(f"--controller-hidden {args.controller_hidden} (checkpoint: {agent.config.controller_hidden})")
    if args.z_only and agent.config.use_hidden:
        conflicts.append("--z-only (the checkpoint's controller reads [z, h])")
    for flag, path, load, model in (("--vision", args.vision, load_vision, agent.vision),
                                    ("--memory", args.memory, load_memory, agent.memory)):  # fmt: skip
        if path is None:
            continue
        other, _ = load(path)
        mine, theirs = model.state_dict(), other.state_dict()
        same = other.config == model.config and all(torch.equal(mine[k], theirs[k]) for k in mine)
        if not same:
            conflicts.append(f"{flag} {path} (not the model the checkpoint was trained with)")
    if conflicts:
        raise ValueError(f"{out} holds a controller that cannot resume with {'; '.join(conflicts)}; "
                         "use another --out to start a new one")  # fmt: skip


def _eval(args: argparse.Namespace) -> int:
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from repgym.agents import load_agent
    from repgym.agents.world_model.rollout import dream_returns, play_returns
    from repgym.worlds.dream import DreamEnv

    set_torch_threads(args.threads)
    agent = load_agent(args.checkpoint)
    if agent.name != "world-model":
        raise ValueError(f"{args.checkpoint} holds a {agent.name!r} agent; `repgym world eval` needs a world-model one")
    cap = agent.config.max_episode_steps
    rows = {
        "controller (real env)": play_returns(agent.env, agent.world, agent.controller, args.episodes, args.seed, cap),
        "random (real env)": play_returns(agent.env, None, None, args.episodes, args.seed, cap),
    }
    if args.dream_tau is not None:
        task = agent.rollout_task("dream", args.dream_tau)
        dream = DreamEnv(agent.memory, task.starts, agent.env.action_space, agent.vision, args.dream_tau,
                         task.max_steps or 1000, observe_hidden=agent.config.use_hidden)  # fmt: skip
        rows[f"controller (dream, tau={args.dream_tau})"] = dream_returns(dream, agent.controller, args.episodes,
                                                                          args.seed)  # fmt: skip
    table = Table(title=f"{agent.env_id}: {args.episodes} episodes from seed {args.seed}")
    for col in ("policy", "mean return", "std", "min", "max"):
        table.add_column(col, justify="left" if col == "policy" else "right")
    for name, r in rows.items():
        table.add_row(name, f"{r.mean():.3f}", f"{r.std():.3f}", f"{r.min():.3f}", f"{r.max():.3f}")
    Console().print(table)
    if args.json:
        payload = {"checkpoint": str(args.checkpoint), "env_id": agent.env_id, "episodes": args.episodes,
                   "seed": args.seed, "returns": {k: np.asarray(v).tolist() for k, v in rows.items()}}  # fmt: skip
        Path(args.json).write_text(json.dumps(payload, indent=2))
    return 0
