"""``pso``: particle swarm optimisation for crossbar assignment and for tile placement.

Following SpiNeMap (Balaji et al., "Mapping Spiking Neural Networks to Neuromorphic
Hardware", IEEE TVLSI 2020, arXiv 1909.01843), which partitions with PSO to minimise the
spikes on global synapses and places clusters with PSO, and PSOPART (Das et al., "Mapping of
Local and Global Synapses on Spiking Neuromorphic Hardware", DATE 2018). Both stages use
the random-key encoding of a permutation so that the standard continuous PSO update
(inertia, cognitive and social terms) applies. Keys start at the ranks of a good order plus
Gaussian noise of ``spread`` ranks, so particles explore nearby orders:

- assignment: a particle holds one key per unit; sorting the keys gives a unit order that
  :func:`solvers.common.packing.pack_sequential` packs exactly (then
  :func:`solvers.common.packing.merge_crossbars`); fitness = (crossbars,
  intercrossbar spikes). Particle 0 starts at the layer-aware order (``layered``), the
  others around it with Gaussian noise, so the swarm never ends worse than that start;
- placement: a particle holds one key per crossbar; sorting them deals out the slots of
  the traffic-greedy placement (:func:`solvers.common.traffic.place_traffic`, particle 0);
  fitness = hop_spikes of :class:`solvers.common.traffic.TrafficGraph`.

The run length is set by ``iterations`` (deterministic under a seed); the time limit stops
it early.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from mapopt.mapping import Mapping
from mapopt.problem import MappingProblem
from mapopt.solver import Outcome, SolveContext, Solver
from mapopt.space import Float, Int, SearchSpace
from solvers.common.packing import merge_crossbars, pack_sequential
from solvers.common.traffic import TrafficGraph, place_traffic
from solvers.layered import layer_order

#: Share of the remaining time the assignment swarm may use; placement gets the rest.
ASSIGNMENT_SHARE = 0.6


class ParticleSwarm(Solver):
    """Random-key PSO (SpiNeMap / PSOPART) for assignment, then for placement."""

    name = "pso"
    description = "particle swarm optimisation (SpiNeMap, PSOPART) for assignment and placement"

    #: Tunable hyperparameters (mapopt.space); the iteration counts are the work budget.
    space = SearchSpace(
        Int("particles", 2, 32, log=True),
        Int("iterations", 5, 80, log=True),
        Int("place_iterations", 5, 160, log=True),
        Float("inertia", 0.3, 0.95),
        Float("cognitive", 0.5, 2.5),
        Float("social", 0.5, 2.5),
        Float("spread", 0.25, 16.0, log=True),
    )

    def __init__(
        self,
        *,
        particles: int = 8,
        iterations: int = 20,
        place_iterations: int = 40,
        inertia: float = 0.7,
        cognitive: float = 1.5,
        social: float = 1.5,
        spread: float = 2.0,
    ):
        self.particles = particles
        self.iterations = iterations
        self.place_iterations = place_iterations
        self.inertia = inertia
        self.cognitive = cognitive
        self.social = social
        self.spread = spread

    def _solve(self, problem: MappingProblem, ctx: SolveContext) -> Outcome:
        if self.particles < 1 or self.iterations < 0 or self.place_iterations < 0 or self.spread < 0:
            raise ValueError(f"need particles >= 1 and non-negative iterations/spread, got {self.get_params()}")
        dec, hw = problem.decomposition, problem.hardware
        units = layer_order(dec)
        if units.size == 0:
            return Outcome(place_traffic(problem, np.full(dec.network.n_neurons, -1, dtype=np.int64), ctx))

        def assignment_cost(keys: np.ndarray) -> tuple[tuple[float, float], np.ndarray | None]:
            unit_crossbar = pack_sequential(dec, hw, units[np.argsort(keys, kind="stable")], ctx)
            if unit_crossbar is None:
                return (np.inf, np.inf), None
            unit_crossbar = merge_crossbars(dec, hw, unit_crossbar)
            g = TrafficGraph.build(dec, unit_crossbar)
            return (float(g.n_cb), float(g.w[g.src != g.dst].sum())), unit_crossbar

        remaining = ctx.remaining()
        until = None if remaining is None else ctx.elapsed() + ASSIGNMENT_SHARE * remaining
        start = np.arange(units.size, dtype=float)
        unit_crossbar = self._swarm(start, assignment_cost, self.iterations, ctx, until, record=lambda k: k[0])
        if unit_crossbar is None:
            return Outcome(None, message="time limit reached before a first assignment")
        greedy = place_traffic(problem, unit_crossbar, ctx)
        graph = TrafficGraph.build(dec, unit_crossbar)
        slots = greedy.crossbar_tile[: graph.n_cb]
        slot_rank = np.argsort(np.argsort(slots, kind="stable"), kind="stable")
        slot_tiles = np.sort(slots)
        placement_hw = replace(hw, mesh=greedy.mesh)

        def placement_cost(keys: np.ndarray) -> tuple[tuple[float, float], np.ndarray]:
            tiles = np.empty(graph.n_cb, dtype=np.int64)
            tiles[np.argsort(keys, kind="stable")] = slot_tiles
            return (0.0, graph.hop_spikes(placement_hw, tiles)), tiles

        tiles = self._swarm(slot_rank.astype(float), placement_cost, self.place_iterations, ctx, None, None)
        return Outcome(Mapping(unit_crossbar, tiles, greedy.mesh))

    def _swarm(
        self,
        start: np.ndarray,
        cost: Callable[[np.ndarray], tuple[tuple[float, float], np.ndarray | None]],
        iterations: int,
        ctx: SolveContext,
        until: float | None,
        record: Callable[[tuple[float, float]], float] | None,
    ) -> np.ndarray | None:
        """Minimise ``cost`` over random keys (ranks plus noise); returns the decoded best.

        Stops after ``iterations``, at the deadline or when ``ctx.elapsed()`` passes ``until``;
        None if no particle could be decoded in time.
        """
        rng = ctx.rng
        dim = start.size
        x = start[None, :] + rng.normal(0.0, self.spread, size=(self.particles, dim))
        x[0] = start
        v = np.zeros_like(x)
        decoded = [cost(p) for p in x]
        ctx.count("evaluations", self.particles)
        p_best, p_key = x.copy(), [k for k, _ in decoded]
        g = min(range(self.particles), key=lambda i: p_key[i])
        g_best, g_key, g_out = x[g].copy(), p_key[g], decoded[g][1]
        if record and g_out is not None:
            ctx.record(record(g_key))
        for _ in range(iterations):
            if ctx.expired() or (until is not None and ctx.elapsed() >= until):
                break
            r1, r2 = rng.random(x.shape), rng.random(x.shape)
            v = self.inertia * v + self.cognitive * r1 * (p_best - x) + self.social * r2 * (g_best[None, :] - x)
            x = x + v
            ctx.count("evaluations", self.particles)
            for i in range(self.particles):
                key, out = cost(x[i])
                if out is None:
                    continue
                if key < p_key[i]:
                    p_best[i], p_key[i] = x[i].copy(), key
                if key < g_key:
                    g_best, g_key, g_out = x[i].copy(), key, out
                    if record:
                        ctx.record(record(g_key))
        return g_out
