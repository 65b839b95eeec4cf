"""mapopt's cost model against SANA-FE: the measurements of docs/sanafe.md.

Usage (needs the sim extra, ``pip install -e ".[sim]"``)::

    nice -n 10 .venv/bin/python benchmarks/sanafe.py > /tmp/sanafe-results.md
    .venv/bin/python benchmarks/sanafe.py --only mlp-784-64-10-loihi     # one case

Each case is one ``mapopt sanafe-check ... --json`` run (the exact command is printed with
its table), so every number can be reproduced with the CLI alone. Per mapping: its
decomposition, crossbars, units, mapopt's deliveries and hop_spikes (equal to SANA-FE's
packets and hops when the row says so), network and total energy by both models, and
SANA-FE's latency; then the Spearman rank correlations, which mapping each model finds
cheapest, the calibration fit and the wall time of the whole check.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

#: name -> sanafe-check arguments
CASES: dict[str, list[str]] = {
    "mlp-784-64-10-loihi": [
        "--net", "mlp-784-64-10", "--hw", "loihi", "--crossbar", "1024x16",
        "--solvers", "random,paper,greedy,best", "--placements", "3",
    ],
    "edgedet-32x32-loihi": [
        "--net", "edgedet-32x32", "--hw", "loihi", "--crossbar", "256x64",
        "--solvers", "random,paper,greedy,best", "--placements", "3",
    ],
    "mlp-64-16-10-loihi-decomposed": [
        "--net", "mlp:64-16-10", "--hw", "loihi", "--crossbar", "32x32",
        "--solvers", "chain:2@paper,tree:4@greedy,tree:8@random,random,paper,greedy,best",
        "--placements", "2", "--train", "3",
    ],
    "mlp-784-64-10-dynapse-paper": [
        "--net", "mlp-784-64-10", "--hw", "dynapse-paper",
        "--solvers", "random,paper,greedy,best,chain:2@paper", "--placements", "2",
    ],
}  # fmt: skip

HEAD = (
    "| mapping | decomposition | crossbars | units | deliveries = packets | hop_spikes = hops "
    "| mapopt net µJ | SANA-FE net µJ | mapopt total µJ | SANA-FE total µJ | SANA-FE latency µs |"
)


def mapopt_command() -> str:
    exe = shutil.which("mapopt", path=str(Path(sys.executable).parent)) or shutil.which("mapopt")
    if exe is None:
        raise SystemExit("the mapopt console script is not installed (pip install -e '.[sim]')")
    return exe


def report(name: str, args: list[str]) -> str:
    start = time.perf_counter()
    proc = subprocess.run(
        [mapopt_command(), "sanafe-check", *args, "--json"], capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        return f"## {name}\n\nfailed (exit {proc.returncode}): {proc.stderr.strip()}\n"
    doc = json.loads(proc.stdout)
    lines = [f"## {name}", "", f"`mapopt sanafe-check {' '.join(args)}`", ""]
    lines += [HEAD, "|" + "---|" * (HEAD.count("|") - 1)]
    for r in doc["rows"]:
        if r["status"] != "ok":
            lines.append(f"| {r['mapping']} | {r['status']}: {r['message']} |")
            continue
        same = "" if r["packets_match"] and r["hops_match"] else " (differ)"
        lines.append(
            f"| {r['mapping']} | {r['decomposition']} | {r['crossbars']} | {r['units']} "
            f"| {r['deliveries']:.0f}{same} | {r['hop_spikes']:.0f} "
            f"| {r['energy_network_j'] * 1e6:.4f} | {r['sanafe_energy_network_j'] * 1e6:.4f} "
            f"| {r['energy_total_j'] * 1e6:.4f} | {r['sanafe_energy_total_j'] * 1e6:.4f} "
            f"| {r['sanafe_latency_s'] * 1e6:.1f} |"
        )
    s, rho, fit = doc["summary"], doc["spearman"], doc["fit"]
    lines += [
        "",
        "Spearman rho: " + ", ".join(f"{k} {'-' if v is None else f'{v:.3f}'}" for k, v in rho.items()) + ".",
        f"Counts equal in {s.get('counts_match', 0)}/{s.get('ok', 0)} mappings. Lowest SANA-FE network energy: "
        f"{', '.join(s.get('lowest_sanafe_network', []))}; mapopt's: {', '.join(s.get('lowest_mapopt_network', []))}"
        + (f"; `best` ranks #{s['best_sanafe_rank']}." if "best_sanafe_rank" in s else "."),
    ]
    if "sanafe_energy_network_j" in fit:
        net, soma, tot = fit["sanafe_energy_network_j"], fit["sanafe_energy_soma_j"], fit["total"]
        c = {k: v * 1e12 for k, v in {**net["coefficients_j"], **soma["coefficients_j"]}.items()}
        where = "in sample" if fit["in_sample"] else f"held out, trained on {', '.join(fit['trained_on'])}"
        lines.append(
            f"Fit: network = {c['deliveries']:.4g} pJ/delivery + {c['hop_spikes']:.4g} pJ/hop; soma = "
            + (
                f"{c['unit_steps']:.4g} pJ/unit-step + {c['compute_spikes']:.4g} pJ/spike"
                if soma["identified"]
                else "not identified (same N' everywhere)"
            )
            + f". Total energy max error ({where}): mapopt {tot['max_relative_error_mapopt']:.1%}, "
            f"calibrated {tot['max_relative_error_calibrated']:.1%}."
        )
    lines += [f"Wall time of the check: {wall:.0f} s (SANA-FE {doc['sanafe_version']}, T={doc['timesteps']}).", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(CASES), help="run only these cases")
    args = parser.parse_args()
    for name in args.only or CASES:
        print(report(name, CASES[name]), flush=True)


if __name__ == "__main__":
    main()
