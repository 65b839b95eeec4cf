"""Export a results store as one tidy table: one row per run, every metric its own column.

CSV with the standard library; Parquet with pyarrow, an optional extra
(``pip install 'mapopt[parquet]'``): asking for ``.parquet`` without it is a one-line
error. Nested fields (parameters, history, info, versions, hardware) are JSON text.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from mapopt.errors import InputError
from mapopt.io.outdir import atomic_write, check_output_file
from mapopt.studies.store import COLUMNS, JSON_COLUMNS

FORMATS = (".csv", ".parquet")


def check_export_path(path: Path) -> None:
    """Reject a bad export path before anything runs (suffix, folder, pyarrow for Parquet)."""
    if path.suffix not in FORMATS:
        raise InputError(f"export to .csv or .parquet, not {path.suffix or 'no suffix'!r}", source=str(path))
    check_output_file(path, suffixes=FORMATS, option="--export")
    if path.suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise InputError("Parquet export needs pyarrow: pip install 'mapopt[parquet]'", source=str(path)) from None


def tidy(rows: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and flat records: the store's columns, then one column per metric."""
    metric_names: dict[str, None] = {}
    for row in rows:
        for name in row.get("metrics") or {}:
            if name not in COLUMNS:
                metric_names[name] = None
    columns = [c for c in COLUMNS if c != "metrics"] + list(metric_names)
    flat = []
    for row in rows:
        out = {
            c: json.dumps(row[c], default=str) if c in JSON_COLUMNS and row[c] is not None else row[c] for c in COLUMNS
        }
        metrics = out.pop("metrics")
        values = json.loads(metrics) if metrics else {}
        out.update({m: values.get(m) for m in metric_names})
        flat.append(out)
    return columns, flat


def export(rows: list[dict[str, Any]], path: Path) -> None:
    """Write ``rows`` (from :meth:`~mapopt.studies.store.Store.rows`) to ``path`` atomically."""
    check_export_path(path)
    columns, flat = tidy(rows)
    if path.suffix == ".csv":

        def write(f: Any) -> None:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(flat)

        atomic_write(path, write, binary=False)
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(flat) if flat else pa.table({c: pa.array([], pa.string()) for c in columns})
    atomic_write(path, lambda f: pq.write_table(table.select(columns) if flat else table, f), binary=True)
