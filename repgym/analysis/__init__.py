"""Looking inside agents: activation capture, the registered representation analyzers (similarity, generality,
ablation, attribution, probes, dimensionality, disentanglement, conflation, adaptation), the report, and the
experiments built on them (gravity shift, pseudo-kernel prediction)."""
