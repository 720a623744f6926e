"""The import direction of ARCHITECTURE.md: envs ← runs ← worlds ← agents ← (analysis, human, benchmark) ← cli.

Every ``import repgym.X`` / ``from repgym.X import`` in the package (also inside functions) is checked: a module may
import its own layer and the layers below it, never one above."""

from __future__ import annotations

import ast
from pathlib import Path

import repgym

PACKAGE = Path(repgym.__file__).parent
LAYERS = {"envs": 0, "runs": 1, "worlds": 2, "agents": 3, "analysis": 4, "human": 4, "benchmark": 4, "cli": 5}
# Top-level helpers (atomic_files, listing, __init__) are shared infrastructure: rank by who may use them.
# notebook is a front end like the command line (the Jupyter widget over the game session and the videos).
TOP_LEVEL = {"atomic_files": 0, "worker_pool": 0, "__init__": 0, "__main__": 5, "listing": 5, "notebook": 5}
# Siblings in the evaluation layer that may read each other, and why.
ALLOWED_SIBLINGS = {("benchmark", "human")}  # the leaderboard replays and ranks human recordings


def _layer(module: str) -> tuple[str, int]:
    part = module.split(".")[1] if module.count(".") else "__init__"
    if part in LAYERS:
        return part, LAYERS[part]
    return part, TOP_LEVEL[part]


def _imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("repgym"):
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out.extend(a.name for a in node.names if a.name.startswith("repgym"))
    return out


def test_no_module_imports_a_layer_above_its_own() -> None:
    violations = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = "repgym." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        name, rank = _layer(module)
        for target in _imports(path):
            if target == "repgym":
                continue
            other, other_rank = _layer(target)
            sibling = other_rank == rank and other != name and rank in (4,)
            if other_rank > rank or (sibling and (name, other) not in ALLOWED_SIBLINGS):
                violations.append(f"{module} imports {target}")
    assert violations == []
