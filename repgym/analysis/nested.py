"""Nested manifolds: is the set of latents of a sub-class of states (KeyToDoor with the key held, a Bubble Breaker
board with one colour left, a Reach arm with the hand above the shoulder) a lower-dimensional submanifold inside
the manifold of the whole class?

The sub-class is a :class:`SubClass`: a predicate over the ground-truth factors of :mod:`repgym.analysis.states`
(never over the latents), with defaults per env family (:func:`default_subclass`) and a small text form
(:func:`parse_subclass`, e.g. ``"state.key_held == 1"``, or ``"key_held == 1"`` when one factor ends so, or
``"hand_z > 0 and target_z > 0"``). For each layer, on the distinct states (duplicate observations dropped):

- ``twonn_class`` / ``twonn_subclass``: TwoNN intrinsic dimension (:func:`repgym.analysis.dimensionality.two_nn`)
  of the class's and of the sub-class's latents;
- ``local_pca_class`` / ``local_pca_subclass``: at each sub-class point, the number of principal components that
  hold ``variance`` of the spread of the point and its ``k`` nearest neighbours among the other class states (those
  outside the sub-class: the surrounding class manifold, not the sub-class again) / among the sub-class;
- ``tangent_containment``: how much of the sub-class's local principal subspace lies inside the class's local
  principal subspace at the same point, ``|U_class^T U_sub|_F^2 / d_sub`` (1: the sub-class's tangent directions
  are directions of the class manifold; ``params["chance"]`` is ``d_class / p``, what random subspaces give);
- ``subclass_neighbours``: the fraction of a sub-class point's ``k`` nearest class neighbours that are in the
  sub-class (``params["chance"]`` is the sub-class's share of the class): whether it forms its own region;
- ``neighbourhood_preservation``: the overlap of each sub-class point's ``k`` nearest sub-class neighbours in the
  layer and in the standardised ground truth (``params["chance"]`` is ``k / (n_sub - 1)``).

A planted 2-D sheet inside a 5-D cloud gives ``twonn_subclass`` ~2, ``twonn_class`` ~5 and containment ~1.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from repgym.analysis.dimensionality import two_nn
from repgym.analysis.tidy import Table

Factors = dict[str, np.ndarray]
_OPS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "==": np.equal, "!=": np.not_equal, "<=": np.less_equal, ">=": np.greater_equal, "<": np.less, ">": np.greater,
}  # fmt: skip
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_CLAUSE = re.compile(rf"^\s*([A-Za-z_][\w.\[\],]*)\s*(==|!=|<=|>=|<|>)\s*({_NUMBER})\s*$")


@dataclass(frozen=True)
class SubClass:
    """A sub-class of states: ``predicate(factors) -> (n,) bool`` over ground-truth factors, and its description."""

    name: str
    predicate: Callable[[Factors], np.ndarray]

    def members(self, factors: Factors, n: int) -> np.ndarray:
        """``(n,) bool``: which states belong to the sub-class."""
        mask = np.asarray(self.predicate(factors), dtype=bool)
        if mask.shape != (n,):
            raise ValueError(f"sub-class {self.name!r} gave a mask of shape {mask.shape}; expected ({n},)")
        return mask


def board_colours_left(factors: Factors, colours: int) -> np.ndarray:
    """``(n,)`` how many of the colours ``1..colours`` are still on each board (cells ``state[r,c]``)."""
    cells = [v for k, v in factors.items() if re.fullmatch(r"state\[\d+,\d+\]", k)]
    if not cells:
        raise ValueError("no board cells state[r,c] among the ground-truth factors")
    board = np.stack(cells, axis=1).round().astype(np.int64)
    return np.stack([(board == c).any(axis=1) for c in range(1, colours + 1)], axis=1).sum(axis=1)


def parse_subclass(text: str, derived: dict[str, Callable[[Factors], np.ndarray]] | None = None) -> SubClass:
    """A sub-class from ``"NAME OP NUMBER [and NAME OP NUMBER ...]"`` (``OP`` one of ``== != < <= > >=``) over the
    ground-truth factor names, or over ``derived`` quantities computed from them (e.g. ``colours_left``). A bare
    ``NAME`` that is no factor stands for the one factor ``*.NAME`` (``key_held`` for ``state.key_held``); one that
    ends several factor names is an error naming them."""
    derived = derived or {}
    clauses = []
    for part in re.split(r"\s+and\s+", text.strip()):
        match = _CLAUSE.match(part)
        if match is None:
            raise ValueError(f"sub-class clause {part!r} is not 'NAME OP NUMBER' with OP in {list(_OPS)}")
        clauses.append((match.group(1), _OPS[match.group(2)], float(match.group(3))))

    def predicate(factors: Factors) -> np.ndarray:
        mask: np.ndarray | None = None
        for name, op, value in clauses:
            if name in derived:
                column = np.asarray(derived[name](factors), dtype=np.float64)
            else:
                column = np.asarray(factors[_factor_name(name, factors, derived)], dtype=np.float64)
            hit = op(column, value)
            mask = hit if mask is None else mask & hit
        return mask

    return SubClass(text.strip(), predicate)


def _factor_name(name: str, factors: Factors, derived: dict[str, Any]) -> str:
    """The factor ``name`` refers to: itself, or the one factor whose dotted name ends in ``.name``."""
    if name in factors:
        return name
    matches = sorted(k for k in factors if k.endswith(f".{name}"))
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ValueError(f"sub-class factor {name!r} is ambiguous: it matches {matches}; write one in full")
    known = sorted(factors)[:12] + sorted(derived)
    raise ValueError(f"sub-class names unknown factor {name!r}; known include {known}")


def default_subclass(factors: Factors, env: Any = None) -> SubClass | None:
    """The default sub-class of an env family, recognised by its ground truth: key held (KeyToDoor), one colour
    left (Bubble Breaker boards), hand above the shoulder (Reach); None when none applies."""
    if "state.key_held" in factors:
        return parse_subclass("state.key_held == 1")
    if "hand_z" in factors:
        return parse_subclass("hand_z > 0")
    colours = getattr(getattr(getattr(env, "unwrapped", None), "config", None), "colours", None)
    if colours is not None and any(re.fullmatch(r"state\[\d+,\d+\]", k) for k in factors):
        return parse_subclass("colours_left <= 1", {"colours_left": lambda f: board_colours_left(f, int(colours))})
    return None


def _sq_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    d2 = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2.0 * x @ y.T
    return np.maximum(d2, 0.0)


def _neighbours(x: np.ndarray, k: int, pool: np.ndarray | None = None, at: np.ndarray | None = None) -> np.ndarray:
    """``(len(x), k)`` indices into ``pool`` (default ``x``) of each row's nearest rows; row ``i`` itself, at
    ``pool[at[i]]`` (default ``pool[i]``; ``at[i] < 0``: not in the pool), is excluded."""
    pool = x if pool is None else pool
    d2 = _sq_distances(x, pool)
    if at is None:
        d2[np.arange(len(x)), np.arange(len(x))] = np.inf
    else:
        rows = np.flatnonzero(np.asarray(at) >= 0)
        d2[rows, np.asarray(at)[rows]] = np.inf
    return np.argsort(d2, axis=1, kind="stable")[:, :k]


def _local_basis(points: np.ndarray, variance: float) -> np.ndarray:
    """``(p, d)`` orthonormal principal directions holding ``variance`` of the spread of ``points``."""
    centred = points - points.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    energy = s**2
    if energy.sum() <= 0:
        return vt[:0].T
    d = int(np.searchsorted(np.cumsum(energy) / energy.sum(), variance - 1e-12) + 1)
    return vt[:d].T


@dataclass
class NestedResult:
    """The measures of the module docstring for one layer (NaN where undefined)."""

    twonn_class: float
    twonn_subclass: float
    local_pca_class: float
    local_pca_subclass: float
    tangent_containment: float
    containment_chance: float
    subclass_neighbours: float
    neighbour_chance: float
    neighbourhood_preservation: float
    preservation_chance: float
    n_class: int
    n_subclass: int


def nested_manifold(
    latents: np.ndarray,
    member: np.ndarray,
    truth: np.ndarray | None = None,
    k: int = 10,
    variance: float = 0.9,
    max_points: int = 2000,
    seed: int = 0,
) -> NestedResult:
    """Nested-manifold measures of ``latents (n, ...)`` for the sub-class ``member (n,) bool`` inside the class of
    all ``n`` points; ``truth (n, f)`` is the ground truth for neighbourhood preservation. Points are assumed
    distinct (drop duplicate states first); at most ``max_points`` class points are used (sub-class kept)."""
    if k < 2 or not 0.0 < variance <= 1.0:
        raise ValueError(f"k must be >= 2 and variance in (0, 1], got {k} and {variance}")
    x = np.asarray(latents, dtype=np.float64).reshape(len(latents), -1)
    member = np.asarray(member, dtype=bool)
    if member.shape != (x.shape[0],):
        raise ValueError(f"member must be ({x.shape[0]},) bool, got shape {member.shape}")
    _, first = np.unique(x, axis=0, return_index=True)
    keep = np.sort(first)  # identical latents of different states count once
    if keep.size > max_points:
        rng = np.random.default_rng(seed)
        sub_idx, rest = keep[member[keep]], keep[~member[keep]]
        extra = max(0, max_points - sub_idx.size)
        keep = np.sort(np.concatenate([sub_idx, rng.choice(rest, min(extra, rest.size), replace=False)]))
    x, member = x[keep], member[keep]
    truth = None if truth is None else np.asarray(truth, dtype=np.float64).reshape(len(truth), -1)[keep]
    n_sub = int(member.sum())
    if n_sub < max(10, k + 1) or n_sub == x.shape[0]:
        raise ValueError(f"need at least {max(10, k + 1)} distinct sub-class points and some outside, "
                         f"got {n_sub} of {x.shape[0]}")  # fmt: skip
    sub = x[member]
    twonn_class = two_nn(x, seed=seed).dimension
    twonn_sub = two_nn(sub, seed=seed).dimension
    rest = x[~member]
    if rest.shape[0] < k:
        raise ValueError(f"need at least {k} distinct class points outside the sub-class, got {rest.shape[0]}")
    near_rest = _neighbours(sub, k, rest, np.full(n_sub, -1))  # into rest (a sub point is never in rest)
    near_class = _neighbours(sub, k, x, np.flatnonzero(member))  # into x
    near_sub = _neighbours(sub, k)  # into sub
    local_class, local_sub, contained, chance = [], [], [], []
    for i in range(n_sub):
        u_class = _local_basis(np.vstack([sub[i], rest[near_rest[i]]]), variance)
        u_sub = _local_basis(np.vstack([sub[i], sub[near_sub[i]]]), variance)
        local_class.append(u_class.shape[1])
        local_sub.append(u_sub.shape[1])
        if u_sub.shape[1] and u_class.shape[1]:
            contained.append(float(np.sum((u_class.T @ u_sub) ** 2)) / u_sub.shape[1])
            chance.append(u_class.shape[1] / x.shape[1])
    in_sub = member[near_class].mean()
    preservation, preservation_chance = float("nan"), k / (n_sub - 1)
    if truth is not None:
        t = truth[member]
        spread = t.std(axis=0)
        if (spread > 0).any():
            t = (t[:, spread > 0] - t[:, spread > 0].mean(axis=0)) / spread[spread > 0]
            near_truth = _neighbours(t, k)
            overlap = [np.intersect1d(a, b).size / k for a, b in zip(near_sub, near_truth, strict=True)]
            preservation = float(np.mean(overlap))
    return NestedResult(
        twonn_class=twonn_class,
        twonn_subclass=twonn_sub,
        local_pca_class=float(np.mean(local_class)),
        local_pca_subclass=float(np.mean(local_sub)),
        tangent_containment=float(np.mean(contained)) if contained else float("nan"),
        containment_chance=float(np.mean(chance)) if chance else float("nan"),
        subclass_neighbours=float(in_sub),
        neighbour_chance=(n_sub - 1) / (x.shape[0] - 1),
        neighbourhood_preservation=preservation,
        preservation_chance=preservation_chance,
        n_class=int(x.shape[0]),
        n_subclass=n_sub,
    )


def distinct_states(obs: np.ndarray) -> np.ndarray:
    """Indices of the first occurrence of each distinct observation, in order."""
    flat = np.asarray(obs).reshape(len(obs), -1)
    _, first = np.unique(flat, axis=0, return_index=True)
    return np.sort(first)


def nested_manifolds(
    acts: dict[str, np.ndarray],
    factors: Factors,
    obs: np.ndarray,
    subclass: SubClass,
    k: int = 10,
    variance: float = 0.9,
    seed: int = 0,
) -> Table:
    """Rows ``nested`` per layer (``unit`` None): the measures of :func:`nested_manifold` on the distinct states,
    with the sub-class in ``params["subclass"]``; a layer where they are undefined gets one ``twonn_subclass`` NaN
    row whose ``params["error"]`` says why."""
    n = len(obs)
    member = subclass.members(factors, n)
    keep = distinct_states(obs)
    names = sorted(factors)
    truth = np.stack([factors[f] for f in names], axis=1)[keep] if names else None
    table = Table()
    params = {"subclass": subclass.name, "k": k, "variance": variance, "states": n, "distinct_states": int(keep.size)}
    for layer, act in acts.items():
        try:
            r = nested_manifold(np.asarray(act)[keep], member[keep], truth, k, variance, seed=seed)
        except ValueError as err:
            table.add("nested", layer, None, "twonn_subclass", float("nan"), int(member[keep].sum()),
                      error=str(err), **params)  # fmt: skip
            continue
        both = {**params, "n_class": r.n_class, "n_subclass": r.n_subclass}
        rows: list[tuple[str, float, int, dict[str, Any]]] = [
            ("twonn_class", r.twonn_class, r.n_class, {}),
            ("twonn_subclass", r.twonn_subclass, r.n_subclass, {}),
            ("local_pca_class", r.local_pca_class, r.n_subclass, {}),
            ("local_pca_subclass", r.local_pca_subclass, r.n_subclass, {}),
            ("tangent_containment", r.tangent_containment, r.n_subclass, {"chance": r.containment_chance}),
            ("subclass_neighbours", r.subclass_neighbours, r.n_subclass, {"chance": r.neighbour_chance}),
            ("neighbourhood_preservation", r.neighbourhood_preservation, r.n_subclass,
             {"chance": r.preservation_chance}),
        ]  # fmt: skip
        for metric, value, count, extra in rows:
            table.add("nested", layer, None, metric, value, count, **both, **extra)
    return table
