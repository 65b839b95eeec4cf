"""The named catalog: every entry matches its stated facts; huge entries are never built by listing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mapopt.io import resolve_net
from mapopt.registry import catalog
from problems.instances.catalog import DEFAULT_NET

TIERS = ("tiny", "small", "medium", "large", "huge")
ENTRIES = catalog()
BUILT = sorted(name for name, e in ENTRIES.items() if e.tier != "huge")
HUGE = sorted(name for name, e in ENTRIES.items() if e.tier == "huge")


def test_tiers_and_facts_are_stated() -> None:
    assert DEFAULT_NET == "mlp-784-64-10" and DEFAULT_NET in ENTRIES
    assert {e.tier for e in ENTRIES.values()} <= set(TIERS)
    assert {e.tier for e in ENTRIES.values()} >= {"small", "medium", "large", "huge"}
    for entry in ENTRIES.values():
        assert {"neurons", "synapses", "max_fanin", "spikes"} <= entry.facts.keys(), entry.name
    for name in HUGE:
        assert ENTRIES[name].facts["synapses"] >= 10_000_000


@pytest.mark.parametrize("name", BUILT)
def test_entry_matches_its_facts(name: str) -> None:
    entry = ENTRIES[name]
    net = resolve_net(name)
    facts = entry.facts
    assert (net.n_neurons, net.n_synapses, net.max_fanin) == (facts["neurons"], facts["synapses"], facts["max_fanin"])
    tier_bounds = {"small": (1_000, 60_000), "medium": (60_000, 300_000), "large": (300_000, 2_000_000)}
    if entry.tier in tier_bounds:
        low, high = tier_bounds[entry.tier]
        assert low <= net.n_synapses < high
    assert net.spike_source != "unknown"


LISTING = """
import json, tracemalloc
tracemalloc.start()  # numpy reports its array allocations to tracemalloc
from mapopt.cli.listing import What, _rows
full, compact, rows = _rows(What.nets)
print(json.dumps({"rows": rows, "peak_bytes": tracemalloc.get_traced_memory()[1]}))
"""


def test_listing_does_not_build_huge_nets() -> None:
    out = subprocess.run([sys.executable, "-c", LISTING], capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    listed = {row["name"]: row for row in report["rows"]}
    assert set(HUGE) <= listed.keys() and all(listed[n]["tier"] == "huge" for n in HUGE)
    # The synapse arrays alone (pre, post, weight: 24 bytes a synapse) of the smallest huge
    # net exceed everything the importing and listing allocated: nothing huge was generated.
    smallest = min(ENTRIES[n].facts["synapses"] for n in HUGE)
    assert report["peak_bytes"] < 24 * smallest


def test_cli_lists_tiers(cli) -> None:
    result = cli("list", "nets", "--json")
    assert result.code == 0, result.stderr
    tiers = {row["name"]: row["tier"] for row in result.json()["nets"]}
    assert tiers[DEFAULT_NET] == "small" and set(HUGE) <= tiers.keys()
