"""Helpers shared by every ``repgym`` command: ``--set`` / ``--hp`` parsing and the arguments many commands take."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence

from repgym.runs.env_spec import parse_value

Handler = Callable[[argparse.Namespace], int]


def parse_settings(items: Sequence[str]) -> dict:
    """``["rows=8", "variant=shifter"]`` -> ``{"rows": 8, "variant": "shifter"}``."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects key=value, got {item!r}")
        out[key.strip()] = parse_value(value.strip())
    return out


def parse_hyperparameters(items: Sequence[str]) -> dict:
    """``--hp key=value`` items: like ``--set``, except that a value starting with ``{`` or ``[`` is JSON."""
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


def add_command(sub, name: str, help: str, description: str | None = None, epilog: str | None = None):
    """A sub-command parser whose ``--help`` keeps the epilog's line breaks (examples stay readable)."""
    return sub.add_parser(
        name,
        help=help,
        description=description or help,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_settings(parser: argparse.ArgumentParser, flag: str = "--set", what: str = "env constructor argument"):
    """The repeatable ``--set KEY=VALUE`` option (env constructor arguments unless said otherwise)."""
    parser.add_argument(flag, action="append", default=[], metavar="KEY=VALUE", help=f"{what} (repeatable)")


def add_threads(parser: argparse.ArgumentParser, what: str = "torch threads") -> None:
    """``--threads`` (1 by default: on small shared machines more threads are often slower, never reproducible)."""
    parser.add_argument("--threads", type=int, default=1, help=f"{what} (default: 1)")


def set_torch_threads(threads: int) -> None:
    """Apply ``--threads`` (imports torch only for the commands that need it)."""
    import torch

    torch.set_num_threads(threads)
