"""The zoo: trained checkpoints shipped with repgym, and ``zoo.toml``, the manifest that says how each was made.

A shipped checkpoint is the folder ``repgym/assets/zoo/NAME`` (``agent.json`` + ``weights.pt``, no replay buffer),
read as ``zoo:NAME`` wherever a checkpoint folder is accepted (:func:`repgym.runs.resolve_checkpoint_path`).
``zoo.toml`` beside the folders has one table per checkpoint::

    [sac-reach]
    checkpoint = "sac-reach"                  # the folder beside zoo.toml: the table's name
    agent = "sb3-sac"                         # registry name
    env_id = "repgym/TwoLinkReach-v0"
    env_kwargs = {}                           # what it was trained and is evaluated with
    train_steps = 100000                      # training budget, env steps
    cpu_seconds = 1800.0                      # measured CPU time of that training
    protocol = { episodes = 30, first_seed = 1000000 }   # greedy; episode i from reset(seed=first_seed + i)
    score = { mean = -3.1, std = 1.2, success_rate = 0.93 }   # success_rate where the env reports success
    random = { mean = -40.2, std = 8.0, success_rate = 0.0 }  # uniformly random legal actions, same games
    expert = { mean = -2.5, std = 0.9, success_rate = 1.0 }   # the benchmark's expert, same games (absent: none)
    date = "2025-06-01"
    command = "repgym train sb3-sac repgym/TwoLinkReach-v0 --out runs/sac-reach"   # reproduces the checkpoint

``benchmarks/build_zoo_entry.py`` writes the folder and the table (:func:`write_entry`); ``repgym zoo`` shows them.
A table that cannot be read is a one-line ``ValueError`` naming the file and the entry.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repgym.atomic_files import write_files_atomically
from repgym.runs import ZOO_PREFIX, EnvSpec, EvalProtocol, EvalResult, zoo_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

MANIFEST = "zoo.toml"
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]*")  # a TOML bare key and a folder name on every system
_TABLE_HEADER = re.compile(r"^\[([^\[\]]+)\]\s*(#.*)?$", re.MULTILINE)


@dataclass(frozen=True)
class Score:
    """Returns over the evaluation games: mean and std (population), success rate where the env reports success."""

    mean: float
    std: float
    success_rate: float | None = None

    @classmethod
    def of(cls, result: EvalResult) -> Score:
        return cls(result.mean, result.std, result.success_rate)

    def text(self, digits: int = 2) -> str:
        """``-3.10 ± 1.20 (93% success)``."""
        success = "" if self.success_rate is None else f" ({self.success_rate:.0%} success)"
        return f"{self.mean:.{digits}f} ± {self.std:.{digits}f}{success}"

    def as_toml(self) -> dict[str, float]:
        table = {"mean": round(float(self.mean), 4), "std": round(float(self.std), 4)}
        return table if self.success_rate is None else {**table, "success_rate": round(float(self.success_rate), 4)}


@dataclass(frozen=True)
class ZooEntry:
    """One table of ``zoo.toml`` (module docstring); ``manifest`` is the file it was read from (or goes to)."""

    name: str
    agent: str
    env: EnvSpec
    train_steps: int
    cpu_seconds: float
    score: Score
    random: Score
    expert: Score | None
    date: str
    command: str
    episodes: int = 30
    first_seed: int = 1_000_000
    manifest: Path | None = None

    @property
    def ref(self) -> str:
        """``zoo:NAME``: how a command line or :func:`~repgym.agents.load_agent` names the checkpoint."""
        return f"{ZOO_PREFIX}{self.name}"

    @property
    def folder(self) -> Path:
        """The checkpoint folder beside the manifest."""
        return (self.manifest.parent if self.manifest is not None else zoo_dir()) / self.name

    @property
    def protocol(self) -> EvalProtocol:
        """The evaluation protocol the scores were measured with."""
        return EvalProtocol(self.episodes, first_seed=self.first_seed)

    @property
    def expert_normalised(self) -> float | None:
        """``(mean - random) / (expert - random)``: 0 plays like random, 1 like the expert; None without an expert
        (or when the expert scores like random)."""
        if self.expert is None or math.isclose(self.expert.mean, self.random.mean):
            return None
        return (self.score.mean - self.random.mean) / (self.expert.mean - self.random.mean)

    def as_toml(self) -> str:
        """The entry as its ``zoo.toml`` table."""
        values: dict[str, Any] = {
            "checkpoint": self.name,
            "agent": self.agent,
            "env_id": self.env.id,
            "env_kwargs": dict(self.env.kwargs),
            "train_steps": int(self.train_steps),
            "cpu_seconds": round(float(self.cpu_seconds), 1),
            "protocol": {"episodes": int(self.episodes), "first_seed": int(self.first_seed)},
            "score": self.score.as_toml(),
            "random": self.random.as_toml(),
        }
        if self.expert is not None:
            values["expert"] = self.expert.as_toml()
        values |= {"date": self.date, "command": self.command}
        return f"[{self.name}]\n" + "".join(f"{key} = {_toml_value(value)}\n" for key, value in values.items())


def manifest_path(folder: str | os.PathLike | None = None) -> Path:
    """``zoo.toml`` of a zoo folder (default: :func:`repgym.runs.zoo_dir`, the package's unless
    ``$REPGYM_ZOO_DIR``)."""
    return (Path(folder) if folder is not None else zoo_dir()) / MANIFEST


def read_zoo(folder: str | os.PathLike | None = None) -> list[ZooEntry]:
    """The entries of a zoo folder's manifest, in file order; none when it has no manifest."""
    path = manifest_path(folder)
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid TOML: {err}") from None
    return [_entry(path, name, table) for name, table in data.items()]


def zoo_entry(name: str, folder: str | os.PathLike | None = None) -> ZooEntry:
    """The entry ``name`` (``zoo:`` prefix allowed); a one-line ``ValueError`` listing the known names otherwise."""
    name = name.removeprefix(ZOO_PREFIX)
    entries = read_zoo(folder)
    for entry in entries:
        if entry.name == name:
            return entry
    known = ", ".join(e.name for e in entries) or "none yet"
    raise ValueError(f"{ZOO_PREFIX}{name}: no such entry in {manifest_path(folder)}; known: {known}")


def write_entry(entry: ZooEntry, folder: str | os.PathLike | None = None) -> Path:
    """Put ``entry``'s table into the manifest of ``folder`` (replacing a table of the same name, else appending),
    leaving the rest of the file as it is; written atomically and read back. Returns the manifest's path."""
    path = manifest_path(folder)
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    text = _replace_table(text, entry.name, entry.as_toml())
    write_files_atomically(path.parent, {path.name: lambda f: f.write(text.encode("utf-8"))})
    path.chmod(0o644)  # package data, like the file it replaces
    zoo_entry(entry.name, path.parent)  # what was written reads back
    return path


# -- reading one table --------------------------------------------------------------------------------------------


def _entry(path: Path, name: str, table: Any) -> ZooEntry:
    where = f"{path}: entry [{name}]"
    if not isinstance(table, dict):
        raise ValueError(f"{path}: {name!r} is not an entry; every top-level key is a table such as [sac-reach]")
    if not NAME_PATTERN.fullmatch(name):
        raise ValueError(f"{where}: a name is lower-case letters, digits, - and _ (it is also the folder's name)")
    missing = [k for k in ("checkpoint", "agent", "env_id", "train_steps", "cpu_seconds", "score", "random",
                           "date", "command") if k not in table]  # fmt: skip
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    if table["checkpoint"] != name:
        raise ValueError(f"{where}: checkpoint = {table['checkpoint']!r}; it must be the table's name, the folder "
                         f"that zoo:{name} reads")  # fmt: skip
    env_kwargs = table.get("env_kwargs", {})
    if not isinstance(env_kwargs, dict):
        raise ValueError(f"{where}: env_kwargs must be a table such as {{ delay = 5 }}, got {env_kwargs!r}")
    protocol = table.get("protocol", {})
    try:
        return ZooEntry(
            name=name,
            agent=str(table["agent"]),
            env=EnvSpec(str(table["env_id"]), env_kwargs),
            train_steps=_number(table["train_steps"], "train_steps", where, int),
            cpu_seconds=_number(table["cpu_seconds"], "cpu_seconds", where, float),
            score=_score(table["score"], "score", where),
            random=_score(table["random"], "random", where),
            expert=_score(table["expert"], "expert", where) if "expert" in table else None,
            date=str(table["date"]),
            command=str(table["command"]),
            episodes=_number(protocol.get("episodes", 30), "protocol.episodes", where, int),
            first_seed=_number(protocol.get("first_seed", 1_000_000), "protocol.first_seed", where, int),
            manifest=path,
        )
    except (TypeError, AttributeError) as err:
        raise ValueError(f"{where}: {err}") from None


def _score(value: Any, key: str, where: str) -> Score:
    if not isinstance(value, dict) or "mean" not in value or "std" not in value:
        raise ValueError(f"{where}: {key} must be a table {{ mean = ..., std = ... }} (success_rate optional), "
                         f"got {value!r}")  # fmt: skip
    rate = value.get("success_rate")
    return Score(_number(value["mean"], f"{key}.mean", where, float), _number(value["std"], f"{key}.std", where, float),
                 None if rate is None else _number(rate, f"{key}.success_rate", where, float))  # fmt: skip


def _number(value: Any, key: str, where: str, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        raise ValueError(f"{where}: {key} must be a{'n integer' if kind is int else ' number'}, got {value!r}")
    return kind(value)


# -- writing ------------------------------------------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    """A TOML literal for the values an entry holds (numbers, strings, booleans, lists, inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string: JSON's escapes are TOML's
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = (f"{k if re.fullmatch(r'[A-Za-z0-9_-]+', k) else json.dumps(k)} = {_toml_value(v)}"
                 for k, v in value.items())  # fmt: skip
        return "{ " + ", ".join(items) + " }"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} to {MANIFEST}")


def _replace_table(text: str, name: str, table: str) -> str:
    """``text`` with the table ``[name]`` replaced by ``table`` (from its header to the next table's, the comments
    just above that one kept), or ``table`` appended after a blank line."""
    headers = list(_TABLE_HEADER.finditer(text))
    for i, header in enumerate(headers):
        if header.group(1).strip() != name:
            continue
        if i + 1 == len(headers):
            return text[: header.start()] + table
        lines = text[header.start() : headers[i + 1].start()].splitlines(keepends=True)
        kept = len(lines)
        while kept > 1 and (not lines[kept - 1].strip() or lines[kept - 1].lstrip().startswith("#")):
            kept -= 1
        above_next = "".join(lines[kept:]).lstrip("\n")
        return text[: header.start()] + table + "\n" + above_next + text[headers[i + 1].start() :]
    text = text.rstrip("\n")
    return (text + "\n\n" if text else "") + table


__all__ = ["MANIFEST", "Score", "ZooEntry", "manifest_path", "read_zoo", "write_entry", "zoo_entry"]
