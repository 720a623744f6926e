"""``repgym analyze``: the representation analyzers on a saved agent, written up as a report."""

from __future__ import annotations

import argparse

from repgym.cli.common import Handler, add_command, add_settings, add_threads, parse_settings, set_torch_threads

EPILOG_ANALYZE = """\
writes <out>/report.md with figures (CKA heatmaps, generality histograms, ablation curves, probe R²), and every
number as a tidy table (analyzer, layer, unit, metric, value, n, params) in <out>/table.csv and table.json.

examples:
  repgym analyze runs/ppo/checkpoint --states 1000 --out analysis/ppo
  repgym analyze runs/dqn/checkpoint --compare runs/dqn-finetuned/checkpoint --out analysis/dqn-adapt
  repgym analyze runs/ppo/checkpoint --env repgym/BubbleBreakerShifter-v0 --set rows=6 --set cols=6 --set colours=3
  repgym analyze runs/ppo/checkpoint --only probes dimensionality --out analysis/ppo-probes
  repgym analyze zoo:qr-keytodoor-d5 --only sensitivity composition nested --states 3000 --epsilon 1.0
  repgym analyze zoo:qr-keytodoor-d5 --untrained --only sensitivity composition nested --states 3000 --epsilon 1.0
      the same network with fresh weights on the same random-play states: what training changed
  repgym analyze zoo:qr-keytodoor-d5 --only nested --subclass "key_held == 1 and state.room == 2" --out analysis/k2d

--subclass takes "NAME OP NUMBER [and ...]" (OP: == != < <= > >=) over the ground-truth factors, info["state"]
flattened (KeyToDoor: state.key_held, state.room with 0 key / 1 apple / 2 door room, state.position[0], ...); a bare
name such as key_held stands for the one factor ending in .key_held. Default: the env family's (key held, hand
above the shoulder, one colour left).

analyzers: one per module of repgym/analysis/analyzers/ (similarity, generality, ablation, attribution, probes, ...);
--only with an unknown name lists them all.
"""


def register(sub) -> dict[str, Handler]:
    p_analyze = add_command(
        sub,
        "analyze",
        "look inside a saved agent: similarity, generality, ablation, attribution, probes, dimensionality",
        "Play the agent in its env to collect states with their ground truth, capture the activations "
        "of its latent modules and run every representation analyzer; with --compare, also compare (and measure "
        "adaptation against) a second checkpoint on the same states.",
        EPILOG_ANALYZE,
    )
    p_analyze.add_argument("checkpoint", help="a checkpoint folder written by repgym train or agent.save")
    p_analyze.add_argument("--env", default=None, dest="env_id", help="env id (default: the checkpoint's env)")
    p_analyze.add_argument("--states", type=int, default=1000, help="states to collect (default: 1000)")
    p_analyze.add_argument("--compare", default=None, metavar="CHECKPOINT", help="a second agent (e.g. fine-tuned)")
    p_analyze.add_argument("--episodes", type=int, default=5, help="episodes per ablation return point (default: 5)")
    p_analyze.add_argument("--seed", type=int, default=0, help="seed of the first episode (default: 0)")
    p_analyze.add_argument("--out", default="repgym_analysis", help="output folder (default: ./repgym_analysis)")
    p_analyze.add_argument("--only", nargs="+", default=None, metavar="NAME",
                           help="run only these analyzers (default: all)")  # fmt: skip
    add_settings(p_analyze)
    p_analyze.add_argument("--epsilon", type=float, default=None, help="random-move probability while collecting "
                           "states (default: 0.1)")  # fmt: skip
    p_analyze.add_argument("--max-episode-steps", type=int, default=None,
                           help="steps per episode while collecting and measuring returns (default: 200)")  # fmt: skip
    p_analyze.add_argument("--min-episodes", type=int, default=None, help="cut long episodes while collecting so "
                           "that at least this many are seen (probe folds split by episode; default: 20)")  # fmt: skip
    p_analyze.add_argument("--subclass", default=None, dest="nested_subclass", metavar="PREDICATE",
                           help='the nested-manifold sub-class, over ground-truth factors, e.g. "state.key_held == 1" '
                           "(default: the env family's)")  # fmt: skip
    p_analyze.add_argument("--untrained", action="store_true",
                           help="analyse the checkpoint's network with fresh weights (same class, hyperparameters "
                           "and seed): the control for what training changed")  # fmt: skip
    add_threads(p_analyze, "torch and BLAS threads")
    return {"analyze": _cmd_analyze}


def _cmd_analyze(args: argparse.Namespace) -> int:
    from repgym.analysis.analyze import analyze_checkpoint

    set_torch_threads(args.threads)
    settings = {"epsilon": args.epsilon, "max_episode_steps": args.max_episode_steps, "min_episodes": args.min_episodes,
                "nested_subclass": args.nested_subclass}  # fmt: skip
    report = analyze_checkpoint(args.checkpoint, env_id=args.env_id, env_kwargs=parse_settings(args.set),
                                states=args.states, compare=args.compare, out_dir=args.out, seed=args.seed,
                                episodes=args.episodes, threads=args.threads, only=args.only,
                                untrained=args.untrained,
                                **{k: v for k, v in settings.items() if v is not None})  # fmt: skip
    print(f"wrote {report}")
    return 0
