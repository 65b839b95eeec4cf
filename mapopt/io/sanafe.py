"""Export a mapped, decomposed network to SANA-FE and run it there.

SANA-FE (Boyle et al., "SANA-FE: Simulating Advanced Neuromorphic Architectures for Fast
Exploration", IEEE TCAD 2025; PyPI ``sanafe``, GPL-3.0) simulates a spiking network on an
architecture description and takes an explicit neuron-to-core mapping. mapopt uses it as
an installed package only (the optional ``sim`` extra): nothing here imports it at module
import time, and :func:`require_sanafe` turns its absence into one line saying how to
install it.

How mapopt's model maps onto SANA-FE's (docs/sanafe.md has the whole story):

- one crossbar = one SANA-FE core; every neuron of N' (original neurons, roots and
  neural units alike) becomes a SANA-FE neuron on the core of its crossbar, and every
  synapse of N' a SANA-FE edge. SANA-FE multicasts a spike once per destination core and
  counts hops with XY routing, exactly mapopt's *deliveries* and *hop_spikes*.
- tiles: mapopt's tile t of a W x H mesh sits at (x, y) = (t mod W, t div W); SANA-FE
  numbers tile (x, y) as x * H + y. The crossbars of one tile take its cores in id order.
- inputs: mapopt feeds them from the I/O tile, so they are SANA-FE input neurons on a core
  of that tile, each with its own input soma unit (one unit holds one spike train).
- architecture: for the ``loihi`` preset, SANA-FE's own Loihi description (8 x 4 tiles, 4
  cores of 1024 neurons each, energies from Davies et al. 2018); inputs share the I/O
  tile's cores with the mapping's units. For every other preset, a generated description
  with the preset's geometry and energies (synapse event ``e_syn``, message ``e_msg``,
  hop ``e_hop`` in every direction; soma energy 0, as mapopt does not model it) and an
  extra input core on the I/O tile; its latencies are Loihi's (assumed).
- decomposition units are *relay neurons*: SANA-FE messages are binary spikes, so a unit
  cannot hand a partial sum to the next one, and each hop between units costs a timestep.
  Dendritic compartments would carry the sum, but they live inside one neuron on one
  core, while a mapping may put a neuron's units on different crossbars.

Two ways to drive the SANA-FE neurons (``activity``):

- ``functional``: SANA-FE runs the dynamics. Inputs replay given trains; every neuron of N
  is a leaky integrate-and-fire neuron with mapopt's threshold, leak, bias and reset potential
  (weights, thresholds, biases and resets scaled by :data:`WEIGHT_SCALE`, see there); a relay
  unit fires in each step in which it received at least one spike (its input weights are |w|). Undecomposed nets
  spike exactly as mapopt's simulator when their weights and thresholds sit on SANA-FE's
  potential grid (the tests check it); a decomposed neuron does not compute its original
  function, because relays pass spikes, not sums.
- ``replay``: every neuron is forced to fire exactly when mapopt's simulator says it does
  (N' in exact mode on the same inputs: a unit fires in the steps where it sends a nonzero
  partial, the ``simulated`` traffic). Weights are 0, so SANA-FE's energy and latency are
  those of precisely mapopt's activity on the mapped architecture: the comparison of the
  two cost models that ``mapopt sanafe-check`` makes.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import math
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from mapopt.decompose.base import Decomposition, with_unit_spikes
from mapopt.errors import InputError
from mapopt.evaluation import assess
from mapopt.hardware import Hardware
from mapopt.mapping import Mapping
from mapopt.simulate import make_inputs, simulate_decomposition

#: How to install SANA-FE when it is missing.
SANAFE_INSTALL = 'pip install -e ".[sim]"'
ACTIVITIES = ("functional", "replay")
#: The preset that uses SANA-FE's own Loihi architecture.
LOIHI_PRESET = "loihi"
#: Shape of SANA-FE's arch/loihi.yaml: mesh (width, height), cores per tile, neurons (and input somas) per core.
LOIHI_MESH = (8, 4)
LOIHI_CORES_PER_TILE = 4
LOIHI_NEURONS_PER_CORE = 1024
LOIHI_INPUT_SOMA = "loihi_inputs"
#: Input soma units of a generated architecture's input core.
INPUT_SOMA = "mapopt_input"
#: Weights and thresholds are multiplied by this in ``functional`` mode. SANA-FE's Loihi soma
#: truncates potentials to multiples of 1/64 every step; scaled by 2^16, that grid is 2^-22 of the
#: net's own unit, so rounding practically never moves a threshold crossing. The dynamics are
#: linear in the potential, so the scale changes nothing else.
WEIGHT_SCALE = 2.0**16
#: SANA-FE fires when V > threshold, mapopt when V >= threshold: SANA-FE's threshold is lowered by
#: half of its potential grid (1/64), which makes the two rules agree for potentials on that grid.
THRESHOLD_OFFSET = 2.0**-7
#: Forced potential (replay) and threshold: a forced neuron fires, an unforced one (potential 0) does not.
REPLAY_POTENTIAL = 1.0
REPLAY_THRESHOLD = 0.5
#: Loihi 1 latencies used by generated architectures (SANA-FE arch/loihi.yaml; assumed for other chips).
LOIHI_LATENCY = {
    "hop_ew": 4.1e-9,
    "hop_ns": 6.5e-9,
    "message_in": 16.0e-9,
    "message_out": 5.1e-9,
    "access_neuron": 6.0e-9,
    "update_neuron": 3.7e-9,
    "spike_out": 30.0e-9,
    "process_spike": 3.8e-9,
    "sync": {1: 0.6e-6, 2: 1.0e-6, 4: 1.4e-6, 29: 1.8e-6},
}
MANIFEST = "mapopt-sanafe.json"
INDEX = "mapopt-sanafe-index.json"
ARCH_FILE = "arch.yaml"
SNN_FILE = "snn.yaml"


def require_sanafe() -> ModuleType:
    """The ``sanafe`` module, or an :class:`InputError` (exit 2) saying how to install it."""
    try:
        import sanafe
    except ImportError:
        raise InputError(f"SANA-FE is not installed; install mapopt's sim extra: {SANAFE_INSTALL}") from None
    return sanafe


def sanafe_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sanafe")
    except PackageNotFoundError:
        return "unknown"


# ---------------------------------------------------------------------- the plan (no SANA-FE needed)
@dataclass(frozen=True)
class Group:
    """One SANA-FE neuron group: the neurons of N' on one core (a crossbar's units, or inputs)."""

    name: str
    tile: int
    core: int
    neurons: np.ndarray
    crossbar: int | None = None  # mapopt's crossbar id; None for an input group

    @property
    def is_input(self) -> bool:
        return self.crossbar is None


@dataclass(frozen=True, eq=False)
class ExportPlan:
    """Where every neuron of N' goes in SANA-FE: groups, cores, input somas, the architecture."""

    architecture: str  # "sanafe-loihi" or "generated"
    mesh: tuple[int, int]  # SANA-FE's (width, height)
    groups: list[Group]
    group_of: np.ndarray  # per N' neuron: index into groups
    offset_of: np.ndarray  # per N' neuron: position in its group
    input_soma: str  # name of the input soma units; input i of a core uses unit [offset]
    arch_yaml: str = ""  # the generated description ("" for SANA-FE's own Loihi)


def uses_sanafe_loihi(hw: Hardware) -> bool:
    return hw.name == LOIHI_PRESET


def check_hardware(hw: Hardware) -> None:
    """Reject hardware that SANA-FE cannot represent, before any long work.

    The ``loihi`` preset runs on SANA-FE's own Loihi description, so its overrides must stay
    inside that chip: at most 4 crossbars per tile, 1024 columns per crossbar and an 8x4 mesh.
    """
    if not uses_sanafe_loihi(hw):
        return
    w, h = LOIHI_MESH
    if hw.crossbars_per_tile > LOIHI_CORES_PER_TILE:
        raise InputError(
            f"SANA-FE's Loihi has {LOIHI_CORES_PER_TILE} cores per tile, the hardware asks for "
            f"{hw.crossbars_per_tile} crossbars per tile",
            source="--crossbars-per-tile",
            constraint="tile-capacity",
        )
    if hw.columns > LOIHI_NEURONS_PER_CORE:
        raise InputError(
            f"SANA-FE's Loihi holds {LOIHI_NEURONS_PER_CORE} neurons per core, the crossbars have {hw.columns} columns",
            source="--crossbar",
            constraint="columns",
        )
    if hw.mesh is None or hw.mesh[0] > w or hw.mesh[1] > h:
        mesh = "auto" if hw.mesh is None else f"{hw.mesh[0]}x{hw.mesh[1]}"
        raise InputError(
            f"SANA-FE's Loihi is a {w}x{h} mesh of tiles, the hardware asks for {mesh}",
            source="--mesh",
            constraint="tile-capacity",
        )


def plan_export(dec: Decomposition, hw: Hardware, mapping: Mapping) -> ExportPlan:
    """Decide the SANA-FE group, core and input soma of every neuron of N' (pure numpy).

    Raises :class:`InputError` when the mapping does not fit the SANA-FE architecture (the
    I/O tile of SANA-FE's Loihi has no room left for the inputs, or the mesh is too large).
    """
    check_hardware(hw)
    mapping = mapping.compacted()
    net = dec.network
    w, h = mapping.mesh
    loihi = uses_sanafe_loihi(hw)
    if loihi and (w > LOIHI_MESH[0] or h > LOIHI_MESH[1]):
        raise InputError(
            f"the mapping uses a {w}x{h} mesh; SANA-FE's Loihi has {LOIHI_MESH[0]}x{LOIHI_MESH[1]}",
            constraint="tile-capacity",
        )
    sw, sh = LOIHI_MESH if loihi else (w, h)

    def sanafe_tile(t: np.ndarray | int) -> np.ndarray:
        t = np.asarray(t)
        return (t % w) * sh + t // w

    n_cb = mapping.n_crossbar_ids
    cb_tile = sanafe_tile(mapping.crossbar_tile)
    # the crossbars of a tile take its cores in crossbar id order
    order = np.lexsort((np.arange(n_cb), cb_tile))
    first = np.searchsorted(cb_tile[order], cb_tile[order], side="left")
    cb_core = np.empty(n_cb, dtype=np.int64)
    cb_core[order] = np.arange(n_cb) - first
    groups: list[Group] = []
    group_of = np.full(net.n_neurons, -1, dtype=np.int64)
    offset_of = np.full(net.n_neurons, -1, dtype=np.int64)
    compute = np.flatnonzero(dec.compute)
    by_cb = compute[np.argsort(mapping.unit_crossbar[compute], kind="stable")]
    bounds = np.searchsorted(mapping.unit_crossbar[by_cb], np.arange(n_cb + 1))
    for c in range(n_cb):
        units = by_cb[bounds[c] : bounds[c + 1]]
        group_of[units] = len(groups)
        offset_of[units] = np.arange(len(units))
        groups.append(Group(f"cb{c}", int(cb_tile[c]), int(cb_core[c]), units, crossbar=c))
    io_x, io_y = hw.io_tile
    io_tile = io_x * sh + io_y
    inputs = np.flatnonzero(net.is_input)
    if loihi:
        used = np.zeros(LOIHI_CORES_PER_TILE, dtype=np.int64)
        for g in groups:
            if g.tile == io_tile:
                used[g.core] = len(g.neurons)
        free = LOIHI_NEURONS_PER_CORE - used
        if inputs.size > free.sum():
            raise InputError(
                f"SANA-FE's Loihi holds {LOIHI_NEURONS_PER_CORE} neurons per core: the I/O tile's cores have "
                f"{int(free.sum())} free for the net's {inputs.size} inputs (put fewer units on the I/O tile, "
                "e.g. with smaller --crossbar columns)",
                constraint="tile-capacity",
            )
        start = 0
        for core in sorted(range(LOIHI_CORES_PER_TILE), key=lambda k: (-free[k], k)):
            take = inputs[start : start + int(free[core])]
            if take.size:
                group_of[take] = len(groups)
                offset_of[take] = np.arange(take.size)
                groups.append(Group(f"in{core}", io_tile, core, take))
            start += take.size
        return ExportPlan("sanafe-loihi", (sw, sh), groups, group_of, offset_of, LOIHI_INPUT_SOMA)
    if inputs.size:
        group_of[inputs] = len(groups)
        offset_of[inputs] = np.arange(inputs.size)
        groups.append(Group("in", io_tile, hw.crossbars_per_tile, inputs))
    yaml_text = generated_architecture(hw, (sw, sh), io_tile, inputs.size)
    return ExportPlan("generated", (sw, sh), groups, group_of, offset_of, INPUT_SOMA, arch_yaml=yaml_text)


def generated_architecture(hw: Hardware, mesh: tuple[int, int], io_tile: int, n_inputs: int) -> str:
    """A SANA-FE architecture description (YAML) with ``hw``'s geometry and energies.

    Each of the W x H tiles has K cores of C neurons; the I/O tile has one more core, with
    one input soma unit per input neuron. Energies: synapse event ``e_syn``, message out
    ``e_msg``, hop ``e_hop`` (all four directions), nothing else (mapopt models no soma or
    dendrite energy, and SANA-FE no static energy). Latencies are Loihi 1's (assumed).
    """
    import yaml  # PyYAML: a dependency of the sim extra (and of optuna)

    lat = LOIHI_LATENCY
    w, h = mesh

    def unit(name: str, **attributes: Any) -> dict[str, Any]:
        return {"name": name, "attributes": attributes}

    def core(name: str, neurons: int, soma: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": name,
            "attributes": {"buffer_position": "soma", "buffer_inside_unit": False, "max_neurons_supported": neurons},
            "axon_in": [unit("axon_in", energy_message_in=0.0, latency_message_in=lat["message_in"])],
            "synapse": [
                unit("synapse", model="current_based", energy_process_spike=hw.e_syn,
                     latency_process_spike=lat["process_spike"])
            ],
            "dendrite": [unit("dendrite", model="accumulator", energy_update=0.0, latency_update=0.0)],
            "soma": [soma],
            "axon_out": [unit("axon_out", energy_message_out=hw.e_msg, latency_message_out=lat["message_out"])],
        }  # fmt: skip

    lif = unit(
        "lif", model="leaky_integrate_fire", energy_access_neuron=0.0, latency_access_neuron=lat["access_neuron"],
        energy_update_neuron=0.0, latency_update_neuron=lat["update_neuron"], energy_spike_out=0.0,
        latency_spike_out=lat["spike_out"],
    )  # fmt: skip
    inp = unit(
        f"{INPUT_SOMA}[0..{max(n_inputs, 1) - 1}]", model="input", energy_access_neuron=0.0, latency_access_neuron=0.0,
        energy_update_neuron=0.0, latency_update_neuron=0.0, energy_spike_out=0.0, latency_spike_out=0.0,
    )  # fmt: skip
    hops = {
        f"{kind}_{d}_hop": value
        for d in ("north", "east", "south", "west")
        for kind, value in (
            ("energy", hw.e_hop),
            ("latency", lat["hop_ew"] if d in ("east", "west") else lat["hop_ns"]),
        )
    }
    k = hw.crossbars_per_tile
    cores = [core(f"core[0..{k - 1}]" if k > 1 else "core", hw.columns, lif)]
    io_cores = [*cores, core("input_core", max(n_inputs, 1), inp)]

    def tiles(lo: int, hi: int, with_io: bool) -> list[dict[str, Any]]:
        if hi <= lo:
            return []
        name = f"tile[{lo}..{hi - 1}]" if hi - lo > 1 else f"tile[{lo}]"
        return [{"name": name, "attributes": hops, "core": io_cores if with_io else cores}]

    description = {
        "architecture": {
            "name": f"mapopt_{hw.name}",
            "attributes": {
                "topology": "mesh",
                "width": w,
                "height": h,
                "link_buffer_size": 16,
                "sync_model": "table",
                "latency_sync": lat["sync"],
            },
            "tile": tiles(0, io_tile, False) + tiles(io_tile, io_tile + 1, True) + tiles(io_tile + 1, w * h, False),
        }
    }
    header = (
        f"# Generated by mapopt from hardware preset {hw.name!r}: {w}x{h} tiles, {k} cores of {hw.columns} neurons,\n"
        f"# an input core on tile {io_tile}. Energies from the preset; latencies Loihi 1's (assumed).\n"
    )

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:  # SANA-FE's YAML reader does not follow anchors
            return True

    return header + yaml.dump(description, Dumper=Dumper, sort_keys=False)


# ---------------------------------------------------------------------- building and running
@contextlib.contextmanager
def captured_stdout() -> Iterator[io.StringIO]:
    """Keep SANA-FE's chatter off mapopt's stdout.

    SANA-FE prints progress through Python (``pybind11::print``) and, in some builds, with
    C ``printf`` on file descriptor 1. Both are captured (Python's ``sys.stdout`` and fd 1
    redirected to a temporary file) and handed back as text, so that a failure can show it.
    The restore cannot be skipped by a Ctrl-C: a signal that arrives while stdout is being
    put back (typically right after a long native call returns) is re-raised once it is.
    """
    text = io.StringIO()
    sys.stdout.flush()
    _flush_c_stdout()
    python_stdout = sys.stdout
    saved = os.dup(1)
    with tempfile.TemporaryFile() as tmp:
        try:
            os.dup2(tmp.fileno(), 1)
            sys.stdout = text
            yield text
        finally:
            pending: BaseException | None = None
            while True:
                try:
                    sys.stdout = python_stdout
                    _flush_c_stdout()
                    os.dup2(saved, 1)
                    break
                except KeyboardInterrupt as err:  # stdout must never stay redirected
                    pending = err
            os.close(saved)
            tmp.seek(0)
            text.write(tmp.read().decode(errors="replace"))
            if pending is not None:
                raise pending


def _flush_c_stdout() -> None:
    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(None).fflush(None)


class SanafeError(RuntimeError):
    """SANA-FE refused a network or failed while simulating it (message includes its output)."""


@dataclass(eq=False)
class SanafeModel:
    """A mapped network ready for SANA-FE: its architecture, network and the plan behind them."""

    sanafe: ModuleType
    plan: ExportPlan
    arch: Any
    net: Any
    activity: str
    decomposition: Decomposition
    steps: int


@dataclass
class SanafeRun:
    """What SANA-FE reported for one run (totals over the run's timesteps)."""

    timesteps: int
    energy: dict[str, float]  # total, synapse, dendrite, soma, network (J)
    sim_time_s: float
    synaptic_events: int  # SANA-FE's "spikes": spikes processed by synapse units
    packets: int
    hops: int
    neurons_fired: int
    spike_counts: np.ndarray | None  # per N' neuron (functional mode), else None

    def row(self) -> dict[str, Any]:
        return {
            "sanafe_energy_total_j": self.energy["total"],
            "sanafe_energy_synapse_j": self.energy["synapse"],
            "sanafe_energy_dendrite_j": self.energy["dendrite"],
            "sanafe_energy_soma_j": self.energy["soma"],
            "sanafe_energy_network_j": self.energy["network"],
            "sanafe_latency_s": self.sim_time_s,
            "sanafe_synaptic_events": self.synaptic_events,
            "sanafe_packets": self.packets,
            "sanafe_hops": self.hops,
            "sanafe_neurons_fired": self.neurons_fired,
        }


def load_architecture(plan: ExportPlan) -> Any:
    """The SANA-FE Architecture of the plan (SANA-FE's Loihi, or the generated description)."""
    sanafe = require_sanafe()
    with captured_stdout() as chatter:
        try:
            if plan.architecture == "sanafe-loihi":
                return sanafe.load_loihi()
            with tempfile.TemporaryDirectory(prefix="mapopt-sanafe-") as tmp:
                path = Path(tmp) / ARCH_FILE
                path.write_text(plan.arch_yaml)
                return sanafe.load_arch(str(path))
        except Exception as err:
            raise SanafeError(f"SANA-FE rejected the architecture: {err} {chatter.getvalue().strip()}") from err


def architecture_text(plan: ExportPlan) -> str:
    """The architecture description to write next to the network."""
    if plan.architecture == "sanafe-loihi":
        return resources.files("sanafe.examples").joinpath("loihi.yaml").read_text()
    return plan.arch_yaml


def build_model(
    dec: Decomposition,
    hw: Hardware,
    mapping: Mapping,
    inputs: np.ndarray,
    *,
    activity: str = "functional",
    plan: ExportPlan | None = None,
) -> SanafeModel:
    """Build SANA-FE's architecture and network for a mapping (see the module docstring).

    ``inputs`` is the ``bool[T, n_inputs]`` input trains (input neurons in id order).
    """
    if activity not in ACTIVITIES:
        raise InputError(f"activity must be one of {', '.join(ACTIVITIES)}, got {activity!r}", source="--activity")
    sanafe = require_sanafe()
    plan = plan or plan_export(dec, hw, mapping)
    net = dec.network
    inputs = np.asarray(inputs, dtype=bool)
    if inputs.ndim != 2 or inputs.shape[1] != net.n_inputs:
        raise InputError(f"input trains must have shape (T, {net.n_inputs}), got {inputs.shape}", source="--inputs")
    arch = load_architecture(plan)
    snn = sanafe.Network()
    functional = activity == "functional"
    relay = dec.compute & (dec.level > 0)
    if functional:
        threshold = np.where(relay, 0.0, net.threshold * WEIGHT_SCALE - THRESHOLD_OFFSET)
        leak_decay = np.where(relay, 0.0, 1.0 - net.leak)
        bias = np.where(relay, 0.0, net.bias * WEIGHT_SCALE)  # a root's constant input; relays pass spikes
        reset = np.where(relay, 0.0, net.reset * WEIGHT_SCALE)
    else:
        threshold = np.full(net.n_neurons, REPLAY_THRESHOLD)
        leak_decay = np.ones(net.n_neurons)
        bias = reset = np.zeros(net.n_neurons)
    input_column = np.cumsum(net.is_input) - 1  # column of each input neuron in ``inputs``
    tiles = arch.tiles
    handles = []
    for g in plan.groups:
        ids = g.neurons
        params = (threshold, leak_decay, bias, reset)
        uniform = g.is_input or all(np.all(p[ids] == p[ids[0]]) for p in params)
        attrs = {} if g.is_input or not uniform else _lif(*(p[ids[0]] for p in params))
        group = snn.create_neuron_group(g.name, len(ids), model_attributes=attrs, log_spikes=functional)
        for i, neuron in enumerate(ids.tolist()):
            if g.is_input:
                group[i].set_attributes(
                    soma_hw_name=f"{plan.input_soma}[{i}]",
                    model_attributes={"spikes": inputs[:, input_column[neuron]].tolist()},
                )
            elif not uniform:
                group[i].set_attributes(model_attributes=_lif(*(p[neuron] for p in params)))
        group.map_to_core(tiles[g.tile].cores[g.core])
        handles.append(group)
    weight = _edge_weights(dec, functional)
    src_g, dst_g = plan.group_of[net.pre], plan.group_of[net.post]
    key = src_g * len(plan.groups) + dst_g
    order = np.argsort(key, kind="stable")
    cuts = np.flatnonzero(np.diff(key[order])) + 1
    for chunk in np.split(order, cuts):
        if not chunk.size:
            continue
        pairs = list(
            zip(plan.offset_of[net.pre[chunk]].tolist(), plan.offset_of[net.post[chunk]].tolist(), strict=True)
        )
        handles[src_g[chunk[0]]].connect_neurons_sparse(
            handles[dst_g[chunk[0]]], {"weight": weight[chunk].tolist()}, pairs
        )
    return SanafeModel(sanafe, plan, arch, snn, activity, dec, int(inputs.shape[0]))


def _lif(threshold: float, leak_decay: float, bias: float, reset: float) -> dict[str, float]:
    return {"threshold": float(threshold), "leak_decay": float(leak_decay), "bias": float(bias), "reset": float(reset)}


def _edge_weights(dec: Decomposition, functional: bool) -> np.ndarray:
    """SANA-FE edge weights: 0 in replay; scaled weights, |w| into relays and 1 for partial sums in functional."""
    net = dec.network
    if not functional:
        return np.zeros(net.n_synapses)
    into_relay = dec.level[net.post] > 0
    weight = np.where(dec.edge_origin < 0, 1.0, net.weight)
    return np.where(into_relay, np.abs(weight), weight) * WEIGHT_SCALE


def run_model(model: SanafeModel, trains: np.ndarray | None = None) -> SanafeRun:
    """Simulate the model for as many steps as the input trains have.

    In ``replay`` mode ``trains`` (``bool[T, n']``, mapopt's simulator's trains of N') says when
    every compute neuron fires; SANA-FE is then stepped one timestep at a time, with the neurons
    due to fire in that step forced above threshold first.
    """
    sanafe, plan, dec = model.sanafe, model.plan, model.decomposition
    n_prime = dec.network.n_neurons
    steps = model.steps
    totals = {"total": 0.0, "synapse": 0.0, "dendrite": 0.0, "soma": 0.0, "network": 0.0}
    counters = {"sim_time": 0.0, "spikes": 0, "packets_sent": 0, "hops": 0, "neurons_fired": 0}
    counts = np.zeros(n_prime) if model.activity == "functional" else None
    with captured_stdout() as chatter:
        try:
            chip = sanafe.SpikingChip(model.arch)
            chip.load(model.net)

            def add(result: dict[str, Any]) -> None:
                for k in totals:
                    totals[k] += float(result["energy"][k])
                for k in ("spikes", "packets_sent", "neurons_fired"):
                    counters[k] += int(result[k])
                counters["sim_time"] += float(result["sim_time"])
                counters["hops"] += int(sum(result["perf_trace"]["hops"]))

            if model.activity == "functional":
                result = chip.sim(steps, spike_trace=True, perf_trace=True, processing_threads=1)
                add(result)
                counts = _spike_counts(plan, result["spike_trace"], n_prime)
            else:
                if trains is None or trains.shape != (steps, n_prime):
                    raise ValueError(f"replay needs trains of shape ({steps}, {n_prime})")
                mapped = chip.mapped_neuron_groups
                handle = [mapped[plan.groups[plan.group_of[u]].name][plan.offset_of[u]] for u in range(n_prime)]
                compute = dec.compute
                for t in range(steps):
                    for u in np.flatnonzero(trains[t] & compute).tolist():
                        handle[u].set_attributes(model_attributes={"potential": REPLAY_POTENTIAL})
                    add(chip.sim(1, perf_trace=True, processing_threads=1))
        except Exception as err:
            raise SanafeError(f"SANA-FE failed: {err} {chatter.getvalue().strip()[-500:]}".strip()) from err
    return SanafeRun(
        timesteps=steps,
        energy=totals,
        sim_time_s=counters["sim_time"],
        synaptic_events=counters["spikes"],
        packets=counters["packets_sent"],
        hops=counters["hops"],
        neurons_fired=counters["neurons_fired"],
        spike_counts=counts,
    )


def _spike_counts(plan: ExportPlan, trace: list[list[Any]], n_prime: int) -> np.ndarray:
    """Spikes per N' neuron from SANA-FE's spike trace (a list per step of NeuronAddress)."""
    ids = {g.name: g.neurons for g in plan.groups}
    fired = [ids[a.group_name][a.neuron_offset] for step in trace for a in step]
    return np.bincount(np.asarray(fired, dtype=np.int64), minlength=n_prime).astype(np.float64)


# ---------------------------------------------------------------------- writing exports
def write_export(
    folder: Path,
    dec: Decomposition,
    hw: Hardware,
    mapping: Mapping,
    inputs: np.ndarray,
    *,
    predicted: dict[str, Any],
    label: str,
) -> list[Path]:
    """Write one mapping's SANA-FE files into ``folder`` (which exists and is empty).

    ``arch.yaml`` (the architecture), ``snn.yaml`` (network, input trains and the mapping, by
    SANA-FE's own ``Network.save``) and ``mapopt-sanafe.json`` (what is where, and what mapopt
    predicts for this activity).
    """
    plan = plan_export(dec, hw, mapping)
    model = build_model(dec, hw, mapping, inputs, activity="functional", plan=plan)
    folder = Path(folder)
    (folder / ARCH_FILE).write_text(architecture_text(plan))
    with captured_stdout():
        model.net.save(str(folder / SNN_FILE))
    manifest = {
        "format": "mapopt-sanafe-export",
        "version": 1,
        "label": label,
        "sanafe_version": sanafe_version(),
        "network": dec.original.name,
        "decomposition": dec.label,
        "hardware": hw.to_dict(),
        "mapping_mesh": list(mapping.mesh),
        "architecture": (
            "SANA-FE's own Loihi (sanafe.load_loihi(), examples/loihi.yaml)"
            if plan.architecture == "sanafe-loihi"
            else f"generated from preset {hw.name!r} (energies from the preset, Loihi 1 latencies assumed)"
        ),
        "sanafe_mesh": list(plan.mesh),
        "timesteps": int(inputs.shape[0]),
        "activity": "functional: inputs replay their trains; neurons are LIF; decomposition units are relay neurons",
        "weight_scale": WEIGHT_SCALE,
        "threshold": f"threshold * weight_scale - {THRESHOLD_OFFSET} (SANA-FE fires on V > threshold)",
        "groups": [
            {
                "name": g.name,
                "tile": g.tile,
                "core": g.core,
                "crossbar": g.crossbar,
                "neurons": g.neurons.tolist(),
            }
            for g in plan.groups
        ],
        "predicted": predicted,
        "run": (
            "arch = sanafe.load_arch('arch.yaml'); net = sanafe.load_net('snn.yaml', arch); "
            f"chip = sanafe.SpikingChip(arch); chip.load(net); chip.sim({int(inputs.shape[0])})"
        ),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, default=_json_default) + "\n")
    return [folder / ARCH_FILE, folder / SNN_FILE, folder / MANIFEST]


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def with_activity(
    dec: Decomposition, hw: Hardware, mapping: Mapping, inputs: np.ndarray
) -> tuple[Decomposition, np.ndarray, dict[str, Any]]:
    """N' with the spike counts of mapopt's simulator on ``inputs``, its trains, and mapopt's metrics.

    N' is simulated in exact mode, so a unit's count is the steps in which it sends a nonzero
    partial (``simulated`` traffic): the activity SANA-FE replays. The metrics add three counts
    the calibration uses: ``unit_steps`` (units x T), ``compute_spikes`` and ``total_spikes``.
    An invalid mapping is an :class:`InputError`.
    """
    sim = simulate_decomposition(dec, inputs, mode="exact")
    source = f"{sim.source}; non-root units: simulated (steps with a nonzero partial sum)"
    active = with_unit_spikes(dec, sim.counts, traffic="simulated", source=source, timesteps=sim.timesteps)
    verdict = assess(active, hw, mapping)
    if not verdict.valid:
        raise InputError("invalid mapping: " + "; ".join(map(str, verdict.violations[:3])))
    metrics = dict(verdict.metrics or {})
    metrics["unit_steps"] = float(active.n_units * sim.timesteps)
    metrics["compute_spikes"] = float(active.network.spikes[active.compute].sum())
    metrics["total_spikes"] = float(active.network.spikes.sum())
    return active, sim.trains, metrics


def check_exports(items: list[tuple[str, Decomposition, Hardware, Mapping]]) -> None:
    """Plan every export of ``items`` (label, N', hardware, mapping): refuse what SANA-FE cannot hold
    (an :class:`InputError` naming the mapping) before anything is written."""
    require_sanafe()
    for label, dec, hw, mapping in items:
        try:
            plan_export(dec, hw, mapping)
        except InputError as err:
            raise err.with_source(label) from None


def write_exports(
    folder: Path,
    items: list[tuple[str, Decomposition, Hardware, Mapping]],
    *,
    steps: int | None,
    input_rate: float,
    seed: int,
    nested: bool,
) -> list[str]:
    """Write SANA-FE exports of ``items`` (label, N', hardware, mapping) into ``folder``; the names written.

    ``folder`` is an empty staging folder (:meth:`mapopt.io.outdir.OutputDir.staging` renames it
    into place once complete). One item and ``nested=False``: its files go straight into it;
    otherwise each item gets a sub-folder named after its label, and the folder an index.
    Inputs are rate-coded trains of ``steps`` steps (default: the net's window) with spike
    probability ``input_rate``, seeded by ``seed`` (the same for every item).
    """
    check_exports(items)
    folder = Path(folder)
    names: list[str] = []
    index = []
    for label, dec, hw, mapping in items:
        window = steps or dec.original.timesteps
        inputs = make_inputs(dec.network, timesteps=window, input_rate=input_rate, seed=seed)
        _, _, metrics = with_activity(dec, hw, mapping, inputs)
        sub = folder / _slug(label) if nested else folder
        sub.mkdir(exist_ok=True)
        files = write_export(sub, dec, hw, mapping, inputs, predicted=metrics, label=label)
        names += [str(f.relative_to(folder)) for f in files]
        index.append({"label": label, "folder": sub.name if nested else "."})
    if nested:
        (folder / INDEX).write_text(json.dumps({"format": "mapopt-sanafe-index", "exports": index}, indent=1) + "\n")
        names.append(INDEX)
    return names


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-") or "mapping"
