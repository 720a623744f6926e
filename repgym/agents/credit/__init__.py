"""Credit assignment across long delays: agents that move an episode's return back to the steps that earned it.

``make_agent("rudder", env, **hyperparameters)`` builds :class:`RudderAgent` (the fields of :class:`RudderConfig`):
RUDDER-style return decomposition (Arjona-Medina et al. 2019) with a DQN on the redistributed reward.

Modules, one job each: ``config`` (hyperparameters), ``networks`` (encoders, the LSTM return predictor, the credit
module, the Q-network with memory), ``episodes`` (whole episodes and the prioritised store), ``redistribution`` (the
predictor's loss, the redistributed reward and the replay table built from it), ``agent`` (the learner).
"""

from repgym.agents.credit.agent import RudderAgent
from repgym.agents.credit.config import RudderConfig

__all__ = ["RudderAgent", "RudderConfig"]
