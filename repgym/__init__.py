"""repgym: environments, agents and representation analyzers for studying how RL agents represent their worlds.

Importing the package registers every environment with Gymnasium under the ``repgym/`` namespace.
"""

__version__ = "0.1.0"

from repgym.envs import register_envs as _register_envs

_register_envs()

__all__ = ["__version__"]
