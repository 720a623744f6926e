"""``repgym study``: check a human study file; export a study's recordings as tables and learning curves."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from repgym.cli.common import Handler, add_command

EPILOG_STUDY = """\
a study is a TOML file: the games (env and settings), episodes per player, order (fixed, or random per player
seeded by the player id), an optional seed and consent text (see examples/study.toml). `repgym serve --study FILE`
runs it; this command checks a file and exports the results.

  check FILE [--player ID]     check the file; print its games and one player's order
  export --recordings DIR --out DIR [--study FILE]
                               every recorded episode (episodes.csv / .jsonl: player, env, settings, episode
                               index, return, length, success, end reason), learning curves per game (curves.csv,
                               first_success.csv, curve-<game>.png: success rate by episode index, episodes to
                               the first success) and curves.png (all games on one axis). Recordings are
                               re-simulated first (--no-verify skips it); with --study, only the study's games.

examples:
  repgym study check examples/study.toml --player p-0123456789
  repgym serve --study examples/study.toml --recordings study/recordings
  repgym study export --study examples/study.toml --recordings study/recordings --out study/results
  repgym study export --recordings ~/.local/share/repgym/recordings --out all-play    every config ever played
"""


def register(sub) -> dict[str, Handler]:
    p = add_command(sub, "study", "human studies: check a study file, export its recordings and learning curves",
                    epilog=EPILOG_STUDY)  # fmt: skip
    study_sub = p.add_subparsers(dest="study_command", metavar="{check,export}")
    p_check = study_sub.add_parser("check", help="check a study file and print its games")
    p_check.add_argument("study", metavar="FILE", help="the study file (TOML)")
    p_check.add_argument("--player", default=None, help="also print this player's order of games")
    p_export = study_sub.add_parser("export", help="tables and learning-curve figures from a study's recordings")
    p_export.add_argument("--recordings", required=True, metavar="DIR", help="folder of recordings (searched "
                          "recursively)")  # fmt: skip
    p_export.add_argument("--out", required=True, metavar="DIR", help="folder for the tables and figures")
    p_export.add_argument("--study", default=None, metavar="FILE", help="only this study's games, labelled as there")
    p_export.add_argument("--no-verify", action="store_true", help="do not re-simulate the recordings first")
    p.set_defaults(study_parser=p)
    return {"study": _cmd_study}


def _cmd_study(args: argparse.Namespace) -> int:
    if args.study_command is None:
        args.study_parser.print_help()
        return 0
    from repgym.human.study import load_study

    if args.study_command == "check":
        study = load_study(args.study)
        print(f"{study.path}: study {study.name!r} ({study.title}), order {study.order}, seed {study.seed}, "
              f"consent {'yes' if study.consent else 'no'}")  # fmt: skip
        for i, game in enumerate(study.games):
            print(f"  game {i}: {game.label}, {game.episodes} episodes")
        if args.player:
            print(f"  order for {args.player}: {study.sequence(args.player)}")
        return 0
    from repgym.human.study.export import export_study

    study = load_study(args.study) if args.study else None
    result = export_study(Path(args.recordings).expanduser(), Path(args.out).expanduser(), study,
                          verify=not args.no_verify)  # fmt: skip
    for line in result.skipped:
        print(f"left out {line}")
    print(f"{result.episodes} episodes of {len(result.players)} players in {len(result.games)} games:")
    for c in result.games:
        rate = "" if c.summary is None else f", success rate {_mean_rate(c.summary):.0%}"
        print(f"  {c.game.label}: {int(c.players_by_episode.max(initial=0))} players{rate}")
    print(f"wrote {len(result.files)} files to {result.out}{os.sep}")
    return 0


def _mean_rate(summary) -> float:
    """Successes over all finished episodes (each player's episodes weigh alike)."""
    played = summary.players_by_episode.sum()
    return float((summary.success_rate_by_episode * summary.players_by_episode).sum() / played) if played else 0.0
