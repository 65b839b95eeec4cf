"""Hardening (issue 16): bad input refused in one line, interrupts, kills, terminal output, determinism.

The bad-input cases and the kill and signal procedures live in benchmarks/reliability.py
(data: add a command there); the default run takes its representative subset, ``-m slow``
all of them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mapopt import interrupt
from mapopt.decompose import decompose
from mapopt.errors import CONSTRAINTS, InputError
from mapopt.evaluation import check
from mapopt.hardware import customise, load_preset
from mapopt.io import read_mapping, read_network, resolve_net
from mapopt.mapping import Mapping
from mapopt.problem import MappingProblem
from mapopt.registry import generators, make_solver
from mapopt.resources import Size
from mapopt.solver import Budget, Outcome, SolveContext, Solver, Status

ROOT = Path(__file__).resolve().parent.parent
TOY = customise(load_preset("toy"), mesh="auto")


def _load_suite():
    spec = importlib.util.spec_from_file_location("reliability", ROOT / "benchmarks" / "reliability.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["reliability"] = module
    spec.loader.exec_module(module)
    return module


suite = _load_suite()


# ---------------------------------------------------------------------- bad input, every command
def test_bad_inputs_representative_subset() -> None:
    cases = [c for c in suite.all_cases() if c.fast]
    assert len({c.name.split("/")[0] for c in cases}) == 6  # every category is represented
    results = suite.run_suite(cases)
    assert all(r.ok for r in results), suite.report(results)


@pytest.mark.slow
def test_bad_inputs_full_suite() -> None:
    results = suite.run_suite(suite.all_cases())
    assert len(results) >= 200
    assert all(r.ok for r in results), suite.report(results)


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return suite.make_fixtures(tmp_path_factory.mktemp("fixtures"))


@pytest.mark.parametrize("kind", ["network", "mapping"])
def test_readers_refuse_every_malformed_field_in_one_line(fixtures: Path, tmp_path: Path, kind: str) -> None:
    """Every mutation of the suite, read in-process: an InputError naming the field, nothing else."""
    mutations = suite.NETWORK_MUTATIONS if kind == "network" else suite.MAPPING_MUTATIONS
    source = "net.json" if kind == "network" else "map.json"
    read = read_network if kind == "network" else read_mapping
    for path, value, needle in mutations:
        suite._json_mutation(source, "bad.json", path, value)(tmp_path, fixtures)
        with pytest.raises(InputError) as err:
            read(tmp_path / "bad.json")
        message = str(err.value)
        assert needle in message and "\n" not in message and str(tmp_path / "bad.json") in message, (path, message)


def test_npz_entries_are_sized_before_they_are_loaded(fixtures: Path, tmp_path: Path) -> None:
    (tmp_path / "huge.npz").write_bytes(suite._huge_npz(fixtures))  # declares 10^12 int64 (8 TB)
    with pytest.raises(InputError, match=r"needs about .* available"):
        read_network(tmp_path / "huge.npz")


def test_spinemap_ids_far_beyond_the_listed_neurons_are_refused(tmp_path: Path) -> None:
    conn = tmp_path / "conn.txt"
    conn.write_text("0 2\n1 2\n2 99999999999\n")  # was a 745 GiB allocation
    with pytest.raises(InputError, match="line 3: neuron id 99999999999 is far beyond the 4 distinct ids"):
        read_network(conn)
    conn.write_text("0 5000\n1 5000\n")  # gaps below the limit are neurons without synapses, as before
    net = read_network(conn)
    assert net.n_neurons == 5001 and net.n_synapses == 2


def test_every_generator_states_its_size_before_building() -> None:
    """Each generator's size (used to refuse what cannot fit) bounds what it builds, exactly where closed form."""
    small = {"conv": "1x8x8,c2k3,p2,f4", "edgedet": "8x8,k=3", "er": "n=50,m=200", "imgsmooth": "6x6,k=3",
             "lenet5": "fold", "lsm": "8-27-3", "mlp": "12-6-3", "powerlaw": "n=300", "rnn": "5-6-2",
             "synfire": "4-5,ring"}  # fmt: skip
    exact = ("conv", "er", "mlp", "rnn", "synfire")
    for prefix, gen in generators().items():
        assert gen.size is not None, f"generator {prefix} declares no size"
        size: Size = gen.size(small[prefix])
        net = gen.build(small[prefix], 0)
        assert size.neurons >= net.n_neurons and size.synapses >= net.n_synapses, prefix
        if prefix in exact:
            assert (size.neurons, size.synapses) == (net.n_neurons, net.n_synapses), prefix


@pytest.mark.parametrize("spec", ["mlp:100000-100000-10", "synfire:100000-2000", "er:n=100000000000,m=10",
                                  "conv:3x20000x20000,c64k3,f10"])  # fmt: skip
def test_specs_that_cannot_fit_are_refused_with_the_estimate_and_the_memory(spec: str) -> None:
    with pytest.raises(InputError) as err:
        resolve_net(spec)
    message = str(err.value)
    assert message.startswith(f"--net {spec}:")
    assert ("needs about" in message and "available" in message) or "beyond what mapopt can index" in message


@pytest.mark.parametrize("command", [c for c, spec in suite.COMMANDS.items() if "--seed" in spec["options"]])
def test_seed_range_is_the_same_on_every_command(cli, command: str) -> None:
    base = [a.replace("{fixtures}", "") for a in suite.COMMANDS[command]["base"]]
    for seed in ("-1", "2147483647"):
        result = cli(*suite._with_option(base, "--seed", seed))
        assert result.code == 2 and result.stderr.count("\n") == 1 and "--seed" in result.stderr, result.stderr
    if command in ("info", "decompose"):  # the largest seed itself is accepted (all the way down: next test)
        assert cli(*suite._with_option(base, "--seed", "2147483646"), "--json").code == 0


def test_the_largest_seed_reaches_every_exact_back_end() -> None:
    problem = MappingProblem(decompose(resolve_net("planted-toy-2"), TOY, "none"), TOY)
    for name in ("cpsat", "pulp-cbc", "pulp-highs"):
        result = make_solver(name).solve(problem, Budget(time_limit=10, seed=2**31 - 2))
        assert result.status is Status.OPTIMAL, (name, result.message)


# ---------------------------------------------------------------------- decomposition integrity
def test_decomposition_integrity_is_a_named_constraint(tiny_net) -> None:
    assert "decomposition" in CONSTRAINTS
    hw = replace(load_preset("toy"), fanin=2, mesh=None)
    dec = decompose(tiny_net, hw, "chain:2")
    mapping = make_solver("greedy").solve(MappingProblem(dec, hw), Budget()).mapping
    assert check(dec, hw, mapping) == []
    net = dec.network
    partial = np.flatnonzero(dec.edge_origin < 0)[0]
    weight = net.weight.copy()
    weight[partial] = 7.0  # N' no longer computes N
    tampered = replace(dec, network=replace(net, weight=weight))
    violations = check(tampered, hw, mapping)
    assert [v.constraint for v in violations] == ["decomposition"] and "weight exactly 1" in violations[0].detail
    origin = dec.origin.copy()
    origin[-1] = 3 if origin[-1] != 3 else 4  # a unit that claims another neuron
    assert "decomposition" in {v.constraint for v in check(replace(dec, origin=origin), hw, mapping)}
    threshold = net.threshold.copy()
    threshold[3] = 5.0  # a root that no longer applies its neuron's dynamics
    bad_root = replace(dec, network=replace(net, threshold=threshold))
    assert any(v.item == "root 3" for v in check(bad_root, hw, mapping))


@pytest.mark.parametrize("strategy", ["none", "prune-first", "prune-magnitude", "chain:2", "chain:3", "tree:3",
                                      "tree:4,grouping=block", "auto"])  # fmt: skip
def test_every_strategy_passes_the_integrity_check(strategy: str) -> None:
    net = resolve_net("mlp:12-6-3", seed=1)
    hw = replace(load_preset("toy"), mesh=None) if strategy != "none" else replace(load_preset("toy"), fanin=4,
                                                                                      rows=16, mesh=None)  # fmt: skip
    if strategy == "none":
        net = resolve_net("mlp:4-3-2", seed=1)
    dec = decompose(net, hw, strategy)
    mapping = make_solver("greedy").solve(MappingProblem(dec, hw), Budget()).mapping
    assert check(dec, hw, mapping) == []


# ---------------------------------------------------------------------- the solver template
class _Foreign(Solver):
    """Returns a mapping for a decomposition of another network, claiming it optimal."""

    name = "foreign"

    def _solve(self, problem: MappingProblem, ctx: SolveContext) -> Outcome:
        other = decompose(resolve_net("mlp:4-3-2", seed=9), problem.hardware, "none")
        return Outcome(Mapping(np.zeros(other.network.n_neurons, np.int64), np.zeros(1, np.int64), (1, 1)),
                       Status.OPTIMAL, decomposition=other)  # fmt: skip


def test_a_foreign_decomposition_is_an_error_not_optimal() -> None:
    hw = replace(load_preset("toy"), fanin=4, rows=16, mesh=None)
    result = _Foreign().solve(MappingProblem(decompose(resolve_net("mlp:4-3-2"), hw, "none"), hw))
    assert result.status is Status.ERROR and result.mapping is None and "another network" in result.message


# ---------------------------------------------------------------------- determinism
def test_best_does_not_depend_on_wall_time() -> None:
    """auto (what ``best`` runs) counts moves, not seconds: the same mapping on an idle and a busy machine."""
    assert make_solver("auto").anneal_seconds is None
    net = resolve_net("mlp:64-32-10", seed=0)
    problem = MappingProblem(decompose(net, TOY, "auto"), TOY)
    idle = make_solver("auto").solve(problem, Budget(seed=3))
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(3)]
    try:
        busy = make_solver("auto").solve(problem, Budget(seed=3))
    finally:
        for b in burners:
            b.kill()
            b.wait()
    assert busy.metrics == idle.metrics
    assert np.array_equal(busy.mapping.unit_crossbar, idle.mapping.unit_crossbar)


# ---------------------------------------------------------------------- interrupts
def _find_child(name: str, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue
            comm, rest = text.split("(", 1)[1].rsplit(")", 1)
            if comm == name and int(rest.split()[1]) == os.getpid():
                return int(stat.parent.name)
        time.sleep(0.02)
    return None


def test_a_cbc_crash_returns_the_incumbent_with_a_message() -> None:
    """CBC is crashed for real (SIGSEGV from outside, as the short-limit segfaults do): the warm start comes back."""
    net = resolve_net("er:n=60,m=240", seed=0)
    problem = MappingProblem(decompose(net, TOY, "chain:4"), TOY)
    crashed: list[int] = []

    def crash() -> None:
        pid = _find_child("cbc", 60)
        if pid is not None:
            os.kill(pid, signal.SIGSEGV)
            crashed.append(pid)

    threading.Thread(target=crash, daemon=True).start()
    result = make_solver("pulp-cbc").solve(problem, Budget(time_limit=60))
    assert crashed, "CBC never started"
    assert result.status is Status.FEASIBLE and result.metrics is not None, result.message
    assert "CBC crashed (signal SIGSEGV)" in result.message and "incumbent" in result.message


def test_a_stop_request_ends_a_solver_with_its_incumbent() -> None:
    """In-process: the stop request a signal makes is a deadline reached now (mapopt.interrupt)."""
    net = resolve_net("er:n=60,m=240", seed=0)
    problem = MappingProblem(decompose(net, TOY, "chain:4"), TOY)
    timer = threading.Timer(1.0, interrupt.request, args=(signal.SIGTERM,))
    timer.start()
    try:
        start = time.monotonic()
        result = make_solver("cpsat").solve(problem, Budget(time_limit=120))
        took = time.monotonic() - start
    finally:
        timer.cancel()
        interrupt.clear()
    assert result.status is Status.INTERRUPTED and result.metrics is not None
    assert result.message.startswith("interrupted by SIGTERM") and took < 60


@pytest.mark.parametrize(("solver", "sig"), [("cpsat", signal.SIGINT), ("pulp-highs", signal.SIGINT),
                                             ("pulp-cbc", signal.SIGTERM), ("pulp-cbc", signal.SIGKILL)])  # fmt: skip
def test_signals_stop_the_solver_and_every_child(solver: str, sig: signal.Signals) -> None:
    """The CLI under a real signal: exit 128+N with the incumbent printed, no process or temp folder left."""
    (row,) = suite.signal_runs(delay=3.0, solvers=(solver,), signals=(sig,))
    assert row["processes_left"] == [], row  # CBC dies with mapopt, even on kill -9
    if sig is not signal.SIGKILL:
        assert row["exit"] == 128 + sig and row["status"] == "interrupted" and row["temp_folders_left"] == [], row
        return
    assert row["exit"] == -9
    from solvers.pulp_milp import _sweep_cbc_temps

    _sweep_cbc_temps()  # what the next CBC run does first: the killed run's model files go
    assert not any(Path(p).exists() for p in row["temp_folders_left"])


def test_kills_at_random_moments_leave_the_folder_complete_or_absent() -> None:
    result = suite.kill_trials(2, seed=1, net=suite.KILL_NET_SMALL)
    assert result["problems"] == [], result


@pytest.mark.slow
def test_kills_at_random_moments_many_trials() -> None:
    result = suite.kill_trials(30, seed=2)
    assert result["problems"] == [], result


# ---------------------------------------------------------------------- terminal output
def _lines(text: str) -> list[str]:
    return text.splitlines()


def test_tables_fit_80_columns_and_wide_shows_everything(cli, tmp_path: Path) -> None:
    from mapopt.formatting import HEADINGS
    from mapopt.report import TABLE_COLUMNS

    run = ["run", "--net", "mlp:12-6-3", "--hw", "toy", "--mesh", "auto", "--decompose", "chain:2",
           "--decompose", "tree:4@greedy"]  # fmt: skip
    compact = cli(*run, "--out", tmp_path / "out")
    assert compact.code == 0 and "chain:2@paper" in compact.stdout  # results on stdout
    assert max(map(len, _lines(compact.stdout))) <= 80 and "…" not in compact.stdout
    assert "--wide" in compact.stdout and "mapping-chain-2-paper" in compact.stderr  # the log line
    assert all(line == line.rstrip() for line in _lines(compact.stderr))  # no padding
    wide = cli(*run, "--wide")
    assert all(HEADINGS.get(c, c) in wide.stdout for c in TABLE_COLUMNS)
    from mapopt.cli.listing import What, _rows

    for what in ("nets", "solvers", "generators"):
        shown = cli("list", what)
        names = [r["name"] for r in _rows(What(what))[2]]
        assert shown.code == 0 and max(map(len, _lines(shown.stdout))) <= 80, what
        first_words = {line.split()[0] for line in _lines(shown.stdout)[2:] if line[:1].strip()}
        assert set(names) <= first_words, (what, set(names) - first_words)  # names whole, one per row start
    for args in (["info", "mlp:12-6-3"], ["validate", tmp_path / "out" / "mapping-chain-2-paper.json"]):
        shown = cli(*args)
        assert shown.code == 0 and max(map(len, _lines(shown.stdout))) <= 80, args


@pytest.mark.parametrize("command", [None, *suite.COMMANDS])
def test_help_is_readable_at_80_columns(command: str | None) -> None:
    args = [suite.MAPOPT, *([command] if command else []), "--help"]
    out = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "COLUMNS": "80"}, check=True).stdout
    assert max(map(len, _lines(out))) <= 80
    options = [line for line in _lines(out) if line.lstrip().startswith("-")]
    assert "<bool>" not in out and "…" not in out and not any("<str>" in line for line in options)
    if command is None:  # the command summaries are not cut
        commands = _lines(out)[_lines(out).index("Commands:") + 1 :]
        assert commands and not any(line.rstrip().endswith("...") for line in commands)


def test_help_imports_no_heavy_module() -> None:
    code = "import sys, mapopt.cli.app; print([m for m in ('numpy', 'scipy', 'ortools', 'pulp') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _on_a_terminal(args: list[str]) -> tuple[int, str]:
    """Run mapopt with stderr on a pseudo-terminal; returns the exit code and what stderr showed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([suite.MAPOPT, *args], stdout=subprocess.PIPE, stderr=slave,
                            env={**os.environ, "COLUMNS": "120", "TERM": "xterm"})  # fmt: skip
    os.close(slave)
    shown = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
        elif proc.poll() is not None:
            break
    proc.stdout.read()
    os.close(master)
    return proc.wait(), re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode(errors="replace"))


def test_progress_is_live_on_a_terminal_and_quiet_otherwise(cli) -> None:
    args = ["solve", "--net", "er:n=40,m=160", "--hw", "toy", "--mesh", "auto", "--time-limit", "1.5"]
    code, shown = _on_a_terminal(args)
    assert code == 0 and "cpsat" in shown and "incumbent" in shown and "bound" in shown
    code, shown = _on_a_terminal([*args, "--quiet"])
    assert code == 0 and shown.strip() == ""
    piped = cli(*args)
    assert piped.code == 0 and "incumbent" not in piped.stderr and len(_lines(piped.stderr)) == 1


def test_run_json_is_clean_and_exit_codes_are_documented(cli) -> None:
    result = cli("run", "--net", "mlp:16-8-4", "--hw", "toy", "--mesh", "4x4", "--decompose", "none", "--json")
    assert result.code == 1 and json.loads(result.stdout)["results"][0]["status"] == "infeasible"
