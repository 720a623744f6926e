"""NRPA against NMCS-2 (tabu-colour playouts) at equal time per board, every sequence verified by replay.

Both searches run through :func:`repgym.agents.lookahead.solve.run_search` exactly as ``repgym solve`` runs them
(same engine warm-up, the same per-board seeds ``(seed, board)``), on the project's 20 SameGame 15x15 positions
(``repgym boards write --set samegame-15x15``) or any board file. The two methods alternate per board (NRPA first
on even boards, NMCS first on odd ones), so that a change in the machine's load falls on both alike. Every move
sequence is replayed in the scoring env (``repgym/SameGame-v0`` or ``repgym/BubbleBreaker-v0``) and a mismatch is
reported. Prints one line per board as it finishes, then the table, both totals and NRPA / NMCS; ``--json``
writes (and rewrites after each board, so a long run that is stopped keeps what finished) every result with the
protocol. Issue 18's targets: NRPA >= 1.10 x NMCS-2 at 60 s per board; NRPA >= 78,000 total at 300 s on 2 cores::

    python benchmarks/nrpa_vs_nmcs.py --time 5 --boards 0,1,2           # a quick look
    nice -n 5 python benchmarks/nrpa_vs_nmcs.py --time 60 --json nrpa_vs_nmcs_60s.json
    python benchmarks/nrpa_vs_nmcs.py --time 300 --workers 2 --no-nmcs --json nrpa_300s.json
    python benchmarks/nrpa_vs_nmcs.py --time 300 --no-nrpa --json nmcs_300s.json   # NMCS-2's table at 5 minutes

Run again with the same ``--json`` and settings, a stopped run goes on from the boards it had finished.

Equal resources on a 2-core machine, one core each, both at once (neither waits for the other), then one table::

    taskset -c 0 python benchmarks/nrpa_vs_nmcs.py --time 60 --no-nmcs --json nrpa_60s.json &
    taskset -c 1 python benchmarks/nrpa_vs_nmcs.py --time 60 --no-nrpa --json nmcs_60s.json
    python benchmarks/nrpa_vs_nmcs.py --merge nrpa_60s.json nmcs_60s.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from repgym.agents.lookahead.engine import make_engine, warm_up
from repgym.agents.lookahead.solve import make_scoring_env, replay_score, run_search
from repgym.envs.bubble.boards import load_boards, standard_boards


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time", type=float, default=60.0, help="seconds per board and method (default: 60)")
    parser.add_argument("--board-file", default=None, help="board file (default: the 20 samegame-15x15 positions)")
    parser.add_argument("--boards", default=None, help="comma-separated board indices (default: all)")
    parser.add_argument("--scoring", choices=["samegame", "bubble"], default="samegame")
    parser.add_argument("--level", type=int, default=2, help="NRPA level (default: 2)")
    parser.add_argument("--iterations", type=int, default=100, help="NRPA iterations per level (default: 100)")
    parser.add_argument("--top-iterations", type=int, default=None, help="NRPA top-level iterations (default: N)")
    parser.add_argument("--workers", type=int, default=1, help="NRPA root-parallel processes (default: 1)")
    parser.add_argument("--nmcs-level", type=int, default=2, help="NMCS level (default: 2)")
    parser.add_argument("--no-nmcs", action="store_true", help="run NRPA only")
    parser.add_argument("--no-nrpa", action="store_true", help="run NMCS only (e.g. its table at another budget)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--json",
        default=None,
        help="write the results here; a file from an interrupted run with "
        "the same settings is resumed (its finished boards are kept, not played again)",
    )
    parser.add_argument(
        "--merge",
        nargs="+",
        metavar="JSON",
        default=None,
        help="search nothing: print one table from result files of single-method runs "
        "(same budget, scoring and boards), e.g. NRPA and NMCS run at once on separate cores",
    )
    args = parser.parse_args(argv)
    if args.merge:
        _merge(args.merge, Console())
        return
    if args.no_nmcs and args.no_nrpa:
        parser.error("--no-nmcs and --no-nrpa leave nothing to run")
    sys.stdout.reconfigure(line_buffering=True)  # one line per board as it finishes, also into a log file

    boards = load_boards(args.board_file) if args.board_file else standard_boards("samegame-15x15")
    chosen = [int(k) for k in args.boards.split(",")] if args.boards else list(range(len(boards)))
    methods = {}
    if not args.no_nrpa:
        methods["nrpa"] = {"level": args.level, "iterations": args.iterations, "workers": args.workers}
        if args.top_iterations is not None:
            methods["nrpa"]["top_iterations"] = args.top_iterations
    if not args.no_nmcs:
        methods["nmcs"] = {"level": args.nmcs_level, "playout": "tabu-colour"}
    console = Console()
    record = {
        "protocol": {"time_s": args.time, "scoring": args.scoring, "seed": args.seed, "methods": methods,
                     "board_file": args.board_file or "samegame-15x15", "machine": platform.node(),
                     "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M")},
        "boards": [],
    }  # fmt: skip
    done = _resumable_rows(args.json, record["protocol"], console)
    engines: dict = {}
    for n, k in enumerate(chosen):
        if k in done:
            record["boards"].append(done[k])
            console.print(f"board {k}: done earlier, kept")
            continue
        board = boards[k]
        env = make_scoring_env(args.scoring, board)
        config = env.unwrapped.config
        key = (config.rows, config.cols, config.colours)
        if key not in engines:
            engines[key] = make_engine(config)
            warm_up(engines[key])
        order = list(methods) if n % 2 == 0 else list(methods)[::-1]
        row: dict = {"board": k}
        for name in order:
            rng = np.random.default_rng([args.seed, k])
            result = run_search(board, config, name, args.time, engine=engines[key], rng=rng, **methods[name])
            replayed, finished = replay_score(env, board, result.moves)
            row[name] = {"score": result.score, "replayed": replayed,
                         "verified": finished and abs(replayed - result.score) < 1e-6,
                         "seconds": result.elapsed_s, "playouts": result.playouts,
                         "moves": [int(m) for m in result.moves]}  # fmt: skip
        env.close()
        record["boards"].append(row)
        console.print(f"board {k}: " + ", ".join(
            f"{m} {row[m]['score']:.0f} ({'verified' if row[m]['verified'] else 'REPLAY MISMATCH'}, "
            f"{row[m]['seconds']:.1f} s)" for m in methods))  # fmt: skip
        _totals(record, methods)
        _write(args.json, record)
    _totals(record, methods)
    _write(args.json, record)
    _table(console, record, methods, args.time)


def _merge(paths: list[str], console: Console) -> None:
    """Print the joint table of result files that each hold other methods on the same boards and budget."""
    records = []
    for path in paths:
        if not Path(path).is_file():
            raise SystemExit(f"--merge: no such file: {path}")
        records.append(json.loads(Path(path).read_text()))
    first = records[0]["protocol"]
    for path, record in zip(paths[1:], records[1:], strict=True):
        differ = [k for k in ("time_s", "scoring", "board_file") if record["protocol"].get(k) != first.get(k)]
        if differ:
            raise SystemExit(f"--merge: {path} differs from {paths[0]} in {', '.join(differ)}")
    methods: dict = {}
    rows: dict[int, dict] = {}
    for path, record in zip(paths, records, strict=True):
        for name, settings in record["protocol"]["methods"].items():
            if name in methods:
                raise SystemExit(f"--merge: {name} is in more than one file ({path})")
            methods[name] = settings
        for b in record["boards"]:
            rows.setdefault(int(b["board"]), {"board": int(b["board"])}).update(
                {m: b[m] for m in record["protocol"]["methods"]}
            )
    complete = [rows[k] for k in sorted(rows) if all(m in rows[k] for m in methods)]
    if len(complete) < len(rows):
        console.print(f"{len(rows) - len(complete)} board(s) left out: not finished by every method")
    merged = {"boards": complete}
    _totals(merged, methods)
    _table(console, merged, methods, first["time_s"])
    for name in methods:
        played = sum(b[name]["playouts"] for b in complete)
        seconds = sum(b[name]["seconds"] for b in complete)
        console.print(f"{name} {methods[name]}: {played / seconds:,.0f} playouts/s over {seconds:,.0f} s")


def _write(path: str | None, record: dict) -> None:
    """Rewrite the results file whole (a new file renamed over the old, so a run stopped mid-write keeps the
    previous one)."""
    if path is not None:
        tmp = Path(f"{path}.tmp")
        tmp.write_text(json.dumps(record, indent=1))
        os.replace(tmp, path)


SAME_RUN = ("time_s", "scoring", "seed", "methods", "board_file")  # what must match for a JSON to be resumed


def _resumable_rows(path: str | None, protocol: dict, console: Console) -> dict[int, dict]:
    """The finished boards of an earlier run written to ``path`` with the same settings, by board index; none
    when there is no such file. A file from other settings is refused, not overwritten."""
    if path is None or not Path(path).is_file():
        return {}
    old = json.loads(Path(path).read_text())
    differ = [k for k in SAME_RUN if old.get("protocol", {}).get(k) != protocol[k]]
    if differ:
        raise SystemExit(f"{path} holds a run with other settings ({', '.join(differ)}); give another --json")
    rows = {int(b["board"]): b for b in old.get("boards", [])}
    if rows:
        console.print(f"resuming {path}: {len(rows)} board(s) done earlier")
    return rows


def _totals(record: dict, methods: dict) -> None:
    record["totals"] = {m: sum(b[m]["score"] for b in record["boards"]) for m in methods}
    record["all_verified"] = all(b[m]["verified"] for b in record["boards"] for m in methods)
    if {"nrpa", "nmcs"} <= set(methods) and record["totals"]["nmcs"]:
        record["ratio"] = record["totals"]["nrpa"] / record["totals"]["nmcs"]


def _table(console: Console, record: dict, methods: dict, time_s: float) -> None:
    table = Table(title=f"NRPA vs NMCS, {time_s:g} s per board and method, every sequence replayed")
    table.add_column("board", justify="right")
    for m in methods:
        table.add_column(m, justify="right")
    both = {"nrpa", "nmcs"} <= set(methods)
    if both:
        table.add_column("nrpa / nmcs", justify="right")
    for b in record["boards"]:
        cells = [f"{b[m]['score']:.0f}" + ("" if b[m]["verified"] else " (!)") for m in methods]
        if both:
            cells.append(f"{b['nrpa']['score'] / b['nmcs']['score']:.3f}" if b["nmcs"]["score"] else "-")
        table.add_row(str(b["board"]), *cells)
    table.add_section()
    totals = [f"{record['totals'][m]:.0f}" for m in methods]
    table.add_row("total", *totals, *([f"{record['ratio']:.3f}"] if "ratio" in record else []))
    console.print(table)
    console.print("every sequence verified by replay" if record["all_verified"] else "[red]REPLAY MISMATCHES[/red]")


if __name__ == "__main__":
    main()
