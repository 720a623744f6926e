"""Hidden sequence: a secret combination of ``delay + 1`` button presses, with no feedback until it is complete."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from repgym.envs.delayed import render as draw
from repgym.envs.delayed.base import DelayedGameEnv, ObsMode, check_int

BUTTON_COLOURS = (draw.RED, draw.BLUE, draw.GREEN, draw.YELLOW, draw.MAGENTA, draw.CYAN, draw.ORANGE, draw.WHITE,
                  draw.BROWN)  # fmt: skip
SEQUENCE_STREAM = 0x5EC  # mixed into the sequence's seed
BUTTON_KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9")


class HiddenSequenceEnv(DelayedGameEnv):
    """Hidden sequence: an exploration game, a combination lock with ``buttons`` buttons.

    ## Description
    A secret sequence of ``delay + 1`` button presses opens the lock and pays ``+1``. Each right press advances a
    hidden counter; a wrong press silently resets it (to 1 if that press is the sequence's first button, else 0).
    Nothing shows the counter: the first press of the sequence is rewarded only ``delay`` presses later, and only
    if every press in between is right. The sequence is fixed by ``sequence_seed`` and stays the same from episode
    to episode (``reset`` seeds do not change it), so it can be discovered and learned over episodes.

    ## Action Space
    ``Discrete(buttons)``: press button ``i``. Keys in ``repgym play``: 1..9.

    ## Observation Space
    - ``"symbolic"`` (default): ``(2,) float32`` ``[steps, last_button]``: presses made in this episode and the
      last button pressed (``-1`` before the first press).
    - ``"pixels"``: ``(64, 64, 3) uint8``: the buttons (the last one pressed lit), a clock bar on top
      (steps / ``max_steps``), and the whole panel green once the lock opens.

    ## Rewards
    ``+1`` when the sequence is completed; 0 otherwise.

    **Optimal policy** (:meth:`optimal_action`, which reads the secret): press the sequence; success after
    ``delay + 1`` steps. **Random policy** (uniform presses): succeeds with probability about
    ``(max_steps - delay) * buttons ** -(delay + 1)`` for long sequences — 5.0% at the defaults (``delay=3``,
    4 buttons, 16 steps), about 0.4% at ``delay=5`` — :func:`random_success_probability` gives it exactly. No
    policy that does not read the secret can do much better before its first success: :meth:`discovery_bound`
    bounds the chance that it has opened the lock within N presses (at ``delay=10``: 0.008 within 50k presses).

    ## Starting State
    Counter at 0, no button pressed. The sequence: ``delay + 1`` presses drawn uniformly by
    ``numpy.random.default_rng([0x5EC, sequence_seed])``.

    ## Episode End
    Terminated when the sequence is completed (``info["success"] = True``); truncated after ``max_steps`` presses
    (default ``2 * (delay + 1) + 8``).

    ## Info
    ``success`` and ``state``: ``progress`` (right presses in a row so far), ``sequence``, ``steps``,
    ``last_button`` and ``delay``.

    ## Arguments
    ```python
    gymnasium.make(
        "repgym/HiddenSequence-v0",
        delay=3,              # presses after the first before the reward: the sequence has delay + 1 presses
        buttons=4,            # number of buttons (2..9)
        sequence_seed=0,      # which secret sequence
        max_steps=None,       # presses per episode (None: 2 * (delay + 1) + 8)
        obs_mode="symbolic",  # "symbolic" | "pixels"
        render_mode=None,     # "human" | "rgb_array"
    )
    ```

    ## Version History
    - v0: initial version.
    """

    def __init__(
        self,
        delay: int = 3,
        buttons: int = 4,
        sequence_seed: int = 0,
        max_steps: int | None = None,
        obs_mode: ObsMode = "symbolic",
        render_mode: str | None = None,
    ) -> None:
        delay = check_int("delay", delay, 0)
        self.buttons = check_int("buttons", buttons, 2, len(BUTTON_KEYS))
        self.sequence_seed = check_int("sequence_seed", sequence_seed, 0)
        # A generator of its own (not default_rng(sequence_seed)), so that a policy seeded with the same number
        # does not press the secret by coincidence.
        rng = np.random.default_rng([SEQUENCE_STREAM, self.sequence_seed])
        self.sequence = tuple(int(b) for b in rng.integers(self.buttons, size=delay + 1))
        self.max_steps = 2 * (delay + 1) + 8 if max_steps is None else check_int("max_steps", max_steps, 1)
        super().__init__(delay, self.buttons, obs_mode, render_mode)

    def _symbolic_space(self) -> spaces.Box:
        return spaces.Box(np.array([0, -1], np.float32), np.array([self.max_steps, self.buttons - 1], np.float32))

    def _new_game(self) -> None:
        self.progress = 0
        self.last_button: int | None = None

    def _advance(self, action: int) -> tuple[float, bool, bool]:
        self.last_button = action
        if action == self.sequence[self.progress]:
            self.progress += 1
        else:
            self.progress = int(action == self.sequence[0])
        self.success = self.progress == len(self.sequence)
        truncated = not self.success and self.steps + 1 >= self.max_steps
        return float(self.success), self.success, truncated

    def _symbolic(self) -> np.ndarray:
        return np.array([self.steps, -1 if self.last_button is None else self.last_button], np.float32)

    def _frame(self) -> np.ndarray:
        frame = draw.blank()
        draw.bar(frame, 0, 2, 60, 4, self.steps / self.max_steps, draw.WHITE)
        if self.success:
            draw.fill(frame, draw.HUD, 0, 64 - draw.HUD, 64, (30, 90, 40))
        per_row = 3 if self.buttons > 4 else 2
        size = 58 // per_row
        for b in range(self.buttons):
            top = draw.HUD + 2 + (b // per_row) * size
            left = 3 + (b % per_row) * size
            colour = BUTTON_COLOURS[b] if b == self.last_button else tuple(v // 3 for v in BUTTON_COLOURS[b])
            draw.fill(frame, top, left, size - 3, size - 3, colour)
        return frame

    def ground_truth(self) -> dict[str, Any]:
        return {
            "progress": self.progress,
            "sequence": self.sequence,
            "steps": self.steps,
            "last_button": self.last_button,
            "delay": self.delay,
        }

    def optimal_action(self) -> int:
        return self.sequence[self.progress]

    def random_success_probability(self) -> float:
        """Exact probability that uniformly random presses open the lock within ``max_steps`` (a Markov chain over
        the hidden counter)."""
        length, p = len(self.sequence), 1.0 / self.buttons
        dist = np.zeros(length + 1)
        dist[0] = 1.0
        for _ in range(self.max_steps):
            new = np.zeros_like(dist)
            new[length] = dist[length]
            for k in range(length):
                for b in range(self.buttons):
                    nxt = k + 1 if b == self.sequence[k] else int(b == self.sequence[0])
                    new[nxt] += dist[k] * p
            dist = new
        return float(dist[length])

    def discovery_bound(self, presses: int) -> float:
        """Upper bound on the probability that a policy which does not read the secret has opened the lock within
        ``presses`` presses (over episodes of ``max_steps``), for a secret drawn uniformly from every sequence.

        Before its first success a policy sees nothing that depends on the secret (the observation is only its own
        steps and presses), so its presses are fixed in advance, and a success needs the last ``delay + 1`` presses
        to equal the secret. Each press with at least ``delay`` presses before it in its episode completes one
        window of ``delay + 1`` presses, so at most that many of the ``buttons ** (delay + 1)`` secrets can have been
        met. A press order that tests a new window with every press (a De Bruijn sequence) comes near the bound (the
        lock's reset rule misses some overlapping starts); a learner can only be slower, so on long sequences no
        learner meets a success target of s before it has pressed about s times the secrets' worth of windows."""
        presses = check_int("presses", presses, 0)
        length = len(self.sequence)
        per_episode = max(0, self.max_steps - length + 1)
        full, rest = divmod(presses, self.max_steps)
        windows = full * per_episode + max(0, rest - length + 1)
        return min(1.0, windows / float(self.buttons) ** length)

    def keyboard_controls(self) -> dict[str, tuple[int, str]]:
        return {BUTTON_KEYS[b]: (b, f"button {b + 1}") for b in range(self.buttons)}
