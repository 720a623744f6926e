"""A policy without search: a network that maps a Bubble Breaker / SameGame board to a move in one forward pass,
distilled from a look-ahead teacher on the states it visits itself (DAgger).

```python
agent = make_agent("distill", "repgym/BubbleBreaker-v0", teacher="zoo:lookahead-bb", seed=0)
agent.learn(200_000, progress_bar=True)
action, _ = agent.predict(obs)              # one forward pass, no rules simulated, no search
```

Why: the look-ahead agent simulates every legal move (and a beam searches further) each time it acts; the
reference targets ask what a learner reaches *without* search when acting. Pure model-free learners (QR-DQN) stay
near the greedy policy on 14x10 boards, while the look-ahead teacher's choices already encode what its value
network learned by self-play. Distillation moves that knowledge into a network that acts alone.
"""

from repgym.agents.distill.agent import DistilledPolicyAgent
from repgym.agents.distill.config import DistillConfig
from repgym.agents.distill.network import PolicyNet, policy_planes

__all__ = ["DistilledPolicyAgent", "DistillConfig", "PolicyNet", "policy_planes"]
