"""Measuring agents and people: baseline statistics (``stats``), human play, recordings and replay, human-normalised
scores, activation capture and the representation analyzers (similarity, generality, ablation, attribution, probes,
dimensionality, disentanglement, conflation, adaptation, pseudo-kernel prediction) with their reports."""
