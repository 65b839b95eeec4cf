"""mapopt: map spiking neural networks onto tile-based neuromorphic hardware.

The domain model (:mod:`mapopt.network`, :mod:`mapopt.hardware`,
:mod:`mapopt.decompose`, :mod:`mapopt.mapping`), the validator and metrics
(:mod:`mapopt.evaluation`, the single source of truth), the solver protocol
(:mod:`mapopt.solver`) and registry (:mod:`mapopt.registry`), readers and writers
(:mod:`mapopt.io`), the pipeline (:mod:`mapopt.pipeline`) and the CLI (:mod:`mapopt.cli`).
"""

__version__ = "0.1.0"
