"""``repgym solve``: search positions from a board file and verify every answer by replaying it in the env.

Moves are printed as ``row,col`` with row 0 the **top** row and column 0 the **leftmost** column (the env's
action is ``row * cols + col``), one move per token, in the order played. Scoring ``"samegame"`` plays
``repgym/SameGame-v0`` rules ((n-2)^2, +1000 for a clear board, end penalty, columns close left); ``"bubble"``
plays ``repgym/BubbleBreaker-v0`` rules (n(n-1), columns close right). The board size comes from the file.

Searches (:data:`SEARCH_METHODS`): ``nmcs`` (:mod:`.nmcs`), ``nrpa`` (:mod:`.nrpa`), ``beam`` (:mod:`.beam`),
``mcts`` (:mod:`.mcts`) and ``lookahead`` (:mod:`.greedy`: one-step look-ahead on ``r + V``, needs a value
network).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from rich import box
from rich.console import Console
from rich.table import Table

from repgym.agents.lookahead.beam import beam
from repgym.agents.lookahead.budget import Budget, SearchResult
from repgym.agents.lookahead.engine import Engine, make_engine, warm_up
from repgym.agents.lookahead.greedy import lookahead_play
from repgym.agents.lookahead.mcts import mcts
from repgym.agents.lookahead.nmcs import nmcs
from repgym.agents.lookahead.nrpa import nrpa, start_workers
from repgym.agents.lookahead.value import ValueFunction, require_value
from repgym.envs.bubble import rules
from repgym.envs.bubble.boards import load_boards
from repgym.envs.bubble.rules import BubbleConfig

SEARCH_METHODS = ("nmcs", "nrpa", "beam", "mcts", "lookahead")
SEARCH_OPTIONS = {
    "nmcs": ("level", "playout", "temperature", "prune"),
    "nrpa": (
        "level",
        "iterations",
        "top_iterations",
        "alpha",
        "tabu_bias",
        "playouts_per_iteration",
        "workers",
        "prior_temperature",
    ),
    "beam": ("width", "evaluator"),
    "mcts": ("leaf", "playout", "c", "d", "iterations_per_move"),
    "lookahead": (),
}
"""The keyword options each search method takes (beyond board, rules, budget, engine, value and rng)."""
SCORING_ENVS = {"samegame": "repgym/SameGame-v0", "bubble": "repgym/BubbleBreaker-v0"}


def run_search(
    board: np.ndarray,
    config: BubbleConfig,
    search: str,
    time_s: float | None,
    value: ValueFunction | None = None,
    engine: Engine | None = None,
    rng: np.random.Generator | None = None,
    **options: Any,
) -> SearchResult:
    """Search ``board`` with method ``search`` and ``time_s`` seconds (None: the method's natural single pass).

    ``options`` go to the method: ``level``, ``playout``, ``prune`` (nmcs); ``level``, ``iterations``, ``alpha``,
    ``workers`` ... (nrpa, which starts its policy from ``value`` when given); ``width``, ``evaluator`` (beam, default
    ``"value"`` with a value network, else ``"tabu-colour"``); ``leaf``, ``playout``, ``c``, ``d`` (mcts).
    """
    if search not in SEARCH_METHODS:
        raise ValueError(f"unknown search {search!r}; expected one of {', '.join(SEARCH_METHODS)}")
    foreign = sorted(set(options) - set(SEARCH_OPTIONS[search]))
    if foreign:
        allowed = ", ".join(SEARCH_OPTIONS[search]) or "none"
        raise ValueError(f"option(s) {', '.join(foreign)} do not apply to search {search!r} (it takes: {allowed})")
    engine = engine or make_engine(config)
    budget = Budget(time_s=time_s)
    if value is not None:
        value.check_rules(config)
    if search == "nmcs":
        return nmcs(board, config, budget=budget, engine=engine, value=value, rng=rng, **options)
    if search == "nrpa":
        start_workers(options.get("workers", 1))  # before the clock starts
        return nrpa(board, config, budget=budget, engine=engine, value=value, rng=rng, **options)
    if search == "beam":
        options.setdefault("evaluator", "value" if value is not None else "tabu-colour")
        return beam(board, config, budget=budget, engine=engine, value=value, rng=rng, **options)
    if search == "mcts":
        return mcts(board, config, budget=budget, engine=engine, value=value, rng=rng, **options)
    return lookahead_play(board, config, require_value(value, config, "search 'lookahead'"), engine)


def sequence_boards(board: np.ndarray, moves: np.ndarray, config: BubbleConfig) -> list[np.ndarray]:
    """The position before each move of ``moves`` played from ``board`` (``ValueError`` on an illegal move)."""
    state = rules.initial_state(np.zeros(1, np.uint64), config, board)
    positions = []
    for t, move in enumerate(np.asarray(moves, np.int64)):
        positions.append(state.board[0].copy())
        result = rules.step(state, np.array([move]), config)
        if result.illegal[0]:
            raise ValueError(f"move {t} ({format_move(int(move), config.cols)}) is not in a group")
        state = result.state
    return positions


def format_move(cell: int, cols: int) -> str:
    """``row,col`` of a flat cell index (row 0 at the top)."""
    return f"{cell // cols},{cell % cols}"


def format_moves(moves: np.ndarray, cols: int) -> str:
    return " ".join(format_move(int(m), cols) for m in moves)


def make_scoring_env(scoring: str, board: np.ndarray) -> gym.Env:
    """The registered env for ``scoring`` sized to ``board`` (at least 5 colours, as the registered ids)."""
    if scoring not in SCORING_ENVS:
        raise ValueError(f"scoring must be one of {', '.join(SCORING_ENVS)}, got {scoring!r}")
    import repgym.envs  # noqa: F401  (registers the ids)

    rows, cols = board.shape
    colours = max(5, int(board.max()))
    return gym.make(SCORING_ENVS[scoring], rows=rows, cols=cols, colours=colours, obs_mode="board")


def replay_score(env: gym.Env, board: np.ndarray, moves: np.ndarray) -> tuple[float, bool]:
    """Play ``moves`` from ``board`` in ``env``: ``(sum of rewards, the game ended after the last move)``.

    ``ValueError`` if a move is illegal or the game ends before the last move."""
    _, info = env.reset(seed=0, options={"board": board})
    total, ended = 0.0, not info["action_mask"].any()
    for t, move in enumerate(np.asarray(moves, np.int64)):
        if ended:
            raise ValueError(f"the game ended before move {t}")
        _, reward, terminated, truncated, info = env.step(int(move))
        if info["illegal_action"]:
            raise ValueError(f"move {t} is illegal in the env")
        total += float(reward)
        ended = terminated or truncated
    return total, bool(ended)


@dataclass
class Solved:
    """One searched board, replayed."""

    problem: int
    result: SearchResult
    replayed: float  # score of the moves replayed in the env
    finished: bool  # the replay ended the game
    cols: int  # board width, to print moves as row,col

    @property
    def verified(self) -> bool:
        return self.finished and abs(self.replayed - self.result.score) < 1e-6


def solve_file(
    path: str | os.PathLike,
    problem: int | None = None,
    scoring: str = "samegame",
    search: str = "nmcs",
    time_s: float | None = 10.0,
    value: ValueFunction | None = None,
    seed: int = 0,
    engine: str = "auto",
    console: Console | None = None,
    out: str | os.PathLike | None = None,
    **options: Any,
) -> list[Solved]:
    """Search every board of ``path`` (or board ``problem``, counted from 0), print each move sequence, a table
    and the total, and verify each score by replaying the moves in the env; ``out`` also writes them as JSON.

    Every board gets ``time_s`` seconds; the engine is compiled (or loaded from its cache) before the clock starts.
    """
    console = console or Console()
    if search == "lookahead":
        time_s = None  # the one-step look-ahead plays one game and takes no budget
    boards = load_boards(path)
    if not boards:
        raise ValueError(f"{path} holds no boards")
    chosen = range(len(boards)) if problem is None else [problem]
    if problem is not None and not 0 <= problem < len(boards):
        raise ValueError(f"--problem {problem} is out of range: {path} holds boards 0..{len(boards) - 1}")
    solved: list[Solved] = []
    engines: dict[tuple, Engine] = {}
    for k in chosen:
        board = boards[k]
        env = make_scoring_env(scoring, board)
        config = env.unwrapped.config
        key = (config.rows, config.cols, config.colours)
        if key not in engines:
            engines[key] = make_engine(config, engine)  # type: ignore[arg-type]
            warm_up(engines[key])
        rng = np.random.default_rng([seed, k])
        result = run_search(board, config, search, time_s, value, engines[key], rng, **options)
        replayed, finished = replay_score(env, board, result.moves)
        env.close()
        item = Solved(k, result, replayed, finished, config.cols)
        solved.append(item)
        status = "verified" if item.verified else f"[red]replay gives {replayed:.0f}[/red]"
        console.print(f"board {k}: score {result.score:.0f} ({status}), {len(result.moves)} moves, "
                      f"{result.elapsed_s:.1f} s")  # fmt: skip
        console.print(f"  moves (row,col; row 0 = top): {format_moves(result.moves, config.cols)}", soft_wrap=True)
    _print_table(console, solved, search, scoring, time_s)
    if out is not None:
        _write_json(out, path, solved, search, scoring, time_s, options, seed)
    return solved


def _print_table(console: Console, solved: list[Solved], search: str, scoring: str, time_s: float | None) -> None:
    budget = "single pass" if time_s is None else f"{time_s:g} s per board"
    table = Table(title=f"{search}, {scoring} scoring, {budget}", box=box.SIMPLE_HEAD, title_justify="left")
    for name in ("board", "score", "moves", "seconds", "playouts", "evaluations", "replayed"):
        table.add_column(name, justify="right")
    for s in solved:
        r = s.result
        ok = "ok" if s.verified else f"[red]{s.replayed:.0f}[/red]"
        table.add_row(str(s.problem), f"{r.score:.0f}", str(len(r.moves)), f"{r.elapsed_s:.1f}", str(r.playouts),
                      str(r.evaluations), ok)  # fmt: skip
    total = sum(s.result.score for s in solved)
    table.add_section()
    table.add_row("total", f"{total:.0f}", "", f"{sum(s.result.elapsed_s for s in solved):.1f}", "", "",
                  "ok" if all(s.verified for s in solved) else "[red]mismatch[/red]")  # fmt: skip
    console.print(table)


def _write_json(out, path, solved, search, scoring, time_s, options, seed) -> None:
    record = {
        "file": str(path), "search": search, "scoring": scoring, "time_s": time_s, "options": options, "seed": seed,
        "boards": [{"problem": s.problem, "score": s.result.score, "replayed": s.replayed, "verified": s.verified,
                    "seconds": s.result.elapsed_s, "playouts": s.result.playouts,
                    "evaluations": s.result.evaluations, "moves": format_moves(s.result.moves, s.cols),
                    "info": s.result.info} for s in solved],
        "total": sum(s.result.score for s in solved),
    }  # fmt: skip
    Path(out).write_text(json.dumps(record, indent=2, default=str))
