"""The native vector env: a batch of Bubble Breaker boards stepped together, by compiled kernels or numpy rules.

Gives the same trajectories as ``gymnasium.vector.SyncVectorEnv`` over :class:`BubbleBreakerEnv` (same seeds, same
observations, rewards, terminations, truncations and infos) at a fraction of the cost, because a step is one call
over the whole batch instead of one Python call per board. Two engines step the boards and describe them (masks,
group statistics, observations): ``"numba"`` (default), compiled loops over boards
(:mod:`repgym.envs.bubble.batch_kernels`), and ``"numpy"``, the array operations of :mod:`rules`. They give the
same results bit for bit; resets (drawing new games) and pixel observations are numpy in both.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import gymnasium as gym
import numba
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from repgym.envs.arguments import check_choice, check_render_mode, is_integer
from repgym.envs.bubble import batch_kernels, rules
from repgym.envs.bubble.boards import board_from_option
from repgym.envs.bubble.env import OBS_MODES, ObsMode, Variant, make_config, observation_space, observe
from repgym.envs.bubble.render import board_to_ansi, board_to_rgb
from repgym.envs.bubble.rules import BubbleState

_RESET_OPTIONS = ("board", "reset_mask")
ENGINES = ("numba", "numpy")
_NO_OBS = np.zeros((0, 0, 0), np.uint8)  # what the kernels get when they write no observation (pixels)
_KERNEL_OBS = {"planes": batch_kernels.OBS_PLANES, "board": batch_kernels.OBS_BOARD, "pixels": batch_kernels.OBS_NONE}


def _positive_int(value: object) -> bool:
    return is_integer(value) and value > 0


def _key_is_half_a_word() -> bool:
    """Whether ``Generator.integers(0, 2**63, dtype=np.uint64, size=1)`` (how the single env draws a game key) is
    one raw 64-bit word shifted right by one, as numpy's Lemire sampler makes it for a power-of-two range. Then
    autoresets draw keys from ``bit_generator.random_raw()``, 16x cheaper than the call (8 us, a tenth of a compiled
    step at 1024 boards); checked on 64 draws once, so another numpy falls back to the call."""
    a, b = np.random.default_rng(20260), np.random.default_rng(20260)
    return all(a.integers(0, 2**63, dtype=np.uint64, size=1)[0] == b.bit_generator.random_raw() >> 1 for _ in range(64))


_KEY_IS_HALF_A_WORD = _key_is_half_a_word()


class Snapshot(NamedTuple):
    """What the env reports about every board of the current state (computed once per step)."""

    obs: np.ndarray  # (num_envs, *single observation shape)
    mask: np.ndarray  # (num_envs, rows * cols) bool, legal clicks
    groups: np.ndarray  # (num_envs,) int64, groups of >= 2
    largest: np.ndarray  # (num_envs,) int64, largest group (0 when none)
    left: np.ndarray  # (num_envs,) int64, clickable bubbles


class BubbleBreakerVectorEnv(gym.vector.VectorEnv):
    """Bubble Breaker and SameGame on ``num_envs`` boards at once, stepped with array operations.

    ## Description
    The game of :class:`repgym.envs.bubble.env.BubbleBreakerEnv` (see its docstring for the rules and variants) on
    a batch of independent boards. Board ``i`` plays exactly the game a ``gymnasium.vector.SyncVectorEnv`` of
    single envs would play in slot ``i``: same seeds, observations, rewards, terminations, truncations and infos.
    Only boards that are still playing are stepped; boards that ended are reset (``autoreset_mode``).

    ## Action Space
    ``MultiDiscrete([rows * cols] * num_envs)``: one clicked cell per board, ``row * cols + col``, row 0 at the top
    (``single_action_space`` is ``Discrete(rows * cols)``). ``action_masks()`` and ``info["action_mask"]`` are
    ``(num_envs, rows * cols) bool``. A click outside a group of two or more is a no-op for that board: reward 0,
    board unchanged, ``info["illegal_action"][i] = True``. Actions that are not ``num_envs`` integers in
    ``0..rows*cols-1`` raise ``ValueError`` (checked for every board, including boards about to autoreset).

    ## Observation Space
    The single env's space (``obs_mode`` ``"planes"``, ``"board"`` or ``"pixels"``) with a leading ``num_envs`` axis.

    ## Rewards
    As in :class:`BubbleBreakerEnv`, per board, ``(num_envs,) float64``.

    ## Starting State
    Random full boards; ``reset(seed=s)`` gives board ``i`` the game that ``BubbleBreakerEnv.reset(seed=s + i)``
    gives (``seed`` may also be a list of ``num_envs`` ints or Nones). Each board keeps its own random generator,
    so later autoresets also match the single env. ``reset(options={"board": b})`` starts every board from ``b``
    (any form :class:`BubbleBreakerEnv` takes) or, with a batch ``(num_envs, rows, cols)`` or a list of
    ``num_envs`` boards, board ``i`` from ``b[i]``; autoresets draw random boards, as the single env does.
    ``options={"reset_mask": m}`` (``(num_envs,) bool``) resets only the boards where ``m`` is True.

    ## Episode End
    Terminated when a board has no group of two left; truncated after ``max_episode_steps`` steps of that board
    (illegal clicks count), as ``gymnasium.wrappers.TimeLimit`` does: ``gymnasium.make_vec`` passes the registered
    step limit. ``autoreset_mode`` (``metadata["autoreset_mode"]``) is ``NEXT_STEP`` by default: the step after a
    board ends resets it (reward 0, action ignored). ``SAME_STEP`` resets in the same step and reports
    ``info["final_obs"]`` and ``info["final_info"]``; ``DISABLED`` leaves resetting to the caller (``reset_mask``).

    ## Info
    The single env's keys, batched as arrays with Gymnasium's ``"_key"`` boolean masks (what ``SyncVectorEnv``
    returns): ``score``, ``groups``, ``largest_group``, ``bubbles_left``, ``new_columns``, ``removed``,
    ``illegal_action`` ``(num_envs,)``; ``action_mask`` ``(num_envs, rows * cols) bool``; ``state``
    ``(num_envs, rows, cols) int8``; ``next_column`` ``(num_envs, rows) int8`` in the Continuous variants.

    ## Arguments
    ```python
    gymnasium.make_vec(
        "repgym/BubbleBreaker-v0",
        num_envs=8,                      # boards stepped together
        vectorization_mode="vector_entry_point",
        max_episode_steps=500,           # truncation per board (default: the registered limit; None: never)
        autoreset_mode=gymnasium.vector.AutoresetMode.NEXT_STEP,  # or SAME_STEP, DISABLED (or their strings)
        rows=14, cols=10, colours=5, variant="standard", scoring="bubble", shift="right", clear_bonus=1000,
        end_penalty=False, random_column_height=False, max_new_columns=50, grey_column_value=0.0,
        obs_mode="planes", cell_size=8,  # all as in BubbleBreakerEnv
        render_mode=None,                # "rgb_array" | "ansi": render() returns one frame per board
        engine="numba",                  # or "numpy": same results; numba is several times faster
        numba_threads=1,                 # threads of the numba engine (1 by default: machines are shared)
    )
    ```

    ## Engines
    ``engine="numba"`` steps and describes the boards with compiled loops over the batch
    (:mod:`repgym.envs.bubble.batch_kernels`), on ``numba_threads`` threads (``prange``); ``engine="numpy"`` uses
    the batched numpy rules. Both give identical results (every variant, every autoreset mode). Either way, resets
    draw their games with numpy (each board's generator is a Python object) and pixel observations are drawn by
    the numpy renderer. The numba engine updates the state arrays of ``self.game`` in place.

    ## Version History
    - v0: initial version.
    """

    metadata = {"render_modes": ["rgb_array", "ansi"], "render_fps": 30, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        rows: int = 14,
        cols: int = 10,
        colours: int = 5,
        variant: Variant = "standard",
        scoring: rules.Scoring = "bubble",
        shift: rules.Side = "right",
        clear_bonus: int = 1000,
        end_penalty: bool = False,
        random_column_height: bool = False,
        max_new_columns: int | None = 50,
        grey_column_value: float = 0.0,
        obs_mode: ObsMode = "planes",
        cell_size: int = 8,
        render_mode: str | None = None,
        max_episode_steps: int | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        engine: str = "numba",
        numba_threads: int = 1,
    ) -> None:
        if not _positive_int(num_envs):
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        if max_episode_steps is not None and not _positive_int(max_episode_steps):
            raise ValueError(f"max_episode_steps must be a positive integer or None, got {max_episode_steps!r}")
        try:
            autoreset_mode = AutoresetMode(autoreset_mode)
        except ValueError:
            raise ValueError(
                f"autoreset_mode must be one of {[m.value for m in AutoresetMode]}, got {autoreset_mode!r}"
            ) from None
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.config = make_config(
            rows, cols, colours, variant, scoring, shift, clear_bonus, end_penalty, random_column_height,
            max_new_columns, grey_column_value,
        )  # fmt: skip
        check_choice("obs_mode", obs_mode, OBS_MODES)
        check_choice("engine", engine, ENGINES)
        if not _positive_int(numba_threads) or numba_threads > numba.config.NUMBA_NUM_THREADS:
            raise ValueError(
                f"numba_threads must be an integer in 1..{numba.config.NUMBA_NUM_THREADS}, got {numba_threads!r}"
            )
        self.engine = engine
        self.numba_threads = int(numba_threads)
        self._params = batch_kernels.batch_params(self.config)
        self.num_envs = int(num_envs)
        self.variant = variant
        self.obs_mode = obs_mode
        self.cell_size = int(cell_size)
        self.render_mode = render_mode
        self.max_episode_steps = None if max_episode_steps is None else int(max_episode_steps)
        self.autoreset_mode = autoreset_mode
        self.metadata = {**type(self).metadata, "autoreset_mode": autoreset_mode}

        self.single_observation_space = observation_space(self.config, obs_mode, self.cell_size)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.single_action_space = spaces.Discrete(self.config.n_cells)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

        self.game: BubbleState | None = None
        self._rngs: list[np.random.Generator | None] = [None] * self.num_envs
        self._seeds: list[int | None] = [None] * self.num_envs
        self._elapsed = np.zeros(self.num_envs, np.int64)
        self._autoreset = np.zeros(self.num_envs, bool)  # NEXT_STEP: boards to reset at the next step
        self._mask = np.zeros((self.num_envs, self.config.n_cells), bool)  # legal clicks, kept for action_masks()
        self._groups = np.zeros(self.num_envs, np.int64)

    # -- seeding ---------------------------------------------------------------------------------------------------

    @property
    def np_random(self) -> tuple[np.random.Generator, ...]:
        """One generator per board (as ``SyncVectorEnv`` returns); each draws its board's game keys."""
        return tuple(self._rng(i) for i in range(self.num_envs))

    @property
    def np_random_seed(self) -> tuple[int | None, ...]:
        """The seed of each board's generator (``-1`` when unknown), as ``SyncVectorEnv`` returns."""
        for i in range(self.num_envs):
            self._rng(i)
        return tuple(self._seeds)

    def _rng(self, i: int) -> np.random.Generator:
        """Board ``i``'s generator, created from OS entropy on first use like ``gymnasium.Env.np_random``."""
        if self._rngs[i] is None:
            self._rngs[i], self._seeds[i] = seeding.np_random()
        return self._rngs[i]

    def _draw_keys(self, idx: np.ndarray) -> np.ndarray:
        """A fresh game key for each board in ``idx``, drawn exactly as ``BubbleBreakerEnv.reset`` draws it."""
        if _KEY_IS_HALF_A_WORD:
            return np.array([self._rng(i).bit_generator.random_raw() >> 1 for i in idx.tolist()], dtype=np.uint64)
        return np.array(
            [self._rng(i).integers(0, 2**63, dtype=np.uint64, size=1)[0] for i in idx.tolist()], dtype=np.uint64
        )

    def _seed_list(self, seed: int | list[int | None] | None) -> list[int | None]:
        if seed is None:
            return [None] * self.num_envs
        if is_integer(seed):
            return [int(seed) + i for i in range(self.num_envs)]
        if isinstance(seed, list | tuple) and len(seed) == self.num_envs:
            return list(seed)
        raise ValueError(f"seed must be None, an int or a list of {self.num_envs} ints/None, got {seed!r}")

    # -- Gymnasium API ---------------------------------------------------------------------------------------------

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every board (or the boards in ``options["reset_mask"]``); see the class docstring for options."""
        options = dict(options or {})
        unknown = sorted(set(options) - set(_RESET_OPTIONS))
        if unknown:
            raise ValueError(f"unknown reset option(s) {unknown}; expected some of {list(_RESET_OPTIONS)}")
        seeds = self._seed_list(seed)
        which = self._reset_mask(options.get("reset_mask"))
        idx = np.flatnonzero(which)
        boards = self._boards_option(options.get("board"), idx)
        for i in idx.tolist():
            if seeds[i] is not None:
                self._rngs[i], self._seeds[i] = seeding.np_random(seeds[i])
        keys = self._draw_keys(idx)
        fresh = rules.initial_state(keys, self.config, boards)
        if self.game is None or idx.size == self.num_envs:
            self.game = BubbleState(*(np.ascontiguousarray(a) for a in fresh))  # the kernels view boards as flat
        else:
            self._write(idx, fresh)
        self._elapsed[idx] = 0
        self._autoreset[idx] = False
        snap = self._snapshot()
        zeros = np.zeros(self.num_envs, np.int64)
        info = self._info(snap, zeros, np.zeros(self.num_envs, bool), which)
        return snap.obs, info

    def step(self, actions) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Click one cell per board; boards that ended at the previous step are reset instead (NEXT_STEP)."""
        if self.game is None:
            raise RuntimeError("call reset() before step()")
        actions = self._check_actions(actions)
        n = self.num_envs
        rewards = np.zeros(n, np.float64)
        terminated = np.zeros(n, bool)
        removed = np.zeros(n, np.int64)
        illegal = np.zeros(n, bool)

        resetting = self._autoreset if self.autoreset_mode == AutoresetMode.NEXT_STEP else np.zeros(n, bool)
        playing = np.flatnonzero(~resetting)
        self._move(actions, playing, rewards, removed, illegal, terminated)
        self._elapsed[playing] += 1
        truncated = np.zeros(n, bool)
        if self.max_episode_steps is not None:
            truncated[playing] = self._elapsed[playing] >= self.max_episode_steps
        if resetting.any():
            self._reset_boards(np.flatnonzero(resetting))

        ended = terminated | truncated
        snap = self._snapshot()
        if self.autoreset_mode == AutoresetMode.SAME_STEP and ended.any():
            done = np.flatnonzero(ended)
            final_obs = np.full(n, None, dtype=object)
            for i in done.tolist():
                final_obs[i] = snap.obs[i].copy()  # the snapshot's rows of reset boards are rewritten below
            final_info = self._info(snap, removed, illegal, ended)
            removed[done], illegal[done] = 0, False
            self._reset_boards(done)
            snap = self._snapshot(snap, done)
            info = self._info(snap, removed, illegal, np.ones(n, bool))
            info.update(final_obs=final_obs, _final_obs=ended.copy(), final_info=final_info, _final_info=ended.copy())
        else:
            info = self._info(snap, removed, illegal, np.ones(n, bool))
        self._autoreset = ended
        return snap.obs, rewards, terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """``(num_envs, rows * cols) bool``: cells whose click removes a group, per board (a copy)."""
        if self.game is None:
            raise RuntimeError("call reset() before action_masks()")
        return self._mask.copy()

    def render(self) -> tuple[Any, ...] | None:
        """One frame per board, as ``BubbleBreakerEnv.render`` draws it: RGB arrays or ANSI strings."""
        if self.game is None or self.render_mode is None:
            return None
        previews = rules.next_column(self.game, self.config) if self.config.continuous else [None] * self.num_envs
        if self.render_mode == "rgb_array":
            frames = zip(self.game.board, previews, strict=True)
            return tuple(board_to_rgb(b, self.config, cell=16, preview=p) for b, p in frames)
        return tuple(
            f"score {s:.0f}  groups {g}\n" + board_to_ansi(b, self.config, colour=False, preview=p)
            for b, p, s, g in zip(self.game.board, previews, self.game.score, self._groups, strict=True)
        )

    # -- helpers ---------------------------------------------------------------------------------------------------

    def _check_actions(self, actions) -> np.ndarray:
        arr = np.asarray(actions)
        if arr.shape != (self.num_envs,) or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(
                f"actions must be {self.num_envs} integer cell indices, shape ({self.num_envs},); "
                f"got shape {arr.shape} dtype {arr.dtype}"
            )
        bad = (arr < 0) | (arr >= self.config.n_cells)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"action {arr[i]} for board {i} is out of range: expected a cell index in 0..{self.config.n_cells - 1}"
            )
        return arr.astype(np.int64, copy=False)

    def _reset_mask(self, mask) -> np.ndarray:
        if mask is None:
            return np.ones(self.num_envs, bool)
        mask = np.asarray(mask)
        if mask.shape != (self.num_envs,) or mask.dtype != np.bool_ or not mask.any():
            raise ValueError(
                f"options['reset_mask'] must be a ({self.num_envs},) bool array with a True value, "
                f"got shape {mask.shape} dtype {mask.dtype}"
            )
        if self.game is None and not mask.all():
            raise ValueError("the first reset() must reset every board (no reset_mask, or an all-True one)")
        return mask

    def _boards_option(self, value: object, idx: np.ndarray) -> np.ndarray | None:
        """``options["board"]`` as ``(len(idx), rows, cols)`` (or one board for all); None for random boards."""
        if value is None:
            return None
        if isinstance(value, list | tuple) and value and all(isinstance(v, str | os.PathLike) for v in value):
            batch = [board_from_option(v) for v in value]
        elif isinstance(value, np.ndarray | list | tuple) and np.asarray(value).ndim == 3:
            batch = [board_from_option(np.asarray(b)) for b in np.asarray(value)]
        else:
            return board_from_option(value)
        if len(batch) != self.num_envs:
            raise ValueError(f"options['board'] holds {len(batch)} boards, expected one or num_envs={self.num_envs}")
        shapes = {b.shape for b in batch}
        if len(shapes) != 1:
            raise ValueError(f"options['board'] boards differ in shape: {sorted(shapes)}")
        return np.stack(batch)[idx]

    def _write(self, idx: np.ndarray, sub: BubbleState) -> None:
        """Store the states of boards ``idx``: in place for the numba engine (the kernels step ``self.game`` in
        place), else into copies (fields are replaced, never shared with a caller)."""
        if self.engine == "numba":
            for field, values in zip(self.game, sub, strict=True):
                field[idx] = values
            return
        board, key, new_columns, score = (a.copy() for a in self.game)
        board[idx], key[idx], new_columns[idx], score[idx] = sub
        self.game = BubbleState(board, key, new_columns, score)

    def _reset_boards(self, idx: np.ndarray) -> None:
        """Autoreset: fresh random games for boards ``idx`` from their own generators."""
        self._write(idx, rules.initial_state(self._draw_keys(idx), self.config))
        self._elapsed[idx] = 0

    def _move(self, actions, playing, rewards, removed, illegal, terminated) -> None:
        """Click ``actions`` on the boards ``playing``, writing what happened into the ``(num_envs,)`` outputs."""
        if self.engine == "numba":
            with self._numba_threads():
                batch_kernels.step_boards(self.game, actions, playing, self._params, self.config.grey_column_value,
                                          rewards, removed, illegal, terminated, self.numba_threads)  # fmt: skip
        elif playing.size == self.num_envs:
            result = rules.step(self.game, actions, self.config)
            self.game = result.state
            rewards[:], removed[:], illegal[:], terminated[:] = result[1:]
        elif playing.size:
            result = rules.step(self.game.index(playing), actions[playing], self.config)
            self._write(playing, result.state)
            rewards[playing], removed[playing], illegal[playing], terminated[playing] = result[1:]

    def _snapshot(self, previous: Snapshot | None = None, idx: np.ndarray | None = None) -> Snapshot:
        """Observations, masks and group statistics of every board. Given ``previous`` and ``idx``, the numba
        engine brings ``previous`` up to date in place for the boards ``idx`` only (the others have not changed
        since); the numpy engine computes everything afresh."""
        if self.engine == "numpy":
            board = self.game.board
            stats = rules.group_stats(board, self.config)
            mask = rules.legal_mask(board, self.config).reshape(self.num_envs, -1)
            left = rules.playable(board, self.config).sum(axis=(1, 2), dtype=np.int64)
            obs = observe(board, self.config, self.obs_mode, self.cell_size)
            return Snapshot(obs, mask, stats.count, stats.largest, left)
        n = self.num_envs
        obs_mode = _KERNEL_OBS[self.obs_mode]
        if previous is None:
            idx = np.arange(n)
            obs = np.empty(self.observation_space.shape, self.observation_space.dtype) if obs_mode else _NO_OBS
            previous = Snapshot(obs, np.empty((n, self.config.n_cells), bool), *np.empty((3, n), np.int64))
        kernel_obs = previous.obs.reshape(n, -1, self.config.n_cells) if obs_mode else _NO_OBS
        with self._numba_threads():
            batch_kernels.describe_boards(self.game.board, idx, self._params, obs_mode, kernel_obs, *previous[1:],
                                          threads=self.numba_threads)  # fmt: skip
        if obs_mode == batch_kernels.OBS_NONE:
            return previous._replace(obs=observe(self.game.board, self.config, self.obs_mode, self.cell_size))
        return previous

    def _numba_threads(self) -> _NumbaThreads:
        return _NumbaThreads(self.numba_threads)

    def _info(self, snap: Snapshot, removed: np.ndarray, illegal: np.ndarray, include: np.ndarray) -> dict[str, Any]:
        """The single env's info keys batched as ``SyncVectorEnv`` batches them; boards outside ``include`` are
        zero and masked out (``"_key"`` False). Every value is a fresh array (the snapshot may be updated later)."""
        self._mask = snap.mask
        self._groups = snap.groups.copy()
        info: dict[str, Any] = {
            "score": self.game.score.copy(),
            "groups": snap.groups.copy(),
            "largest_group": snap.largest.copy(),
            "bubbles_left": snap.left.copy(),
            "new_columns": self.game.new_columns.copy(),
            "removed": removed.copy(),
            "illegal_action": illegal.copy(),
            "action_mask": snap.mask.copy(),
            "state": self.game.board.copy(),
        }
        if self.config.continuous:
            info["next_column"] = self._next_column()
        partial = not include.all()
        out: dict[str, Any] = {}
        for key, value in info.items():
            if partial:
                value[~include] = 0
            out[key] = value
            out[f"_{key}"] = include.copy()
        return out

    def _next_column(self) -> np.ndarray:
        """Continuous preview ``(num_envs, rows) int8`` of the next column of every board."""
        if self.engine == "numba":
            return batch_kernels.next_columns(self.game.key, self.game.new_columns, self.config.rows, self._params)
        return rules.next_column(self.game, self.config)


class _NumbaThreads:
    """Context: numba's thread count set to ``threads`` for the kernels called inside, then restored (numba's
    setting is per calling thread and shared with other code in the process)."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.previous = 0

    def __enter__(self) -> None:
        if self.threads > 1:
            self.previous = numba.get_num_threads()
            numba.set_num_threads(self.threads)

    def __exit__(self, *exc: object) -> None:
        if self.threads > 1:
            numba.set_num_threads(self.previous)
