"""``repgym transfer``: generality as a transfer rule (:mod:`repgym.analysis.transfer_experiment`)."""

from __future__ import annotations

import argparse

from repgym.cli.common import Handler, add_command, add_settings, add_threads, parse_hyperparameters, parse_settings

EPILOG_TRANSFER = """\
per seed, every arm starts a fresh agent of the source's kind on the target env (the source's env with --set
arguments, or --env): 'scratch' transfers nothing, 'full' copies every unit, 'g>=T' copies only the units active on
at least a fraction T of the target states the source plays (the rest stay fresh); each learns --steps env steps.
--head-only adds an arm that copies every unit and freezes the body (only the head learns, ANIL) and the per-layer
CKA of the source with the full and head-only agents after learning. Prints per arm the units kept, zero-shot and
final return, mean return over the curve and env steps to reach 90% of the scratch arm's final return (mean ± the
95% t interval over seeds); writes transfer.json (after every seed: a rerun with the same settings, or more
--seeds, skips the seeds it holds) and transfer.png.
The source must be a repgym DQN checkpoint (qr-dqn, c51, ...), e.g. one of the zoo.

examples:
  repgym transfer zoo:qr-keytodoor-d5 --set delay=20 --hp n_steps=21 --steps 30000 --seeds 3
  repgym transfer zoo:qr-umbrella-d5 --set delay=20 --hp n_steps=21 --thresholds 0.1 0.5 0.9 --steps 20000
  repgym transfer runs/train/qr-bb/checkpoint --env repgym/BubbleBreakerShifter-v0 --steps 20000 --seeds 3 --head-only
"""


def register(sub) -> dict[str, Handler]:
    p = add_command(
        sub,
        "transfer",
        "generality as a transfer rule: keep a trained agent's general units, re-initialise the rest, relearn",
        "Move a trained DQN to a changed task keeping only its units above a generality threshold, and compare "
        "learning speed with full transfer and with learning from scratch, over seeds and thresholds.",
        EPILOG_TRANSFER,
    )
    p.add_argument("source", help="trained repgym DQN checkpoint: a folder or zoo:NAME")
    p.add_argument("--env", dest="env_id", default=None, help="target env id (default: the source's env)")
    p.add_argument(
        "--rule", choices=["generality"], default="generality", help="which units to keep (default: generality)"
    )
    p.add_argument(
        "--thresholds", type=float, nargs="+", default=[0.25, 0.5, 0.75], metavar="T",
        help="generality thresholds in (0, 1] (default: 0.25 0.5 0.75; 'full' and 'scratch' always run)",
    )  # fmt: skip
    p.add_argument("--steps", type=int, default=20_000, help="env steps each arm learns (default: 20000)")
    p.add_argument("--seeds", type=int, default=3, help="number of seeds (default: 3)")
    p.add_argument("--seed", type=int, default=0, help="first seed (default: 0)")
    p.add_argument("--eval-every", type=int, default=0, help="env steps between evaluations (default: steps/10)")
    p.add_argument("--eval-episodes", type=int, default=10, help="episodes per evaluation (default: 10)")
    p.add_argument("--states", type=int, default=512, help="target states generality is measured on (default: 512)")
    p.add_argument(
        "--head-only", action="store_true",
        help="add a head-only arm (all units copied, body frozen: ANIL) and per-layer CKA with the source",
    )  # fmt: skip
    p.add_argument("--out", default="runs/transfer", help="folder for transfer.json and transfer.png")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG")
    add_settings(p, what="target env constructor argument, over the source's (e.g. delay=20)")
    add_settings(p, "--hp", "target agents' hyperparameter over the source's; JSON for values starting with { or [")
    add_threads(p)
    return {"transfer": _cmd_transfer}


def _cmd_transfer(args: argparse.Namespace) -> int:
    from repgym.analysis.transfer_experiment import TransferConfig, run_transfer

    config = TransferConfig(
        source=args.source,
        env_id=args.env_id,
        env_kwargs=parse_settings(args.set),
        thresholds=args.thresholds,
        steps=args.steps,
        seeds=args.seeds,
        first_seed=args.seed,
        eval_every=args.eval_every,
        eval_episodes=args.eval_episodes,
        states=args.states,
        hyperparameters=parse_hyperparameters(args.hp),
        head_only=args.head_only,
        threads=args.threads,
    )
    run_transfer(config, out_dir=args.out, plot=not args.no_plot)
    return 0
