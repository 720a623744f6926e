"""Complete random playouts per second on 15x15 SameGame boards: compiled batch engine vs a one-board loop.

Three ways to play uniformly random legal moves (random over groups) from the 20 standard SameGame positions
(``standard_boards("samegame-15x15")``, 15x15, 5 colours) to the end of the game, measured in the same run:

- ``one board at a time``: the pure rules (:func:`rules.step`) on a batch of one, in a Python loop — what a search
  written directly on the env's rules would do;
- ``batched numpy``: the numpy engine, all boards in lockstep through :func:`rules.step`, finished boards dropped;
- ``compiled, one board per call``: the compiled kernels called from Python once per playout;
- ``compiled batch (numba)``: the search engine's whole-playout kernels (column bit boards), a batch per call.

Each figure is the best of ``--repeats`` rounds (shared machines only ever slow a round down); the compile (or
cache load) happens before timing. Target for the compiled engine: >= 10,000 playouts/s on one core::

    python benchmarks/playout_speed.py
    python benchmarks/playout_speed.py --playouts 40000 --repeats 5
    python benchmarks/playout_speed.py --quick
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from repgym.agents.lookahead.engine import NumbaEngine, NumpyEngine, warm_up
from repgym.envs.bubble import policies, rules
from repgym.envs.bubble.boards import standard_boards

CONFIG = rules.BubbleConfig(rows=15, cols=15, colours=5, scoring="samegame", shift="left", end_penalty=True)
TARGET = 10_000


def boards(n: int) -> np.ndarray:
    """``n`` boards cycling through the 20 standard positions."""
    start = np.stack(standard_boards("samegame-15x15"))
    return start[np.arange(n) % start.shape[0]]


def best_rate(run, n: int, repeats: int) -> tuple[float, float]:
    """``(playouts per second, mean moves per playout)`` of the fastest of ``repeats`` rounds of ``run()``."""
    best, moves = float("inf"), 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        moves = run()
        best = min(best, time.perf_counter() - start)
    return n / best, moves


def one_board_loop(positions: np.ndarray, rng: np.random.Generator) -> float:
    """Play each board alone with :func:`rules.step`; returns the mean game length."""
    total = 0
    for board in positions:
        state = rules.initial_state(np.zeros(1, np.uint64), CONFIG, board)
        while True:
            result = rules.step(state, policies.random_group(state.board, CONFIG, rng), CONFIG)
            state = result.state
            total += 1
            if result.terminal[0]:
                break
    return total / positions.shape[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--playouts", type=int, default=20_000, help="playouts per round, compiled engine")
    parser.add_argument("--numpy-playouts", type=int, default=1024, help="playouts per round, batched numpy")
    parser.add_argument("--loop-playouts", type=int, default=100, help="playouts per round, one-board loop")
    parser.add_argument("--repeats", type=int, default=3, help="rounds per engine; the best counts")
    parser.add_argument("--quick", action="store_true", help="small rounds, for a smoke test")
    args = parser.parse_args()
    if args.quick:
        args.playouts, args.numpy_playouts, args.loop_playouts, args.repeats = 2000, 128, 10, 1
    rng = np.random.default_rng(0)
    numba_engine, numpy_engine = NumbaEngine(CONFIG), NumpyEngine(CONFIG)
    compile_s = warm_up(numba_engine)

    def compiled():
        return numba_engine.playouts(boards(args.playouts), "uniform", rng).length.mean()

    def batched():
        return numpy_engine.playouts(boards(args.numpy_playouts), "uniform", rng).length.mean()

    def compiled_one_by_one():
        positions = boards(args.numpy_playouts)
        return np.mean([numba_engine.playouts(b[None], "uniform", rng).length[0] for b in positions])

    rows = [
        ("one board at a time (rules.step loop)", *best_rate(lambda: one_board_loop(boards(args.loop_playouts), rng),
                                                             args.loop_playouts, args.repeats)),
        (f"batched numpy (B={args.numpy_playouts})", *best_rate(batched, args.numpy_playouts, args.repeats)),
        ("compiled, one board per call", *best_rate(compiled_one_by_one, args.numpy_playouts, args.repeats)),
        (f"compiled batch, numba (B={args.playouts})", *best_rate(compiled, args.playouts, args.repeats)),
    ]  # fmt: skip
    reference = rows[0][1]
    table = Table(title="Complete random playouts, SameGame 15x15, 5 colours (standard positions)")
    for name in ("engine", "playouts/s", "moves/playout", "vs one-board loop"):
        table.add_column(name, justify="left" if name == "engine" else "right")
    for name, rate, moves in rows:
        table.add_row(name, f"{rate:,.0f}", f"{moves:.1f}", f"{rate / reference:,.1f}x")
    console = Console(width=120)
    console.print(table)
    compiled_rate = rows[-1][1]
    verdict = "met" if compiled_rate >= TARGET else "NOT met"
    console.print(f"target >= {TARGET:,} playouts/s for the compiled engine: {verdict} ({compiled_rate:,.0f}/s); "
                  f"first compile or cache load took {compile_s:.1f} s, before timing")  # fmt: skip


if __name__ == "__main__":
    main()
