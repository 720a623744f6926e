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


COMMANDS = {"list": _cmd_list, "stats": _cmd_stats}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    import gymnasium

    try:
        return COMMANDS[args.command](args)
    except (ValueError, FileNotFoundError, KeyError, gymnasium.error.Error) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"repgym {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"repgym {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
