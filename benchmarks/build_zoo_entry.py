"""Add a trained checkpoint to repgym's zoo (``zoo:NAME``), or rebuild its entry.

Copies the checkpoint's ``agent.json`` and ``weights.pt`` into ``repgym/assets/zoo/NAME/`` (no ``replay.pt``: a
shipped agent is for acting and analysis), loads the copy, evaluates it with the default protocol (30 greedy
episodes, episode i from reset seed 1,000,000 + i), measures random legal actions and the benchmark's expert on the
same games, and writes the entry's table into ``zoo.toml`` (:mod:`repgym.agents.zoo`)::

    python benchmarks/build_zoo_entry.py sac-reach --from runs/sac-reach/checkpoint \\
        --command "repgym train sb3-sac repgym/TwoLinkReach-v0 --out runs/sac-reach" --cpu-seconds 1800

``--cpu-seconds`` is the CPU time the training took (e.g. ``user + sys`` of ``/usr/bin/time``); ``--zoo DIR`` (or
``$REPGYM_ZOO_DIR``) builds into another zoo folder. The zoo is changed only once the copy has loaded and played.
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from repgym.agents import load_agent
from repgym.agents.zoo import NAME_PATTERN, Score, ZooEntry, write_entry
from repgym.benchmark.baseline_policies import reference_results
from repgym.runs import Checkpoint, EvalProtocol, play, write_checkpoint, zoo_dir

MAX_MB = 10.0  # a shipped checkpoint goes into every wheel


def build_entry(
    name: str,
    source: str | Path,
    command: str,
    cpu_seconds: float,
    zoo: str | Path | None = None,
    episodes: int = 30,
    max_mb: float = MAX_MB,
    date: str | None = None,
    log: Callable[[str], object] = print,
) -> ZooEntry:
    """Copy ``source`` (a checkpoint) into ``<zoo>/<name>``, evaluate it and write its ``zoo.toml`` table (module
    docstring). Returns the entry written."""
    if not NAME_PATTERN.fullmatch(name):
        raise ValueError(f"{name!r}: a zoo name is lower-case letters, digits, - and _ (e.g. sac-reach)")
    if cpu_seconds < 0:
        raise ValueError(f"--cpu-seconds must be the training's CPU time in seconds, got {cpu_seconds}")
    checkpoint = Checkpoint.read(source)
    env_spec = checkpoint.require_env()
    _check_command(command, checkpoint)
    root = Path(zoo) if zoo is not None else zoo_dir()
    staged = root / f".{name}.building"
    shutil.rmtree(staged, ignore_errors=True)
    try:
        # through the one writer: agent.json + the acting tensors, no replay buffer (old ones kept it in weights.pt)
        write_checkpoint(staged, checkpoint.meta, checkpoint.tensors())
        for file in staged.iterdir():
            file.chmod(0o644)  # package data: readable by everyone who installs it
        size_mb = sum(f.stat().st_size for f in staged.iterdir()) / 1e6
        if size_mb > max_mb:
            raise ValueError(f"{source}: {size_mb:.1f} MB without the replay buffer, over the {max_mb:g} MB a shipped "
                             "checkpoint may take (--max-mb to allow more)")  # fmt: skip
        log(f"copied {checkpoint.agent} on {env_spec} ({checkpoint.num_timesteps:,} steps) to {staged} "
            f"({size_mb:.2f} MB)")  # fmt: skip
        protocol = EvalProtocol(episodes)
        shipped = Checkpoint.read(staged)
        env = shipped.make_env()
        score = Score.of(play(load_agent(shipped, env=env), env, protocol))
        log(f"agent:  {score.text()} over {episodes} episodes from reset seed {protocol.first_seed:,}")
        random_result, expert_result = reference_results(shipped.require_env(), protocol)
        random = Score.of(random_result)
        log(f"random: {random.text()}")
        expert = None if expert_result is None else Score.of(expert_result)
        log(f"expert: {expert.text()}" if expert is not None else f"expert: none for {env_spec.id}")
        _swap_in(staged, root / name)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    entry = ZooEntry(name=name, agent=checkpoint.agent, env=env_spec, train_steps=checkpoint.num_timesteps,
                     cpu_seconds=float(cpu_seconds), score=score, random=random, expert=expert,
                     date=date or datetime.date.today().isoformat(), command=command, episodes=protocol.episodes,
                     first_seed=protocol.first_seed)  # fmt: skip
    manifest = write_entry(entry, root)
    log(f"wrote {root / name} and its table in {manifest}")
    return entry


def _check_command(command: str, checkpoint: Checkpoint) -> None:
    """The reproducing command is a ``repgym train`` of this checkpoint's agent and env (or a ``--resume``)."""
    try:
        words = shlex.split(command)
    except ValueError as err:
        raise ValueError(f"--command {command!r}: not a shell command line ({err})") from None
    if words[:2] != ["repgym", "train"]:
        raise ValueError(f"--command {command!r}: expected the `repgym train ...` command that produced the checkpoint")
    if "--resume" not in words and (checkpoint.agent not in words or checkpoint.env.id not in words):
        raise ValueError(f"--command {command!r} does not train {checkpoint.agent} on {checkpoint.env.id}, which "
                         f"the checkpoint holds")  # fmt: skip


def _swap_in(staged: Path, final: Path) -> None:
    """Replace ``final`` by ``staged`` (an old entry is kept aside until the new one is in place)."""
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    staged.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("name", help="the entry's name: zoo:NAME (lower-case letters, digits, - and _)")
    parser.add_argument("--from", dest="source", required=True, metavar="CHECKPOINT",
                        help="the trained checkpoint folder (e.g. runs/sac-reach/checkpoint)")  # fmt: skip
    parser.add_argument("--command", required=True, help="the `repgym train ...` command that produced it")
    parser.add_argument("--cpu-seconds", type=float, required=True, help="CPU time of that training, seconds")
    parser.add_argument("--zoo", default=None, metavar="DIR",
                        help="zoo folder (default: $REPGYM_ZOO_DIR, else repgym/assets/zoo)")  # fmt: skip
    parser.add_argument("--episodes", type=int, default=30, help="evaluation episodes (default: 30)")
    parser.add_argument("--max-mb", type=float, default=MAX_MB, help=f"size limit (default: {MAX_MB:g} MB)")
    parser.add_argument("--date", default=None, help="the entry's date (default: today)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    try:
        build_entry(args.name, args.source, args.command, args.cpu_seconds, zoo=args.zoo, episodes=args.episodes,
                    max_mb=args.max_mb, date=args.date)  # fmt: skip
    except (ValueError, OSError) as err:
        print(f"build_zoo_entry: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
