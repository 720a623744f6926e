"""``repgym train | eval | dopamine``: train and evaluate any registered agent."""

from __future__ import annotations

import argparse

from repgym.cli.common import (
    Handler,
    add_command,
    add_settings,
    add_threads,
    parse_hyperparameters,
    parse_settings,
    set_torch_threads,
)
from repgym.runs.protocol import DEFAULT_FIRST_SEED

EPILOG_TRAIN = """\
every registered agent trains the same way (repgym list names them); --set goes to the agent, --env-set to the env.
writes <out>/checkpoint, <out>/logs (TensorBoard + metrics.csv, repgym's agents) and <out>/summary.json;
--checkpoint-every N also keeps <out>/checkpoints/step_<n>.

tuned entries: where repgym/agents/hyperparams/<agent>.toml has an entry for the env (the env id and the env
arguments it is for, e.g. ["repgym/KeyToDoor-v0 delay=5"]), its hyperparameters, env arguments, n_timesteps and
n_envs are the defaults, and one line names it; --set, --env-set, --steps and --num-envs override them, --no-tuned
trains with the agent's plain defaults. Without an entry, --steps is required.

Ctrl-C (or SIGTERM) stops at the next step, saves <out>/checkpoint and exits with 130; the same command again
resumes it up to the steps first asked for (other settings are refused). A finished run in --out is kept unless
--overwrite. --resume CHECKPOINT trains any checkpoint --steps further into a new --out.

examples:
  repgym train qr-dqn CartPole-v1 --out runs/qr      (the tuned entry: RL Zoo's settings, 50000 steps)
  repgym train qr-dqn repgym/BubbleBreaker-v0 --env-set rows=8 --env-set cols=8 --env-set colours=4 --out runs/qr-bb
      (the 8x8 entry: 200000 steps on 16 boards; --steps, --set ... override it)
  repgym train qr-dqn CartPole-v1 --no-tuned --steps 50000 --set learning_rate=2.3e-3 --set batch_size=64
  repgym train c51-dqn CartPole-v1 --steps 50000 --set v_min=0 --set v_max=100 --progress
  repgym train sb3-ppo CartPole-v1 --steps 20000 --set n_steps=256
  repgym train --resume runs/qr/checkpoint --steps 10000 --out runs/qr-more
"""

EPILOG_EVAL = """\
examples:
  repgym eval runs/qr/checkpoint --episodes 20
  repgym eval runs/qr/checkpoint --episodes 5 --plot-distribution dist.png   (distribution at the first state)
"""


def register(sub) -> dict[str, Handler]:
    p_train = add_command(
        sub,
        "train",
        "train any registered agent on an env, save a checkpoint and evaluate it",
        "Train an agent for --steps env steps, save it, and report a greedy evaluation.",
        EPILOG_TRAIN,
    )
    p_train.add_argument("agent", nargs="?", help="agent name, e.g. qr-dqn, c51-dqn, sb3-ppo (not with --resume)")
    p_train.add_argument("env_id", nargs="?", help="env id, e.g. CartPole-v1 or repgym/BubbleBreaker-v0")
    p_train.add_argument("--steps", type=int, default=None,
                         help="env steps to train (default: the tuned entry's n_timesteps)")  # fmt: skip
    p_train.add_argument("--no-tuned", action="store_true",
                         help="ignore the tuned entry: the agent's plain defaults")  # fmt: skip
    p_train.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    p_train.add_argument("--out", default="runs/train", help="output folder (default: runs/train)")
    p_train.add_argument("--num-envs", type=int, default=None,
                         help="vector env size (default: the tuned entry's n_envs, else 1)")  # fmt: skip
    p_train.add_argument("--checkpoint-every", type=int, default=None, metavar="N", help="also save every N steps")
    p_train.add_argument("--eval-episodes", type=int, default=10, help="greedy episodes afterwards (default: 10)")
    p_train.add_argument("--resume", default=None, metavar="CHECKPOINT", help="continue training a checkpoint")
    p_train.add_argument("--progress", action="store_true", help="show a progress bar")
    p_train.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
    add_settings(p_train, what="agent hyperparameter; JSON for values starting with { or [")
    add_settings(p_train, "--env-set")
    add_threads(p_train)

    p_eval = add_command(
        sub,
        "eval",
        "evaluate a saved agent on the env it was trained on",
        "Load a checkpoint and play seeded episodes (episode i from seed S + i), legal moves only "
        "where the env has action masks.",
        EPILOG_EVAL,
    )
    p_eval.add_argument("checkpoint", help="a checkpoint folder written by repgym train or agent.save")
    p_eval.add_argument("--episodes", type=int, default=10, help="episodes (default: 10)")
    p_eval.add_argument("--seed", type=int, default=DEFAULT_FIRST_SEED,
                        help=f"reset seed of the first episode (default: {DEFAULT_FIRST_SEED:,})")  # fmt: skip
    p_eval.add_argument("--stochastic", action="store_true", help="act with the agent's exploration")
    p_eval.add_argument("--plot-distribution", default=None, metavar="PNG",
                        help="distributional agents: draw the return distribution at the first state")  # fmt: skip
    add_settings(p_eval, "--env-set", "override an env argument")
    add_threads(p_eval)

    p_dop = add_command(
        sub,
        "dopamine",
        "reproduce the variable-magnitude task of Dabney et al. 2020 with expectile and quantile agents",
        "Train an expectile and a quantile agent on one cue followed by a reward from {0.1, 0.3, 1.2, "
        "2.5, 5, 10, 20}; compare learned values with the true expectiles/quantiles, report the Wasserstein-1 "
        "distance of the imputed distribution and reversal points against asymmetries (table, CSV, figure).",
    )
    p_dop.add_argument("--steps", type=int, default=20_000, help="env steps per agent (default: 20000)")
    p_dop.add_argument("--units", type=int, default=21, help="units (asymmetries) per agent, odd (default: 21)")
    p_dop.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    p_dop.add_argument("--out", default="runs/dopamine", help="folder for dopamine.csv/.md/.png")
    add_threads(p_dop)
    return {"train": _cmd_train, "eval": _cmd_eval, "dopamine": _cmd_dopamine}


def _cmd_train(args: argparse.Namespace) -> int:
    import sys

    from repgym.agents.callbacks import StopTraining, stop_on_signals
    from repgym.agents.training import train_agent

    set_torch_threads(args.threads)
    if args.resume is None and (args.agent is None or args.env_id is None):
        raise ValueError("give an agent and an env id (or --resume CHECKPOINT)")
    stop = StopTraining()
    with stop_on_signals(stop):
        result = train_agent(args.agent, args.env_id, args.steps, hyperparameters=parse_hyperparameters(args.set),
                             env_kwargs=parse_settings(args.env_set), seed=args.seed, out_dir=args.out,
                             num_envs=args.num_envs, progress_bar=args.progress,
                             checkpoint_every=args.checkpoint_every, eval_episodes=args.eval_episodes,
                             resume=args.resume, overwrite=args.overwrite, stop=stop, announce=print,
                             tuned=not args.no_tuned)  # fmt: skip
    if not result.finished:
        print(f"repgym train: {stop.reason or 'stopped'} at step {result.total_steps} of {result.target_steps}; "
              f"saved {result.checkpoint}; resume with: {_train_command(args)}", file=sys.stderr)  # fmt: skip
        return 130
    print(f"trained {result.agent} on {result.env_id}: {result.steps} steps in {result.wall_time_s:.1f} s "
          f"({result.steps_per_s:.0f} steps/s); checkpoint {result.checkpoint}")  # fmt: skip
    if result.evaluation is not None:
        ev = result.evaluation
        success = "" if ev.success_rate is None else f", success {ev.success_rate:.0%}"
        print(f"greedy return over {len(ev.returns)} episodes: {ev.mean:.2f} ± {ev.std:.2f}{success}")
    return 0


def _train_command(args: argparse.Namespace) -> str:
    """The ``repgym train`` command line that reruns (and so resumes) this run: its settings, defaults left out."""
    import shlex

    words = ["repgym", "train", *(w for w in (args.agent, args.env_id) if w is not None)]
    options = [("--steps", args.steps, None), ("--resume", args.resume, None), ("--seed", args.seed, 0),
               ("--num-envs", args.num_envs, None), ("--checkpoint-every", args.checkpoint_every, None),
               ("--eval-episodes", args.eval_episodes, 10), ("--threads", args.threads, 1),
               ("--out", args.out, None)]  # fmt: skip
    words += [w for flag, value, default in options if value != default for w in (flag, str(value))]
    words += [w for item in args.set for w in ("--set", item)]
    words += [w for item in args.env_set for w in ("--env-set", item)]
    words += ["--no-tuned"] if args.no_tuned else []
    words += ["--progress"] if args.progress else []
    return shlex.join(words)


def _cmd_eval(args: argparse.Namespace) -> int:
    from repgym.agents.evaluate import evaluate_checkpoint
    from repgym.runs import Checkpoint, EvalProtocol

    set_torch_threads(args.threads)
    checkpoint = Checkpoint.read(args.checkpoint)
    env_kwargs = parse_settings(args.env_set)
    protocol = EvalProtocol(args.episodes, first_seed=args.seed, deterministic=not args.stochastic)
    agent, env, ev = evaluate_checkpoint(checkpoint, protocol, env_kwargs=env_kwargs)
    print(
        f"{checkpoint.agent} on {checkpoint.env} ({checkpoint.num_timesteps} training steps): "
        f"return {ev.mean:.2f} ± {ev.std:.2f} over {len(ev.returns)} episodes (min {ev.returns.min():.2f}, "
        f"max {ev.returns.max():.2f}), mean length {ev.lengths.mean():.1f}, illegal actions {ev.illegal_actions}"
    )
    if ev.success_rate is not None:
        print(f"success {ev.success_rate:.0%} ({int(ev.successes.sum())} of {len(ev.successes)} episodes)")
    if ev.scores is not None:
        print(f"score {ev.scores.mean():.2f} ± {ev.scores.std():.2f}")
    if args.plot_distribution:
        if not hasattr(agent, "return_distribution"):
            raise ValueError(f"{checkpoint.agent} has no return distribution to plot")
        from repgym.agents.distributional.plot import plot_return_distribution

        obs, info = env.reset(seed=args.seed)
        fig = plot_return_distribution(agent.return_distribution(obs), legal=info.get("action_mask"))
        fig.savefig(args.plot_distribution, dpi=120)
        print(f"wrote {args.plot_distribution}")
    return 0


def _cmd_dopamine(args: argparse.Namespace) -> int:
    import csv
    from pathlib import Path

    from repgym.agents.distributional.dopamine import dopamine_figure, dopamine_markdown, run_dopamine

    set_torch_threads(args.threads)
    if args.steps < 1:
        raise ValueError(f"--steps must be a positive number of env steps, got {args.steps}")
    result = run_dopamine(steps=args.steps, n=args.units, seed=args.seed, progress_bar=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    text = dopamine_markdown(result)
    print(text)
    (out / "dopamine.md").write_text(text + "\n")
    with (out / "dopamine.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(result.rows()[0]))
        writer.writeheader()
        writer.writerows(result.rows())
    dopamine_figure(result).savefig(out / "dopamine.png", dpi=120)
    print(f"wrote {out / 'dopamine.md'}, {out / 'dopamine.csv'} and {out / 'dopamine.png'}")
    return 0
