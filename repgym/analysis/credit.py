"""Where a credit-assignment agent puts the reward: the share of its redistributed reward on the decisive steps.

A return-decomposition agent (RUDDER, :mod:`repgym.agents.credit`) turns a delayed reward into a per-step credit:
the change of its return prediction at each step. If it has learned the game, the credit sits on the step that
decided the outcome — the Umbrella choice, the KeyToDoor key pickup — and not on the steps that only carry the
reward's arrival. This module measures that from the collected states, with the decisive steps read off the env's
ground truth:

- Umbrella: the choice, the first step of each episode (``state.steps_since_cue == 0``);
- KeyToDoor: the step whose action picks the key up (``state.key_held`` is 0 there and 1 at the next state of the
  same episode);
- any game, given as a boolean mask over the states (the function API).

Metrics: ``decisive_share``, the fraction of all absolute credit that lands on decisive steps, against ``chance``,
the fraction of states that are decisive (where a credit spread evenly would put it); ``decisive_mean`` and
``other_mean``, the mean absolute credit per decisive and per other step; ``decisive_ratio``, their quotient.
"""

from __future__ import annotations

import numpy as np

from repgym.analysis.states import StateSet
from repgym.analysis.tidy import Table


def default_decisive(states: StateSet) -> tuple[str, np.ndarray] | None:
    """``(description, (n,) bool)`` of the decisive steps for the env family the factors come from, or None
    when there is no rule for it (see the module docstring)."""
    factors = states.factors
    if "state.steps_since_cue" in factors and "state.weather" in factors:  # Umbrella
        return "the umbrella choice (steps_since_cue == 0)", factors["state.steps_since_cue"] == 0
    if "state.key_held" in factors:  # KeyToDoor
        held = factors["state.key_held"] > 0.5
        same_episode = np.zeros_like(held)
        same_episode[:-1] = states.episode[1:] == states.episode[:-1]
        picks = np.zeros_like(held)
        picks[:-1] = ~held[:-1] & held[1:] & same_episode[:-1]
        return "the key pickup (key_held 0 -> 1 at the next step)", picks
    return None


def credit_landing(credit: np.ndarray, decisive: np.ndarray, layer: str = "credit", rule: str = "") -> Table:
    """Rows ``credit`` for the per-state credit ``(n,)`` (or ``(n, 1)``) and the decisive mask ``(n,) bool``."""
    credit, decisive = np.asarray(credit, dtype=np.float64), np.asarray(decisive, dtype=bool)
    if credit.shape[0] != decisive.shape[0]:
        raise ValueError(f"credit has {credit.shape[0]} states, the decisive mask {decisive.shape[0]}")
    credit = np.abs(credit.reshape(credit.shape[0], -1).sum(axis=1))
    table = Table()
    n, k = decisive.size, int(decisive.sum())
    params = {"rule": rule, "decisive_steps": k}
    if k == 0 or k == n:
        table.add("credit", layer, None, "decisive_share", float("nan"), n, **params,
                  error="no decisive step among the states" if k == 0 else "every state is decisive")  # fmt: skip
        return table
    total = credit.sum()
    share = float(credit[decisive].sum() / total) if total > 0 else float("nan")
    decisive_mean, other_mean = float(credit[decisive].mean()), float(credit[~decisive].mean())
    table.add("credit", layer, None, "decisive_share", share, n, chance=k / n, **params)
    table.add("credit", layer, None, "decisive_mean", decisive_mean, k, **params)
    table.add("credit", layer, None, "other_mean", other_mean, n - k, **params)
    ratio = decisive_mean / other_mean if other_mean > 0 else float("inf")
    table.add("credit", layer, None, "decisive_ratio", ratio, n, **params)
    return table
