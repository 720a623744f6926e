"""Game statistics of the baseline policies on a Bubble Breaker / SameGame env (``repgym stats``).

Each policy plays ``episodes`` games, all at once as one batch through the pure rules
(:mod:`repgym.envs.bubble.rules`), with finished games dropped from the batch. Game ``i`` starts from the board
that the single env shows after ``reset(seed=seed + i)``, so every policy meets the same boards and any game can
be replayed move for move through ``gymnasium.make(env_id)`` (pass ``record_actions=True`` to keep the moves).

Per game: score (sum of rewards), length (moves played), legal moves (groups) per turn averaged over the
positions where a move was chosen, bubbles left and new columns at the end. The report is a rich table of
mean ± std per policy, a CSV of per-game rows and a histogram PNG of the scores.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding
from matplotlib.figure import Figure  # no pyplot: no global backend state, renders with Agg
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from repgym.envs.bubble import rules
from repgym.envs.bubble.env import BubbleBreakerEnv
from repgym.envs.bubble.policies import POLICIES, Policy, get_policy
from repgym.envs.bubble.rules import BubbleConfig

CSV_FIELDS = (
    "env_id", "policy", "game", "seed", "score", "length", "moves_per_turn", "bubbles_left", "new_columns",
    "terminated", "truncated",
)  # fmt: skip


@dataclass
class PolicyStats:
    """Per-game results of one policy; every array has shape ``(games,)``, game ``i`` played from ``seeds[i]``."""

    policy: str
    seeds: np.ndarray  # int64, the single env's reset seed of each game
    score: np.ndarray  # float64, sum of rewards
    length: np.ndarray  # int64, moves played
    moves_per_turn: np.ndarray  # float64, mean legal groups over the positions where a move was chosen (0 if none)
    bubbles_left: np.ndarray  # int64, clickable bubbles left at the end (grey not counted)
    new_columns: np.ndarray  # int64, columns that arrived (Continuous variants; grey ones included)
    terminated: np.ndarray  # bool, the game ended with no group left
    truncated: np.ndarray  # bool, the game reached the step limit first
    wall_s: float = 0.0  # seconds spent playing
    actions: list[np.ndarray] | None = None  # per game, the cells clicked, (length,) int64; with record_actions

    @property
    def games(self) -> int:
        return int(self.seeds.size)

    def summary(self) -> dict[str, tuple[float, float]]:
        """``{quantity: (mean, std)}`` for score, length, moves_per_turn, bubbles_left, new_columns (std: ddof=1)."""
        out = {}
        for name in ("score", "length", "moves_per_turn", "bubbles_left", "new_columns"):
            values = np.asarray(getattr(self, name), dtype=np.float64)
            out[name] = (float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0)
        return out


def game_keys(seeds: Sequence[int] | np.ndarray) -> np.ndarray:
    """``(games,) uint64`` random-stream keys drawn exactly as ``BubbleBreakerEnv.reset(seed=s)`` draws them."""
    keys = [seeding.np_random(int(s))[0].integers(0, 2**63, dtype=np.uint64, size=1) for s in seeds]
    return np.concatenate(keys) if keys else np.zeros(0, np.uint64)


def play_games(
    policy: str | Policy,
    config: BubbleConfig,
    seeds: Sequence[int] | np.ndarray,
    max_steps: int | None = None,
    rng: np.random.Generator | None = None,
    record_actions: bool = False,
    on_step: Callable[[int, int], None] | None = None,
) -> PolicyStats:
    """Play one game per seed with ``policy``, as one batch through :func:`rules.step`.

    ``max_steps`` is the env's step limit (None: play until every game ends). ``rng`` drives the policy
    (default: ``default_rng(0)``). ``on_step(move, finished)`` is called after every batched move with the move
    number and the number of games that ended on it (for progress bars). Raises ``RuntimeError`` if the policy
    clicks a cell that is not in a group while a group exists (a policy bug, not a game event).
    """
    policy = get_policy(policy)
    rng = np.random.default_rng(0) if rng is None else rng
    seeds = np.asarray(seeds, dtype=np.int64).reshape(-1)
    start = time.perf_counter()
    state = rules.initial_state(game_keys(seeds), config)
    n = seeds.size
    length = np.zeros(n, np.int64)
    groups_seen = np.zeros(n, np.int64)
    terminated = ~rules.has_moves(state.board, config)  # a board may start without a move: length 0
    truncated = np.zeros(n, bool)
    history: list[tuple[np.ndarray, np.ndarray]] = []
    active = np.flatnonzero(~terminated)
    if max_steps is not None and max_steps <= 0:
        truncated[active] = True
        active = active[:0]
    move = 0
    while active.size:
        sub = state.index(active)
        groups_seen[active] += rules.group_stats(sub.board, config).count
        actions = np.asarray(policy(sub.board, config, rng), dtype=np.int64)
        result = rules.step(sub, actions, config)
        if result.illegal.any():
            bad = int(np.flatnonzero(result.illegal)[0])
            raise RuntimeError(f"policy {policy.name!r} clicked cell {actions[bad]}, which is not in a group")
        state.board[active] = result.state.board
        state.new_columns[active] = result.state.new_columns
        state.score[active] = result.state.score
        length[active] += 1
        if record_actions:
            history.append((active, actions))
        move += 1
        ended = result.terminal
        terminated[active[ended]] = True
        out_of_steps = ~ended & (length[active] >= max_steps) if max_steps is not None else np.zeros_like(ended)
        truncated[active[out_of_steps]] = True
        active = active[~ended & ~out_of_steps]
        if on_step is not None:
            on_step(move, int(ended.sum() + out_of_steps.sum()))
    actions_per_game = None
    if record_actions:
        played = np.full((n, move), -1, np.int64)
        for t, (idx, acts) in enumerate(history):
            played[idx, t] = acts
        actions_per_game = [played[i, : length[i]].copy() for i in range(n)]
    return PolicyStats(
        policy=policy.name,
        seeds=seeds,
        score=state.score.copy(),
        length=length,
        moves_per_turn=np.where(length > 0, groups_seen / np.maximum(length, 1), 0.0),
        bubbles_left=rules.playable(state.board, config).sum(axis=(1, 2)).astype(np.int64),
        new_columns=state.new_columns.copy(),
        terminated=terminated,
        truncated=truncated,
        wall_s=time.perf_counter() - start,
        actions=actions_per_game,
    )


def env_config(env_id: str, env_kwargs: dict | None = None) -> tuple[BubbleConfig, int | None]:
    """The rules and step limit (``spec.max_episode_steps``) of ``gymnasium.make(env_id, **env_kwargs)``.

    Raises ``ValueError`` for an unknown id, a bad constructor argument or an env that is not Bubble Breaker /
    SameGame.
    """
    try:
        env = gym.make(env_id, **(env_kwargs or {}))
    except gym.error.Error as err:
        raise ValueError(f"cannot make {env_id!r}: {err}") from err
    except TypeError as err:  # an unknown keyword reaches the constructor
        raise ValueError(f"bad argument for {env_id!r}: {err}") from err
    try:
        base = env.unwrapped
        if not isinstance(base, BubbleBreakerEnv):
            raise ValueError(
                f"{env_id!r} is not a Bubble Breaker / SameGame env (it makes {type(base).__name__}); expected an id "
                "such as repgym/BubbleBreaker-v0 or repgym/SameGame-v0"
            )
        return base.config, env.spec.max_episode_steps if env.spec is not None else None
    finally:
        env.close()


def run_stats(
    env_id: str,
    episodes: int = 100,
    policies: Sequence[str] | None = None,
    seed: int = 0,
    env_kwargs: dict | None = None,
    out_dir: str | Path = "repgym_stats",
    plot: bool = True,
    console: Console | None = None,
    record_actions: bool = False,
) -> list[PolicyStats]:
    """Play ``episodes`` games per baseline policy on ``env_id`` and report the statistics.

    Games use reset seeds ``seed .. seed + episodes - 1``; every policy's own random stream is
    ``default_rng(seed)``. Prints a progress bar and a table of mean ± std per policy, writes
    ``<env>_games.csv`` (one row per game) and, unless ``plot=False``, ``<env>_scores.png`` (score histograms
    of all policies overlaid) into ``out_dir``. ``policies``: names from :data:`POLICIES` (default: all).
    Raises ``ValueError`` for an unknown policy or env, an env that is not Bubble Breaker / SameGame,
    ``episodes < 1`` or ``seed < 0``.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    chosen = [get_policy(name) for name in dict.fromkeys(policies or POLICIES)]
    config, max_steps = env_config(env_id, env_kwargs)
    console = console or Console()
    seeds = np.arange(seed, seed + episodes, dtype=np.int64)

    results: list[PolicyStats] = []
    columns = (
        TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(), TextColumn("games"),
        TextColumn("move {task.fields[move]:>4}"), TimeElapsedColumn(),
    )  # fmt: skip
    with Progress(*columns, console=console) as progress:
        for policy in chosen:
            task = progress.add_task(policy.name, total=episodes, move=0)

            def advance(move: int, finished: int, task=task) -> None:
                progress.update(task, advance=finished, move=move)

            stats = play_games(policy, config, seeds, max_steps, np.random.default_rng(seed), record_actions, advance)
            progress.update(task, completed=episodes)
            results.append(stats)

    console.print(stats_table(results, env_id, episodes, seed, new_columns=config.continuous))
    timings = ", ".join(f"{r.policy} {r.wall_s:.2f} s" for r in results)
    console.print(f"played {episodes * len(results)} games in {sum(r.wall_s for r in results):.2f} s ({timings})")
    truncated = sum(int(r.truncated.sum()) for r in results)
    if truncated:
        console.print(f"{truncated} game(s) reached the step limit of {max_steps} moves (truncated).")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    slug = env_id.replace(":", "_").replace("/", "_")
    csv_path = write_csv(results, out / f"{slug}_games.csv", env_id)
    console.print(f"per-game results: {csv_path}", highlight=False)
    if plot:
        png_path = plot_scores(results, out / f"{slug}_scores.png", env_id, episodes)
        console.print(f"score histogram:  {png_path}", highlight=False)
    return results


def _mean_std(values: np.ndarray, digits: int = 1) -> str:
    values = np.asarray(values, dtype=np.float64)
    std = values.std(ddof=1) if values.size > 1 else 0.0
    return f"{values.mean():.{digits}f} ± {std:.{digits}f}"


def stats_table(
    results: Sequence[PolicyStats], env_id: str, episodes: int, seed: int, new_columns: bool = True
) -> Table:
    """A rich table: per policy, mean ± std of score, game length, legal moves per turn, bubbles left and (with
    ``new_columns``; without the Continuous rules it is always 0) new columns, plus the score range."""
    caption = "mean ± std over games; moves per turn: legal groups per position played"
    table = Table(
        title=f"{env_id}: {episodes} games per policy, reset seeds {seed}..{seed + episodes - 1}",
        caption=caption,
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("policy", style="bold cyan", no_wrap=True)
    headers = ["score", "score\nmin..max", "game\nlength", "moves\nper turn", "bubbles\nleft"]
    for name in headers + (["new\ncolumns"] if new_columns else []):
        table.add_column(name, justify="right")
    for r in results:
        cells = [
            _mean_std(r.score, 0),
            f"{r.score.min():.0f}..{r.score.max():.0f}",
            _mean_std(r.length),
            _mean_std(r.moves_per_turn),
            _mean_std(r.bubbles_left),
        ]
        if new_columns:
            cells.append(_mean_std(r.new_columns))
        table.add_row(r.policy, *cells)
    return table


def write_csv(results: Sequence[PolicyStats], path: str | Path, env_id: str) -> Path:
    """One row per game (:data:`CSV_FIELDS`); returns the path."""
    path = Path(path)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_FIELDS)
        for r in results:
            for i in range(r.games):
                writer.writerow([
                    env_id, r.policy, i, int(r.seeds[i]), f"{r.score[i]:g}", int(r.length[i]),
                    f"{r.moves_per_turn[i]:.4f}", int(r.bubbles_left[i]), int(r.new_columns[i]),
                    int(r.terminated[i]), int(r.truncated[i]),
                ])  # fmt: skip
    return path


def plot_scores(results: Sequence[PolicyStats], path: str | Path, env_id: str, episodes: int) -> Path:
    """Histogram PNG of every policy's scores, overlaid on shared bins; returns the path."""
    path = Path(path)
    all_scores = np.concatenate([r.score for r in results])
    bins = np.histogram_bin_edges(all_scores, bins=min(40, max(10, int(np.sqrt(all_scores.size)))))
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.add_subplot()
    for i, r in enumerate(results):
        colour = f"C{i % 10}"
        # Outlines keep every policy readable where the histograms overlap; the light fill shows the mass.
        ax.hist(r.score, bins=bins, histtype="stepfilled", alpha=0.2, color=colour)
        ax.hist(r.score, bins=bins, histtype="step", linewidth=1.6, color=colour,
                label=f"{r.policy} (mean {r.score.mean():.0f})")  # fmt: skip
    ax.set_xlabel("score (sum of rewards per game)")
    ax.set_ylabel("games")
    ax.set_title(f"{env_id}: scores of baseline policies, {episodes} games each")
    ax.legend()
    fig.savefig(path, dpi=120)
    return path


__all__ = ["CSV_FIELDS", "PolicyStats", "env_config", "game_keys", "play_games", "plot_scores", "run_stats",
           "stats_table", "write_csv"]  # fmt: skip
