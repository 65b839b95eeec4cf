"""The container behind mapopt's own files: metadata plus named numpy arrays.

One schema, two encodings chosen by the file suffix: ``.json`` (readable, for small
files) holds the metadata and every array as a list; ``.npz`` (numpy's zip of ``.npy``
arrays, for large files) holds the arrays natively and the metadata as a JSON string in
the array ``__meta__``. Both carry ``format`` (the kind of file) and ``version``. Writes
go to a temporary file in the same folder and are renamed into place, so a failed or
interrupted write never leaves a half-written file.

An ``.npz`` is written at the speed of the disk: its members are stored, not deflated
(zlib at numpy's default level took 10 of the 33 s of a 10M-synapse run), and integer
arrays take the smallest integer type that holds their values (ids, levels and layers
need 8 to 32 bits, not 64), which halves the bytes of the synapse arrays. ``compress=True``
deflates at zlib level 1 instead (several times faster than the default level, files
about a third smaller than stored). :func:`numpy.load` reads all of these, so the format
and its version are unchanged.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from mapopt.errors import InputError

VERSION = 1
SUFFIXES = (".json", ".npz")


def atomic_write(path: Path, write: Any, *, binary: bool) -> None:
    """Call ``write(file)`` on a temporary file next to ``path``, then rename it into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_container(
    path: Path, kind: str, meta: dict[str, Any], arrays: dict[str, np.ndarray], *, compress: bool = False
) -> None:
    """Write ``meta`` and ``arrays`` as a ``kind`` file (``.json`` or ``.npz`` by suffix).

    ``compress``: deflate the members of an ``.npz`` (zlib level 1); stored otherwise.
    """
    path = Path(path)
    header = {"format": kind, "version": VERSION, **meta}
    if path.suffix == ".json":
        doc = {**header, "arrays": {k: np.asarray(v).tolist() for k, v in arrays.items()}}
        atomic_write(path, lambda f: json.dump(doc, f, separators=(",", ":")), binary=False)
    elif path.suffix == ".npz":
        payload = {"__meta__": np.array(json.dumps(header))}
        payload.update((k, smallest_ints(np.asarray(v))) for k, v in arrays.items())
        atomic_write(path, lambda f: _write_npz(f, payload, compress), binary=True)
    else:
        raise InputError(f"unknown file type {path.suffix!r}; use .json or .npz", source=str(path))


def _write_npz(file: Any, arrays: dict[str, np.ndarray], compress: bool) -> None:
    """An ``.npz`` as :func:`numpy.savez` writes it, member by member, stored or deflated at zlib level 1.

    numpy's own writers offer only stored or deflated at the default level 6, hence this
    loop over :func:`numpy.lib.format.write_array` (the function both of them use).
    """
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(file, mode="w", compression=method, compresslevel=1 if compress else None) as zf:
        for name, arr in arrays.items():
            with zf.open(f"{name}.npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, arr, allow_pickle=False)


def smallest_ints(arr: np.ndarray) -> np.ndarray:
    """An integer array in the smallest signed integer type that holds its values (others unchanged)."""
    if arr.dtype.kind not in "iu" or arr.size == 0:
        return arr
    lo, hi = int(arr.min()), int(arr.max())
    for dtype in (np.int8, np.int16, np.int32, np.int64):
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return arr.astype(dtype, copy=False)
    return arr


def read_container(path: Path, kind: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a ``kind`` file; malformed, truncated or foreign files are an :class:`InputError`."""
    path = Path(path)
    src = str(path)
    if not path.is_file():
        raise InputError("no such file", source=src)
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                if "__meta__" not in z.files:
                    raise InputError("not a mapopt file (no __meta__ entry)", source=src)
                meta = json.loads(str(z["__meta__"]))
                arrays = {k: z[k] for k in z.files if k != "__meta__"}
        else:
            doc = json.loads(path.read_text())
            if not isinstance(doc, dict):
                raise InputError("not a mapopt file (top level is not an object)", source=src)
            raw = doc.pop("arrays", None)
            if not isinstance(raw, dict):
                raise InputError("missing 'arrays' object", source=src)
            meta = doc
            arrays = {k: _as_array(k, v, src) for k, v in raw.items()}
    except InputError:
        raise
    except json.JSONDecodeError as err:
        raise InputError(f"malformed JSON at line {err.lineno} column {err.colno}: {err.msg}", source=src) from None
    except (zipfile.BadZipFile, EOFError, ValueError, OSError) as err:
        raise InputError(f"unreadable or truncated file: {err}", source=src) from None
    if meta.get("format") != kind:
        raise InputError(f"expected a {kind!r} file, found format {meta.get('format')!r}", source=src)
    if meta.get("version") != VERSION:
        found = meta.get("version")
        raise InputError(f"unsupported {kind} version {found!r} (this mapopt reads {VERSION})", source=src)
    return meta, arrays


def _as_array(name: str, value: Any, src: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except ValueError as err:
        raise InputError(f"array {name!r} is ragged or malformed: {err}", source=src) from None
    if arr.dtype == object:
        raise InputError(f"array {name!r} holds mixed or non-numeric values", source=src)
    return arr


def need(arrays: dict[str, np.ndarray], name: str, src: str) -> np.ndarray:
    """The array ``name``, or an :class:`InputError` saying it is missing."""
    if name not in arrays:
        raise InputError(f"missing array {name!r}", source=src)
    return arrays[name]


def need_ints(arrays: dict[str, np.ndarray], name: str, src: str) -> np.ndarray:
    """The array ``name`` as integers (in its own integer type, else int64), or an :class:`InputError`.

    Integer arrays are not widened: a file's int32 ids stay int32 (no copy of a large array).
    """
    arr = need(arrays, name, src)
    if arr.ndim != 1:
        raise InputError(f"array {name!r} must be one-dimensional", source=src)
    if arr.size and np.issubdtype(arr.dtype, np.integer) and arr.dtype.kind == "i":
        return arr
    if arr.size == 0 or np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool:
        return arr.astype(np.int64)
    if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        return arr.astype(np.int64)
    raise InputError(f"array {name!r} must hold integers", source=src)


def need_floats(arrays: dict[str, np.ndarray], name: str, src: str) -> np.ndarray:
    """The array ``name`` as floats (float32 kept as such, else float64), or an :class:`InputError`."""
    arr = need(arrays, name, src)
    if arr.ndim != 1:
        raise InputError(f"array {name!r} must be one-dimensional", source=src)
    if arr.size and not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise InputError(f"array {name!r} must hold numbers", source=src)
    return arr if arr.dtype == np.float32 else arr.astype(np.float64, copy=False)


def need_meta(meta: dict[str, Any], name: str, src: str) -> Any:
    if name not in meta:
        raise InputError(f"missing field {name!r}", source=src)
    return meta[name]
