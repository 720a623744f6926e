"""Evaluation: game statistics of baseline policies, and (later) activation capture, representation analyzers,
the benchmark runner, the leaderboard, human play recording and video."""
