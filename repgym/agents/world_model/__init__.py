"""The World Models agent: a controller on V + M, optimised by CMA-ES in the real env or in the dream."""

from repgym.agents.world_model.agent import WorldModelAgent, WorldModelConfig
from repgym.agents.world_model.cma_search import CandidatePool, SearchResult, WorkerCrashed, cma_search
from repgym.agents.world_model.controller import Controller

__all__ = ["CandidatePool", "Controller", "SearchResult", "WorkerCrashed", "WorldModelAgent", "WorldModelConfig",
           "cma_search"]  # fmt: skip
