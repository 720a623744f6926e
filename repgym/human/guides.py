"""What a person needs to play an env, by env family: the goal, a legend, named controls, accepted settings.

Every front end (the browser, later the desktop window and the notebook) shows the same words, so they live here
and not in a front end. A :class:`Guide` is built from a made env (:func:`guide_for`); the settings a person may
choose are known from the env id alone (:func:`allowed_settings`), so that they are checked before any env is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from repgym.envs.registry import EnvEntry, all_envs

# Browser ``KeyboardEvent.key`` values for the pygame key names that ``keyboard_controls()`` uses.
_BROWSER_KEYS = {"up": "ArrowUp", "down": "ArrowDown", "left": "ArrowLeft", "right": "ArrowRight", "space": " "}
_CAPTIONS = {"ArrowUp": "↑", "ArrowDown": "↓", "ArrowLeft": "←", "ArrowRight": "→", " ": "Space"}
# Key pairs (+, -) for the motors of a physics body, in actuator order.
_MOTOR_KEYS = (("q", "a"), ("w", "s"), ("e", "d"))
PRESS_STEPS = 5  # physics: env steps (0.1 s at the default frame_skip) that one key press drives


@dataclass(frozen=True)
class Setting:
    """An env constructor argument a player may choose in the page's query string, with its accepted range."""

    name: str
    kind: type  # int or float
    low: float
    high: float
    help: str

    def parse(self, text: str) -> int | float:
        """``text`` as this setting's value; ValueError naming the setting and the range otherwise."""
        try:
            value = self.kind(text)
        except ValueError:
            raise ValueError(f"{self.name} must be {self._expected()}, got {text[:40]!r}") from None
        if not (self.low <= value <= self.high) or value != value:  # value != value: NaN
            raise ValueError(f"{self.name} must be {self._expected()}, got {text[:40]!r}")
        return value

    def _expected(self) -> str:
        what = "an integer" if self.kind is int else "a number"
        return f"{what} in {self.low:g}..{self.high:g}"


@dataclass(frozen=True)
class Control:
    """One key (a browser ``KeyboardEvent.key``) or button, the env action it sends, and what it does."""

    key: str
    action: Any  # an int (Discrete) or a list of floats (Box)
    label: str  # what it does, e.g. "shoulder torque +"

    @property
    def caption(self) -> str:
        """The key as a person reads it (``↑``, ``Space``, ``U``)."""
        return _CAPTIONS.get(self.key, self.key.upper())

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "caption": self.caption, "label": self.label, "action": self.action}


@dataclass(frozen=True)
class Guide:
    """How to play one env: ``kind`` is ``"board"`` (a clickable grid of colour indices) or ``"frame"`` (pictures
    and keys); ``press_steps`` env steps follow each key press (more than one for physics bodies, which run
    stepped so that a person can follow)."""

    title: str
    kind: str
    goal: str
    legend: list[tuple[str, str]]  # (CSS colour, what it means)
    controls: list[Control] = field(default_factory=list)
    press_steps: int = 1
    notes: list[str] = field(default_factory=list)

    def control(self, key: str) -> Control | None:
        """The control bound to ``key``, or None."""
        return next((c for c in self.controls if c.key == key), None)

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "kind": self.kind, "goal": self.goal, "notes": list(self.notes),
                "legend": [{"colour": c, "meaning": m} for c, m in self.legend], "press_steps": self.press_steps,
                "controls": [c.to_json() for c in self.controls]}  # fmt: skip


# -- settings ----------------------------------------------------------------------------------------------------

_DELAY = Setting("delay", int, 0, 200, "steps between a decision and its consequence")
_SETTINGS: dict[str, tuple[Setting, ...]] = {
    "repgym.envs.bubble.env:BubbleBreakerEnv": (
        Setting("rows", int, 2, 16, "board height"), Setting("cols", int, 2, 20, "board width"),
        Setting("colours", int, 1, 9, "number of colours"),
    ),
    "repgym.envs.delayed.key_to_door:KeyToDoorEnv": (_DELAY, Setting("size", int, 3, 12, "room side (cells)")),
    "repgym.envs.delayed.umbrella:UmbrellaEnv": (_DELAY,),
    "repgym.envs.delayed.lagged_control:LaggedControlEnv": (
        Setting("delay", int, 0, 50, _DELAY.help), Setting("size", int, 3, 30, "grid side (cells)"),
    ),
    "repgym.envs.delayed.hidden_sequence:HiddenSequenceEnv": (
        Setting("delay", int, 0, 20, "secret sequence length minus one"), Setting("buttons", int, 2, 9, "buttons"),
    ),
    "repgym.envs.physics.reach:ReachEnv": (Setting("gravity", float, -20.0, 20.0, "m/s², pulling down"),),
    "repgym.envs.physics.thrower:ThrowerEnv": (Setting("gravity", float, -20.0, 20.0, "m/s², pulling down"),),
}  # fmt: skip


def playable_envs() -> dict[str, EnvEntry]:
    """Every registered repgym env, by id (``repgym/KeyToDoor-v0``)."""
    return {entry.id: entry for entry in all_envs()}


def allowed_settings(env_id: str) -> dict[str, Setting]:
    """The settings a player may choose for ``env_id`` (KeyError for an id that is not a repgym env)."""
    entry = playable_envs()[env_id]
    return {s.name: s for s in _SETTINGS.get(entry.entry_point, ())}


def parse_settings(env_id: str, query: dict[str, str]) -> dict[str, int | float]:
    """Env constructor arguments from text (a query string's ``name=value`` pairs); ValueError naming the first
    unknown setting or bad value."""
    allowed = allowed_settings(env_id)
    out: dict[str, int | float] = {}
    for name, text in query.items():
        if name not in allowed:
            takes = ", ".join(allowed) or "no settings"
            raise ValueError(f"unknown setting {name[:40]!r} for {env_id}; it takes {takes}")
        out[name] = allowed[name].parse(text)
    return out


# -- guides ------------------------------------------------------------------------------------------------------


def _hex(rgb: Any) -> str:
    r, g, b = (int(v) for v in rgb[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def _mj_hex(rgba: tuple[float, float, float]) -> str:
    return _hex([round(255 * v) for v in rgba])


def _key_controls(game: Any) -> list[Control]:
    """Controls from a delayed game's ``keyboard_controls()`` (pygame key names), in the browser's key names."""
    return [Control(_BROWSER_KEYS.get(k, k), int(a), label) for k, (a, label) in game.keyboard_controls().items()]


def guide_for(env: gym.Env) -> Guide:
    """The guide of a made env (any repgym env; other envs get generic digit or axis keys)."""
    from repgym.envs.bubble.env import BubbleBreakerEnv
    from repgym.envs.delayed.base import DelayedGameEnv

    game = env.unwrapped
    if isinstance(game, BubbleBreakerEnv):
        return _bubble_guide(game)
    if isinstance(game, DelayedGameEnv):
        return _delayed_guide(game)
    if type(game).__module__.startswith("repgym.envs.physics"):
        return _physics_guide(game)
    return _generic_guide(env)


def _bubble_guide(game: Any) -> Guide:
    from repgym.envs.bubble.render import PALETTE

    config = game.config
    if config.scoring == "bubble":
        points = "a group of n touching bubbles of one colour scores n × (n − 1): big groups pay most"
    else:
        points = "a group of n touching bubbles of one colour scores (n − 2)²"
        points += f"; clearing the board earns {config.clear_bonus}"
        if config.end_penalty:
            points += "; each colour with k > 2 bubbles left at the end costs (k − 2)²"
    closing = "right" if config.shift == "right" else "left"
    notes = [f"Bubbles fall down into gaps; emptied columns close up to the {closing}."]
    if config.row_shift:
        notes.append(f"Bubbles also slide {closing} within each row.")
    if config.continuous:
        notes.append("Each emptied column is replaced by a new one, shown in advance in the preview strip.")
    legend = [(_hex(PALETTE[c]), f"colour {c}") for c in range(1, config.colours + 1)]
    if config.continuous:
        legend.append((_hex(PALETTE[-1]), "grey: inert, cannot be removed"))
    legend.append(("outline", "the group under the mouse, with its points"))
    title = "Bubble Breaker" if config.scoring == "bubble" else "SameGame"
    if game.variant != "standard":
        title += f" ({game.variant})"
    return Guide(title, "board",
                 f"Remove groups of two or more bubbles for points: {points}. The game ends when no group is left.",
                 legend, [], 1, notes)  # fmt: skip


def _delayed_guide(game: Any) -> Guide:
    from repgym.envs.delayed import render as draw

    name, delay = type(game).__name__, game.delay
    controls = _key_controls(game)
    clock = (_hex(draw.WHITE), "bar on top: time used")
    if name == "KeyToDoorEnv":
        apples = f", then eat apples for {delay} steps (+{game.apple_reward:g} each)" if delay else ""
        goal = (f"Pick up the key in the first room{apples}, then walk through the door at the top of the last "
                f"room: it opens (+{game.door_reward:g}) only if you carry the key.")  # fmt: skip
        legend = [(_hex(draw.CYAN), "you"), (_hex(draw.YELLOW), "the key; the top-left square turns yellow once you "
                  "hold it"), (_hex(draw.RED), "an apple"), (_hex(draw.BROWN), "the door (green once open)"),
                  (_hex(draw.GRID_LINE), "top-right squares: rooms 1, 2, 3; the current one lit in its colour (key "
                  "yellow, apples red, door brown)")]  # fmt: skip
        return Guide("Key to Door", "frame", goal, legend, controls)
    if name == "UmbrellaEnv":
        goal = (f"The first picture shows the forecast. Take the umbrella (U) if rain is coming, leave it (N) if "
                f"the sun will shine. Then wait (Space) through {delay} foggy steps, each paying a random "
                f"±{game.distractor_reward:g}; at the end the weather arrives: +1 if your choice was right, −1 "
                "otherwise.")  # fmt: skip
        controls = [Control("u", 1, "take the umbrella (first step only)"),
                    Control("n", 0, "leave the umbrella (first step only)"),
                    Control(" ", 0, "wait (after the choice)")]  # fmt: skip
        legend = [(_hex((120, 190, 240)), "blue sky and a sun: the forecast says sun"),
                  (_hex((40, 60, 90)), "dark sky and clouds: the forecast says rain"),
                  (_hex(draw.GREY), "fog: the weather is hidden"), (_hex(draw.MAGENTA), "your umbrella"),
                  clock]  # fmt: skip
        return Guide("Umbrella", "frame", goal, legend, controls)
    if name == "LaggedControlEnv":
        goal = (f"Steer the body onto the goal. Each command is carried out {delay} steps after you give it: "
                "aim where the body will be, not where it is.")  # fmt: skip
        legend = [(_hex(draw.CYAN), "the body"), (_hex(draw.GREEN), "the goal"), clock]
        return Guide("Lagged Control", "frame", goal, legend, controls)
    if name == "HiddenSequenceEnv":
        from repgym.envs.delayed.hidden_sequence import BUTTON_COLOURS

        goal = (f"Find the secret sequence of {delay + 1} button presses: completing it opens the lock (+1). A "
                "wrong press silently starts the sequence over.")  # fmt: skip
        legend = [(_hex(BUTTON_COLOURS[b]), f"button {b + 1} (bright: the last pressed)") for b in range(game.buttons)]
        legend += [(_hex((30, 90, 40)), "green panel: the lock is open"), clock]
        return Guide("Hidden Sequence", "frame", goal, legend, controls)
    return Guide(name, "frame", "Play the game.", [clock], controls)


def _physics_guide(game: Any) -> Guide:
    nu = game.model.nu
    names = [game.model.actuator(i).name or f"motor {i + 1}" for i in range(nu)]
    size = game.action_space.shape[0]
    controls = []
    for i, name in enumerate(names[: len(_MOTOR_KEYS)]):
        for key, sign, word in zip(_MOTOR_KEYS[i], (1.0, -1.0), ("+ (counter-clockwise)", "− (clockwise)"),
                                   strict=True):  # fmt: skip
            action = [0.0] * size
            action[i] = sign
            controls.append(Control(key, action, f"{name} torque {word}"))
    controls.append(Control("x", [0.0] * size, "no torque (let the arm swing)"))
    seconds = PRESS_STEPS * game.dt
    notes = [f"Each key press runs the simulation for {seconds:.2f} s ({PRESS_STEPS} steps); it waits for the next.",
             f"Gravity: {game.gravity:g} m/s²."]  # fmt: skip
    arm, green = _mj_hex((0.85, 0.45, 0.1)), _mj_hex((0.1, 0.7, 0.25))
    if "release" in game.extra_action_names:
        release = [0.0] * size
        release[-1] = 1.0
        controls.append(Control(" ", release, "release the ball"))
        goal = ("Swing the arm and release the ball so that it flies into the green goal; reward follows the "
                "distance the ball gains toward the goal, with a bonus for a hit.")  # fmt: skip
        legend = [(arm, "the arm"), (_mj_hex((0.2, 0.3, 0.85)), "the ball"), (green, "the goal")]
        return Guide("Thrower", "frame", goal, legend, controls, PRESS_STEPS, notes)
    goal = ("Bring the hand (the dark dot at the arm's tip) to the green target and hold it there; every step "
            "costs the hand's distance to the target and a little for the torque used.")  # fmt: skip
    legend = [(arm, "the arm"), (_mj_hex((0.15, 0.15, 0.2)), "the hand"), (green, "the target")]
    return Guide(f"{len(names)}-link reach", "frame", goal, legend, controls, PRESS_STEPS, notes)


def _generic_guide(env: gym.Env) -> Guide:
    space = env.action_space
    if isinstance(space, gym.spaces.Discrete) and space.n <= 10:
        keys = "1234567890"
        controls = [Control(keys[i], int(space.start) + i, f"action {int(space.start) + i}") for i in range(space.n)]
        return Guide(str(env.spec.id if env.spec else type(env).__name__), "frame", "Play the game.", [], controls)
    if isinstance(space, gym.spaces.Box) and int(np.prod(space.shape)) <= len(_MOTOR_KEYS):
        controls = []
        for i in range(int(np.prod(space.shape))):
            for key, bound in zip(_MOTOR_KEYS[i], (space.high, space.low), strict=True):
                action = np.zeros(space.shape, space.dtype)
                action.reshape(-1)[i] = bound.reshape(-1)[i]
                controls.append(Control(key, action.tolist(), f"dimension {i} to {bound.reshape(-1)[i]:g}"))
        return Guide(type(env.unwrapped).__name__, "frame", "Play the game.", [], controls, PRESS_STEPS)
    raise ValueError(f"no keyboard controls for the action space {space}")


def step_limit(env: gym.Env) -> int | None:
    """The most steps an episode of ``env`` can last (its time limit, or the game's own), or None if unbounded."""
    limits = []
    if env.spec is not None and env.spec.max_episode_steps:
        limits.append(int(env.spec.max_episode_steps))
    game = env.unwrapped
    name = type(game).__name__
    if name == "KeyToDoorEnv":
        limits.append(game.key_steps + game.delay + game.door_steps)
    elif name == "UmbrellaEnv":
        limits.append(game.delay + 1)
    elif hasattr(game, "max_steps") and isinstance(game.max_steps, int):
        limits.append(game.max_steps)
    return min(limits) if limits else None


def check_press(env: gym.Env, control: Control) -> str | None:
    """Why ``control`` may not be pressed now (a message for the player), or None. Umbrella: one key, one meaning —
    U/N choose only at the first step, Space only waits after it (in the env, waiting is "leave the umbrella")."""
    game = env.unwrapped
    if type(game).__name__ != "UmbrellaEnv":
        return None
    if game.steps == 0 and control.key == " ":
        return "choose first: U takes the umbrella, N leaves it"
    if game.steps > 0 and control.key in ("u", "n"):
        return "the choice is made: Space waits for the weather"
    return None


def hint(env: gym.Env, info: dict[str, Any]) -> str:
    """A line on what the player faces now, from what the screen already shows (never hidden state), or ""."""
    game = env.unwrapped
    name = type(game).__name__
    if name == "ReachEnv" and "distance" in info:
        return f"hand to target: {float(info['distance']):.2f} m"
    if name == "UmbrellaEnv" and not game.done:
        if game.steps == 0:
            return "the forecast: take the umbrella (U) or leave it (N)"
        return f"fog: Space waits for the weather ({game.delay + 1 - game.steps} steps to go)"
    if name == "KeyToDoorEnv" and not game.done:
        return ("room 1 of 3: pick up the key", "room 2 of 3: eat the apples", "room 3 of 3: go through the door")[
            game.room
        ]
    return ""
