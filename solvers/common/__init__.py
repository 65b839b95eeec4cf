"""Engines shared by several solvers; nothing here is a registered method.

- :mod:`~solvers.common.packing`: affinity and next-fit crossbar packing, crossbar merging;
- :mod:`~solvers.common.placement`, :mod:`~solvers.common.traffic`: tile placement (in
  order; traffic-greedy) and the crossbar traffic graph;
- :mod:`~solvers.common.incremental`: incremental costs for local search (``anneal``);
- :mod:`~solvers.common.lexicographic`: the exact lexicographic solve of the models of
  :mod:`problems.formulations`, shared by ``cpsat``, ``pulp-cbc`` and ``pulp-highs``;
- :mod:`~solvers.common.grouping`: the exact grouping + assignment procedure of ``cpsat-joint``;
- :mod:`~solvers.common.arrays`: array helpers.
"""
