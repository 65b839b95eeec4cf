"""Reliability of the CLI: bad inputs, kills at random moments, signals (docs/reliability.md).

Usage::

    .venv/bin/python benchmarks/reliability.py suite              # every bad-input case (888)
    .venv/bin/python benchmarks/reliability.py suite --fast       # the representative subset pytest runs
    .venv/bin/python benchmarks/reliability.py suite --only file  # one category (substring of the case id)
    .venv/bin/python benchmarks/reliability.py kill --trials 100  # kill `run --out` at random moments
    .venv/bin/python benchmarks/reliability.py signals            # SIGINT/SIGTERM/SIGKILL on the exact solvers
    .venv/bin/python benchmarks/reliability.py limits --time-limit 30   # how far past their limit they return

**suite**: each case is a command line (and the files it needs, made in a fresh folder)
that must be refused: exit code 2, exactly one line on stderr starting with
``mapopt: error:`` (and naming the item, when the case says what to look for), no
traceback, and no file left behind (the folder holds exactly what it held before). A few
cases are readable mapping files that break a constraint: exit 1, one line per violation
on stdout. The cases are data: :data:`COMMANDS` says which options each command takes and
a valid base command line; :data:`OPTION_VALUES`, :data:`NET_VALUES`, :func:`file_cases`
(mutations of valid mapopt, SpiNeMap and NIR files) and :func:`out_cases` are crossed with
it. A new command is one entry in :data:`COMMANDS`.

**kill**: ``mapopt run --out DIR`` is started, killed after a uniformly random delay within
the length of a full run (SIGKILL, SIGINT or SIGTERM in turn), and DIR must then be
absent or complete (its report.json parses and every mapping file it names is a readable
mapping), no process of the run may be left, and a second run into DIR must succeed and
leave no temporary sibling behind.

**signals**: each exact solver is sent each signal in the middle of a solve: exit code
(130, 143, or killed), seconds from the signal to the exit, processes and CBC temporary
folders left.

**limits**: each exact solver on instances that do not finish within the limit (the issue's
``synfire:8-12`` and ``er:n=100,m=400``): the solver's ``wall_s`` and the whole command's
seconds, against the limit.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAPOPT = str(Path(sys.executable).parent / "mapopt")
#: What each command takes (options shared by several) and a valid, quick command line for it.
COMMANDS: dict[str, dict[str, object]] = {
    "run": {
        "base": ["run", "--net", "mlp:8-4-2", "--hw", "toy", "--mesh", "auto", "--decompose", "chain:2"],
        "options": ["--seed", "--time-limit", "--mesh", "--crossbar", "--fanin", "--crossbars-per-tile", "--hw",
                    "--objective", "--traffic", "--decompose", "--solver", "--net"],
        "out": "dir",
    },
    "solve": {
        "base": ["solve", "--net", "planted-toy-2", "--hw", "toy", "--time-limit", "5"],
        "options": ["--seed", "--time-limit", "--threads", "--mesh", "--crossbar", "--fanin", "--crossbars-per-tile",
                    "--hw", "--objective", "--traffic", "--decompose", "--solver", "--net"],
        "out": "dir",
    },
    "decompose": {
        "base": ["decompose", "--net", "mlp:8-4-2", "--hw", "toy", "--decompose", "chain:2"],
        "options": ["--seed", "--crossbar", "--fanin", "--hw", "--decompose", "--net"],
        "out": "file",
    },
    "simulate": {
        "base": ["simulate", "--net", "mlp:8-4-2"],
        "options": ["--seed", "--timesteps", "--input-rate", "--mode", "--crossbar", "--fanin", "--hw", "--net"],
        "out": "file",
    },
    "check-equivalence": {
        "base": ["check-equivalence", "--net", "mlp:8-4-2", "--hw", "toy", "--decompose", "chain:2"],
        "options": ["--seed", "--timesteps", "--input-rate", "--mode", "--crossbar", "--fanin", "--hw", "--decompose",
                    "--net"],
    },
    "sanafe-check": {
        "base": ["sanafe-check", "--net", "mlp:8-4-2", "--hw", "toy", "--mesh", "auto", "--solvers", "paper",
                 "--steps", "10"],
        "options": ["--seed", "--time-limit", "--mesh", "--crossbar", "--fanin", "--crossbars-per-tile", "--hw",
                    "--objective", "--steps", "--input-rate", "--decompose", "--net"],
    },
    "export": {
        "base": ["export", "--sanafe", "sanafe-out", "{fixtures}/map.json", "--steps", "10"],
        "options": ["--seed", "--steps", "--input-rate"],
        "out": "dir",
        "out_option": "--sanafe",
    },
    "quality": {
        "base": ["quality", "--net", "digits-mlp", "--fanin", "16", "--decompose", "chain:2"],
        "options": ["--fanin", "--hw", "--decompose"],
        "values": {"--fanin": [("1", "--fanin"), ("0", "--fanin"), ("x", "--fanin"), ("5000000", "5000000")],
                   "--decompose": [("spiral", "spiral"), ("chain:2,color=red", "no option"), ("", "--decompose")]},
        "out": "dir",
    },
    "bakeoff": {
        "base": ["bakeoff", "--solvers", "greedy", "--instances", "planted-toy-2", "--hw", "toy", "--store",
                 "s.sqlite"],
        "options": ["--time-limit", "--mesh", "--crossbar", "--fanin", "--crossbars-per-tile", "--objective",
                    "--traffic", "--seeds", "--jobs", "--memory-limit", "--grace", "--decompose"],
        "values": {"--fanin": [("0", "--fanin"), ("x", "--fanin")],
                   "--decompose": [("spiral", "spiral"), ("chain:1", "k=1")]},
        "out": "dir",
    },
    "tune": {
        "base": ["tune", "--solver", "anneal", "--instances", "planted-toy-2", "--storage", "sqlite:///t.db",
                 "--trials", "1", "--hw", "toy"],
        "options": ["--seed", "--time-limit", "--mesh", "--crossbar", "--fanin", "--crossbars-per-tile", "--hw",
                    "--objective", "--traffic", "--seeds", "--jobs", "--memory-limit"],
        "values": {"--fanin": [("0", "--fanin"), ("x", "--fanin")]},
        "out": "dir",
    },
    "reproduce": {"base": ["reproduce", "--app", "mlp:8-4-2"], "options": ["--seed"], "out": "dir"},
    "report": {"base": ["report", "{fixtures}/store.sqlite", "--out", "rep"], "options": [], "out": "dir"},
    "plot": {"base": ["plot", "{fixtures}/map.json", "--out", "plot-out"], "options": [], "out": "dir"},
    "info": {"base": ["info", "mlp:8-4-2"], "options": ["--seed"], "positional_net": True},
    "validate": {"base": ["validate", "{fixtures}/map.json"], "options": []},
    "list": {"base": ["list", "nets"], "options": []},
}  # fmt: skip
#: Bad values of each option: (value, text the error line must contain).
OPTION_VALUES: dict[str, list[tuple[str, str]]] = {
    "--seed": [("-1", "--seed"), ("2147483647", "--seed"), ("1e3", "--seed"), ("abc", "--seed"), ("", "--seed")],
    "--time-limit": [("-1", "--time-limit"), ("0", "--time-limit"), ("nan", "--time-limit"), ("inf", "--time-limit"),
                     ("1e9", "--time-limit"), ("soon", "--time-limit")],
    "--threads": [("0", "--threads"), ("1000", "--threads"), ("x", "--threads")],
    "--mesh": [("0x3", "--mesh"), ("99999x99999", "--mesh"), ("3", "--mesh"), ("axb", "--mesh"), ("-1x2", "--mesh"),
               ("4096x4096", "--mesh")],
    "--crossbar": [("0x8", "--crossbar"), ("8x0", "--crossbar"), ("2000000x2", "--crossbar"), ("x", "--crossbar"),
                   ("4", "--crossbar")],
    "--fanin": [("0", "--fanin"), ("-3", "--fanin"), ("5000000", "--fanin"), ("x", "--fanin"), ("500", "fan-in")],
    "--crossbars-per-tile": [("0", "--crossbars-per-tile"), ("100000", "--crossbars-per-tile"),
                             ("x", "--crossbars-per-tile")],
    "--hw": [("nope", "unknown hardware preset"), ("", "unknown hardware preset")],
    "--objective": [("nope", "unknown objective")],
    "--traffic": [("guess", "--traffic")],
    "--decompose": [("spiral", "unknown decomposition strategy"), ("chain:1", "k=1"), ("chain:999", "k=999"),
                    ("tree:0", "k=0"), ("chain:2,order=nope", "order"), ("auto,depth=x", "depth"),
                    ("chain:2,color=red", "no option"), ("", "--decompose"), (":2", "--decompose")],
    "--solver": [("nope", "unknown solver")],
    "--timesteps": [("0", "--timesteps"), ("-1", "--timesteps"), ("10000000", "--timesteps"), ("x", "--timesteps")],
    "--steps": [("0", "--steps"), ("-1", "--steps"), ("100000000", "--steps"), ("x", "--steps")],
    "--input-rate": [("-0.1", "--input-rate"), ("1.5", "--input-rate"), ("x", "--input-rate")],
    "--mode": [("nope", "--mode")],
    "--seeds": [("0", "--seeds"), ("x", "--seeds"), ("100000", "--seeds")],
    "--jobs": [("0", "--jobs"), ("x", "--jobs"), ("100000", "--jobs")],
    "--memory-limit": [("0", "--memory-limit"), ("x", "--memory-limit")],
    "--grace": [("-1", "--grace"), ("nan", "--grace"), ("x", "--grace")],
}  # fmt: skip
#: Bad --net values (every command that takes a net): specs, names, sizes that cannot fit.
NET_VALUES: list[tuple[str, str]] = [
    ("no-such-net", "unknown net"), ("./missing.json", "no such file"), ("nosuch:1", "no generator"),
    ("mlp:", "mlp"), ("mlp:5-x", "mlp sizes"), ("mlp:0-3", "positive"), ("mlp:5", "at least two"),
    ("mlp:100000-100000-10", "needs about"), ("mlp:30000-30000-10", "needs about"),
    ("synfire:100000-100000", "synfire"), ("synfire:1-3", "synfire"), ("synfire:4-4,loop", "synfire"),
    ("er:n=100000000000,m=10", "needs about"), ("er:n=1,m=0", "er needs"), ("er:n=5,m=1000", "er"),
    ("er:q=3", "unknown option"),
    ("powerlaw:n=100000000", "needs about"), ("powerlaw:n=1", "powerlaw"), ("powerlaw:n=100,alpha=0.5", "powerlaw"),
    ("conv:", "conv"), ("conv:1x8x8,z3", "conv spec token"), ("conv:1x100000x100000,c64k3,f10", "conv"),
    ("conv:1x8x8,c4k9", "does not fit"), ("lsm:64-1000000-10", "needs about"), ("lsm:1-2", "lsm"),
    ("rnn:10-100000-10", "needs about"), ("edgedet:100000x100000", "needs about"), ("edgedet:8x8,k=4", "odd"),
    ("imgsmooth:8x8,k=0", "odd"), ("lenet5:weird", "lenet5"),
]  # fmt: skip
#: Generic usage errors of every command.
USAGE_VALUES: list[tuple[list[str], str]] = [(["--bogus"], "--bogus"), (["extra-arg", "another-arg"], "extra")]


@dataclass(frozen=True)
class Case:
    """One bad input: ``args`` run in a fresh folder (after ``setup`` made its files there)."""

    name: str
    args: tuple[str, ...]
    expect: int = 2
    needle: str = ""
    fast: bool = False
    setup: Callable[[Path, Path], None] | None = field(default=None, compare=False)


# ---------------------------------------------------------------------- fixtures
def make_fixtures(folder: Path) -> Path:
    """Valid files the cases mutate: network and mapping files (.json, .npz), SpiNeMap, NIR."""
    from mapopt.decompose import decompose
    from mapopt.hardware import customise, load_preset
    from mapopt.io import resolve_net, write_mapping, write_network, write_spinemap
    from mapopt.io.nir import write_nir
    from mapopt.problem import MappingProblem
    from mapopt.registry import make_solver
    from mapopt.solver import Budget

    folder.mkdir(parents=True, exist_ok=True)
    net = resolve_net("mlp:6-3-2", seed=0)
    hw = customise(load_preset("toy"), mesh="auto")
    dec = decompose(net, hw, "chain:2")
    mapping = make_solver("paper").solve(MappingProblem(dec, hw), Budget()).mapping
    for suffix in (".json", ".npz"):
        write_network(folder / f"net{suffix}", net)
        write_mapping(folder / f"map{suffix}", dec, hw, mapping, report={"solver": "paper"})
    write_spinemap(net, folder / "conn.txt", folder / "spikes.txt")
    write_nir(folder / "net.nir", net)
    subprocess.run([MAPOPT, "bakeoff", "--solvers", "greedy", "--instances", "planted-toy-2", "--hw", "toy",
                    "--store", str(folder / "store.sqlite"), "-q"], check=True, capture_output=True)  # fmt: skip
    return folder


def _json(fixtures: Path, name: str) -> dict:
    return json.loads((fixtures / name).read_text())


def _set(doc: dict, path: str, value: object) -> dict:
    """``doc`` with ``path`` (``a.b``; ``arrays.pre.0`` indexes lists; ``-`` deletes) set to ``value``."""
    keys = path.split(".")
    node: object = doc
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]  # type: ignore[index]
    last = keys[-1]
    if value is DELETE:
        del node[last]  # type: ignore[union-attr]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value  # type: ignore[index]
    return doc


DELETE = object()


def _json_mutation(source: str, target: str, path: str, value: object) -> Callable[[Path, Path], None]:
    def setup(case_dir: Path, fixtures: Path) -> None:
        doc = _set(_json(fixtures, source), path, value)
        (case_dir / target).write_text(json.dumps(doc))

    return setup


def _npz_mutation(source: str, target: str, key: str, value: object) -> Callable[[Path, Path], None]:
    """An .npz with array ``key`` replaced by ``value`` (``__meta__.FIELD`` edits the metadata)."""

    def setup(case_dir: Path, fixtures: Path) -> None:
        with np.load(fixtures / source, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        if key.startswith("__meta__."):
            meta = json.loads(str(arrays["__meta__"]))
            _set(meta, key.split(".", 1)[1], value)
            arrays["__meta__"] = np.array(json.dumps(meta))
        elif value is DELETE:
            del arrays[key]
        else:
            arrays[key] = np.asarray(value)
        with open(case_dir / target, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]

    return setup


def _bytes(target: str, data: bytes | Callable[[Path], bytes]) -> Callable[[Path, Path], None]:
    def setup(case_dir: Path, fixtures: Path) -> None:
        (case_dir / target).write_bytes(data(fixtures) if callable(data) else data)

    return setup


def _huge_npz(fixtures: Path) -> bytes:
    """An .npz whose 'pre' array declares 10^12 int64 entries (its header only: nothing to decompress)."""
    with np.load(fixtures / "net.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for key, arr in arrays.items():
            with zf.open(f"{key}.npy", "w") as f:
                if key == "pre":
                    header = {"descr": "<i8", "fortran_order": False, "shape": (10**12,)}
                    np.lib.format.write_array_header_1_0(f, header)
                    f.write(b"\0" * 64)
                else:
                    np.lib.format.write_array(f, arr)
    return buffer.getvalue()


def _object_npz(fixtures: Path) -> bytes:
    with np.load(fixtures / "net.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["weight"] = np.array([{"a": 1}] * len(arrays["weight"]), dtype=object)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def _nir_variant(kind: str) -> Callable[[Path, Path], None]:
    def setup(case_dir: Path, fixtures: Path) -> None:
        import h5py

        target = case_dir / "bad.nir"
        if kind == "no-node":
            with h5py.File(target, "w") as f:
                f.create_dataset("junk", data=np.arange(3))
            return
        shutil.copy(fixtures / "net.nir", target)
        with h5py.File(target, "r+") as f:
            nodes = f["node"]["nodes"]
            if kind == "unknown-type":
                name = next(iter(nodes))
                del nodes[name]["type"]
                nodes[name]["type"] = "Teleporter"
            elif kind == "huge-input":
                for name in nodes:
                    if nodes[name]["type"][()] in (b"Input", "Input"):
                        del nodes[name]["shape"]
                        nodes[name]["shape"] = np.array([10**13])
            elif kind == "string-weight":
                for name in nodes:
                    if "weight" in nodes[name]:
                        del nodes[name]["weight"]
                        nodes[name]["weight"] = "heavy"

    return setup


# ---------------------------------------------------------------------- the cases
def option_cases() -> list[Case]:
    """Every bad option value on every command that takes the option."""
    cases = []
    for command, spec in COMMANDS.items():
        base = list(spec["base"])  # type: ignore[arg-type]
        for option in spec["options"]:  # type: ignore[union-attr]
            if option == "--net":
                continue
            values = spec.get("values", {}).get(option, OPTION_VALUES[option])  # type: ignore[union-attr]
            for i, (value, needle) in enumerate(values):
                if option == "--fanin" and command in ("simulate",) and value == "500":
                    continue  # simulate only uses the hardware with --decompose
                args = _with_option(base, option, value)
                if command == "simulate" and option in ("--crossbar", "--fanin", "--hw"):
                    args += ["--decompose", "chain:2"]
                fast = i == 0 and command == "run" and option in ("--seed", "--mesh", "--decompose")
                name = f"option/{command}{option}={value or 'empty'}"
                cases.append(Case(name, tuple(args), needle=needle, fast=fast))
        for i, (extra, needle) in enumerate(USAGE_VALUES):
            cases.append(Case(f"usage/{command}/{'+'.join(extra)}", (*base, *extra), needle=needle, fast=i == 0 and
                              command == "list"))  # fmt: skip
    cases += [
        Case("usage/info-without-net", ("info",), needle="NET"),
        Case("usage/validate-without-file", ("validate",), needle="FILE"),
        Case("usage/list-without-what", ("list",), needle="what"),
        Case("usage/list-bogus", ("list", "bogus"), needle="bogus", fast=True),
        Case("usage/unknown-command", ("frobnicate",), needle="frobnicate"),
        Case("option/solve--joint-with-greedy",
             ("solve", "--net", "planted-toy-2", "--hw", "toy", "--joint", "--solver", "greedy"), needle="--joint"),
        Case("option/solve--decompose-with-solver",
             ("solve", "--net", "planted-toy-2", "--hw", "toy", "--decompose", "none@greedy"), needle="--solver"),
        Case("option/run--spikes-with-generator", ("run", "--net", "mlp:8-4-2", "--hw", "toy", "--spikes", "x.txt"),
             needle="--spikes"),
    ]
    return cases


def _with_option(base: list[str], option: str, value: str) -> list[str]:
    """``base`` with ``option`` set to ``value`` (replacing it when present)."""
    args = list(base)
    if option in args:
        args[args.index(option) + 1] = value
        return args
    return [*args, option, value]


def net_cases() -> list[Case]:
    """Every bad --net value on every command that reads a net."""
    cases = []
    for command, spec in COMMANDS.items():
        if "--net" not in spec["options"] and not spec.get("positional_net"):  # type: ignore[operator]
            continue
        base = list(spec["base"])  # type: ignore[arg-type]
        for i, (value, needle) in enumerate(NET_VALUES):
            args = [command, value] if spec.get("positional_net") else _with_option(base, "--net", value)
            fast = command == "info" and i % 8 == 0
            cases.append(Case(f"net/{command}/{value}", tuple(args), needle=needle, fast=fast))
    return cases


#: Mutations of a valid network file: (field path, value, text the error must contain).
NETWORK_MUTATIONS: list[tuple[str, object, str]] = [
    ("format", "mapopt-banana", "expected a 'mapopt-network'"), ("version", 3, "version"), ("version", "1", "version"),
    ("version", True, "version"), ("name", 5, "'name'"), ("neurons", "many", "'neurons'"), ("neurons", -1, "neurons"),
    ("neurons", 1.5, "'neurons'"), ("neurons", True, "'neurons'"), ("neurons", 10**30, "neurons"),
    ("timesteps", 0, "timesteps"), ("timesteps", 1e400, "timesteps"), ("timesteps", "x", "timesteps"),
    ("timesteps", 10**9, "timesteps"), ("spike_source", 3, "spike_source"), ("arrays", [], "arrays"),
    ("arrays.pre", "0 1 2", "'pre'"), ("arrays.pre.0", 99, "out of range"), ("arrays.pre.0", -1, "out of range"),
    ("arrays.pre.0", 1.5, "'pre'"), ("arrays.post.0", 10**30, "'post'"), ("arrays.weight.0", "heavy", "'weight'"),
    ("arrays.spikes.0", -3, "spike count"), ("arrays.threshold.0", [1, 2], "'threshold'"), ("arrays.leak.0", 2, "leak"),
    ("arrays.layer.0", -5, "layer"), ("arrays.is_input.0", 7, "is_input"), ("arrays.is_input", [True], "is_input"),
    ("arrays.pre", [[0, 1]], "'pre'"), ("arrays.spikes", DELETE, "missing array 'spikes'"),
    ("neurons", DELETE, "missing field 'neurons'"), ("arrays.weight", {"a": 1}, "'weight'"),
    ("version", 2.0, "version"), ("task", 5, "task"), ("task", ["digits"], "task"), ("arrays.bias.0", "x", "'bias'"),
    ("arrays.bias", [0.5], "bias"), ("arrays.reset.0", None, "reset"), ("arrays.bias.0", 1e400, "bias"),
]  # fmt: skip
#: Mutations of a valid mapping file (beyond those of its two networks).
MAPPING_MUTATIONS: list[tuple[str, object, str]] = [
    ("hardware", "toy", "'hardware'"), ("hardware.rows", "x", "rows"), ("hardware.rows", True, "rows"),
    ("hardware.rows", DELETE, "rows"), ("hardware.io_tile", 5, "io_tile"), ("hardware.mesh", [0, 1], "mesh"),
    ("hardware.e_syn", "cheap", "e_syn"), ("hardware.colour", "red", "unknown hardware field"),
    ("mesh", [0, 1], "'mesh'"), ("mesh", [99999, 99999], "'mesh'"), ("mesh", "3x3", "'mesh'"),
    ("mesh", [1.5, 2], "'mesh'"), ("arity", "x", "'arity'"), ("arity", 0, "'arity'"), ("strategy", 5, "'strategy'"),
    ("traffic", "psychic", "traffic"), ("report", [], "'report'"), ("arrays.origin.0", 10**6, "'origin'"),
    ("arrays.level.0", -1, "'level'"), ("arrays.unit_crossbar.0", -5, "'unit_crossbar'"),
    ("arrays.crossbar_tile.0", -1, "'crossbar_tile'"), ("arrays.edge_origin.0", 10**6, "'edge_origin'"),
    ("arrays.pruned", [10**6], "'pruned'"), ("units_neurons", 3, "units_"), ("net_timesteps", 0, "timesteps"),
    ("arrays.units_weight.0", "x", "'units_weight'"), ("arrays.position", [0], "'position'"),
]  # fmt: skip
#: Readable mapping files that break a constraint (exit 1): (field path, value, constraint).
CONSTRAINT_MUTATIONS: list[tuple[str, object, str]] = [
    ("arrays.units_weight.PARTIAL", 7.0, "[decomposition]"), ("arrays.unit_crossbar", "all-zero", "[columns]"),
    ("arrays.units_threshold.7", 9.0, "[decomposition]"),
]  # fmt: skip
#: Bad SpiNeMap connection (and spike) files: (connection text, spike text or None, text the error must contain).
SPINEMAP_FILES: list[tuple[str, str | None, str]] = [
    ("0 1\nx 2\n", None, "not an integer"), ("0 -1\n", None, "negative"), ("", None, "no connections"),
    ("# only a comment\n", None, "no connections"), ("0 1\n0 1\n", None, "duplicate synapse"),
    ("0 99999999999\n", None, "far beyond"), ("0 1\n1 100000000000000000000\n", None, "far beyond"),
    ("0 1\n2 1.5\n", None, "not an integer"), ("0 1\n", "7 1 2\n", "not in the connection file"),
    ("0 1\n", "0 99999999999\n", "spike time"), ("0 1\n", "0 x\n", "not an integer"), ("0 1\n", "0 -4\n", "negative"),
]  # fmt: skip


def _mapping_unit_crossbar_zero(fixtures: Path) -> dict:
    doc = _json(fixtures, "map.json")
    doc["arrays"]["unit_crossbar"] = [c if c < 0 else 0 for c in doc["arrays"]["unit_crossbar"]]
    return doc


def _partial_weight(fixtures: Path, value: float) -> dict:
    """The mapping with the weight of its first partial-sum edge (edge_origin -1) set to ``value``."""
    doc = _json(fixtures, "map.json")
    doc["arrays"]["units_weight"][doc["arrays"]["edge_origin"].index(-1)] = value
    return doc


def file_cases() -> list[Case]:
    """Every malformed file, through every command that reads that kind of file."""
    cases: list[Case] = []
    readers = {"info": ["info", "{file}"], "run": ["run", "--net", "{file}", "--hw", "toy", "--mesh", "auto"],
               "simulate": ["simulate", "--net", "{file}"],
               "decompose": ["decompose", "--net", "{file}", "--hw", "toy", "--decompose", "chain:2"]}  # fmt: skip
    for i, (path, value, needle) in enumerate(NETWORK_MUTATIONS):
        for suffix in (".json", ".npz"):
            target = f"bad{suffix}"
            if suffix == ".json":
                setup = _json_mutation("net.json", target, path, value)
            elif path.startswith("arrays."):
                parts = path.split(".")
                if len(parts) > 2:
                    continue  # element edits are covered by the JSON cases
                if value is DELETE:
                    setup = _npz_mutation("net.npz", target, parts[1], DELETE)
                else:
                    try:
                        np.asarray(value).astype(float)
                    except (TypeError, ValueError):
                        continue  # not representable in an npz without pickling
                    setup = _npz_mutation("net.npz", target, parts[1], value)
            elif path == "arrays":
                continue
            else:
                if value is not DELETE and isinstance(value, float) and not np.isfinite(value):
                    continue
                setup = _npz_mutation("net.npz", target, f"__meta__.{path}", value)
            command = ("info", "run", "simulate", "decompose")[i % 4]
            args = [a.replace("{file}", target) for a in readers[command]]
            cases.append(Case(f"file/network{suffix}/{path}={value!r:.20}/{command}", tuple(args), needle=needle,
                              setup=setup, fast=i % 16 == 0 and suffix == ".json"))  # fmt: skip
    for i, (path, value, needle) in enumerate(MAPPING_MUTATIONS):
        for suffix in (".json", ".npz"):
            target = f"bad{suffix}"
            if suffix == ".json":
                setup = _json_mutation("map.json", target, path, value)
            elif path.startswith("arrays."):
                parts = path.split(".")
                if len(parts) > 2:
                    continue
                try:
                    np.asarray(value).astype(float)
                except (TypeError, ValueError):
                    continue
                setup = _npz_mutation("map.npz", target, parts[1], value)
            else:
                setup = _npz_mutation("map.npz", target, f"__meta__.{path}", value)
            for command in ("validate", "info", "plot") if i % 3 == 0 else ("validate", "info"):
                args = {"validate": ("validate", target), "info": ("info", target),
                        "plot": ("plot", target, "--out", "plot-out")}[command]  # fmt: skip
                cases.append(Case(f"file/mapping{suffix}/{path}={value!r:.20}/{command}", args, needle=needle,
                                  setup=setup, fast=i % 9 == 0 and command == "validate" and suffix == ".json"))
    for path, value, constraint in CONSTRAINT_MUTATIONS:
        if value == "all-zero":
            setup = _bytes("bad.json", lambda fx: json.dumps(_mapping_unit_crossbar_zero(fx)).encode())
        elif path.endswith("PARTIAL"):
            setup = _bytes("bad.json", lambda fx, v=value: json.dumps(_partial_weight(fx, v)).encode())
        else:
            setup = _json_mutation("map.json", "bad.json", path, value)
        cases.append(Case(f"constraint/{constraint}/{path}", ("validate", "bad.json"), expect=1, needle=constraint,
                          setup=setup, fast=constraint == "[decomposition]"))  # fmt: skip
    garbage = [
        ("truncated.json", lambda fx: (fx / "net.json").read_bytes()[:200], "malformed JSON"),
        ("empty.json", b"", "malformed JSON"), ("list.json", b"[1, 2]", "not a mapopt file"),
        ("binary.json", bytes(range(256)), "JSON"), ("deep.json", b"[" * 100_000 + b"]" * 100_000, "JSON"),
        ("nan.json", lambda fx: (fx / "net.json").read_bytes().replace(b'"timesteps":100', b'"timesteps":NaN'),
         "timesteps"),
        ("truncated.npz", lambda fx: (fx / "net.npz").read_bytes()[:100], "unreadable"),
        ("garbage.npz", b"PK\x03\x04" + b"\x00" * 50, "unreadable"), ("text.npz", b"hello", "unreadable"),
        ("huge.npz", _huge_npz, "needs about"), ("object.npz", _object_npz, "objects"),
        ("garbage.nir", b"\x89HDF\r\n\x1a\n" + b"\x00" * 64, "NIR"), ("text.nir", b"hello", "NIR"),
        ("binary.txt", bytes(range(256)) * 4, "unreadable"),
    ]  # fmt: skip
    for i, (target, data, needle) in enumerate(garbage):
        for command in ("info", "run") if i % 2 == 0 else ("info", "simulate"):
            args = [a.replace("{file}", target) for a in readers[command]]
            cases.append(Case(f"file/garbage/{target}/{command}", tuple(args), needle=needle,
                              setup=_bytes(target, data), fast=command == "info" and i % 4 == 0))  # fmt: skip
    for target, data in (("store.sqlite", b"SQLite format 3\x00" + b"\x00" * 90), ("text.sqlite", b"hello"),
                         ("empty.sqlite", b"")):
        cases.append(Case(f"file/store/{target}/report", ("report", target, "--out", "rep"), needle=target,
                          setup=_bytes(target, data), fast=target == "text.sqlite"))  # fmt: skip
    cases.append(Case("file/store/missing/report", ("report", "nope.sqlite", "--out", "rep"), needle="nope.sqlite"))
    for target in ("truncated.json", "list.json", "huge.npz"):
        data, needle = next((d, n) for t, d, n in garbage if t == target)
        cases.append(Case(f"file/garbage/{target}/validate", ("validate", target), needle=needle,
                          setup=_bytes(target, data)))  # fmt: skip
    for i, (conn, spikes, needle) in enumerate(SPINEMAP_FILES):
        def setup(case_dir: Path, fixtures: Path, conn: str = conn, spikes: str | None = spikes) -> None:
            (case_dir / "conn.txt").write_text(conn)
            if spikes is not None:
                (case_dir / "spk.txt").write_text(spikes)

        extra = ("--spikes", "spk.txt") if spikes is not None else ()
        for command in ("info", "run"):
            args = ("info", "conn.txt", *extra) if command == "info" else ("run", "--net", "conn.txt", *extra,
                                                                           "--hw", "toy", "--mesh", "auto")  # fmt: skip
            cases.append(Case(f"file/spinemap/{i}:{conn[:12]!r}/{command}", args, needle=needle, setup=setup,
                              fast=command == "info" and i % 6 == 0))  # fmt: skip
    cases.append(Case("file/spinemap/missing-spike-file", ("info", "{fixtures}/conn.txt", "--spikes", "nope.txt"),
                      needle="nope.txt"))  # fmt: skip
    cases.append(Case("file/network/with-spikes", ("info", "{fixtures}/net.json", "--spikes", "{fixtures}/spikes.txt"),
                      needle="--spikes"))  # fmt: skip
    for kind, needle in (("no-node", "not a NIR file"), ("unknown-type", "Teleporter"), ("huge-input", "NIR"),
                         ("string-weight", "NIR")):  # fmt: skip
        for command in ("info", "run"):
            args = [a.replace("{file}", "bad.nir") for a in readers[command]]
            cases.append(Case(f"file/nir/{kind}/{command}", tuple(args), needle=needle, setup=_nir_variant(kind),
                              fast=command == "info" and kind == "unknown-type"))  # fmt: skip
    return cases


def out_cases() -> list[Case]:
    """--out refused before any work, on every command that writes."""
    cases: list[Case] = []
    root = os.geteuid() == 0

    def existing_file(case_dir: Path, fixtures: Path) -> None:
        (case_dir / "taken").write_text("not a folder")

    def foreign_folder(case_dir: Path, fixtures: Path) -> None:
        (case_dir / "taken").mkdir()
        (case_dir / "taken" / "thesis.tex").write_text("precious")

    def folder_for_file(case_dir: Path, fixtures: Path) -> None:
        (case_dir / "taken.json").mkdir()

    def locked(case_dir: Path, fixtures: Path) -> None:
        # the folder's lock, held by another live process for the duration of the case
        (case_dir / "out").mkdir()
        holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(case_dir / "out")], stdout=subprocess.PIPE)
        assert holder.stdout is not None
        holder.stdout.readline()  # the lock is taken
        _HOLDERS.append(holder)

    unwritable = "/proc/mapopt-out" if root else "{unwritable}/out"
    for command, spec in COMMANDS.items():
        kind = spec.get("out")
        if kind is None:
            continue
        base = list(spec["base"])  # type: ignore[arg-type]
        out_option = str(spec.get("out_option", "--out"))
        variants: list[tuple[str, str, Callable[[Path, Path], None] | None, str]] = [
            ("missing-parent", "no/such/folder/out" + (".json" if kind == "file" else ""), None, "does not exist"),
            ("unwritable", unwritable + (".json" if kind == "file" else ""), None, out_option),
        ]
        if kind == "dir":
            variants += [
                ("existing-file", "taken", existing_file, "existing file"),
                ("foreign-folder", "taken", foreign_folder, "did not write"),
                ("current-folder", ".", None, "current folder"),
                ("locked", "out", locked, "another mapopt process"),
            ]
        else:
            variants += [
                ("folder-for-file", "taken.json", folder_for_file, "is a folder"),
                ("bad-suffix", "n-prime.csv", None, "unknown file type"),
            ]
        for i, (label, target, setup, needle) in enumerate(variants):
            args = _with_option(base, out_option, target)
            cases.append(Case(f"out/{command}/{label}", tuple(args), needle=needle, setup=setup,
                              fast=(i < 3 and command == "run") or (i == 2 and command == "decompose")))  # fmt: skip
    return cases


#: A helper process that takes an output folder's lock and holds it until killed.
LOCK_HOLDER = """
import sys, time
from mapopt.io.outdir import OutputDir
OutputDir(sys.argv[1])
print("locked", flush=True)
time.sleep(600)
"""
_HOLDERS: list[subprocess.Popen[bytes]] = []


def all_cases() -> list[Case]:
    cases = option_cases() + net_cases() + file_cases() + out_cases()
    names = Counter(c.name for c in cases)
    dup = [n for n, k in names.items() if k > 1]
    assert not dup, f"duplicate case ids: {dup[:5]}"
    return cases


# ---------------------------------------------------------------------- running cases
@dataclass
class Result:
    case: Case
    code: int | None
    problems: list[str]
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.problems


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def run_case(case: Case, fixtures: Path, *, timeout: float = 180) -> Result:
    """Run one case in a fresh folder and check the contract of the module docstring."""
    with tempfile.TemporaryDirectory(prefix="mapopt-reliability-") as tmp:
        case_dir = Path(tmp)
        unwritable = case_dir / "ro"
        unwritable.mkdir()
        if case.setup is not None:
            case.setup(case_dir, fixtures)
        unwritable.chmod(0o555)
        args = [a.replace("{fixtures}", str(fixtures)).replace("{unwritable}", str(unwritable)) for a in case.args]
        before = _listing(case_dir)
        fixtures_before = _listing(fixtures)
        env = {**os.environ, "COLUMNS": "80"}
        start = time.monotonic()
        try:
            proc = subprocess.run([MAPOPT, *args], cwd=case_dir, capture_output=True, text=True, timeout=timeout,
                                  env=env, check=False)  # fmt: skip
            code, out, err = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired:
            code, out, err = None, "", "(timeout)"
        seconds = time.monotonic() - start
        for holder in _HOLDERS:
            holder.kill()
            holder.wait()
        _HOLDERS.clear()
        unwritable.chmod(0o755)
        problems = []
        if code != case.expect:
            problems.append(f"exit code {code}, expected {case.expect}")
        if "Traceback" in err:
            problems.append("traceback")
        lines = [line for line in err.splitlines() if line.strip()]
        if case.expect == 2:
            if len(lines) != 1 or not lines[0].startswith("mapopt: error:"):
                problems.append(f"{len(lines)} stderr lines, expected one 'mapopt: error:' line")
            if case.needle and case.needle not in err:
                problems.append(f"error does not mention {case.needle!r}")
        elif case.needle and case.needle not in out:
            problems.append(f"output does not mention {case.needle!r}")
        left = _listing(case_dir) - before
        if left:
            problems.append(f"files left: {sorted(left)[:3]}")
        if _listing(fixtures) != fixtures_before:
            problems.append("the fixtures changed")
    return Result(case, code, problems, err.strip()[-300:], seconds)


def run_suite(cases: Iterable[Case], *, workers: int = 2) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="mapopt-fixtures-") as tmp:
        fixtures = make_fixtures(Path(tmp) / "fixtures")
        cases = list(cases)
        locked = [c for c in cases if c.name.endswith("/locked")]
        free = [c for c in cases if c not in locked]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(lambda c: run_case(c, fixtures), free))
        results += [run_case(c, fixtures) for c in locked]  # their lock holders are shared state
    return results


def report(results: list[Result]) -> str:
    """A Markdown summary: counts per category and every failing case."""
    by_kind: dict[str, Counter[str]] = {}
    for r in results:
        kind = r.case.name.split("/")[0]
        counts = by_kind.setdefault(kind, Counter())
        counts["cases"] += 1
        counts["ok"] += r.ok
        counts[f"exit {r.code}"] += 1
        counts["one line"] += r.case.expect == 2 and "stderr lines" not in " ".join(r.problems)
        counts["no traceback"] += "traceback" not in r.problems
        counts["no file left"] += not any(p.startswith("files left") for p in r.problems)
    lines = ["| category | cases | as expected | exit 2 | exit 1 | one line | no traceback | no file left |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    total: Counter[str] = Counter()
    for kind, c in sorted(by_kind.items()):
        total.update(c)
        lines.append(f"| {kind} | {c['cases']} | {c['ok']} | {c['exit 2']} | {c['exit 1']} | {c['one line']} | "
                     f"{c['no traceback']} | {c['no file left']} |")  # fmt: skip
    lines.append(f"| **all** | {total['cases']} | {total['ok']} | {total['exit 2']} | {total['exit 1']} | "
                 f"{total['one line']} | {total['no traceback']} | {total['no file left']} |")  # fmt: skip
    failing = [r for r in results if not r.ok]
    if failing:
        lines += ["", "Failing cases:", ""]
        lines += [f"- `{r.case.name}`: {'; '.join(r.problems)}: {r.stderr[-160:]!r}" for r in failing]
    return "\n".join(lines)


# ---------------------------------------------------------------------- kills at random moments
KILL_NET = ["--net", "mlp:64-32-10", "--hw", "toy", "--mesh", "auto", "--decompose", "chain:2",
            "--decompose", "tree:4@greedy", "--decompose", "prune-first"]  # fmt: skip
#: A quicker run for the default test suite.
KILL_NET_SMALL = ["--net", "mlp:16-8-4", "--hw", "toy", "--mesh", "auto", "--decompose", "chain:2",
                  "--decompose", "tree:4@greedy"]  # fmt: skip


def _session_left(sid: int) -> list[int]:
    """Processes still alive in session ``sid``."""
    left = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            left.append(int(stat.parent.name))
    return left


def folder_state(out: Path) -> str:
    """``absent``, ``complete`` or what is wrong with ``out`` (see the module docstring)."""
    from mapopt.errors import InputError
    from mapopt.io import read_mapping

    if not out.exists():
        return "absent"
    try:
        doc = json.loads((out / "report.json").read_text())
    except (OSError, ValueError) as err:
        return f"incomplete: report.json {err}"
    for row in doc["results"]:
        name = row.get("mapping_file")
        if row["status"] in ("optimal", "feasible") and not name:
            return f"incomplete: {row['strategy']} has no mapping file"
        if name:
            try:
                read_mapping(out / name)
            except InputError as err:
                return f"incomplete: {err}"
    return "complete"


def kill_trials(trials: int, *, seed: int = 0, net: list[str] = KILL_NET) -> dict[str, object]:
    """Kill ``run --out`` at random moments; returns the counts (see the module docstring)."""
    rng = random.Random(seed)
    signals = (signal.SIGKILL, signal.SIGINT, signal.SIGTERM)
    with tempfile.TemporaryDirectory(prefix="mapopt-kill-") as tmp:
        folder = Path(tmp)
        start = time.monotonic()
        subprocess.run([MAPOPT, "run", *net, "--out", str(folder / "full"), "-q"], check=True,
                       capture_output=True)  # fmt: skip
        full = time.monotonic() - start
        states: Counter[str] = Counter()
        problems: list[str] = []
        for trial in range(trials):
            out = folder / f"out{trial}"
            sig = signals[trial % len(signals)]
            delay = rng.uniform(0.0, full)
            proc = subprocess.Popen([MAPOPT, "run", *net, "--out", str(out), "-q"], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
            time.sleep(delay)
            proc.send_signal(sig)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                problems.append(f"trial {trial}: still running 30 s after {sig.name}")
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            time.sleep(0.2)
            state = folder_state(out)
            states[state.split(":")[0]] += 1
            if state.startswith("incomplete"):
                problems.append(f"trial {trial} ({sig.name} at {delay:.2f} s): {state}")
            left = _session_left(proc.pid)
            if left:
                problems.append(f"trial {trial}: processes left {left}")
            again = subprocess.run([MAPOPT, "run", *net, "--out", str(out), "-q"], capture_output=True, text=True)
            siblings = [p.name for p in folder.glob(f".{out.name}.*")]
            if again.returncode != 0 or folder_state(out) != "complete" or siblings:
                problems.append(f"trial {trial}: the next run gave {again.returncode}, {folder_state(out)}, {siblings}")
    return {"trials": trials, "full_run_s": round(full, 2), "states": dict(states), "problems": problems}


# ---------------------------------------------------------------------- signals on the exact solvers
SIGNAL_NET = ["solve", "--net", "er:n=60,m=240", "--hw", "toy", "--mesh", "auto", "--time-limit", "60", "--json"]


def signal_runs(
    *,
    delay: float = 4.0,
    solvers: tuple[str, ...] = ("cpsat", "pulp-highs", "pulp-cbc"),
    signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL),
) -> list[dict]:
    """Send each signal to a solve with each exact solver after ``delay`` s (see the module docstring)."""
    rows = []
    tmp = Path(tempfile.gettempdir())
    for solver in solvers:
        for sig in signals:
            before = set(tmp.glob("mapopt-cbc-*"))
            proc = subprocess.Popen([MAPOPT, *SIGNAL_NET, "--solver", solver], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
            time.sleep(delay)
            sent = time.monotonic()
            proc.send_signal(sig)
            out, _ = proc.communicate(timeout=60)
            exited = time.monotonic() - sent
            time.sleep(2.0 - min(exited, 2.0))  # children get 2 s from the signal
            left = _session_left(proc.pid)
            temps = sorted(str(p) for p in set(tmp.glob("mapopt-cbc-*")) - before)
            status = json.loads(out).get("status") if out.strip() else None
            rows.append({"solver": solver, "signal": sig.name, "exit": proc.returncode, "exit_s": round(exited, 2),
                         "status": status, "processes_left": left, "temp_folders_left": temps})  # fmt: skip
    return rows


LIMIT_NETS = ("synfire:8-12", "er:n=100,m=400")


def limit_runs(time_limit: float, *, solvers: tuple[str, ...] = ("cpsat", "pulp-highs", "pulp-cbc")) -> list[dict]:
    """How far past ``time_limit`` each exact solver returns (see the module docstring)."""
    rows = []
    for net in LIMIT_NETS:
        for solver in solvers:
            args = ["solve", "--net", net, "--hw", "toy", "--mesh", "auto", "--solver", solver,
                    "--time-limit", str(time_limit), "--json", "-q"]  # fmt: skip
            start = time.monotonic()
            proc = subprocess.run([MAPOPT, *args], capture_output=True, text=True, check=False)
            command = time.monotonic() - start
            doc = json.loads(proc.stdout) if proc.stdout.strip() else {}
            rows.append({"net": net, "solver": solver, "status": doc.get("status"), "wall_s": doc.get("wall_s"),
                         "over_s": None if doc.get("wall_s") is None else doc["wall_s"] - time_limit,
                         "command_s": command})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    suite = sub.add_parser("suite", help="the bad-input cases")
    suite.add_argument("--fast", action="store_true", help="only the representative subset")
    suite.add_argument("--only", default="", help="only cases whose id contains this text")
    suite.add_argument("--workers", type=int, default=2)
    kill = sub.add_parser("kill", help="kill run --out at random moments")
    kill.add_argument("--trials", type=int, default=100)
    kill.add_argument("--seed", type=int, default=0)
    sub.add_parser("signals", help="signals on the exact solvers")
    limits = sub.add_parser("limits", help="time limits of the exact solvers")
    limits.add_argument("--time-limit", type=float, default=30.0)
    args = parser.parse_args(argv)
    if args.what == "suite":
        cases = [c for c in all_cases() if (c.fast or not args.fast) and args.only in c.name]
        results = run_suite(cases, workers=args.workers)
        print(report(results))
        return 0 if all(r.ok for r in results) else 1
    if args.what == "kill":
        result = kill_trials(args.trials, seed=args.seed)
        print(json.dumps(result, indent=2))
        return 0 if not result["problems"] else 1
    if args.what == "limits":
        print(f"| net | solver | status | solver wall s (limit {args.time_limit:g}) | over the limit s | command s |")
        print("|---|---|---|---|---|---|")
        for r in limit_runs(args.time_limit):
            print(f"| {r['net']} | {r['solver']} | {r['status']} | {r['wall_s']:.2f} | {r['over_s']:.2f} | "
                  f"{r['command_s']:.2f} |")  # fmt: skip
        return 0
    rows = signal_runs()
    print("| solver | signal | exit | s to exit | status | processes left | CBC temp folders left |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['solver']} | {r['signal']} | {r['exit']} | {r['exit_s']} | {r['status']} | "
              f"{len(r['processes_left'])} | {len(r['temp_folders_left'])} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
