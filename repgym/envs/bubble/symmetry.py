"""Colour-permutation symmetry of Bubble Breaker / SameGame.

The rules never look at *which* colour a bubble has, only at whether two bubbles share one: renaming the colours
``1..C`` by any permutation maps legal moves to the same cells, rewards to the same rewards and successors to the
renamed successors. Empty (``0``) and grey (``C + 1``, inert) are not colours in this sense and stay fixed.

Two uses follow:

- **Canonical colours** (:func:`canonical_colours`, :class:`CanonicalColours`): renumber the colours in order of
  first appearance, so the ``C!`` equivalent boards (120 for five colours) become one and a value net has
  ``C!`` times fewer boards to learn.
- **Augmentation** (:func:`augment`): show a net random renamings of the boards it trains on, so it learns the
  invariance from data instead.

A *permutation* is an integer array ``perm`` of shape ``(batch, C + 2)`` (or ``(C + 2,)`` for one shared by the
batch) with ``perm[b, old_colour] = new_colour``, ``perm[:, 0] = 0`` and ``perm[:, C + 1] = C + 1``. Actions are
cells and are not affected by a permutation. Like :mod:`repgym.envs.bubble.rules`, everything is batched with array
operations (loops only over colours) and pure.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from repgym.envs.bubble import rules
from repgym.envs.bubble.rules import BubbleConfig

# --------------------------------------------------------------------------------------------------------------
# Permutations
# --------------------------------------------------------------------------------------------------------------


def identity_permutation(n: int, config: BubbleConfig) -> np.ndarray:
    """``(n, colours + 2) int8``: the permutation that changes nothing, for each of ``n`` boards."""
    return np.tile(np.arange(config.colours + 2, dtype=np.int8), (n, 1))


def random_permutations(n: int, config: BubbleConfig, rng: np.random.Generator) -> np.ndarray:
    """``(n, colours + 2) int8``: ``n`` independent uniformly random colour permutations (0 and grey fixed)."""
    perm = identity_permutation(n, config)
    # argsort of i.i.d. uniforms is a uniformly random permutation of each row.
    perm[:, 1 : config.colours + 1] = np.argsort(rng.random((n, config.colours)), axis=1) + 1
    return perm


def invert_permutation(perm: np.ndarray) -> np.ndarray:
    """The inverse permutation(s), same shape and dtype: ``inv[..., perm[..., c]] = c``."""
    perm = np.asarray(perm)
    return np.argsort(perm, axis=-1).astype(perm.dtype, copy=False)


def apply_permutation(boards: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Rename the colours of ``boards`` ``(batch, rows, cols)``: cell value ``v`` of board ``b`` becomes
    ``perm[b, v]``. ``perm`` is ``(batch, colours + 2)`` or ``(colours + 2,)`` (one for the whole batch).
    Returns a new array with the dtype of ``boards``."""
    boards = np.asarray(boards)
    perm = np.asarray(perm)
    if perm.ndim == 1:
        return perm[boards].astype(boards.dtype, copy=False)
    if boards.ndim != 3 or perm.ndim != 2 or perm.shape[0] != boards.shape[0]:
        raise ValueError(
            f"expected boards (batch, rows, cols) and permutations (batch, colours + 2) with the same batch, "
            f"got shapes {boards.shape} and {perm.shape}"
        )
    batch = np.arange(boards.shape[0])[:, None, None]
    return perm[batch, boards].astype(boards.dtype, copy=False)


def permute_planes(planes: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Rename the colours of one-hot observations ``(batch, planes, rows, cols)`` (planes on axis 1, as produced
    by :func:`rules.one_hot`): plane ``c`` moves to plane ``perm[b, c]``. ``perm`` is ``(batch, colours + 2)`` or
    ``(colours + 2,)``; ``planes`` has ``colours + 1`` planes (no grey plane) or ``colours + 2`` (Continuous).
    Returns a new array with the dtype of ``planes``."""
    planes = np.asarray(planes)
    perm = np.asarray(perm)
    n_values = perm.shape[-1]  # colours + 2
    if planes.ndim != 4 or planes.shape[1] not in (n_values - 1, n_values):
        raise ValueError(
            f"expected one-hot planes (batch, {n_values - 1} or {n_values}, rows, cols) for permutations of "
            f"{n_values - 2} colours, got shape {planes.shape}"
        )
    if perm.ndim == 1:
        perm = np.broadcast_to(perm, (planes.shape[0], n_values))
    if perm.shape[0] != planes.shape[0]:
        raise ValueError(f"got {perm.shape[0]} permutations for {planes.shape[0]} observations")
    # new plane q holds old plane inv[q]; grey (the last value) is fixed, so dropping it keeps indices in range.
    inv = invert_permutation(perm)[:, : planes.shape[1]].astype(np.intp)
    return np.take_along_axis(planes, inv[:, :, None, None], axis=1)


def permute(boards_or_planes: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """:func:`apply_permutation` for boards ``(batch, rows, cols)``, :func:`permute_planes` for one-hot planes
    ``(batch, planes, rows, cols)``; told apart by the number of axes."""
    x = np.asarray(boards_or_planes)
    if x.ndim == 3:
        return apply_permutation(x, perm)
    if x.ndim == 4:
        return permute_planes(x, perm)
    raise ValueError(
        f"expected boards (batch, rows, cols) or one-hot planes (batch, planes, rows, cols), got shape {x.shape}"
    )


# --------------------------------------------------------------------------------------------------------------
# Canonical colours and augmentation
# --------------------------------------------------------------------------------------------------------------


def _check_values(boards: np.ndarray, config: BubbleConfig) -> None:
    if boards.size and (boards.min() < 0 or boards.max() > config.grey):
        bad = boards[(boards < 0) | (boards > config.grey)][0]
        raise ValueError(
            f"board cell holds {bad}, expected 0 (empty), a colour in 1..{config.colours} or {config.grey} (grey)"
        )


def canonical_colours(boards: np.ndarray, config: BubbleConfig) -> tuple[np.ndarray, np.ndarray]:
    """Renumber the colours of each board in order of first appearance.

    Scanning **bottom-to-top, right-to-left** (bottom row from its rightmost cell leftward, then the row above,
    ...), the first colour met becomes 1, the next new one 2, and so on; colours absent from a board take the
    remaining numbers in increasing order of their old value. The scan starts where Bubble Breaker's bubbles
    settle, so the numbering of the bottom-right bubbles — which move least — is the most stable. Empty and grey
    are fixed. Two boards get the same canonical board iff one is a colour renaming of the other.

    ``boards``: ``(batch, rows, cols)`` (a single ``(rows, cols)`` board is a batch of one).
    Returns ``(canonical_boards, perm)``: ``(batch, rows, cols)`` with the dtype of ``boards``, and
    ``(batch, colours + 2) int8`` with ``canonical_boards == apply_permutation(boards, perm)``.
    """
    boards = rules.as_batch(boards)
    if boards.shape[1:] != (config.rows, config.cols):
        raise ValueError(f"board shape {boards.shape[1:]} does not match rows x cols = ({config.rows}, {config.cols})")
    _check_values(boards, config)
    n = boards.shape[0]
    scan = boards[:, ::-1, ::-1].reshape(n, -1)  # bottom row first, rightmost cell first
    n_cells = scan.shape[1]
    # Sort key per colour: scan position of its first cell; absent colours after every present one, by value.
    first = np.empty((n, config.colours), dtype=np.int64)
    for c in range(1, config.colours + 1):
        is_c = scan == c
        first[:, c - 1] = np.where(is_c.any(axis=1), is_c.argmax(axis=1), n_cells + c)
    order = np.argsort(first, axis=1)  # order[b, i] = (old colour - 1) that becomes colour i + 1
    perm = identity_permutation(n, config)
    np.put_along_axis(perm[:, 1 : config.colours + 1], order, np.arange(1, config.colours + 1, dtype=np.int8)[None], 1)
    return apply_permutation(boards, perm), perm


def augment(
    boards_or_planes: np.ndarray, rng: np.random.Generator, config: BubbleConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Rename the colours of every board in a batch by its own uniformly random permutation.

    ``boards_or_planes``: int boards ``(batch, rows, cols)`` or one-hot planes ``(batch, planes, rows, cols)``
    with the planes on axis 1 (as :func:`rules.one_hot` and the env's ``"planes"`` observations); told apart by
    the number of axes. Returns ``(augmented, perm)``, ``perm`` ``(batch, colours + 2) int8``. Pass ``perm`` to
    :func:`permute` to rename a transition's next observations the same way (a replay sample must use one
    renaming for ``obs`` and ``next_obs``); actions, rewards and masks need no change.
    """
    x = np.asarray(boards_or_planes)
    if x.ndim == 3:
        _check_values(x, config)
    elif x.ndim == 4:
        if x.shape[1] != rules.n_planes(config):
            raise ValueError(f"expected {rules.n_planes(config)} planes on axis 1, got shape {x.shape}")
    else:
        raise ValueError(
            f"expected boards (batch, rows, cols) or one-hot planes (batch, planes, rows, cols), got shape {x.shape}"
        )
    perm = random_permutations(x.shape[0], config, rng)
    return permute(x, perm), perm


# --------------------------------------------------------------------------------------------------------------
# Wrapper
# --------------------------------------------------------------------------------------------------------------


class CanonicalColours(gym.ObservationWrapper):
    """Observations in canonical colours (:func:`canonical_colours`).

    A Bubble Breaker position and any renaming of its colours have the same legal moves, the same future rewards
    and so the same value; with five colours each position comes in ``5! = 120`` colourings. Showing the agent
    only the canonical one collapses them into a single observation, so a value net need not learn the same
    thing 120 times (an alternative is to learn the invariance from :func:`augment`ed data).

    Works with ``obs_mode="planes"`` (permutes the planes) and ``obs_mode="board"`` (renames the cell values);
    ``"pixels"`` is refused, since colours there are RGB discs. The observation space is unchanged; actions are
    cells and pass through unchanged, as does ``action_masks()``.

    Info: ``info["state"]`` stays the true board; ``info["colour_permutation"]`` ``(colours + 2,) int8`` is the
    renaming used for this observation (``observation == perm[info["state"]]`` in board mode). The Continuous
    preview ``info["next_column"]`` is also left in true colours; ``perm[next_column]`` puts it in the
    observation's colours (a colour not yet on the board keeps the number the permutation gives it).
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        base = env.unwrapped
        config = getattr(base, "config", None)
        obs_mode = getattr(base, "obs_mode", None)
        if not isinstance(config, BubbleConfig):
            raise ValueError(f"CanonicalColours wraps a Bubble Breaker env, got {type(base).__name__}")
        if obs_mode not in ("planes", "board"):
            raise ValueError(
                f"CanonicalColours needs obs_mode 'planes' or 'board', got {obs_mode!r}: "
                "colours in pixel observations are RGB and cannot be renumbered"
            )
        self.config: BubbleConfig = config
        self.obs_mode: str = obs_mode
        self._perm = np.arange(config.colours + 2, dtype=np.int8)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        obs = np.asarray(observation)
        if self.obs_mode == "board":
            canonical, perm = canonical_colours(obs[None], self.config)
            self._perm = perm[0]
            return canonical[0]
        board = obs.argmax(axis=0).astype(np.int8)  # one-hot: plane index == cell value (empty is plane 0)
        _, perm = canonical_colours(board[None], self.config)
        self._perm = perm[0]
        return permute_planes(obs[None], perm)[0]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        return self.observation(obs), self._with_permutation(info)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self.observation(obs), reward, terminated, truncated, self._with_permutation(info)

    def action_masks(self) -> np.ndarray:
        """Legal cells, unchanged by a colour renaming (forwarded to the wrapped env)."""
        return self.env.get_wrapper_attr("action_masks")()

    def _with_permutation(self, info: dict[str, Any]) -> dict[str, Any]:
        info = dict(info)
        info["colour_permutation"] = self._perm.copy()
        return info
