"""The ``repgym`` command: parses arguments, then calls library functions. No logic of its own lives here.

Each command group is a module of this package with ``register(sub) -> {command: handler}``; ``COMMAND_MODULES``
lists them in the order ``repgym --help`` shows them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

import repgym
from repgym.cli.common import Handler, parse_hyperparameters, parse_settings

__all__ = ["COMMAND_MODULES", "build_parser", "main", "parse_hyperparameters", "parse_settings"]

DEBUG_VAR = "REPGYM_DEBUG"  # set: unexpected errors show their traceback instead of one line

COMMAND_MODULES = [
    "envs",
    "physics",
    "search",
    "agents",
    "zoo",
    "analyze",
    "transfer",
    "world",
    "bench",
    "delay",
    "serve",
    "study",
]

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
  repgym zoo                                    trained agents shipped with repgym: repgym eval zoo:NAME
  repgym dopamine                               expectile/quantile agents vs the dopamine paper's task
"""


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Handler]]:
    """The top-level parser and the handler of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="repgym",
        description="Environments, agents and representation analyzers for studying how RL agents represent "
        "the worlds they act in.",
        epilog=EPILOG_MAIN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"repgym {repgym.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    handlers: dict[str, Handler] = {}
    for name in COMMAND_MODULES:
        handlers.update(importlib.import_module(f"repgym.cli.{name}").register(sub))
    return parser, handlers


def main(argv: Sequence[str] | None = None) -> int:
    parser, handlers = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    import gymnasium

    try:
        return handlers[args.command](args)
    except (ValueError, OSError, KeyError, gymnasium.error.Error) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"repgym {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"repgym {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001  (e.g. a TypeError for an argument an env or SB3 does not take)
        if os.environ.get(DEBUG_VAR):
            raise
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else ""
        print(f"repgym {args.command}: error: {type(err).__name__}: {first_line} "
              f"(set {DEBUG_VAR}=1 to see the traceback)", file=sys.stderr)  # fmt: skip
        return 1
