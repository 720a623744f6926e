"""``repgym delay-curve``: success rate against delay, per agent and per game (PNGs and a JSON of the numbers)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from repgym.cli.common import Handler, add_command

EPILOG = """\
runs one benchmark job per (game x delay x agent x seed) that the database has not finished, then plots each game's
success rate (info["success"] over the evaluation episodes) against delay: one line per agent (mean over seeds) with
each seed as a dot, the chance level where the game has one (Umbrella: 0.5). Writes <out>/<Game-v0>.png per game and
<out>/delay_curve.json (per point: delay, mean success, per-seed successes, seeds, training budgets, CPU seconds).
Rerunning skips the finished jobs, so a killed run resumes; jobs run like repgym bench's (--backend local or ray).

budgets: a learner trains with its tuned entry (repgym/agents/hyperparams/<agent>.toml) where the game at that delay
has one (e.g. qr-dqn on Umbrella 0/5/20, KeyToDoor 0/5/20), else for --steps N env steps with its default
hyperparameters; baselines (policy:random, policy:optimal) do not train.

what "delay" means: KeyToDoor: steps between the key room and the door; Umbrella: fog steps between the choice and
its reward; LaggedControl: the command lag (steps before a command takes effect); HiddenSequence: the sequence length
minus 1 (the first press is rewarded only after `delay` more right presses).

people: rows of human players (repgym leaderboard submit into this --db) join as one "people" curve where they carry
a success rate; otherwise they are skipped and the output says so.

database: --db, else delay-curves.sqlite beside the default leaderboard ($REPGYM_DB or
~/.local/share/repgym/leaderboard.sqlite); checkpoints go to runs/ beside it.

examples:
  repgym delay-curve --agents policy:random policy:optimal --delays 0 5 20 80 --seeds 5
  repgym delay-curve --games Umbrella-v0 --agents qr-dqn policy:random --delays 0 5 20 80 --steps 100000
  repgym delay-curve --agents qr-dqn --steps 50000 --dry-run        the jobs still to run, and their budgets
  repgym delay-curve --agents qr-dqn --steps 50000 --backend ray --address ray://head-node:10001
  repgym delay-curve --plot-only --out delay-curves                 plot what the database holds, no training
"""


def register(sub) -> dict[str, Handler]:
    from repgym.benchmark.delay_curve import DELAYS, GAMES
    from repgym.benchmark.runner import BACKENDS

    p = add_command(sub, "delay-curve", "success rate against delay per agent and game (PNG + JSON), resumable",
                    epilog=EPILOG)  # fmt: skip
    p.add_argument("--games", nargs="+", metavar="ENV", default=list(GAMES),
                   help="games (default: the four delayed games)")  # fmt: skip
    p.add_argument("--agents", nargs="+", metavar="AGENT",
                   help="agents / baselines as repgym list shows them, e.g. qr-dqn policy:random (required unless "
                        "--plot-only; there: only these)")  # fmt: skip
    p.add_argument("--delays", nargs="+", type=int, metavar="D",
                   help=f"delays (default: {' '.join(map(str, DELAYS))}; --plot-only: every one held)")  # fmt: skip
    p.add_argument("--seeds", type=int, default=3, metavar="K", help="seeds per point (default: 3)")
    p.add_argument("--episodes", type=int, default=30, metavar="N", help="evaluation episodes per job (default: 30)")
    p.add_argument("--steps", type=int, default=None, metavar="N",
                   help="env steps for learners without a tuned entry at a delay (required only then)")  # fmt: skip
    p.add_argument("--db", default=None, metavar="PATH", help="database (default: delay-curves.sqlite beside the "
                   "default leaderboard)")  # fmt: skip
    p.add_argument("--out", default="delay-curves", metavar="DIR", help="PNGs and delay_curve.json "
                   "(default: delay-curves)")  # fmt: skip
    p.add_argument("--backend", choices=BACKENDS, default="local", help="local processes or Ray (default: local)")
    p.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray instance)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes / local Ray CPUs (default: CPU count)")  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="list the jobs still to run and stop")
    p.add_argument("--plot-only", action="store_true", help="no jobs: plot what the database holds")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return {"delay-curve": _cmd_delay_curve}


def _db_path(db: str | None) -> Path:
    """``--db``, else ``delay-curves.sqlite`` beside the default leaderboard (curves do not mix into its table)."""
    from repgym.benchmark.store import default_db_path

    return Path(db).expanduser() if db is not None else default_db_path().parent / "delay-curves.sqlite"


def _cmd_delay_curve(args: argparse.Namespace) -> int:
    from repgym.benchmark.suites import select_envs

    games, path = select_envs(args.games), _db_path(args.db)
    if args.plot_only:
        return _plot_only(args, games, path)
    if not args.agents:
        raise ValueError("give --agents (e.g. --agents policy:random policy:optimal qr-dqn), or --plot-only")
    from repgym.benchmark.delay_curve import DELAYS, delay_jobs

    jobs = delay_jobs(games, args.delays or DELAYS, args.agents, args.seeds, args.episodes, args.steps)
    if args.dry_run:
        _print_dry_run(jobs, path)
        return 0
    return _run(args, jobs, games, path)


def _run(args: argparse.Namespace, jobs: list, games: list[str], path: Path) -> int:
    """Run the jobs the database lacks, then plot the rows of exactly these jobs (and people's at these delays)."""
    from repgym.benchmark.delay_curve import DELAYS
    from repgym.benchmark.runner import run_bench
    from repgym.benchmark.store import LeaderboardStore

    with LeaderboardStore(path) as store:
        print(f"repgym delay-curve: {len(jobs)} jobs, database {store.path}")
        report = run_bench(jobs, store, backend=args.backend, workers=args.workers, address=args.address,
                           progress=not args.no_progress)  # fmt: skip
        print(f"ran {report.ok + report.failed} jobs in {report.wall_time_s:.1f} s: {report.ok} finished, "
              f"{report.failed} failed; {report.skipped} already finished were skipped")  # fmt: skip
        for job, error in report.errors[:10]:
            print(f"failed: {job.agent} on {job.env_id} {job.env_kwargs} seed {job.seed}: {error}", file=sys.stderr)
        keys, delays = {job.key for job in jobs}, set(args.delays or DELAYS)
        rows = [r for r in store.rows(env_ids=games)
                if r["job_key"] in keys or (r["kind"] == "human" and _row_delay(r) in delays)]  # fmt: skip
    _write(rows, args.out)
    return 1 if report.failed else 0


def _plot_only(args: argparse.Namespace, games: list[str], path: Path) -> int:
    """Plot the database's rows of ``games`` (only ``--agents`` / ``--delays`` where given); never writes the db."""
    from repgym.benchmark.baseline_policies import baseline_name
    from repgym.benchmark.store import LeaderboardStore

    with LeaderboardStore(path, read_only=True) as store:
        rows = store.rows(env_ids=games)
    if args.agents:
        wanted = {baseline_name(a) for a in args.agents}
        rows = [r for r in rows if r["agent"] in wanted or (r["kind"] == "human" and "people" in args.agents)]
    if args.delays:
        rows = [r for r in rows if _row_delay(r) in set(args.delays)]
    if not rows:
        raise ValueError(f"{path} holds no finished rows of {', '.join(games)} for this selection")
    _write(rows, args.out)
    return 0


def _row_delay(row: dict[str, Any]) -> int | None:
    from repgym.benchmark.delay_curve import config_delay

    return config_delay(row["env_id"], row["env_kwargs"])


def _write(rows: list[dict[str, Any]], out: str) -> None:
    """The curves of ``rows``: PNGs and JSON in ``out``, a table on stdout, then the notes (what was skipped)."""
    from repgym.benchmark.delay_curve import curve_points, plot_curves, write_json

    notes: list[str] = []
    points = curve_points(rows, notes)
    _print_table(points)
    for png in plot_curves(points, out):
        print(f"wrote {png}")
    print(f"wrote {write_json(points, Path(out) / 'delay_curve.json', notes)}")
    for note in notes:
        print(f"note: {note}")


def _print_table(points: dict) -> None:
    """Per game: one line per curve, mean success (seeds) at each delay."""
    for game, curves in points.items():
        delays = sorted({p.delay for pts in curves.values() for p in pts})
        width = max(len(game), *(len(label) + 2 for label in curves))
        print(f"{game:<{width}}" + "".join(f"{'delay ' + str(d):>12}" for d in delays))
        for label, pts in sorted(curves.items()):
            at = {p.delay: f"{p.success:.2f} ({p.n})" for p in pts}
            print(f"{'  ' + label:<{width}}" + "".join(f"{at.get(d, '-'):>12}" for d in delays))


def _print_dry_run(jobs: list, path: Path) -> None:
    """The jobs still to run with their budgets; never creates the database."""
    from repgym.benchmark.delay_curve import curve_label
    from repgym.benchmark.runner import pending_in

    todo = pending_in(jobs, path)
    for job in todo:
        budget = f"trains {job.train_steps:,} steps" if job.train_steps else "no training"
        row = {"kind": "agent", **job.to_dict()}
        print(f"{job.env_id} delay={_row_delay(row)}  {curve_label(row)}  seed {job.seed}  {budget}  "
              f"{job.eval_episodes} episodes  key {job.key[:12]}")  # fmt: skip
    steps = sum(job.train_steps for job in todo)
    print(f"{len(todo)} of {len(jobs)} jobs to run ({steps:,} training steps); database {path}"
          f"{'' if path.exists() else ' (new)'}")  # fmt: skip
