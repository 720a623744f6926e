"""Generality as a transfer rule, as an experiment (``repgym transfer``): how fast does an agent learn a changed
task when it starts from only the *general* units of a trained agent?

For each seed, with a trained source checkpoint (a repgym DQN) and a target env (the source's env with other
arguments, e.g. KeyToDoor delay 5 -> 20, or another env with the same spaces, BubbleBreaker -> Shifter):

1. the source agent plays ``states`` states of the target env (10% random actions) — the states on which each
   unit's generality (the fraction of states where it is active) is measured;
2. every *arm* builds a fresh agent of the source's kind and hyperparameters (``hyperparameters`` override them)
   on the target env with the seed's seed, so all arms of a seed start from the same fresh weights:
   - ``scratch``: nothing transferred;
   - ``full``: every unit copied (threshold 0);
   - ``g>=t`` for each threshold ``t``: only the units with generality >= t keep the source's weights
     (:func:`repgym.analysis.transfer_rule.transfer_general_units`), the rest stay fresh;
   - ``head-only`` (with ``head_only=True``; ANIL, Raghu et al. 2020): every unit copied, then every body weight
     frozen (:func:`repgym.agents.surgery.freeze_all_but_head`), so only the head learns;
3. each arm learns ``steps`` env steps, evaluated every ``eval_every`` steps on ``eval_episodes`` episodes of the
   run protocol (deterministic actions, the same reset seeds for every arm and seed, so curves are paired).

Per arm, over seeds (mean and 95% t interval, :mod:`repgym.analysis.seed_stats`): the fraction of hidden units kept,
the return before learning (zero-shot), the final return, the area under the learning curve (mean return over
the evaluations: a learning-speed measure that needs no threshold) and the env steps to reach 90% of the way from
the random policy to the scratch arm's mean final return (runs that never reach it are counted, not averaged).
With ``head_only``, the per-layer debiased linear CKA between the source and the ``full`` and ``head-only`` agents
after learning, on states the source plays in the target env (does the body stay near CKA 1 when it is free?).
``transfer.json`` holds every curve and the settings; ``transfer.png`` the curves.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

import repgym
from repgym.analysis.gravity_shift import THRESHOLD_FRACTION, Curve, evaluate_return, learn_with_evaluations
from repgym.analysis.report import short
from repgym.analysis.seed_stats import mean_ci

SCRATCH, FULL, HEAD_ONLY = "scratch", "full", "head-only"
RESULT_FILE = "transfer.json"
RESUME_IGNORES = ("seeds", "threads")  # settings a resumed run may change (more seeds, other thread counts)


@dataclass
class TransferConfig:
    """Everything that defines a run (stored with its results)."""

    source: str  # checkpoint folder or zoo:NAME of a trained repgym DQN
    env_id: str | None = None  # target env id (default: the source's)
    env_kwargs: dict[str, Any] = field(default_factory=dict)  # target env arguments, over the source's
    thresholds: list[float] = field(default_factory=lambda: [0.25, 0.5, 0.75])
    steps: int = 20_000
    seeds: int = 3
    first_seed: int = 0
    eval_every: int = 0  # 0: steps // 10
    eval_episodes: int = 10
    states: int = 512  # states the generality is measured on
    hyperparameters: dict[str, Any] = field(default_factory=dict)  # target agents', over the source's
    head_only: bool = False  # add the head-only arm and the per-layer CKA with the source
    threads: int = 1

    def validate(self) -> TransferConfig:
        """Check the settings (ValueError naming the bad one); fill in ``eval_every``."""
        for name in ("steps", "seeds", "eval_episodes", "states", "threads"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.eval_every < 0:
            raise ValueError(f"eval_every must be >= 0 (0: steps // 10), got {self.eval_every}")
        bad = [t for t in self.thresholds if not np.isfinite(t) or not 0.0 < t <= 1.0]
        if bad:
            raise ValueError(f"thresholds must be in (0, 1] (0 is the 'full' arm, always run), got {bad}")
        self.thresholds = sorted(set(float(t) for t in self.thresholds))
        self.eval_every = self.eval_every or max(1, self.steps // 10)
        return self

    @property
    def arms(self) -> list[str]:
        return [SCRATCH, FULL] + ([HEAD_ONLY] if self.head_only else []) + [arm_name(t) for t in self.thresholds]


def arm_name(threshold: float) -> str:
    return f"g>={threshold:g}"


@dataclass
class ArmResult:
    """One arm of one seed: its learning curve and the fraction of units kept per layer."""

    curve: Curve
    kept: dict[str, list[int]] = field(default_factory=dict)  # layer -> [units kept, units]

    @property
    def kept_fraction(self) -> float:
        """Fraction of the body's units (every layer but the head, pooled) that kept the source's weights; 0 for
        scratch. The head is left out because its outputs (actions x quantiles) would outnumber the hidden units."""
        body = list(self.kept.values())[:-1]
        units = sum(n for _, n in body)
        return sum(k for k, _ in body) / units if units else 0.0


@dataclass
class TransferSeed:
    seed: int
    arms: dict[str, ArmResult]
    random_return: float
    wall_s: float
    cka: dict[str, dict[str, float]] = field(default_factory=dict)  # {"full" | "head-only": {layer: CKA}}


@dataclass
class TransferResult:
    config: TransferConfig
    target: dict[str, Any]  # {"id": ..., "kwargs": ...}
    seeds: list[TransferSeed]
    wall_s: float
    version: str = repgym.__version__
    date: str = ""

    @property
    def threshold(self) -> float:
        """90% of the way from the random policy to the scratch arm's mean final return."""
        random = float(np.mean([s.random_return for s in self.seeds]))
        scratch = float(np.mean([s.arms[SCRATCH].curve.final for s in self.seeds]))
        return random + THRESHOLD_FRACTION * (scratch - random)

    def summary(self) -> dict[str, dict[str, Any]]:
        """``{arm: {metric: MeanCI json | counts}}`` over seeds."""
        out: dict[str, dict[str, Any]] = {}
        threshold = self.threshold
        for arm in self.config.arms:
            runs = [s.arms[arm] for s in self.seeds]
            reach = [r.curve.steps_to_reach(threshold) for r in runs]
            reached = [v for v in reach if v is not None]
            out[arm] = {
                "kept_fraction": mean_ci([r.kept_fraction for r in runs]).to_json(),
                "zero_shot": mean_ci([r.curve.returns[0] for r in runs]).to_json(),
                "final": mean_ci([r.curve.final for r in runs]).to_json(),
                "auc": mean_ci([float(np.mean(r.curve.returns)) for r in runs]).to_json(),
                "steps_to_90": mean_ci(reached).to_json() if reached else None,
                "reached_90": f"{len(reached)}/{len(runs)}",
                "steps_to_90_per_seed": reach,
            }
        for arm in (FULL, HEAD_ONLY):
            layers = self.seeds[0].cka.get(arm, {})
            if layers:
                out[arm]["cka"] = {
                    layer: mean_ci([s.cka[arm][layer] for s in self.seeds]).to_json() for layer in layers
                }
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "experiment": "transfer-generality",
            "config": asdict(self.config),
            "target": self.target,
            "threshold": self.threshold,
            "summary": self.summary(),
            "seeds": [asdict(s) for s in self.seeds],
            "wall_s": self.wall_s,
            "version": self.version,
            "date": self.date,
        }


# -- the experiment ------------------------------------------------------------------------------------------------


def _target_spec(config: TransferConfig, checkpoint: Any) -> Any:
    from repgym.runs import EnvSpec

    source_env = checkpoint.require_env()
    env_id = config.env_id or source_env.id
    kwargs = dict(source_env.kwargs) if env_id == source_env.id else {}
    kwargs.update(config.env_kwargs)
    return EnvSpec(env_id, kwargs)


def run_transfer_seed(config: TransferConfig, checkpoint: Any, target: Any, seed: int, advance: Any) -> TransferSeed:
    """Every arm for one seed (see the module docstring)."""
    from repgym.agents import load_agent, make_agent, registered_agent
    from repgym.agents.surgery import freeze_all_but_head
    from repgym.analysis.gravity_shift import layer_cka
    from repgym.analysis.states import collect_states
    from repgym.analysis.transfer_rule import transfer_general_units

    start = time.perf_counter()
    eval_env = target.make()
    source = load_agent(checkpoint, env=target.make())
    states = collect_states(target.make(), source, n_states=config.states, seed=seed, progress=False).obs
    fixed = set(dict(registered_agent(checkpoint).kwargs)) | {"seed"}  # set by the registry entry / per seed
    hyperparameters = {k: v for k, v in checkpoint.hyperparameters.items() if k not in fixed}
    hyperparameters.update(config.hyperparameters)
    arms: dict[str, ArmResult] = {}
    learned: dict[str, Any] = {}  # the full and head-only agents, for the CKA with the source
    for arm in config.arms:
        agent = make_agent(checkpoint.agent, target.make(), seed=seed, **hyperparameters)
        kept: dict[str, list[int]] = {}
        if arm != SCRATCH:
            threshold = 0.0 if arm in (FULL, HEAD_ONLY) else float(arm.split(">=", 1)[1])
            report = transfer_general_units(source, agent, states, threshold)
            kept = {name: [len(layer.kept), layer.units] for name, layer in report.items()}
        if arm == HEAD_ONLY:
            freeze_all_but_head(agent)
        curve = learn_with_evaluations(
            agent, config.steps, config.eval_every,
            lambda agent=agent: evaluate_return(agent, eval_env, config.eval_episodes), advance,
        )  # fmt: skip
        arms[arm] = ArmResult(curve, kept)
        if config.head_only and arm in (FULL, HEAD_ONLY):
            learned[arm] = agent
        else:
            agent.env.close()
    cka = layer_cka(source, learned, eval_env, config.states, seed) if learned else {}
    random_return = evaluate_return(None, eval_env, config.eval_episodes, rng_seed=seed)
    eval_env.close()
    return TransferSeed(seed, arms, random_return, time.perf_counter() - start, cka)


def run_transfer(
    config: TransferConfig, out_dir: str | Path | None = "runs/transfer", plot: bool = True,
    console: Console | None = None,
) -> TransferResult:  # fmt: skip
    """Run every seed, print the summary table, write ``transfer.json`` and ``transfer.png`` to ``out_dir``.

    ``transfer.json`` is rewritten after every seed; a rerun with the same settings (``seeds`` may grow) skips the
    seeds it holds, so an interrupted run loses at most the seed under way."""
    import torch

    from repgym.agents import registered_agent
    from repgym.runs import Checkpoint

    config.validate()
    console = console or Console()
    torch.set_num_threads(config.threads)
    checkpoint = Checkpoint.read(config.source)
    registered_agent(checkpoint)
    target = _target_spec(config, checkpoint)
    target.make().close()  # fail fast on a bad env id or argument
    start = time.perf_counter()
    columns = (
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("env steps"),
        TimeElapsedColumn(), TimeRemainingColumn(),
    )  # fmt: skip
    folder = None if out_dir is None else Path(out_dir)
    wanted = range(config.first_seed, config.first_seed + config.seeds)
    done = {s.seed: s for s in finished_seeds(folder, config) if s.seed in wanted}
    if done:
        console.print(f"resuming: seed(s) {sorted(done)} already finished in {folder / RESULT_FILE}")
    target_info = {"id": target.id, "kwargs": dict(target.kwargs)}

    def result_of(seeds: list[TransferSeed]) -> TransferResult:
        return TransferResult(config, target_info, seeds, time.perf_counter() - start,
                              date=datetime.now(timezone.utc).isoformat(timespec="seconds"))  # fmt: skip

    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("", total=len(config.arms) * config.steps * (config.seeds - len(done)))
        for i, seed in enumerate(wanted):
            if seed in done:
                continue
            progress.update(task, description=f"seed {seed} ({i + 1}/{config.seeds})")
            done[seed] = run_transfer_seed(config, checkpoint, target, seed, lambda n: progress.advance(task, n))
            if folder is not None:  # after every seed, so an interrupted run resumes where it stopped
                _write_json(folder, result_of([done[k] for k in sorted(done)]))
    result = result_of([done[k] for k in sorted(done)])
    console.print(summary_table(result))
    if config.head_only:
        console.print(cka_table(result))
    if folder is not None:
        _write_json(folder, result)
        written = [folder / RESULT_FILE]
        if plot:
            curves_figure(result).savefig(folder / "transfer.png", dpi=120)
            written.append(folder / "transfer.png")
        console.print("wrote " + ", ".join(str(p) for p in written))
    return result


def _write_json(folder: Path, result: TransferResult) -> None:
    from repgym.atomic_files import write_files_atomically

    data = json.dumps(result.to_json(), indent=2).encode()
    write_files_atomically(folder, {RESULT_FILE: lambda file: file.write(data)})


def finished_seeds(folder: Path | None, config: TransferConfig) -> list[TransferSeed]:
    """The seeds a previous run of the same settings left in ``folder`` (none without a result file); a result of
    other settings is a one-line ``ValueError`` rather than something to overwrite."""
    path = None if folder is None else folder / RESULT_FILE
    if path is None or not path.exists():
        return []
    data = json.loads(path.read_text())
    old = {k: v for k, v in data.get("config", {}).items() if k not in RESUME_IGNORES}
    new = {k: v for k, v in json.loads(json.dumps(asdict(config))).items() if k not in RESUME_IGNORES}
    if old != new:
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        raise ValueError(f"{path} holds a run with other settings ({', '.join(changed)}); use another --out or "
                         "remove it")  # fmt: skip
    return [
        TransferSeed(s["seed"], {arm: ArmResult(Curve(**a["curve"]), a["kept"]) for arm, a in s["arms"].items()},
                     s["random_return"], s["wall_s"], s.get("cka", {}))
        for s in data.get("seeds", [])
    ]  # fmt: skip


# -- reporting -----------------------------------------------------------------------------------------------------


def _fmt(entry: dict[str, Any] | None, digits: int = 2) -> str:
    if entry is None:
        return "-"
    if entry["n"] < 2:
        return f"{entry['mean']:.{digits}f}"
    return f"{entry['mean']:.{digits}f} ± {(entry['ci95_high'] - entry['ci95_low']) / 2:.{digits}f}"


def summary_table(result: TransferResult) -> Table:
    """One row per arm: units kept, zero-shot, final, AUC, steps to 90% (mean ± the 95% t interval's half-width
    over seeds)."""
    c = result.config
    table = Table(
        title=f"transfer {c.source} -> {result.target['id']} {result.target['kwargs'] or ''}: {len(result.seeds)} "
        f"seed(s), {c.steps} steps, 90% threshold {result.threshold:.2f}",
        box=box.SIMPLE_HEAVY,
    )
    columns = ("arm", "hidden units kept", "zero-shot", "final return", "mean over curve", "steps to 90%", "reached")
    for column in columns:
        table.add_column(column, justify="left" if column == "arm" else "right")
    for arm, row in result.summary().items():
        table.add_row(arm, _fmt(row["kept_fraction"]), _fmt(row["zero_shot"]), _fmt(row["final"]),
                      _fmt(row["auc"]), _fmt(row["steps_to_90"], 0), row["reached_90"])  # fmt: skip
    return table


def cka_table(result: TransferResult) -> Table:
    """Per layer: debiased linear CKA of the source with the full and head-only agents after learning."""
    summary = result.summary()
    table = Table(title="CKA with the source after learning (mean ± 95% CI half-width)", box=box.SIMPLE_HEAVY)
    table.add_column("layer")
    for arm in (FULL, HEAD_ONLY):
        table.add_column(arm, justify="right")
    for layer in summary[FULL].get("cka", {}):
        table.add_row(layer, *(_fmt(summary[arm].get("cka", {}).get(layer), 3) for arm in (FULL, HEAD_ONLY)))
    return table


def curves_figure(result: TransferResult) -> Figure:
    """Mean evaluation return against env steps for every arm (band: min..max over seeds)."""
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.subplots()
    colours = {SCRATCH: "tab:green", FULL: "tab:orange", HEAD_ONLY: "tab:red"}
    thresholds = result.config.thresholds
    for arm in result.config.arms:
        curves = [s.arms[arm].curve for s in result.seeds]
        if arm in colours:
            colour = colours[arm]
        else:
            k = thresholds.index(float(arm.split(">=", 1)[1]))
            colour = plt_colour(k, len(thresholds))
        lengths = {len(c.steps) for c in curves}
        if len(lengths) == 1:
            steps, values = np.array(curves[0].steps), np.array([c.returns for c in curves])
            ax.plot(steps, values.mean(axis=0), color=colour, label=arm)
            ax.fill_between(steps, values.min(axis=0), values.max(axis=0), color=colour, alpha=0.15)
        else:
            for k, c in enumerate(curves):
                ax.plot(c.steps, c.returns, color=colour, label=arm if k == 0 else None)
    ax.axhline(result.threshold, color="grey", linestyle="--", label="90% of scratch final")
    ax.axhline(np.mean([s.random_return for s in result.seeds]), color="grey", linestyle=":", label="random")
    ax.set_xlabel("env steps on the target task")
    ax.set_ylabel(f"mean return ({result.config.eval_episodes} eval episodes)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    source = short(str(result.config.source), 40)  # a long checkpoint path would push the target out of the figure
    ax.set_title(f"{source} -> {result.target['id']} {result.target['kwargs'] or ''}", fontsize=10)
    return fig


def plt_colour(k: int, n: int) -> tuple[float, float, float, float]:
    """The k-th of n colours along a blue-purple ramp (threshold arms, low to high)."""
    from matplotlib import colormaps

    return colormaps["cool"](0.15 + 0.7 * (k / max(n - 1, 1)))
