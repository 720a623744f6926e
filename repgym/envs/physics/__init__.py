"""Jointed bodies in MuJoCo with gravity on or off."""
