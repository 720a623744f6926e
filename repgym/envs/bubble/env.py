"""The single-board Gymnasium environment: a thin shell around :mod:`repgym.envs.bubble.rules`."""

from __future__ import annotations

from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from repgym.envs.arguments import check_choice, check_render_mode, one_integer
from repgym.envs.bubble import rules
from repgym.envs.bubble.boards import board_from_option
from repgym.envs.bubble.render import board_to_ansi, board_to_rgb
from repgym.envs.bubble.rules import BubbleConfig, BubbleState

ObsMode = Literal["planes", "board", "pixels"]
Variant = Literal["standard", "continuous", "shifter", "megashift"]
VARIANTS: dict[str, dict[str, bool]] = {
    "standard": {"continuous": False, "row_shift": False},
    "continuous": {"continuous": True, "row_shift": False},
    "shifter": {"continuous": False, "row_shift": True},
    "megashift": {"continuous": True, "row_shift": True},
}
OBS_MODES = ("planes", "board", "pixels")


def make_config(
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
) -> BubbleConfig:
    """Rules from the env's keyword arguments (shared by the single and the vector env)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {sorted(VARIANTS)}, got {variant!r}")
    return BubbleConfig(
        rows=rows,
        cols=cols,
        colours=colours,
        scoring=scoring,
        clear_bonus=clear_bonus,
        end_penalty=end_penalty,
        shift=shift,
        random_column_height=random_column_height,
        max_new_columns=max_new_columns,
        grey_column_value=grey_column_value,
        **VARIANTS[variant],
    )


def observation_space(config: BubbleConfig, obs_mode: str, cell_size: int) -> spaces.Box:
    """The single-board observation space for ``obs_mode``."""
    check_choice("obs_mode", obs_mode, OBS_MODES)
    if obs_mode == "planes":
        return spaces.Box(0, 1, (rules.n_planes(config), config.rows, config.cols), np.uint8)
    if obs_mode == "board":
        return spaces.Box(0, config.grey if config.continuous else config.colours, (config.rows, config.cols), np.int8)
    return spaces.Box(0, 255, (config.rows * cell_size, config.cols * cell_size, 3), np.uint8)


def observe(boards: np.ndarray, config: BubbleConfig, obs_mode: str, cell_size: int) -> np.ndarray:
    """Batched observations ``(batch, *single_shape)`` of boards ``(batch, rows, cols)``."""
    if obs_mode == "planes":
        return rules.one_hot(boards, config)
    if obs_mode == "board":
        return boards.copy()
    return np.stack([board_to_rgb(b, config, cell_size) for b in boards])


class BubbleBreakerEnv(gym.Env):
    """Bubble Breaker (a SameGame variant) and SameGame on one board.

    ## Description
    A grid of coloured bubbles. Clicking a bubble that belongs to a 4-connected group of ``n >= 2`` bubbles of one
    colour removes the group; bubbles above fall down and emptied columns close up toward ``shift`` (right in
    Bubble Breaker, left in SameGame). Variants: ``"continuous"`` — each emptied column is replaced by a new
    column arriving from the other side (shown in advance as a preview: ``info["next_column"]`` and the
    rendering); ``"shifter"`` — bubbles also compact toward ``shift`` within each row; ``"megashift"`` — both.
    Rules live in :mod:`repgym.envs.bubble.rules` (pure numpy, batched) and are shared with the vector env.

    ## Action Space
    ``Discrete(rows * cols)``: the cell clicked, ``row * cols + col`` with row 0 at the **top**.
    ``action_masks()`` and ``info["action_mask"]`` (``(rows * cols,) bool``) mark the cells that belong to a group
    of two or more. Clicking any other cell is a no-op: reward 0, state unchanged, ``info["illegal_action"] = True``.
    An action outside ``0..rows*cols-1`` (or not an integer) raises ``ValueError``.

    ## Observation Space
    - ``"planes"`` (default): one-hot ``(planes, rows, cols) uint8``; plane 0 is empty, plane c is colour c, and
      the Continuous variants add a last plane for grey (inert) bubbles.
    - ``"board"``: the grid ``(rows, cols) int8``: 0 empty, 1..colours, ``colours + 1`` grey.
    - ``"pixels"``: RGB ``(rows * cell_size, cols * cell_size, 3) uint8``, one disc per bubble.

    ## Rewards
    ``scoring="bubble"``: removing n bubbles scores ``n * (n - 1)``. ``scoring="samegame"``: ``(n - 2) ** 2``, plus
    ``clear_bonus`` when the board is emptied, minus ``sum((k - 2) ** 2)`` over colours with ``k > 2`` bubbles
    left when the game ends if ``end_penalty``. Continuous: each arriving grey column pays ``grey_column_value``.

    ## Starting State
    A full board of uniformly random colours, or the position given by ``reset(options={"board": b})`` where ``b``
    is an int array, board text (``"...12\\n..312"``: one line per row, top first, ``.``/``0`` empty) or the path
    of a text file; see :mod:`repgym.envs.bubble.boards`. A given position is settled (gravity, column closing).

    ## Episode End
    Terminated when no group of two (same colour, 4-connected) is left. The registered ids truncate after a step
    limit (``max_episode_steps``) since illegal clicks do not advance the game. Continuous games end because
    after ``max_new_columns`` new columns every arriving column is grey.

    ## Info
    ``score`` (sum of rewards), ``groups`` (legal groups), ``largest_group``, ``bubbles_left``, ``new_columns``,
    ``removed`` (bubbles removed by the last move), ``illegal_action``, ``action_mask``, ``state`` (the board,
    ``(rows, cols) int8``, for probes) and, in the Continuous variants, ``next_column`` (top cell first).

    ## Arguments
    ```python
    gymnasium.make(
        "repgym/BubbleBreaker-v0",
        rows=14, cols=10, colours=5,     # board size and number of colours (1..9); rows <= 16
        variant="standard",              # "standard" | "continuous" | "shifter" | "megashift"
        scoring="bubble",                # "bubble": n(n-1) | "samegame": (n-2)^2
        shift="right",                   # side toward which emptied columns close
        clear_bonus=1000,                # samegame scoring: bonus for an empty board
        end_penalty=False,               # samegame scoring: subtract (k-2)^2 per colour left at the end
        random_column_height=False,      # continuous: new columns of random height 1..rows
        max_new_columns=50,              # continuous: after this many, new columns are grey (None: never)
        grey_column_value=0.0,           # continuous: reward per grey column that arrives
        obs_mode="planes",               # "planes" | "board" | "pixels"
        cell_size=8,                     # pixels per cell in "pixels" observations
        render_mode=None,                # "human" | "rgb_array" | "ansi"
    )
    ```

    ## Version History
    - v0: initial version.
    """

    metadata = {"render_modes": ["human", "rgb_array", "ansi"], "render_fps": 30}

    def __init__(
        self,
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
    ) -> None:
        self.config = make_config(
            rows, cols, colours, variant, scoring, shift, clear_bonus, end_penalty, random_column_height,
            max_new_columns, grey_column_value,
        )  # fmt: skip
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.variant = variant
        self.obs_mode = obs_mode
        self.cell_size = int(cell_size)
        self.render_mode = render_mode
        self.observation_space = observation_space(self.config, obs_mode, self.cell_size)
        self.action_space = spaces.Discrete(self.config.n_cells)
        self.game: BubbleState | None = None
        self._window = None
        self._last_info: dict[str, Any] = {}

    # -- Gymnasium API ---------------------------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        board = options.pop("board", None)
        if options:
            raise ValueError(f"unknown reset option(s) {sorted(options)}; expected 'board'")
        key = self.np_random.integers(0, 2**63, dtype=np.uint64, size=1)
        if board is not None:
            board = board_from_option(board)
        self.game = rules.initial_state(key, self.config, board)
        info = self._info(removed=0, illegal=False)
        if self.render_mode == "human":
            self.render()
        return self._observe(), info

    def step(self, action):
        if self.game is None:
            raise RuntimeError("call reset() before step()")
        action = self._check_action(action)
        result = rules.step(self.game, np.array([action]), self.config)
        self.game = result.state
        info = self._info(removed=int(result.removed[0]), illegal=bool(result.illegal[0]))
        if self.render_mode == "human":
            self.render()
        return self._observe(), float(result.reward[0]), bool(result.terminal[0]), False, info

    def action_masks(self) -> np.ndarray:
        """``(rows * cols,) bool``: cells whose click removes a group (sb3-contrib's MaskablePPO convention)."""
        if self.game is None:
            raise RuntimeError("call reset() before action_masks()")
        return rules.legal_mask(self.game.board, self.config)[0].reshape(-1)

    def render(self):
        if self.game is None or self.render_mode is None:
            return None
        board = self.game.board[0]
        preview = rules.next_column(self.game, self.config)[0] if self.config.continuous else None
        if self.render_mode == "ansi":
            status = f"score {self.game.score[0]:.0f}  groups {self._last_info.get('groups', 0)}\n"
            return status + board_to_ansi(board, self.config, colour=False, preview=preview)
        if self.render_mode == "rgb_array":
            return board_to_rgb(board, self.config, cell=16, preview=preview)
        if self._window is None:
            from repgym.envs.bubble.render import BoardWindow

            self._window = BoardWindow(self.config)
        status = f"score {self.game.score[0]:.0f}   groups {self._last_info.get('groups', 0)}"
        self._window.draw(board, status, preview, self.metadata["render_fps"])
        return None

    def close(self) -> None:
        if self._window is not None:
            self._window.close()
            self._window = None

    # -- helpers ---------------------------------------------------------------------------------------------------

    def _check_action(self, action) -> int:
        a = one_integer(action)
        if a is None:
            raise ValueError(f"action must be one integer cell index in 0..{self.config.n_cells - 1}, got {action!r}")
        if not 0 <= a < self.config.n_cells:
            raise ValueError(f"action {a} is out of range: expected a cell index in 0..{self.config.n_cells - 1}")
        return a

    def _observe(self) -> np.ndarray:
        return observe(self.game.board, self.config, self.obs_mode, self.cell_size)[0]

    def _info(self, removed: int, illegal: bool) -> dict[str, Any]:
        board = self.game.board
        stats = rules.group_stats(board, self.config)
        info = {
            "score": float(self.game.score[0]),
            "groups": int(stats.count[0]),
            "largest_group": int(stats.largest[0]),
            "bubbles_left": int(rules.playable(board, self.config).sum()),
            "new_columns": int(self.game.new_columns[0]),
            "removed": removed,
            "illegal_action": illegal,
            "action_mask": rules.legal_mask(board, self.config)[0].reshape(-1),
            "state": board[0].copy(),
        }
        if self.config.continuous:
            info["next_column"] = rules.next_column(self.game, self.config)[0]
        self._last_info = info
        return info
