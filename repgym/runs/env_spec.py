"""``EnvSpec``: how every part of repgym names an env — an id plus JSON-serialisable constructor arguments.

Checkpoints, leaderboard jobs, recordings and analyses store an ``EnvSpec``; ``spec.make()`` is the one place that
turns such a name back into a Gymnasium env.

```python
spec = EnvSpec("repgym/KeyToDoor-v0", {"delay": 5})
env = spec.make(render_mode="rgb_array")
vec = spec.make_vec(8)
EnvSpec.from_json(spec.to_json()) == spec  # True; specs are hashable (dict keys, sets)
```
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

# Keys Gymnasium adds to a vector env's spec kwargs: how it was vectorised, not how the env was built.
VECTOR_KEYS = ("num_envs", "vectorization_mode", "vector_kwargs", "wrappers")


@dataclass(frozen=True)
class EnvSpec:
    """A registered env ``id`` and its constructor ``kwargs`` (JSON values only)."""

    id: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"an env id must be a non-empty string, got {self.id!r}")
        kwargs = dict(self.kwargs or {})
        try:
            json.dumps(kwargs, sort_keys=True)
        except TypeError as err:
            raise ValueError(f"env arguments of {self.id} must be JSON values: {err}") from None
        object.__setattr__(self, "kwargs", kwargs)

    # -- identity ----------------------------------------------------------------------------------------------------
    def _key(self) -> str:
        return json.dumps({"id": self.id, "kwargs": self.kwargs}, sort_keys=True, separators=(",", ":"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EnvSpec) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in sorted(self.kwargs.items()))
        return f"{self.id}({args})" if args else self.id

    # -- JSON --------------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kwargs": dict(self.kwargs)}

    def to_json(self) -> str:
        return self._key()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EnvSpec:
        return cls(data["id"], data.get("kwargs") or {})

    @classmethod
    def from_json(cls, text: str) -> EnvSpec:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_env(cls, env: gym.Env | gym.vector.VectorEnv) -> EnvSpec | None:
        """The spec an env was made from (its JSON-serialisable arguments; vectorisation keys left out), or None
        for an env made without ``gym.make``."""
        spec = getattr(env, "spec", None)
        if spec is None:
            return None
        kwargs = {}
        for key, value in (spec.kwargs or {}).items():
            if key in VECTOR_KEYS and isinstance(env, gym.vector.VectorEnv):
                continue
            try:
                json.dumps(value)
            except TypeError:
                continue
            kwargs[key] = value
        return cls(spec.id, kwargs)

    # -- making envs --------------------------------------------------------------------------------------------------
    def with_kwargs(self, **overrides: Any) -> EnvSpec:
        """The same env with some constructor arguments replaced."""
        return EnvSpec(self.id, {**self.kwargs, **overrides})

    def make(self, render_mode: str | None = None, **overrides: Any) -> gym.Env:
        """``gymnasium.make(id, **kwargs)`` (``overrides`` replace recorded arguments)."""
        import repgym.envs  # noqa: F401  (registers the ids)

        kwargs = {**self.kwargs, **overrides}
        if render_mode is not None:
            kwargs["render_mode"] = render_mode
        return gym.make(self.id, **kwargs)

    def make_vec(self, num_envs: int, vectorization_mode: str | None = None, **overrides: Any) -> gym.vector.VectorEnv:
        """``gymnasium.make_vec``: the env's native vector env where it has one, else Gymnasium's default."""
        import repgym.envs  # noqa: F401  (registers the ids)

        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        return gym.make_vec(self.id, num_envs, vectorization_mode, **{**self.kwargs, **overrides})


def env_arguments(env_id: str, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every argument ``env_id`` is made with: ``given`` over its registered kwargs over its constructor's
    defaults (as far as the entry point's signature tells). An unregistered id: ``given`` alone."""
    import inspect

    from gymnasium.envs.registration import load_env_creator

    import repgym.envs  # noqa: F401  (registers the ids)

    given = dict(given or {})
    try:
        spec = gym.spec(env_id)
    except gym.error.Error:
        return given
    defaults: dict[str, Any] = {}
    try:
        creator = load_env_creator(spec.entry_point) if isinstance(spec.entry_point, str) else spec.entry_point
        defaults = {n: p.default for n, p in inspect.signature(creator).parameters.items() if p.default is not p.empty}
    except (ImportError, AttributeError, ValueError, TypeError):
        pass
    return {**defaults, **spec.kwargs, **given}


def canonical_kwargs(env_id: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``kwargs`` without the arguments that equal what ``env_id`` is made with anyway (registered or constructor
    defaults), keys sorted: one name per env configuration, e.g. KeyToDoor's ``{"delay": 20}`` is ``{}``."""
    defaults = env_arguments(env_id)
    return {k: v for k, v in sorted(kwargs.items()) if k not in defaults or not same_argument(defaults[k], v)}


def same_argument(a: Any, b: Any) -> bool:
    """Equal as env arguments: 20 and 20.0 are the same delay, but ``True`` is not 1 (as it is in Python)."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def parse_value(text: str) -> Any:
    """An env argument (or ``--set`` value) written as text: int, float, true/false, none, else the text itself."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text
