"""``repgym bench | leaderboard | record``: run the benchmark matrix, show and export the leaderboard, record videos."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from repgym.cli.common import Handler, add_command, add_settings, parse_settings

EPILOG_BENCH = """\
runs every (env x agent x seed) job of the suite that the database has not finished yet, and prints the leaderboard
of the envs it ran. A failed job is recorded with its error and the others go on; rerunning retries it and skips
every finished job (so a killed run resumes). Jobs run in worker processes (--backend local, the default) or as Ray
tasks (--backend ray; pip install "repgym[ray]"), on a local Ray instance or the cluster at --address.

suites:
  quick      every baseline (random, size-weighted, greedy, optimal, ...) and learners trained for 2-3k steps,
             3 seeds x 10 episodes on every registered env (expert: one seed), and the shipped agents (repgym zoo)
             evaluated on their own env configs beside random and the expert; minutes on a 2-core laptop
  full       every baseline and learners trained for 50k steps, 5 seeds x 30 episodes; hours of CPU
  reference  every baseline and every tuned entry (repgym/agents/hyperparams/*.toml) at its own budget and settings,
             the delayed games at delays 0, 5 and 20 (LaggedControl 0 and 3, HiddenSequence 3), 5 seeds x 30
             episodes; CPU-days: run it on a cluster (--backend ray) or a subset with --envs / --agents

database: --db, else $REPGYM_DB, else ~/.local/share/repgym/leaderboard.sqlite ($XDG_DATA_HOME respected);
checkpoints go to runs/ and videos to videos/ beside it.

examples:
  repgym bench --suite quick
  repgym bench --envs BubbleBreaker-v0 SameGame-v0 --agents policy:random policy:greedy sb3-maskable-ppo --seeds 5
  repgym bench --envs SameGame-v0 --agents policy:expert     the expert reference of the expert-norm column
  repgym bench --suite full --backend ray --address ray://head-node:10001
  repgym bench --suite reference --envs Umbrella-v0 KeyToDoor-v0       the tuned learners on the delayed games
  repgym bench --envs TwoLinkReach-v0 --agents zoo:sac-reach policy:random policy:expert
      a shipped agent (repgym zoo lists them) beside its references
  repgym bench --envs Umbrella-v0 --video
  repgym bench --envs KeyToDoor-v0 --set delay=5       the configuration people played (their recordings' entry)
  repgym bench --envs KeyToDoor-v0 --epsilon 0.05        epsilon-greedy evaluation: entries of their own
  repgym bench --suite quick --dry-run            list the jobs without running them
"""

EPILOG_LEADERBOARD = """\
entries of one env config are ranked by mean evaluation return (agents and people together); IQM is the
interquartile mean over seeds with a 95% bootstrap interval; random-norm = (mean - random) / |random|,
human-norm = (mean - random) / (human - random), expert-norm = (mean - random) / (expert - random) (the env's
policy:expert rows), where references exist. The human reference is the median over players of each player's mean
return, shown once --min-players players have played the env config; the "human players" column says how many.
A session is submitted once: a copy of a submitted recording (whole, cut short, or unclosed) is not added again.

examples:
  repgym leaderboard
  repgym leaderboard --env BubbleBreaker-v0 --format md
  repgym leaderboard --format html --out leaderboard.html     (self-contained: plots embedded, videos linked)
  repgym leaderboard --format csv --out leaderboard.csv
  repgym leaderboard --min-players 3         human-norm from 3 players on (default 5)
  repgym leaderboard --db runs/lb.sqlite --copy-to results.sqlite     a snapshot to share, commit or resume from
  repgym leaderboard submit ~/.local/share/repgym/recordings/20250101T120000Z-KeyToDoor-v0-alice-1a2b.jsonl
"""

EPILOG_RECORD = """\
the agent is a checkpoint folder (repgym train writes one), a baseline (random, greedy, size-weighted,
tabu-colour, optimal, expert) or a registered agent name (played untrained). Episode i is reset with the leaderboard's
evaluation seed + i. Writes one MP4 per episode through Gymnasium's RecordVideo.

examples:
  repgym record runs/qr-bubble/checkpoint repgym/BubbleBreaker-v0 --episodes 3 --out videos
  repgym record greedy repgym/SameGame-v0 --out videos
  repgym record policy:expert repgym/SameGame-v0 --out videos
  repgym record optimal repgym/KeyToDoor-v0 --set delay=5
"""


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=None, metavar="PATH",
                        help="leaderboard database (default: $REPGYM_DB, else "
                             "~/.local/share/repgym/leaderboard.sqlite)")  # fmt: skip


def _budget(job) -> str:
    """What a job trains, as the dry run lists it."""
    from repgym.runs import ZOO_PREFIX

    if job.agent.startswith(ZOO_PREFIX):
        return f"shipped (trained {job.train_steps:,} steps)"
    if not job.train_steps:
        return "no training"
    return f"trains {job.train_steps:,} steps" + (f" on {job.num_envs} envs" if job.num_envs != 1 else "")


def register(sub) -> dict[str, Handler]:
    from repgym.benchmark.export import FORMATS
    from repgym.benchmark.runner import BACKENDS
    from repgym.benchmark.suites import SUITES

    p_bench = add_command(sub, "bench", "run the benchmark suite (env x agent x seed) into the leaderboard",
                          epilog=EPILOG_BENCH)  # fmt: skip
    p_bench.add_argument("--suite", choices=sorted(SUITES), default=None,
                         help="suite (default: quick; with --envs/--agents: quick's budgets)")  # fmt: skip
    p_bench.add_argument("--envs", nargs="+", metavar="ENV", help="only these env ids (default: every registered)")
    p_bench.add_argument("--agents", nargs="+", metavar="AGENT",
                         help="only these agents / baselines, named as repgym list shows them")  # fmt: skip
    p_bench.add_argument("--seeds", type=int, default=None, metavar="K",
                         help="seeds per job (default: the suite's; the expert's: 1)")  # fmt: skip
    p_bench.add_argument("--episodes", type=int, default=None, metavar="N",
                         help="evaluation episodes per job (default: the suite's)")  # fmt: skip
    p_bench.add_argument("--epsilon", type=float, default=0.0, metavar="E",
                         help="evaluate epsilon-greedily with E (default: 0, deterministic)")  # fmt: skip
    add_settings(
        p_bench,
        what="constructor argument for every selected env, e.g. delay=5 (the setting people "
        "played, so that their scores get random and agent references)",
    )
    p_bench.add_argument("--backend", choices=BACKENDS, default="local", help="local processes or Ray (default: local)")
    p_bench.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray instance)")
    p_bench.add_argument("--workers", type=int, default=None, metavar="N",
                         help="worker processes / local Ray CPUs (default: CPU count)")  # fmt: skip
    p_bench.add_argument("--video", action="store_true", help="also record the best seed of every entry (MP4)")
    p_bench.add_argument("--runs", default=None, metavar="DIR", help="checkpoints, logs (default: runs/ by --db)")
    p_bench.add_argument("--dry-run", action="store_true", help="list the jobs still to run and stop")
    p_bench.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_db(p_bench)

    p_lb = add_command(sub, "leaderboard", "show or export the leaderboard; submit a human play recording",
                       epilog=EPILOG_LEADERBOARD)  # fmt: skip
    p_lb.add_argument("--env", nargs="+", metavar="ENV", help="only these env ids")
    p_lb.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    p_lb.add_argument("--out", default=None, metavar="FILE", help="write md/csv/html here instead of stdout")
    p_lb.add_argument("--min-players", type=int, default=5, metavar="N",
                      help="players an env config needs before human-norm is shown (default: 5)")  # fmt: skip
    p_lb.add_argument(
        "--copy-to",
        default=None,
        metavar="FILE",
        help="write a consistent copy of the whole database to FILE (safe while bench runs) and stop",
    )
    _add_db(p_lb)
    lb_sub = p_lb.add_subparsers(dest="leaderboard_command", metavar="{submit}")
    p_submit = lb_sub.add_parser("submit", help="validate a play recording by replay and add it to the leaderboard")
    p_submit.add_argument("recordings", nargs="+", metavar="RECORDING", help="files written by repgym play")
    _add_db(p_submit)

    p_record = add_command(sub, "record", "write MP4 videos of an agent or a checkpoint playing an env",
                           epilog=EPILOG_RECORD)  # fmt: skip
    p_record.add_argument("agent", help="checkpoint folder, baseline or agent name")
    p_record.add_argument("env_id", nargs="?", default=None, help="env id (default: a checkpoint's own)")
    p_record.add_argument("--episodes", type=int, default=1, help="episodes, one video each (default: 1)")
    p_record.add_argument("--out", default="videos", metavar="DIR", help="output folder (default: videos)")
    p_record.add_argument("--seed", type=int, default=0, help="seed of the agent's random choices (default: 0)")
    add_settings(p_record)
    return {"bench": _cmd_bench, "leaderboard": _cmd_leaderboard, "record": _cmd_record}


def _cmd_bench(args: argparse.Namespace) -> int:
    from rich.console import Console

    from repgym.benchmark.export import print_table
    from repgym.benchmark.runner import pending_in, run_bench
    from repgym.benchmark.store import LeaderboardStore, default_db_path
    from repgym.benchmark.suites import make_jobs
    from repgym.benchmark.table import build_entries, env_label
    from repgym.benchmark.video import record_best_seeds
    from repgym.runs import ZOO_PREFIX

    console = Console(width=None if sys.stdout.isatty() else 140)
    jobs = make_jobs(
        args.suite or "quick",
        envs=args.envs,
        agents=args.agents,
        seeds=args.seeds,
        eval_episodes=args.episodes,
        epsilon=args.epsilon,
        env_kwargs=parse_settings(args.set),
    )
    if args.dry_run:  # lists the jobs; never creates the database
        path = default_db_path() if args.db is None else Path(args.db).expanduser()
        todo = pending_in(jobs, path)
        for job in todo:
            line = (f"{env_label(job.env_id, job.env_kwargs)}  {job.agent}  seed {job.seed}  {_budget(job)}  "
                    f"{job.eval_episodes} episodes  {job.protocol}  key {job.key[:12]}")  # fmt: skip
            console.print(line, markup=False)
        steps = sum(job.train_steps for job in todo if not job.agent.startswith(ZOO_PREFIX))
        console.print(f"{len(todo)} of {len(jobs)} jobs to run ({steps:,} training steps); database {path}"
                      f"{'' if path.exists() else ' (new)'}")  # fmt: skip
        return 0
    with LeaderboardStore(args.db) as store:
        console.print(f"[bold]repgym bench[/bold] {_selection(args)}: {len(jobs)} jobs, database {store.path}")
        report = run_bench(jobs, store, backend=args.backend, workers=args.workers, address=args.address,
                           run_dir=args.runs, progress=not args.no_progress)  # fmt: skip
        console.print(f"ran {report.ok + report.failed} jobs in {report.wall_time_s:.1f} s: {report.ok} finished, "
                      f"{report.failed} failed; {report.skipped} already finished were skipped"
                      + (f"; {report.claimed_elsewhere} claimed by another run were left to it"
                         if report.claimed_elsewhere else ""))  # fmt: skip
        for job, error in report.errors[:10]:
            console.print(f"[red]failed[/red] {job.agent} on {job.env_id} seed {job.seed}: {error}", markup=True)
        if args.video:
            videos = record_best_seeds(jobs, store, store.path.parent / "videos")
            console.print(f"wrote {len(videos)} videos to {store.path.parent / 'videos'}")
        print_table(build_entries(store.rows(env_ids={j.env_id for j in jobs})), console)
    return 1 if report.failed else 0


def _selection(args: argparse.Namespace) -> str:
    """The job selection as the options that made it (``--suite quick`` only when a suite was chosen or implied)."""
    parts = [f"--suite {args.suite or 'quick'}"] if args.suite or not (args.envs or args.agents) else []
    for flag, values in (("--envs", args.envs), ("--agents", args.agents)):
        if values:
            parts.append(f"{flag} {' '.join(values)}")
    parts += [f"--set {item}" for item in args.set]
    return " ".join(parts)


def _cmd_leaderboard(args: argparse.Namespace) -> int:
    from repgym.benchmark.store import LeaderboardStore

    if args.leaderboard_command == "submit":
        from repgym.benchmark.submit import submit_recording

        if args.copy_to:
            raise ValueError("--copy-to copies a database; run it on its own, not with submit")

        with LeaderboardStore(args.db) as store:
            for path in args.recordings:
                s = submit_recording(path, store)
                if s.duplicate:
                    print(f"{path}: replay verified; already submitted: this session of {s.agent} on {s.env_id} "
                          f"is leaderboard row {s.duplicate_of}; not added again")  # fmt: skip
                    continue
                print(f"{path}: replay verified; {s.agent} on {s.env_id}, {s.episodes} finished episodes, mean "
                      f"return {s.mean:.2f} — added")  # fmt: skip
        return 0
    from repgym.benchmark.export import export, print_table
    from repgym.benchmark.suites import select_envs
    from repgym.benchmark.table import build_entries

    if args.copy_to:
        if args.env or args.out or args.format != "table":
            raise ValueError("--copy-to copies the whole database; drop --env, --format and --out")
        with LeaderboardStore(args.db, read_only=True) as store:
            dest, rows = store.copy_to(args.copy_to)
        print(f"copied {store.path} ({rows} result row{'s' if rows != 1 else ''}) to {dest}")
        return 0
    envs = select_envs(args.env) if args.env else None
    with LeaderboardStore(args.db, read_only=True) as store:  # reading never creates or converts a file
        by_env = build_entries(store.rows(env_ids=envs), min_players=args.min_players)
    if args.format == "table":
        if args.out:
            raise ValueError("--out writes md, csv or html; add --format")
        print_table(by_env)
        return 0
    text = export(by_env, args.format, args.out)
    if args.out:
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def _cmd_record(args: argparse.Namespace) -> int:
    import torch

    from repgym.benchmark.video import record_video

    torch.set_num_threads(1)
    settings = parse_settings(args.set)
    videos = record_video(args.agent, args.env_id, args.out, args.episodes, env_kwargs=settings or None,
                          seed=args.seed)  # fmt: skip
    for path in videos:
        print(f"wrote {path}")
    return 0
