"""The ``repgym`` command: parses arguments, then calls library functions. No logic of its own lives here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import repgym

EPILOG_MAIN = """\
examples:
  repgym list                                   every environment and agent
  repgym stats repgym/BubbleBreaker-v0          baseline policies' scores, game lengths, moves per turn
  repgym stats repgym/SameGame-v0 --episodes 50 --policy greedy --out samegame_stats
  repgym play repgym/KeyToDoor-v0 --set delay=50   play a game yourself (recorded)
  repgym replay RECORDING.jsonl                 re-simulate a recording and verify every reward
  repgym shift --env repgym/TwoLinkReach-v0 --steps 5000 --seeds 3   learn without gravity, then with it
  repgym train qr-dqn CartPole-v1 --steps 50000 --out runs/qr   train any agent, save, evaluate
  repgym eval runs/qr/checkpoint --episodes 20   evaluate a saved agent
  repgym dopamine                               expectile/quantile agents vs the dopamine paper's task
"""

EPILOG_STATS = """\
policies:
  random         uniformly random over groups (every group equally likely, not every cell)
  size-weighted  random, a group's probability proportional to its size
  greedy         always the largest group (ties: the first in cell order)
  tabu-colour    random, avoiding the colour with most bubbles left while another move exists

examples:
  repgym stats repgym/BubbleBreaker-v0
  repgym stats repgym/BubbleBreakerContinuous-v0 --episodes 200 --policy random --policy greedy
  repgym stats repgym/BubbleBreaker-v0 --set rows=8 --set cols=8 --set colours=3
"""

EPILOG_PLAY = """\
controls (also shown in the window):
  Bubble Breaker / SameGame   click a group of two or more bubbles
  delayed games               their keys (arrows/WASD, Space, U/N, 1..9), one step per press
  other discrete envs         keys 1..9, 0 for actions 0..9
  continuous envs             real time; arrows, WASD, ... push each action dimension while held
  always                      R new game, Q or Esc quit, Space/Enter next game after one ends

every session is recorded (JSON lines) to --record-dir, default $REPGYM_RECORDINGS or
~/.local/share/repgym/recordings; episode i is reset with seed S + i.

examples:
  repgym play repgym/KeyToDoor-v0 --set delay=50
  repgym play repgym/BubbleBreaker-v0 --seed 3 --player alice
  repgym play repgym/HiddenSequence-v0 --set delay=5 --record-dir recordings
"""

EPILOG_REPLAY = """\
examples:
  repgym replay ~/.local/share/repgym/recordings/20250101T120000Z-KeyToDoor-v0-alice-1a2b.jsonl
  repgym replay session.jsonl --render
  repgym replay session.jsonl --video session.mp4 --fps 8
"""


def _parse_value(text: str):
    """``--set key=value`` values: int, float, bool, None, else the string."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_settings(items: Sequence[str]) -> dict:
    """``["rows=8", "variant=shifter"]`` -> ``{"rows": 8, "variant": "shifter"}``."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects key=value, got {item!r}")
        out[key.strip()] = _parse_value(value.strip())
    return out


EPILOG_SHIFT = """\
per seed: a fresh agent learns --steps env steps at the training gravity; it is evaluated zero-shot at the test
gravity; it keeps learning --steps more after the switch (fine-tune); a fresh agent learns --steps from scratch at
the test gravity. Prints zero-shot return drop, env steps to reach 90% of the from-scratch final return, final
returns (mean ± std over seeds); writes shift.json and shift.png to --out.

examples:
  repgym shift --env repgym/TwoLinkReach-v0 --agent sb3-sac --train-gravity 0 --test-gravity 9.81 --steps 5000 --seeds 3
  repgym shift --env repgym/Thrower-v0 --agent sb3-ppo --steps 20000 --hp n_steps=512 --hp batch_size=64
  repgym shift --env repgym/TwoLinkReach-v0 --agent sb3-dqn --bins 3 --steps 3000 --seeds 2
  repgym shift --env repgym/ThreeLinkReach-v0 --steps 2000 --hp 'policy_kwargs={"net_arch": [64, 64]}'
"""


def parse_hyperparameters(items: Sequence[str]) -> dict:
    """``--hp key=value`` items: like ``--set``, except that a value starting with ``{`` or ``[`` is JSON."""
    import json

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        value = value.strip()
        if value[:1] in ("{", "["):
            try:
                out[key.strip()] = json.loads(value)
            except json.JSONDecodeError as err:
                raise ValueError(f"--hp {key.strip()}: {value!r} is not valid JSON ({err})") from None
        else:
            out.update(parse_settings([item]))
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="repgym",
        description="Environments, agents and representation analyzers for studying how RL agents represent "
        "the worlds they act in.",
        epilog=EPILOG_MAIN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"repgym {repgym.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p_list = sub.add_parser("list", help="list every registered environment and agent")
    p_list.add_argument("--format", choices=["table", "md"], default="table", help="output format (default: table)")

    p_stats = sub.add_parser(
        "stats",
        help="play baseline policies and report scores, game lengths and moves available per turn",
        description="Play each baseline policy for a number of games and report, per policy, mean ± std of the "
        "score, game length, legal moves (groups) per turn, bubbles left and new columns; writes a "
        "histogram PNG of the scores.",
        epilog=EPILOG_STATS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_stats.add_argument("env_id", help="a Bubble Breaker / SameGame id, e.g. repgym/BubbleBreaker-v0")
    p_stats.add_argument("--episodes", type=int, default=100, help="games per policy (default: 100)")
    p_stats.add_argument(
        "--policy",
        action="append",
        dest="policies",
        metavar="NAME",
        help="a baseline policy (repeatable; default: all of them)",
    )
    p_stats.add_argument("--seed", type=int, default=0, help="seed of the first game (default: 0)")
    p_stats.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="env constructor argument")
    p_stats.add_argument(
        "--out", default="repgym_stats", help="folder for the histogram PNG and a CSV (default: ./repgym_stats)"
    )
    p_stats.add_argument("--no-plot", action="store_true", help="skip the histogram")

    p_play = sub.add_parser(
        "play",
        help="play any repgym env yourself in a window; the session is recorded",
        description="Open a pygame window and play an env with the mouse (Bubble Breaker) or the keyboard. "
        "Every session is recorded for replay and for human-normalised scores.",
        epilog=EPILOG_PLAY,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_play.add_argument("env_id", help="an env id, e.g. repgym/KeyToDoor-v0")
    p_play.add_argument("--seed", type=int, default=None, help="seed of the first game (default: random)")
    p_play.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="env constructor argument")
    p_play.add_argument("--player", default=None, help="name in the recording (default: $REPGYM_PLAYER or login)")
    p_play.add_argument("--record-dir", default=None, help="folder for the recording (default: see below)")
    p_play.add_argument("--fps", type=int, default=None, help="frames per second (default: env's; turn-based >= 30)")

    p_replay = sub.add_parser(
        "replay",
        help="re-simulate a recording and check that every reward matches",
        description="Reset each recorded episode with its seed, step every recorded action again and check "
        "rewards, episode ends and observations bit for bit; a mismatch or a corrupt file is an error.",
        epilog=EPILOG_REPLAY,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_replay.add_argument("recording", help="a .jsonl recording written by repgym play")
    p_replay.add_argument("--render", action="store_true", help="show the replay in a window")
    p_replay.add_argument("--video", default=None, metavar="PATH", help="write the replay to a .mp4 or .gif file")
    p_replay.add_argument("--fps", type=int, default=None, help="frames per second (default: the env's render_fps)")

    p_shift = sub.add_parser(
        "shift",
        help="gravity-shift experiment: learn with one gravity, then test and fine-tune with another",
        description="Train with one gravity, evaluate zero-shot with another, fine-tune there, and compare with "
        "learning from scratch in the new gravity, over several seeds.",
        epilog=EPILOG_SHIFT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_shift.add_argument("--env", required=True, dest="env_id", help="a physics env id, e.g. repgym/TwoLinkReach-v0")
    p_shift.add_argument("--agent", default="sb3-sac", help="agent name from `repgym list` (default: sb3-sac)")
    p_shift.add_argument("--train-gravity", type=float, default=0.0, help="m/s² while learning first (default: 0)")
    p_shift.add_argument("--test-gravity", type=float, default=9.81, help="m/s² after the switch (default: 9.81)")
    p_shift.add_argument("--steps", type=int, default=20_000, help="env steps per phase (default: 20000)")
    p_shift.add_argument("--seeds", type=int, default=3, help="number of seeds (default: 3)")
    p_shift.add_argument("--seed", type=int, default=0, help="first seed (default: 0)")
    p_shift.add_argument("--eval-every", type=int, default=0, help="env steps between evaluations (default: steps/10)")
    p_shift.add_argument("--eval-episodes", type=int, default=5, help="episodes per evaluation (default: 5)")
    p_shift.add_argument("--bins", type=int, default=None, help="discretize actions (bins per joint) for DQN agents")
    p_shift.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="env constructor argument")
    p_shift.add_argument("--hp", action="append", default=[], metavar="KEY=VALUE", help="agent hyperparameter")
    p_shift.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    p_shift.add_argument("--out", default="runs/shift", help="folder for shift.json and shift.png")
    p_shift.add_argument("--no-plot", action="store_true", help="skip the PNG")
    _add_search_commands(sub)
    _add_agent_commands(sub)
    _add_analyze_command(sub)
    return parser


def _cmd_list(args: argparse.Namespace) -> int:
    from repgym.listing import print_listing

    print_listing(fmt=args.format)
    return 0


def _cmd_stats(args: argparse.Namespace) -> int:
    from repgym.evaluation.stats import run_stats

    run_stats(
        args.env_id,
        episodes=args.episodes,
        policies=args.policies,
        seed=args.seed,
        env_kwargs=parse_settings(args.set),
        out_dir=args.out,
        plot=not args.no_plot,
    )
    return 0


def _cmd_play(args: argparse.Namespace) -> int:
    from repgym.evaluation.human_play import play

    path = play(
        args.env_id,
        env_kwargs=parse_settings(args.set),
        seed=args.seed,
        player=args.player,
        record_dir=args.record_dir,
        fps=args.fps,
    )
    print(f"recorded to {path}")
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from repgym.evaluation.replay import replay

    report = replay(args.recording, render=args.render, video=args.video, fps=args.fps)
    returns = ", ".join(f"{r:g}" for r in report.returns)
    episodes = f"{report.episodes} episode{'' if report.episodes == 1 else 's'}"
    print(f"verified {report.path.name}: {report.env_id}, {episodes}, {report.steps} steps, returns [{returns}]")
    for note in report.notes:
        print(f"note: {note}")
    return 0


def _cmd_shift(args: argparse.Namespace) -> int:
    from repgym.evaluation.gravity_shift import ShiftConfig, run_shift

    config = ShiftConfig(
        env_id=args.env_id,
        agent=args.agent,
        train_gravity=args.train_gravity,
        test_gravity=args.test_gravity,
        steps=args.steps,
        seeds=args.seeds,
        first_seed=args.seed,
        eval_every=args.eval_every,
        eval_episodes=args.eval_episodes,
        bins=args.bins,
        env_kwargs=parse_settings(args.set),
        hyperparameters=parse_hyperparameters(args.hp),
        threads=args.threads,
    )
    run_shift(config, out_dir=args.out, plot=not args.no_plot)
    return 0


EPILOG_SOLVE = """\
moves are printed as row,col with row 0 the top row and col 0 the leftmost column (action = row * cols + col);
every score is verified by replaying the moves in the env (repgym/SameGame-v0 or repgym/BubbleBreaker-v0 rules).

examples:
  repgym boards write --set samegame-15x15 --out samegame_15x15.txt
  repgym solve samegame_15x15.txt --problem 0 --search nmcs --level 2 --time 30
  repgym solve samegame_15x15.txt --search nmcs --level 0 --playout greedy --time 0    the greedy policy
  repgym solve samegame_15x15.txt --search mcts --time 10 --out mcts.json
  repgym solve samegame_15x15.txt --search beam --value runs/lookahead-samegame --time 10
  repgym solve boards.txt --scoring bubble --search lookahead --value runs/lookahead-bubble
"""


def _add_search_commands(sub) -> None:
    """``repgym solve`` and ``repgym boards`` (look-ahead search, issue 6)."""
    from repgym.envs.bubble.boards import STANDARD_SET_SPECS

    p_solve = sub.add_parser(
        "solve",
        help="search Bubble Breaker / SameGame positions from a board file and verify the scores by replay",
        description="Search each board of a text file (or one, --problem) with NMCS, beam search, SP-MCTS or the "
        "one-step look-ahead on a learned value, print the move sequences and a per-board table with the total.",
        epilog=EPILOG_SOLVE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_solve.add_argument("board_file", help="text file of boards (see repgym.envs.bubble.boards)")
    p_solve.add_argument("--problem", type=int, default=None, metavar="K", help="only board K, counted from 0")
    p_solve.add_argument("--scoring", choices=["samegame", "bubble"], default="samegame", help="default: samegame")
    p_solve.add_argument("--search", choices=["nmcs", "beam", "mcts", "lookahead"], default="nmcs",
                         help="search method (default: nmcs)")  # fmt: skip
    p_solve.add_argument("--time", type=float, default=10.0, metavar="SECONDS",
                         help="budget per board; 0: no budget, one pass (default: 10)")  # fmt: skip
    p_solve.add_argument("--value", default=None, metavar="CHECKPOINT", help="a saved lookahead agent (value network)")
    p_solve.add_argument("--level", type=int, default=None, help="nmcs: nesting level; 0: one playout (default: 1)")
    p_solve.add_argument("--playout", default=None, help="nmcs, mcts: uniform, size-weighted, tabu-colour, value, ...")
    p_solve.add_argument("--prune", type=int, default=None, metavar="K",
                         help="nmcs: at levels >= 2 search only the K best moves by r + V (needs --value)")  # fmt: skip
    p_solve.add_argument("--width", type=int, default=None, help="beam: width of the first pass (default: 16)")
    p_solve.add_argument("--evaluator", default=None, help="beam: 'value' or a playout policy (default: value if "
                         "--value is given, else tabu-colour)")  # fmt: skip
    p_solve.add_argument("--leaf", choices=["playout", "value"], default=None, help="mcts: leaf evaluation")
    p_solve.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p_solve.add_argument("--engine", choices=["auto", "numba", "numpy"], default="auto", help="playout engine")
    p_solve.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    p_solve.add_argument("--out", default=None, metavar="JSON", help="also write the results to this JSON file")

    p_boards = sub.add_parser("boards", help="write repgym's standard board sets as text files")
    boards_sub = p_boards.add_subparsers(dest="boards_command", metavar="ACTION", required=True)
    p_write = boards_sub.add_parser("write", help="regenerate a standard set from its seeds into a text file")
    p_write.add_argument("--set", required=True, dest="board_set", choices=sorted(STANDARD_SET_SPECS),
                         help="which set: 20 boards drawn with seeds 0..19")  # fmt: skip
    p_write.add_argument("--out", required=True, metavar="FILE", help="where to write the boards")


def _cmd_solve(args: argparse.Namespace) -> int:
    import torch

    from repgym.agents.lookahead import load_value, solve_file

    torch.set_num_threads(args.threads)
    value = load_value(args.value) if args.value else None
    options = {name: getattr(args, name) for name in ("level", "playout", "prune", "width", "evaluator", "leaf")}
    solved = solve_file(args.board_file, problem=args.problem, scoring=args.scoring, search=args.search,
                        time_s=args.time if args.time > 0 else None, value=value, seed=args.seed, engine=args.engine,
                        out=args.out,
                        **{k: v for k, v in options.items() if v is not None})  # fmt: skip
    return 0 if all(s.verified for s in solved) else 1


def _cmd_boards(args: argparse.Namespace) -> int:
    from pathlib import Path

    from repgym.envs.bubble.boards import standard_set_text

    Path(args.out).write_text(standard_set_text(args.board_set))
    print(f"wrote {args.board_set} (20 boards) to {args.out}")
    return 0


COMMANDS = {"list": _cmd_list, "stats": _cmd_stats, "play": _cmd_play, "replay": _cmd_replay, "shift": _cmd_shift,
            "solve": _cmd_solve, "boards": _cmd_boards}  # fmt: skip


EPILOG_TRAIN = """\
every registered agent trains the same way (repgym list names them); --set goes to the agent, --env-set to the env.
writes <out>/checkpoint (resume with --resume), <out>/logs (TensorBoard + metrics.csv, repgym's agents) and
<out>/summary.json; --checkpoint-every N also keeps <out>/checkpoints/step_<n>.

examples:
  repgym train qr-dqn CartPole-v1 --steps 50000 --set learning_rate=2.3e-3 --set batch_size=64 --out runs/qr
  repgym train c51-dqn CartPole-v1 --steps 50000 --set v_min=0 --set v_max=100 --progress
  repgym train qr-dqn repgym/BubbleBreaker-v0 --steps 100000 --num-envs 16 --env-set rows=6 --env-set cols=6 \\
      --set augmentation=colours
  repgym train sb3-ppo CartPole-v1 --steps 20000 --set n_steps=256
  repgym train --resume runs/qr/checkpoint --steps 10000 --out runs/qr-more
"""

EPILOG_EVAL = """\
examples:
  repgym eval runs/qr/checkpoint --episodes 20
  repgym eval runs/qr/checkpoint --episodes 5 --plot-distribution dist.png   (distribution at the first state)
"""


def _add_agent_commands(sub) -> None:
    """``repgym train``, ``repgym eval`` and ``repgym dopamine`` (distributional DQN, issue 5)."""
    p_train = sub.add_parser(
        "train",
        help="train any registered agent on an env, save a checkpoint and evaluate it",
        description="Train an agent for --steps env steps, save it, and report a greedy evaluation.",
        epilog=EPILOG_TRAIN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_train.add_argument("agent", nargs="?", help="agent name, e.g. qr-dqn, c51-dqn, sb3-ppo (not with --resume)")
    p_train.add_argument("env_id", nargs="?", help="env id, e.g. CartPole-v1 or repgym/BubbleBreaker-v0")
    p_train.add_argument("--steps", type=int, required=True, help="env steps to train")
    p_train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                         help="agent hyperparameter (JSON for values starting with { or [)")  # fmt: skip
    p_train.add_argument("--env-set", action="append", default=[], metavar="KEY=VALUE", help="env argument")
    p_train.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    p_train.add_argument("--out", default="runs/train", help="output folder (default: runs/train)")
    p_train.add_argument("--num-envs", type=int, default=1, help="train on a vector env of this size (default: 1)")
    p_train.add_argument("--checkpoint-every", type=int, default=None, metavar="N", help="also save every N steps")
    p_train.add_argument("--eval-episodes", type=int, default=10, help="greedy episodes afterwards (default: 10)")
    p_train.add_argument("--resume", default=None, metavar="CHECKPOINT", help="continue training a checkpoint")
    p_train.add_argument("--progress", action="store_true", help="show a progress bar")
    p_train.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")

    p_eval = sub.add_parser(
        "eval",
        help="evaluate a saved agent on the env it was trained on",
        description="Load a checkpoint and play seeded episodes (episode i from seed S + i), legal moves only "
        "where the env has action masks.",
        epilog=EPILOG_EVAL,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_eval.add_argument("checkpoint", help="a checkpoint folder written by repgym train or agent.save")
    p_eval.add_argument("--episodes", type=int, default=10, help="episodes (default: 10)")
    p_eval.add_argument("--seed", type=int, default=0, help="seed of the first episode (default: 0)")
    p_eval.add_argument("--stochastic", action="store_true", help="act with the agent's exploration")
    p_eval.add_argument("--env-set", action="append", default=[], metavar="KEY=VALUE", help="override env argument")
    p_eval.add_argument("--plot-distribution", default=None, metavar="PNG",
                        help="distributional agents: draw the return distribution at the first state")  # fmt: skip
    p_eval.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")

    p_dop = sub.add_parser(
        "dopamine",
        help="reproduce the variable-magnitude task of Dabney et al. 2020 with expectile and quantile agents",
        description="Train an expectile and a quantile agent on one cue followed by a reward from {0.1, 0.3, 1.2, "
        "2.5, 5, 10, 20}; compare learned values with the true expectiles/quantiles, report the Wasserstein-1 "
        "distance of the imputed distribution and reversal points against asymmetries (table, CSV, figure).",
    )
    p_dop.add_argument("--steps", type=int, default=20_000, help="env steps per agent (default: 20000)")
    p_dop.add_argument("--units", type=int, default=21, help="units (asymmetries) per agent, odd (default: 21)")
    p_dop.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    p_dop.add_argument("--out", default="runs/dopamine", help="folder for dopamine.csv/.md/.png")
    p_dop.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")


def _cmd_train(args: argparse.Namespace) -> int:
    import torch

    from repgym.agents.training import train_agent

    torch.set_num_threads(args.threads)
    if args.resume is None and (args.agent is None or args.env_id is None):
        raise ValueError("give an agent and an env id (or --resume CHECKPOINT)")
    result = train_agent(args.agent, args.env_id, args.steps, hyperparameters=parse_hyperparameters(args.set),
                         env_kwargs=parse_settings(args.env_set), seed=args.seed, out_dir=args.out,
                         num_envs=args.num_envs, progress_bar=args.progress, checkpoint_every=args.checkpoint_every,
                         eval_episodes=args.eval_episodes, resume=args.resume)  # fmt: skip
    print(f"trained {result.agent} on {result.env_id}: {result.steps} steps in {result.wall_time_s:.1f} s "
          f"({result.steps_per_s:.0f} steps/s); checkpoint {result.checkpoint}")  # fmt: skip
    if result.evaluation is not None:
        ev = result.evaluation
        print(f"greedy return over {len(ev.returns)} episodes: {ev.mean:.2f} ± {ev.std:.2f}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    import torch

    from repgym.agents.evaluate import evaluate_checkpoint, read_meta

    torch.set_num_threads(args.threads)
    meta = read_meta(args.checkpoint)
    env_kwargs = parse_settings(args.env_set)
    agent, env, ev = evaluate_checkpoint(
        args.checkpoint, args.episodes, seed=args.seed, deterministic=not args.stochastic, env_kwargs=env_kwargs
    )
    print(
        f"{meta.get('agent')} on {meta.get('env_id')} ({meta.get('num_timesteps', '?')} training steps): "
        f"return {ev.mean:.2f} ± {ev.std:.2f} over {len(ev.returns)} episodes (min {ev.returns.min():.2f}, "
        f"max {ev.returns.max():.2f}), mean length {ev.lengths.mean():.1f}, illegal actions {ev.illegal_actions}"
    )
    if ev.scores is not None:
        print(f"score {ev.scores.mean():.2f} ± {ev.scores.std():.2f}")
    if args.plot_distribution:
        if not hasattr(agent, "return_distribution"):
            raise ValueError(f"{meta.get('agent')} has no return distribution to plot")
        from repgym.agents.distributional.plot import plot_return_distribution

        obs, info = env.reset(seed=args.seed)
        fig = plot_return_distribution(agent.return_distribution(obs), legal=info.get("action_mask"))
        fig.savefig(args.plot_distribution, dpi=120)
        print(f"wrote {args.plot_distribution}")
    return 0


def _cmd_dopamine(args: argparse.Namespace) -> int:
    import csv
    from pathlib import Path

    import torch

    from repgym.agents.distributional.dopamine import dopamine_figure, dopamine_markdown, run_dopamine

    torch.set_num_threads(args.threads)
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


COMMANDS.update(train=_cmd_train, eval=_cmd_eval, dopamine=_cmd_dopamine)


EPILOG_ANALYZE = """\
writes <out>/report.md with figures (CKA heatmaps, generality histograms, ablation curves, probe R²), and every
number as a tidy table (analyzer, layer, unit, metric, value, n, params) in <out>/table.csv and table.json.

examples:
  repgym analyze runs/ppo/checkpoint --states 1000 --out analysis/ppo
  repgym analyze runs/dqn/checkpoint --compare runs/dqn-finetuned/checkpoint --out analysis/dqn-adapt
  repgym analyze runs/ppo/checkpoint --env repgym/BubbleBreakerShifter-v0 --set rows=6 --set cols=6 --set colours=3
"""


def _add_analyze_command(sub) -> None:
    """``repgym analyze`` (representation analyzers, issue 8)."""
    p_analyze = sub.add_parser(
        "analyze",
        help="look inside a saved agent: similarity, generality, ablation, attribution, probes, dimensionality",
        description="Play the agent in its env to collect states with their ground truth, capture the activations "
        "of its latent modules and run every representation analyzer; with --compare, also compare (and measure "
        "adaptation against) a second checkpoint on the same states.",
        epilog=EPILOG_ANALYZE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_analyze.add_argument("checkpoint", help="a checkpoint folder written by repgym train or agent.save")
    p_analyze.add_argument("--env", default=None, dest="env_id", help="env id (default: the checkpoint's env)")
    p_analyze.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="env constructor argument")
    p_analyze.add_argument("--states", type=int, default=1000, help="states to collect (default: 1000)")
    p_analyze.add_argument("--compare", default=None, metavar="CHECKPOINT", help="a second agent (e.g. fine-tuned)")
    p_analyze.add_argument("--episodes", type=int, default=5, help="episodes per ablation return point (default: 5)")
    p_analyze.add_argument("--seed", type=int, default=0, help="seed of the first episode (default: 0)")
    p_analyze.add_argument("--threads", type=int, default=1, help="torch and BLAS threads (default: 1)")
    p_analyze.add_argument("--out", default="repgym_analysis", help="output folder (default: ./repgym_analysis)")


def _cmd_analyze(args: argparse.Namespace) -> int:
    import torch

    from repgym.evaluation.analyze import analyze_checkpoint

    torch.set_num_threads(args.threads)
    report = analyze_checkpoint(args.checkpoint, env_id=args.env_id, env_kwargs=parse_settings(args.set),
                                states=args.states, compare=args.compare, out_dir=args.out, seed=args.seed,
                                episodes=args.episodes, threads=args.threads)  # fmt: skip
    print(f"wrote {report}")
    return 0


COMMANDS.update(analyze=_cmd_analyze)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    import gymnasium

    try:
        return COMMANDS[args.command](args)
    except (ValueError, OSError, KeyError, gymnasium.error.Error) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"repgym {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"repgym {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
