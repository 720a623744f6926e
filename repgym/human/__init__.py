"""People playing the envs: the desktop game window, append-only hash-chained recordings, their re-simulation
(replay) and human scores."""
