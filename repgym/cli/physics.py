"""``repgym shift``: the gravity-shift experiment on the physics bodies."""

from __future__ import annotations

import argparse

from repgym.cli.common import (
    Handler,
    add_command,
    add_settings,
    add_threads,
    parse_hyperparameters,
    parse_settings,
)

EPILOG_SHIFT = """\
per seed: a fresh agent learns --steps env steps at the training gravity; it is evaluated zero-shot at the test
gravity; it keeps learning --steps more after the switch (fine-tune); a fresh agent learns --steps from scratch at
the test gravity. Prints zero-shot return drop, env steps to reach 90% of the from-scratch final return, final
returns (mean ± std over seeds, the 95% Student-t interval of the mean and each seed's value; steps-to-90% over the
seeds that reached it); writes shift.json and shift.png to --out. With --head-only, a copy of the source
agent also learns --steps after the switch with its body frozen (only the last layers learn: ANIL), and the per-layer
linear CKA of the fine-tuned and head-only agents with the pre-shift agent is reported.

examples:
  repgym shift --env repgym/TwoLinkReach-v0 --agent sb3-sac --train-gravity 0 --test-gravity 9.81 --steps 5000 --seeds 3
  repgym shift --env repgym/Thrower-v0 --agent sb3-ppo --steps 20000 --hp n_steps=512 --hp batch_size=64
  repgym shift --env repgym/TwoLinkReach-v0 --agent sb3-dqn --bins 3 --steps 3000 --seeds 2
  repgym shift --env repgym/TwoLinkReach-v0 --agent sb3-sac --steps 5000 --seeds 3 --head-only
  repgym shift --env repgym/ThreeLinkReach-v0 --steps 2000 --hp 'policy_kwargs={"net_arch": [64, 64]}'
"""


def register(sub) -> dict[str, Handler]:
    p_shift = add_command(
        sub,
        "shift",
        "gravity-shift experiment: learn with one gravity, then test and fine-tune with another",
        "Train with one gravity, evaluate zero-shot with another, fine-tune there, and compare with "
        "learning from scratch in the new gravity, over several seeds.",
        EPILOG_SHIFT,
    )
    p_shift.add_argument("--env", required=True, dest="env_id", help="a physics env id, e.g. repgym/TwoLinkReach-v0")
    p_shift.add_argument("--agent", default="sb3-sac", help="agent name from `repgym list` (default: sb3-sac)")
    p_shift.add_argument("--train-gravity", type=float, default=0.0, help="m/s² while learning first (default: 0)")
    p_shift.add_argument("--test-gravity", type=float, default=9.81, help="m/s² after the switch (default: 9.81)")
    p_shift.add_argument("--steps", type=int, default=20_000, help="env steps per phase (default: 20000)")
    p_shift.add_argument("--seeds", type=int, default=3, help="number of seeds (default: 3)")
    p_shift.add_argument("--seed", type=int, default=0, help="first seed (default: 0)")
    p_shift.add_argument("--eval-every", type=int, default=0, help="env steps between evaluations (default: steps/10)")
    p_shift.add_argument("--eval-episodes", type=int, default=5, help="episodes per evaluation (default: 5)")
    p_shift.add_argument("--bins", type=int, default=None, help="discretize actions (bins per joint) for DQN agents")
    p_shift.add_argument(
        "--head-only",
        action="store_true",
        help="add a head-only fine-tune phase (body frozen) and per-layer CKA with the pre-shift agent",
    )
    p_shift.add_argument(
        "--cka-states", type=int, default=256, help="states for the CKA with --head-only (default: 256)"
    )
    p_shift.add_argument("--out", default="runs/shift", help="folder for shift.json and shift.png")
    p_shift.add_argument("--no-plot", action="store_true", help="skip the PNG")
    add_settings(p_shift)
    add_settings(p_shift, "--hp", "agent hyperparameter; JSON for values starting with { or [")
    add_threads(p_shift)
    return {"shift": _cmd_shift}


def _cmd_shift(args: argparse.Namespace) -> int:
    from repgym.analysis.gravity_shift import ShiftConfig, run_shift

    config = ShiftConfig(
        env_id=args.env_id,
        agent=args.agent,
        train_gravity=args.train_gravity,
        test_gravity=args.test_gravity,
        steps=args.steps,
        seeds=args.seeds,
        first_seed=args.seed,
        eval_every=args.eval_every,
        eval_episodes=args.eval_episodes,
        bins=args.bins,
        env_kwargs=parse_settings(args.set),
        hyperparameters=parse_hyperparameters(args.hp),
        threads=args.threads,
        head_only=args.head_only,
        cka_states=args.cka_states,
    )
    run_shift(config, out_dir=args.out, plot=not args.no_plot)
    return 0
