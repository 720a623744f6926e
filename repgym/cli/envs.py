"""``repgym list | stats | play | replay | boards``: the environments, baseline policies and human play."""

from __future__ import annotations

import argparse

from repgym.cli.common import Handler, add_command, add_settings, parse_settings

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
controls (also shown in the window, beside the game's goal and legend):
  Bubble Breaker / SameGame   click a group of two or more bubbles (the group under the mouse is outlined with its
                              points; a click beside a group is recorded as a wasted move)
  other games                 their named keys, one step per press (a held key does not repeat); the MuJoCo
                              bodies run 0.1 s per press and then wait
  always                      Enter next game (only once a game is over), R new game, Esc quit (Q too where the
                              game does not use it)

every session is recorded (JSON lines) to --record-dir, default $REPGYM_RECORDINGS, else
$XDG_DATA_HOME/repgym/recordings, else ~/.local/share/repgym/recordings; episode i is reset with seed S + i; a
session without a move keeps no recording. Needs a display: elsewhere, play in a browser with repgym serve.

examples:
  repgym play repgym/KeyToDoor-v0 --set delay=50
  repgym play repgym/BubbleBreaker-v0 --seed 3 --player alice
  repgym play repgym/TwoLinkReach-v0
  repgym play repgym/HiddenSequence-v0 --set delay=5 --record-dir recordings
"""

EPILOG_REPLAY = """\
examples:
  repgym replay ~/.local/share/repgym/recordings/20250101T120000Z-KeyToDoor-v0-alice-1a2b.jsonl
  repgym replay session.jsonl --render
  repgym replay session.jsonl --video session.mp4                 one move per 0.5 s, the score on every frame
  repgym replay session.jsonl --video session.gif --seconds-per-move 1
"""


def register(sub) -> dict[str, Handler]:
    from repgym.envs.bubble.boards import STANDARD_SET_SPECS

    p_list = add_command(sub, "list", "list every registered environment and agent")
    p_list.add_argument("--format", choices=["table", "md"], default="table", help="output format (default: table)")

    p_stats = add_command(
        sub,
        "stats",
        "play baseline policies and report scores, game lengths and moves available per turn",
        "Play each baseline policy for a number of games and report, per policy, mean ± std of the "
        "score, game length, legal moves (groups) per turn, bubbles left and new columns; writes a "
        "histogram PNG of the scores.",
        EPILOG_STATS,
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
    p_stats.add_argument(
        "--out", default="repgym_stats", help="folder for the histogram PNG and a CSV (default: ./repgym_stats)"
    )
    p_stats.add_argument("--no-plot", action="store_true", help="skip the histogram")
    add_settings(p_stats)

    p_play = add_command(
        sub,
        "play",
        "play any repgym env yourself in a window; the session is recorded",
        "Open a pygame window and play an env with the mouse (Bubble Breaker) or the keyboard. "
        "Every session is recorded for replay and for human-normalised scores.",
        EPILOG_PLAY,
    )
    p_play.add_argument("env_id", help="an env id, e.g. repgym/KeyToDoor-v0")
    p_play.add_argument("--seed", type=int, default=None, help="seed of the first game (default: random)")
    p_play.add_argument("--player", default=None, help="name in the recording (default: $REPGYM_PLAYER or login)")
    p_play.add_argument("--record-dir", default=None, help="folder for the recording (default: see below)")
    p_play.add_argument("--fps", type=int, default=30, help="window redraws per second (default: 30)")
    add_settings(p_play)

    p_replay = add_command(
        sub,
        "replay",
        "re-simulate a recording and check that every reward matches",
        "Reset each recorded episode with its seed, step every recorded action again and check "
        "rewards, episode ends and observations bit for bit; a mismatch or a corrupt file is an error.",
        EPILOG_REPLAY,
    )
    p_replay.add_argument("recording", help="a .jsonl recording written by repgym play")
    p_replay.add_argument("--render", action="store_true", help="show the replay in a window")
    p_replay.add_argument("--video", default=None, metavar="PATH", help="write the replay to a .mp4 or .gif file")
    p_replay.add_argument("--seconds-per-move", type=float, default=0.5, metavar="S",
                          help="pace of --render and --video: seconds per move (default: 0.5)")  # fmt: skip

    p_boards = add_command(sub, "boards", "write repgym's standard board sets as text files")
    boards_sub = p_boards.add_subparsers(dest="boards_command", metavar="ACTION", required=True)
    p_write = boards_sub.add_parser("write", help="regenerate a standard set from its seeds into a text file")
    p_write.add_argument("--set", required=True, dest="board_set", choices=sorted(STANDARD_SET_SPECS),
                         help="which set: 20 boards drawn with seeds 0..19")  # fmt: skip
    p_write.add_argument("--out", required=True, metavar="FILE", help="where to write the boards")
    return {"list": _cmd_list, "stats": _cmd_stats, "play": _cmd_play, "replay": _cmd_replay, "boards": _cmd_boards}


def _cmd_list(args: argparse.Namespace) -> int:
    from repgym.listing import print_listing

    print_listing(fmt=args.format)
    return 0


def _cmd_stats(args: argparse.Namespace) -> int:
    from repgym.benchmark.baseline_stats import run_stats

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
    from repgym.human.play import play

    path = play(
        args.env_id,
        env_kwargs=parse_settings(args.set),
        seed=args.seed,
        player=args.player,
        record_dir=args.record_dir,
        fps=args.fps,
    )
    print("no move was made: no recording kept" if path is None else f"recorded to {path}")
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from repgym.human.replay import replay

    report = replay(args.recording, render=args.render, video=args.video, seconds_per_move=args.seconds_per_move)
    returns = ", ".join(f"{r:g}" for r in report.returns)
    episodes = f"{report.episodes} episode{'' if report.episodes == 1 else 's'}"
    print(f"verified {report.path.name}: {report.env_id}, {episodes}, {report.steps} steps, returns [{returns}]")
    if args.video:
        print(f"wrote {args.video} ({args.seconds_per_move:g} s per move, the score on every frame)")
    for note in report.notes:
        print(f"note: {note}")
    return 0


def _cmd_boards(args: argparse.Namespace) -> int:
    from pathlib import Path

    from repgym.envs.bubble.boards import standard_set_text

    Path(args.out).write_text(standard_set_text(args.board_set))
    print(f"wrote {args.board_set} (20 boards) to {args.out}")
    return 0
