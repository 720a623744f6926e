"""The registered analyzers, one module each: a module here that declares an analyzer with
:func:`repgym.analysis.registry.analyzer` is run by ``repgym analyze`` and shown in the report, with no other edit.

A new analyzer is a module with a ``run(context) -> Table`` decorated with ``@analyzer(name, order=..., needs=...,
report=...)`` and the ``report(rows, layers) -> Section`` that renders its rows; the measures themselves live in
the modules one level up (:mod:`repgym.analysis.similarity`, :mod:`repgym.analysis.probes`...) so that they can be
used without the pipeline.
"""
