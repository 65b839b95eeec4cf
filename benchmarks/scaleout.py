"""Scale-out prototype: map a large MLP partition by partition, in one process and on a Dask cluster.

The net (a 1024-H-10 MLP with rate-model spikes, H set for ``--synapses``) is generated
once and written as partition files (:func:`solvers.common.partitioned.write_partitions`,
about ``--partition`` synapses each). Then the partition tasks run

1. in this process, one after another (:func:`~solvers.common.partitioned.map_serial`), and
2. on a ``distributed.LocalCluster`` of ``--workers`` worker processes, one thread each
   (:func:`~solvers.common.partitioned.map_dask`),

and the two results are compared unit by unit, crossbar by crossbar (they must be the
same). Printed: wall time of each path, the peak memory of this process and of every
worker, crossbars and hop_spikes, and the ``layered`` one-process path on the whole net
for reference (``--reference``).

Usage::

    python benchmarks/scaleout.py --synapses 1e8 --workers 2 --partition 1.25e7   # ~4 min, ~5 GB in all
    python benchmarks/scaleout.py --synapses 1e6 --reference                       # a quick look
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

INPUTS, OUTPUTS = 1024, 10


def peak_mb() -> float:
    """Peak resident memory of the calling process (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synapses", type=float, default=1e6)
    parser.add_argument("--hw", default="dynapse-paper")
    parser.add_argument("--strategy", default=None, help="per-neuron decomposition (default tree:F)")
    parser.add_argument("--partition", type=float, default=None, help="synapses per partition (default: total / 8)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="4GB", help="per worker")
    parser.add_argument("--reference", action="store_true", help="also map the whole net with the layered solver")
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    from mapopt.hardware import load_preset
    from problems.instances.mlp import mlp
    from solvers.common.partitioned import map_dask, map_serial, write_partitions

    hw = load_preset(args.hw)
    strategy = args.strategy or f"tree:{hw.fanin}"
    hidden = max(1, round(args.synapses / (INPUTS + OUTPUTS)))
    t = time.perf_counter()
    net = mlp([INPUTS, hidden, OUTPUTS], seed=0, spikes="rate")
    print(f"generated {net.name}: {net.n_synapses:,} synapses in {time.perf_counter() - t:.1f} s")
    per_part = int(args.partition or max(1, net.n_synapses // 8))
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        parts = write_partitions(net, Path(tmp), per_part, align=hw.columns)
        n_neurons = net.n_neurons
        print(f"wrote {len(parts)} partitions in {time.perf_counter() - t:.1f} s")
        reference = _reference(net, hw, strategy) if args.reference else None
        del net
        t = time.perf_counter()
        serial = map_serial(parts, n_neurons, hw, strategy)
        serial_s = time.perf_counter() - t
        print(f"one process: {serial_s:.1f} s, {serial.crossbars} crossbars, hop_spikes {serial.hop_spikes:.6g}")
        with (
            LocalCluster(
                n_workers=args.workers, threads_per_worker=1, processes=True, memory_limit=args.memory_limit,
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):  # fmt: skip
            t = time.perf_counter()
            spread = map_dask(client, parts, n_neurons, hw, strategy)
            dask_s = time.perf_counter() - t
            workers = client.run(peak_mb)
        print(f"dask, {args.workers} workers: {dask_s:.1f} s, {spread.crossbars} crossbars, ", end="")
        print(f"hop_spikes {spread.hop_spikes:.6g}")
        print("worker peak MB: " + ", ".join(f"{mb:.0f}" for mb in workers.values()))
        print(f"driver peak MB: {peak_mb():.0f}")
        print(f"same result: {serial.same_as(spread)}; violations: {len(serial.violations) + len(spread.violations)}")
        if reference is not None:
            print(f"layered on the whole net (one process): {reference[0]} crossbars, hop_spikes {reference[1]:.6g}")


def _reference(net: object, hw: object, strategy: str) -> tuple[int, float]:
    """The ordinary one-process path: decompose the whole net, the layered solver, the validator."""
    from mapopt.decompose import decompose
    from mapopt.problem import MappingProblem
    from mapopt.registry import make_solver

    result = make_solver("layered").solve(MappingProblem(decompose(net, hw, strategy), hw))
    return result.metrics["crossbars"], result.metrics["hop_spikes"]


if __name__ == "__main__":
    main()
