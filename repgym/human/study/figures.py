"""The study export's figures (matplotlib, no pyplot: safe in any thread and without a display).

Per game: the success rate by episode index with the number of players behind each point, and how many episodes
people needed before their first success. Overview: every game's success rate on one axis.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from repgym.human.study.export import GameCurves

DPI = 110


def plot_game(curves: GameCurves, path: Path) -> Path:
    """``curves``' two panels as a PNG at ``path``."""
    fig = Figure(figsize=(10, 4), dpi=DPI, layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=(3, 2))
    episodes = np.arange(1, len(curves.players_by_episode) + 1)
    players = len(curves.summary.players) if curves.summary else int(curves.players_by_episode.max(initial=0))
    fig.suptitle(f"{curves.game.label}: {players} player{'s' * (players != 1)}", fontsize=12)
    if curves.summary is not None:
        rate = curves.summary.success_rate_by_episode
        left.plot(episodes, rate, marker="o", color="#1f6feb")
        left.set_ylim(-0.05, 1.08)
        left.set_ylabel("players who succeeded")
        left.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
        left.set_title("success rate by episode", fontsize=10)
        _label_counts(left, episodes, rate, curves.players_by_episode)
        _first_success(right, curves)
    else:
        left.plot(episodes, curves.mean_return_by_episode, marker="o", color="#1f6feb")
        left.margins(y=0.12)  # room for the n= labels under the lowest point
        left.set_ylabel("mean return")
        left.set_title("mean return by episode (the env reports no success)", fontsize=10)
        _label_counts(left, episodes, curves.mean_return_by_episode, curves.players_by_episode)
        right.axis("off")
        right.text(0.5, 0.5, "no success signal:\nset success_return in the study file", ha="center", va="center",
                   color="#5d5d6a")  # fmt: skip
    left.set_xlabel("episode (finished games, in the order played)")
    left.set_xticks(episodes)
    left.grid(alpha=0.3)
    fig.savefig(path)
    return path


def _label_counts(ax, x: np.ndarray, y: np.ndarray, n: np.ndarray) -> None:
    """``n=3`` under each point: how many players the point rests on."""
    for xi, yi, ni in zip(x, y, n, strict=True):
        if np.isfinite(yi):
            ax.annotate(f"n={ni}", (xi, yi), textcoords="offset points", xytext=(0, -13), ha="center", fontsize=7,
                        color="#5d5d6a")  # fmt: skip


def _first_success(ax, curves: GameCurves) -> None:
    firsts = list(curves.summary.episodes_to_first_success.values())
    counts = Counter("never" if f is None else f for f in firsts)
    longest = len(curves.players_by_episode)
    labels = [str(i) for i in range(longest)] + (["never"] if counts["never"] else [])
    heights = [counts[i] for i in range(longest)] + ([counts["never"]] if counts["never"] else [])
    colours = ["#2a9d55"] * longest + ["#b3261e"] * (len(labels) - longest)
    ax.bar(labels, heights, color=colours)
    ax.set_xlabel("episodes played before the first success")
    ax.set_ylabel("players")
    ax.set_title("episodes to the first success", fontsize=10)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.grid(axis="y", alpha=0.3)


def plot_overview(curves: Sequence[GameCurves], path: Path) -> Path:
    """Every game's success rate (or mean return where no game reports success) by episode, one line per game."""
    fig = Figure(figsize=(8, 4.5), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    with_success = [c for c in curves if c.summary is not None]
    shown = with_success or list(curves)
    markers = "osD^vP*X"
    for i, c in enumerate(shown):
        # Games often share a point (everyone succeeds): a small sideways offset and a marker each keep them apart.
        x = np.arange(1, len(c.players_by_episode) + 1) + 0.06 * (i - (len(shown) - 1) / 2)
        y = c.summary.success_rate_by_episode if with_success else c.mean_return_by_episode
        ax.plot(x, y, marker=markers[i % len(markers)], alpha=0.85,
                label=f"{c.game.label} ({int(c.players_by_episode.max(initial=0))} players)")  # fmt: skip
    if with_success:
        ax.set_ylim(-0.05, 1.08)
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_ylabel("success rate" if with_success else "mean return")
    ax.set_xlabel("episode (finished games, in the order played)")
    ax.set_title("How people learned each game", fontsize=11)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path)
    return path
