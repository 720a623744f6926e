"""The analyzer registry: every module in :mod:`repgym.analysis.analyzers` declares its analyzers with
:func:`analyzer`, and :func:`registered` finds them by importing each module of that folder, so adding an analyzer
is adding one module there.

An analyzer is a name, what it needs (:data:`NEEDS`), a ``run(context) -> Table`` in the tidy format of
:mod:`repgym.analysis.tidy`, the values of the table's ``analyzer`` column it writes, and a
``report(rows, layers) -> Section`` that turns those rows back into Markdown and figures (so a report can be
re-rendered from a saved table). ``repgym analyze`` runs them, and the report shows them, in ``(order, name)`` order.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from rich.console import Console
from rich.progress import Progress

from repgym.analysis.capture import Capture, Run
from repgym.analysis.states import StateSet
from repgym.analysis.tidy import Table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from repgym.analysis.analyze import AnalysisSettings

# What an analyzer may need, and when the pipeline has it.
NEEDS = {
    "activations": "always: the latent modules' activations on the collected states",
    "agent": "always: the agent itself, for interventions (ablation, attribution)",
    "ground_truth": "when the env reports ground-truth factors that vary over the states",
    "decision_labels": "when the env has an optimal-action oracle or legal-move masks",
    "second_agent": "with --compare: a second agent run on the same states",
}


@dataclass
class Context:
    """What an analyzer's ``run`` reads; built once per analysis by :mod:`repgym.analysis.analyze`.

    Attributes:
        agent, env, settings: what is analysed, where, and how (:class:`~repgym.analysis.analyze.AnalysisSettings`).
        states: the collected states with their ground truth.
        capture: the captured activations, modules and unit layouts.
        acts: ``{layer: (n, units, *rest)}`` activations of every captured layer.
        layers: the captured layers in the order they ran.
        keys: the inputs of ``run``/``act``: the observations, or a recurrent agent's state indices.
        run: drives the latent modules once per input (capture, ablation).
        act: ``inputs -> (n,)`` the agent's deterministic actions.
        output: the module whose output the agent acts on (None when no module qualifies).
        compare: the second agent, or None.
        progress: a rich Progress for long analyzers to report on (None: quiet).
        console: where warnings go.
        notes: what analyzers add to the analysis metadata (e.g. ``attribution``: the path it followed).
    """

    agent: Any
    env: gym.Env
    settings: AnalysisSettings
    states: StateSet
    capture: Capture
    acts: dict[str, np.ndarray]
    layers: list[str]
    keys: np.ndarray
    run: Run
    act: Callable[[np.ndarray], np.ndarray]
    output: str | None
    compare: Any = None
    progress: Progress | None = None
    console: Console = field(default_factory=lambda: Console(stderr=True, quiet=True))
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def main_layers(self) -> list[str]:
        """The layers that are a module's main output (not an LSTM's ``.h``/``.c`` parts), in order."""
        return [k for k in self.layers if self.capture.is_main(k)]

    def available(self) -> set[str]:
        """The :data:`NEEDS` this analysis can meet."""
        have = {"activations", "agent"}
        if self.states.factors:
            have.add("ground_truth")
        if self.states.labels is not None:
            have.add("decision_labels")
        if self.compare is not None:
            have.add("second_agent")
        return have


@dataclass
class Section:
    """An analyzer's part of ``report.md``: Markdown (``## Title`` first) and figures ``{file name: Figure}`` that
    the Markdown links to; the report saves them next to ``report.md``."""

    markdown: str
    figures: dict[str, Figure] = field(default_factory=dict)


Report = Callable[[Table, list[str]], Section | None]


@dataclass(frozen=True)
class Analyzer:
    """One registered analyzer (see the module docstring); made by :func:`analyzer`."""

    name: str
    run: Callable[[Context], Table]
    produces: tuple[str, ...]
    needs: frozenset[str]
    report: Report | None
    order: int
    description: str

    def rows(self, table: Table) -> Table:
        """The rows of ``table`` this analyzer wrote."""
        return table.filter(lambda row: row.analyzer in self.produces)


def analyzer(
    name: str,
    *,
    order: int,
    needs: Sequence[str] = ("activations",),
    produces: Sequence[str] | None = None,
    report: Report | None = None,
    description: str | None = None,
) -> Callable[[Callable[[Context], Table]], Analyzer]:
    """Declare ``run(context) -> Table`` as the analyzer ``name``: ``order`` places it among the others (run and
    report), ``needs`` lists :data:`NEEDS` (it is skipped when one is missing), ``produces`` the ``analyzer`` column
    values of its rows (default: ``name``), ``report(rows, layers)`` renders them, ``description`` shows while it
    runs. The module that uses this decorator is found by :func:`registered` when it sits in
    :mod:`repgym.analysis.analyzers`."""
    unknown = sorted(set(needs) - set(NEEDS))
    if unknown:
        raise ValueError(f"analyzer {name!r} needs unknown {unknown}; expected some of {sorted(NEEDS)}")

    def wrap(run: Callable[[Context], Table]) -> Analyzer:
        return Analyzer(name, run, tuple(produces or (name,)), frozenset(needs), report, order, description or name)

    return wrap


def registered() -> list[Analyzer]:
    """Every analyzer declared in a module of :mod:`repgym.analysis.analyzers`, in ``(order, name)`` order."""
    from repgym.analysis import analyzers as package

    found: dict[str, Analyzer] = {}
    owner: dict[str, str] = {}  # table analyzer value -> the analyzer that writes it
    for info in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if not isinstance(value, Analyzer) or found.get(value.name) is value:
                continue
            if value.name in found:
                raise ValueError(f"two analyzers are named {value.name!r} (one in {info.name}); names must be unique")
            for produced in value.produces:
                if owner.setdefault(produced, value.name) != value.name:
                    raise ValueError(f"analyzers {owner[produced]!r} and {value.name!r} both write {produced!r} rows")
            found[value.name] = value
    return sorted(found.values(), key=lambda a: (a.order, a.name))


def select(only: Sequence[str] | None = None) -> list[Analyzer]:
    """The registered analyzers named in ``only`` (all when None or empty), in registry order; an unknown name is
    a one-line ``ValueError`` listing the known ones."""
    every = registered()
    if not only:
        return every
    known = [a.name for a in every]
    unknown = [name for name in only if name not in known]
    if unknown:
        raise ValueError(f"unknown analyzer {unknown[0]!r}; known analyzers: {', '.join(known)}")
    return [a for a in every if a.name in only]
