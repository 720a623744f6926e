"""Look-ahead value agents and search for Bubble Breaker / SameGame.

- :mod:`.value`: the value network V(board) on canonical colours (CNN over one-hot planes) and its scale.
- :mod:`.training`: self-play with MC / TD(lambda) targets, colour symmetry, epsilon exploration.
- :mod:`.agent`: :class:`LookaheadAgent` (``make_agent("lookahead", env)``): one-step look-ahead on ``r + V``
  for all legal moves in one forward pass, or a search, behind repgym's agent interface.
- :mod:`.engine` / :mod:`.kernels`: afterstates and whole playouts, compiled with numba (pure numpy fallback).
- :mod:`.playouts`: playout policies (uniform, size-weighted, tabu-colour, greedy, value-guided softmax).
- :mod:`.nmcs`, :mod:`.nrpa` (compiled in :mod:`.nrpa_kernels`), :mod:`.beam`, :mod:`.mcts`, :mod:`.greedy`:
  searches with a time or node budget (:mod:`.budget`).
- :mod:`.solve`: ``repgym solve`` — search a board file and verify every answer by replaying it in the env.
"""

from repgym.agents.lookahead.agent import LookaheadAgent, load_value
from repgym.agents.lookahead.beam import beam
from repgym.agents.lookahead.budget import Budget, SearchResult
from repgym.agents.lookahead.engine import make_engine
from repgym.agents.lookahead.greedy import lookahead_play
from repgym.agents.lookahead.mcts import mcts
from repgym.agents.lookahead.nmcs import nmcs
from repgym.agents.lookahead.nrpa import nrpa
from repgym.agents.lookahead.solve import run_search, solve_file
from repgym.agents.lookahead.training import LookaheadConfig
from repgym.agents.lookahead.value import ValueFunction, ValueNet

__all__ = [
    "Budget",
    "LookaheadAgent",
    "LookaheadConfig",
    "SearchResult",
    "ValueFunction",
    "ValueNet",
    "beam",
    "load_value",
    "lookahead_play",
    "make_engine",
    "mcts",
    "nmcs",
    "nrpa",
    "run_search",
    "solve_file",
]
