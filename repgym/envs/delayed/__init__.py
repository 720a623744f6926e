"""Delayed-reward, human-hard games and the DelayedReward wrapper."""
