"""Tuned hyperparameters as data: one TOML file per agent beside this module (like RL Zoo's ``hyperparams/*.yml``).

``<agent>.toml`` holds one table per env configuration. The table's name is the env id, then the env arguments
the entry is for, written as ``--env-set`` takes them::

    ["repgym/KeyToDoor-v0 delay=5"]
    n_timesteps = 50_000                  # training budget, env steps
    n_envs = 1                            # optional: train on a vector env of this size
    env_kwargs = { obs_mode = "pixels" }  # optional: more env arguments the entry trains with (not used to choose it)
    tuned = "not tuned yet: ..."          # how the values were found
    learning_rate = 1e-3                  # every other key is a hyperparameter of the agent

:func:`tuned_entry` chooses the entry of a run: same env id, and every argument in the table's name equal to the
run's (its given env arguments over the env's registered and constructor defaults, so ``delay=20`` also names the
default KeyToDoor); of those, the one naming the most arguments. A file that cannot be read, an unregistered agent
or env, an unknown hyperparameter or a value of the wrong type is a one-line ``ValueError`` naming the file and
the entry.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from repgym.runs.env_spec import env_arguments, parse_value, same_argument

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

FOLDER = Path(__file__).resolve().parent  # where the <agent>.toml files are read from
RESERVED = ("n_timesteps", "n_envs", "env_kwargs", "tuned")  # entry keys that are not agent hyperparameters
# Constructor arguments that a run sets itself, never an entry.
_RUN_ARGUMENTS = ("self", "env", "seed", "env_kwargs", "log_dir")
# Where each agent class declares what its ``**hyperparameters`` may hold (a dataclass of defaults); SB3 agents pass
# them to their algorithm's class, which declares them in its signature.
_DECLARED_IN = {
    "repgym.agents.distributional:DistributionalDQN": "repgym.agents.distributional.config:DQNConfig",
    "repgym.agents.distill.agent:DistilledPolicyAgent": "repgym.agents.distill.config:DistillConfig",
    "repgym.agents.credit:RudderAgent": "repgym.agents.credit.config:RudderConfig",
    "repgym.agents.lookahead.agent:LookaheadAgent": "repgym.agents.lookahead.training:LookaheadConfig",
    "repgym.agents.world_model.agent:WorldModelAgent": "repgym.agents.world_model.agent:WorldModelConfig",
}


@dataclass(frozen=True)
class TunedEntry:
    """One table of ``<agent>.toml``: what ``repgym train AGENT ENV`` uses unless the command line says otherwise."""

    agent: str
    env_id: str
    env_config: dict[str, Any]  # the env arguments in the table's name: which runs the entry is for
    env_kwargs: dict[str, Any]  # what the entry passes to the env: env_config plus the table's env_kwargs
    n_timesteps: int
    n_envs: int
    hyperparameters: dict[str, Any]
    tuned: str  # how the values were found
    path: Path
    key: str  # the table's name, as written in the file

    @property
    def label(self) -> str:
        """``qr-dqn.toml ["repgym/KeyToDoor-v0 delay=5"]``: the file and the table, as a reader finds them."""
        return f'{self.path.name} ["{self.key}"]'

    def matches(self, env_id: str, arguments: dict[str, Any]) -> bool:
        """Whether the entry is for ``env_id`` made with ``arguments`` (all of them, defaults included)."""
        return env_id == self.env_id and all(
            name in arguments and same_argument(arguments[name], value) for name, value in self.env_config.items()
        )


def tuned_entry(agent: str, env_id: str, env_kwargs: dict[str, Any] | None = None) -> TunedEntry | None:
    """The entry of ``<agent>.toml`` for ``env_id`` made with ``env_kwargs`` (module docstring), or None.

    Two matching entries that name as many arguments are ambiguous: a one-line ``ValueError`` names both."""
    path = FOLDER / f"{agent}.toml"
    if not path.is_file():
        return None
    arguments = env_arguments(env_id, env_kwargs or {})
    found = [e for e in read_entries(path) if e.matches(env_id, arguments)]
    if not found:
        return None
    best = max(len(e.env_config) for e in found)
    found = [e for e in found if len(e.env_config) == best]
    if len(found) > 1:
        run = " ".join([env_id, *(f"{name}={value}" for name, value in (env_kwargs or {}).items())])
        raise ValueError(f'{path}: entries ["{found[0].key}"] and ["{found[1].key}"] both fit {run}; name one more '
                         "env argument in one of them")  # fmt: skip
    return found[0]


def all_entries() -> list[TunedEntry]:
    """Every entry of every ``<agent>.toml`` in :data:`FOLDER`, files in name order, entries in file order."""
    return [entry for path in sorted(FOLDER.glob("*.toml")) for entry in read_entries(path)]


def read_entries(path: str | Path) -> list[TunedEntry]:
    """The entries of one ``<agent>.toml`` file, checked (module docstring); the file's name names the agent."""
    from repgym.agents import AGENTS

    path = Path(path)
    agent = path.stem
    if agent not in AGENTS:
        raise ValueError(f"{path}: no agent is registered as {agent!r} (the file's name); expected one of "
                         f"{sorted(AGENTS)}")  # fmt: skip
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid TOML: {err}") from None
    declared = declared_hyperparameters(agent)
    return [_entry(agent, path, key, table, declared) for key, table in data.items()]


def declared_hyperparameters(agent: str) -> dict[str, inspect.Parameter] | None:
    """The hyperparameters ``make_agent(agent, env, **hp)`` takes, by name (default and annotation), or None when
    the agent does not declare them where this module can read them (then only its constructor checks them)."""
    from repgym.agents import AGENTS

    entry = AGENTS[agent]
    fixed = dict(entry.kwargs)  # set by the registry (a DQN head, an SB3 algorithm)
    signature = inspect.signature(entry.load_class().__init__).parameters
    params = {n: p for n, p in signature.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    if any(p.kind is p.VAR_KEYWORD for p in signature.values()):
        extra = _declared_elsewhere(entry.entry_point, fixed)
        if extra is None:
            return None
        params = {**extra, **params}
    return {n: p for n, p in params.items() if n not in _RUN_ARGUMENTS and n not in fixed}


# -- reading one entry --------------------------------------------------------------------------------------------


def _entry(agent: str, path: Path, key: str, table: Any,
           declared: dict[str, inspect.Parameter] | None) -> TunedEntry:  # fmt: skip
    where = f'{path}: entry ["{key}"]'
    if not isinstance(table, dict):
        raise ValueError(f"{path}: {key!r} is not an entry; every top-level key is a table such as "
                         '["CartPole-v1"] or ["repgym/KeyToDoor-v0 delay=5"]')  # fmt: skip
    env_id, env_config = _parse_key(key, where)
    _check_env(env_id, where)
    n_timesteps = table.get("n_timesteps")
    if not _is_int(n_timesteps) or n_timesteps < 1:
        raise ValueError(f"{where}: n_timesteps must be a positive integer (the training budget in env steps), "
                         f"got {n_timesteps!r}")  # fmt: skip
    n_envs = table.get("n_envs", 1)
    if not _is_int(n_envs) or n_envs < 1:
        raise ValueError(f"{where}: n_envs must be a positive integer, got {n_envs!r}")
    extra_env = table.get("env_kwargs", {})
    if not isinstance(extra_env, dict):
        raise ValueError(f'{where}: env_kwargs must be a table such as {{ obs_mode = "pixels" }}, got {extra_env!r}')
    clash = sorted(n for n in extra_env if n in env_config and not same_argument(extra_env[n], env_config[n]))
    if clash:
        raise ValueError(f"{where}: env_kwargs sets {clash} otherwise than the entry's name")
    tuned = table.get("tuned")
    if not isinstance(tuned, str) or not tuned.strip():
        raise ValueError(f'{where}: tuned must say how the values were found, e.g. tuned = "not tuned yet: a '
                         'starting point"')  # fmt: skip
    hyperparameters = {n: v for n, v in table.items() if n not in RESERVED}
    if declared is not None:
        for name, value in hyperparameters.items():
            _check_hyperparameter(agent, name, value, declared, where)
    return TunedEntry(agent, env_id, env_config, {**env_config, **extra_env}, n_timesteps, n_envs, hyperparameters,
                      tuned.strip(), path, key)  # fmt: skip


def _parse_key(key: str, where: str) -> tuple[str, dict[str, Any]]:
    """``"repgym/KeyToDoor-v0 delay=5"`` -> ``("repgym/KeyToDoor-v0", {"delay": 5})``."""
    if not key.split():
        raise ValueError(f"{where}: the name must start with an env id")
    env_id, *words = key.split()
    config: dict[str, Any] = {}
    for word in words:
        name, sep, text = word.partition("=")
        if not sep or not name or not text:
            raise ValueError(f"{where}: {word!r} in the name is not an env argument written name=value")
        config[name] = parse_value(text)
    return env_id, config


def _check_env(env_id: str, where: str) -> None:
    import gymnasium as gym

    import repgym.envs  # noqa: F401  (registers the repgym ids)

    if env_id not in gym.registry:
        close = difflib.get_close_matches(env_id, list(gym.registry), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"{where}: {env_id!r} is not a registered env id{hint}")


def _check_hyperparameter(agent: str, name: str, value: Any, declared: dict[str, inspect.Parameter],
                          where: str) -> None:  # fmt: skip
    if name not in declared:
        close = difflib.get_close_matches(name, list(declared), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"expected some of {sorted(declared)}"
        raise ValueError(f"{where}: {agent} has no hyperparameter {name!r} ({hint})")
    allowed = _kinds(declared[name])
    if allowed and _kind(value) not in allowed and not (_kind(value) == "int" and "float" in allowed):
        raise ValueError(f"{where}: {name} = {value!r} is a {_kind(value)}; {agent} expects "
                         f"{' or '.join(sorted(allowed))}")  # fmt: skip


_KIND_WORDS = {"bool": "bool", "int": "int", "float": "float", "str": "str", "tuple": "list", "list": "list",
               "Sequence": "list", "List": "list", "Tuple": "list", "dict": "dict", "Dict": "dict"}  # fmt: skip


def _kinds(parameter: inspect.Parameter) -> set[str]:
    """The TOML kinds (bool, int, float, str, list, dict) a constructor argument takes, read from its default and
    its annotation's outer types; empty when neither tells (then any value goes)."""
    kinds = set()
    if parameter.default is not parameter.empty and parameter.default is not None:
        kinds.add(_kind(parameter.default))
    if parameter.annotation is not parameter.empty:
        kinds |= {_KIND_WORDS[w] for w in _outer_types(str(parameter.annotation)) if w in _KIND_WORDS}
    return kinds


def _outer_types(annotation: str) -> list[str]:
    """The type names of an annotation outside any brackets but Optional's and Union's: ``"Union[float,
    Callable[[float], float]]"`` -> ``["Union", "float", "Callable"]``, ``"tuple[int, ...] | None"`` -> ``["tuple",
    "None"]``."""
    names, enclosing, word, last = [], [], "", ""
    for char in annotation + " ":
        if char.isalnum() or char in "_.":
            word += char
            continue
        if word:
            last = word.rsplit(".", 1)[-1]
            if all(outer in ("Optional", "Union") for outer in enclosing):
                names.append(last)
            word = ""
        if char == "[":
            enclosing.append(last)
        elif char == "]" and enclosing:
            enclosing.pop()
        last = ""
    return names


def _kind(value: Any) -> str:
    for kind, types in (("bool", bool), ("int", int), ("float", float), ("str", str), ("list", (list, tuple)),
                        ("dict", dict)):  # fmt: skip
        if isinstance(value, types):
            return kind
    return type(value).__name__


def _declared_elsewhere(entry_point: str, fixed: dict[str, Any]) -> dict[str, inspect.Parameter] | None:
    """The parameters an agent class's ``**hyperparameters`` go to (see ``_DECLARED_IN``), or None if unknown."""
    if entry_point == "repgym.agents.sb3:SB3Agent":
        from repgym.agents.sb3 import ALGORITHMS

        module, name = ALGORITHMS[fixed["algorithm"]]
        cls = getattr(importlib.import_module(module), name)
        own = ("policy", "env", "seed", "verbose", "_init_setup_model")
        return {n: p for n, p in inspect.signature(cls.__init__).parameters.items()
                if n not in own and n != "self" and p.kind is not p.VAR_KEYWORD}  # fmt: skip
    if entry_point not in _DECLARED_IN:
        return None
    module, _, name = _DECLARED_IN[entry_point].partition(":")
    config = getattr(importlib.import_module(module), name)
    return {f.name: inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type)
            for f in fields(config)}  # fmt: skip


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


__all__ = ["FOLDER", "TunedEntry", "all_entries", "declared_hyperparameters", "env_arguments", "read_entries",
           "tuned_entry"]  # fmt: skip
