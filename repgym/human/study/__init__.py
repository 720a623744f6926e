"""Human studies: a TOML file says which games (env configs) each player plays and how often; ``repgym serve
--study`` walks players through them and records every session; ``repgym study export`` turns the recordings into
tables and learning curves."""

from repgym.human.study.config import Study, StudyError, StudyGame, load_study, parse_study
from repgym.human.study.sessions import StudySessions, finished_counts, read_sessions

__all__ = ["Study", "StudyError", "StudyGame", "StudySessions", "finished_counts", "load_study", "parse_study",
           "read_sessions"]  # fmt: skip
