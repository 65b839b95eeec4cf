"""What ``mapopt tune --out DIR`` writes: the best parameters, Optuna's plots, the held-out comparison.

- ``best-params.toml``: ``solver``, ``[params]`` (every hyperparameter the study tuned,
  plus the base parameters it started from) and ``[tuned]`` (how they were found); what
  ``--params FILE`` takes on run, solve and bakeoff, and ``pso:params=FILE`` in a bake-off;
- ``history.png`` and ``importance.png``: Optuna's optimisation history and parameter
  importances (``optuna.visualization.matplotlib``, Agg backend);
- ``holdout.md`` / ``holdout.json``: default vs tuned on the held-out instances (mean
  normalised gap and mean solve time per instance, and over all);
- ``report/``: the bake-off report (:mod:`mapopt.reports.study`) of those held-out runs.
"""

from __future__ import annotations

import json
import math
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tomli_w

from mapopt.reports.study import build_report


def params_document(solver: str, params: dict[str, Any], tuned: dict[str, Any]) -> str:
    """A params file (TOML) for ``solver``; None values (TOML has none) are left out, i.e. default."""
    doc = {
        "solver": solver,
        "params": {k: v for k, v in sorted(params.items()) if v is not None},
        "tuned": {k: v for k, v in tuned.items() if v is not None},
    }
    return tomli_w.dumps(doc)


def optuna_plots(study: Any, folder: Path) -> list[str]:
    """history.png and importance.png (importance needs two or more complete trials and parameters)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization.matplotlib import plot_optimization_history, plot_param_importances

    written = []
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    plots = [("history.png", plot_optimization_history)]
    if len(complete) >= 2 and len({json.dumps(t.params, sort_keys=True) for t in complete}) >= 2:
        plots.append(("importance.png", plot_param_importances))
    for name, draw in plots:
        with warnings.catch_warnings():  # Optuna warns on stderr when importances are all equal
            warnings.simplefilter("ignore")
            ax = draw(study)
        fig = ax.figure
        fig.set_size_inches(8, 5)
        fig.tight_layout()
        fig.savefig(folder / name, dpi=110)
        plt.close(fig)
        written.append(name)
    return written


def _fmt(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"


def holdout_markdown(solver: str, comparisons: list[Any], header: str) -> str:
    lines = [
        header,
        "",
        f"| instance | {solver} gap | {solver}@tuned gap | {solver} s | {solver}@tuned s |",
        "|---|---|---|---|---|",
    ]
    for c in comparisons:
        lines.append(
            f"| {c.instance} | {_fmt(c.default_gap)} | {_fmt(c.tuned_gap)} | {_fmt(c.default_s)} | {_fmt(c.tuned_s)} |"
        )
    if comparisons:
        mean = [
            sum(getattr(c, f) for c in comparisons) / len(comparisons)
            for f in ("default_gap", "tuned_gap", "default_s", "tuned_s")
        ]
        lines.append(f"| **mean** | {_fmt(mean[0])} | {_fmt(mean[1])} | {_fmt(mean[2])} | {_fmt(mean[3])} |")
    return "\n".join(lines) + "\n"


def write_tuning(
    folder: Path,
    *,
    solver: str,
    params: dict[str, Any],
    tuned: dict[str, Any],
    study: Any,
    comparisons: list[Any],
    rows: list[dict[str, Any]],
) -> list[str]:
    """Fill ``folder`` (see the module docstring); returns the file names written."""
    (folder / "best-params.toml").write_text(params_document(solver, params, tuned))
    names = ["best-params.toml", *optuna_plots(study, folder)]
    header = (
        f"# {solver}: default vs tuned on the held-out instances\n\n"
        f"Study {tuned.get('study')!r}, best trial #{tuned.get('best_trial')} (training value "
        f"{_fmt(tuned.get('value'))}), {tuned.get('trials')} trials; time limit {tuned.get('time_limit')} s, "
        f"seeds {tuned.get('seeds')}. Gap: mean normalised gap (docs/tuning.md); time: mean solve seconds."
    )
    (folder / "holdout.md").write_text(holdout_markdown(solver, comparisons, header))
    (folder / "holdout.json").write_text(
        json.dumps({"tuned": tuned, "params": params, "instances": [c.__dict__ for c in comparisons]}, indent=2)
    )
    names += ["holdout.md", "holdout.json"]
    if rows:
        (folder / "report").mkdir()
        names += [f"report/{n}" for n in build_report(rows, folder / "report", f"{solver} default vs tuned, held out")]
    return names


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
