"""The container behind mapopt's own files: metadata plus named numpy arrays.

One schema, two encodings chosen by the file suffix: ``.json`` (readable, for small
files) holds the metadata and every array as a list; ``.npz`` (compressed numpy, for
large files) holds the arrays natively and the metadata as a JSON string in the array
``__meta__``. Both carry ``format`` (the kind of file) and ``version``: files are written
at :data:`VERSION` and read at any of :data:`READABLE` (what changed between versions is
in docs/formats.md; the readers fill in what an older version lacks). Writes go to a
temporary file in the same folder and are renamed into place, so a failed or
interrupted write never leaves a half-written file.

An ``.npz`` is written at the speed of the disk: its members are stored, not deflated
(zlib at numpy's default level took 10 of the 33 s of a 10M-synapse run), and integer
arrays take the smallest integer type that holds their values (ids, levels and layers
need 8 to 32 bits, not 64), which halves the bytes of the synapse arrays; the readers keep
integer arrays in their stored type (no widened copy of a large array). ``compress=True``
deflates at zlib level 1 instead (several times faster than the default level).
:func:`numpy.load` reads all of these, so none of this changes the format or its version.

Reading trusts nothing: a malformed, truncated or foreign file, a field of the wrong type
or out of range, an array of the wrong kind, shape or length, or an ``.npz`` entry larger
than the memory available (read from its header before it is loaded) is an
:class:`~mapopt.errors.InputError` naming the file and the field (docs/formats.md).
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from mapopt.errors import InputError
from mapopt.io.outdir import atomic_write
from mapopt.resources import check_bytes

#: The version written. 2: neurons carry ``bias`` and ``reset`` arrays and networks a ``task``.
VERSION = 2
#: The versions read.
READABLE = (1, 2)
SUFFIXES = (".json", ".npz")
#: Integers stored in mapopt files stay below this magnitude (int64 with headroom for sums).
INT_LIMIT = 2**62


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
        if path.suffix.lower() == ".npz":
            meta, arrays = _read_npz(path, src)
        else:
            doc = json.loads(path.read_bytes())
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
    except UnicodeDecodeError:
        raise InputError("not a mapopt file (not UTF-8 JSON text)", source=src) from None
    except RecursionError:
        raise InputError("malformed JSON: nested too deeply", source=src) from None
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError, zipfile.LargeZipFile) as err:
        raise InputError(f"unreadable or truncated file: {err}", source=src) from None
    found = meta.get("format")
    if found != kind:
        raise InputError(f"expected a {kind!r} file, found format {found!r}", source=src)
    version = meta.get("version")
    if type(version) is not int or version not in READABLE:
        known = ", ".join(map(str, READABLE))
        raise InputError(f"unsupported {kind} version {version!r} (this mapopt reads versions {known})", source=src)
    return meta, arrays


def _read_npz(path: Path, src: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Metadata and arrays of an ``.npz``; every entry's header is checked before it is loaded."""
    with zipfile.ZipFile(path) as zf:
        need_bytes = 0
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                raise InputError(f"not a mapopt file (entry {info.filename!r} is not a numpy array)", source=src)
            with zf.open(info) as f:
                major, _ = np.lib.format.read_magic(f)
                read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
                shape, _, dtype = read_header(f)
            name = info.filename[: -len(".npy")]
            if dtype.hasobject:
                raise InputError(f"array {name!r} holds Python objects, which mapopt files never do", source=src)
            need_bytes += math.prod(shape) * dtype.itemsize
        check_bytes(f"reading {path.name}", need_bytes, source=src)
    with np.load(path, allow_pickle=False) as z:
        if "__meta__" not in z.files:
            raise InputError("not a mapopt file (no __meta__ entry)", source=src)
        text = z["__meta__"]
        if text.dtype.kind != "U" or text.ndim != 0:
            raise InputError("not a mapopt file (__meta__ is not a JSON string)", source=src)
        meta = json.loads(str(text))
        if not isinstance(meta, dict):
            raise InputError("not a mapopt file (__meta__ is not a JSON object)", source=src)
        arrays = {k: z[k] for k in z.files if k != "__meta__"}
    return meta, arrays


def _as_array(name: str, value: Any, src: str) -> np.ndarray:
    if not isinstance(value, list):
        raise InputError(f"array {name!r} must be a list, got {type(value).__name__}", source=src)
    try:
        arr = np.asarray(value)
    except (ValueError, OverflowError) as err:
        raise InputError(f"array {name!r} is ragged or malformed: {err}", source=src) from None
    if arr.dtype == object:
        raise InputError(f"array {name!r} holds mixed, too large or non-numeric values", source=src)
    return arr


def need(arrays: dict[str, np.ndarray], name: str, src: str) -> np.ndarray:
    """The array ``name``, one-dimensional, or an :class:`InputError` saying what is wrong."""
    if name not in arrays:
        raise InputError(f"missing array {name!r}", source=src)
    arr = arrays[name]
    if arr.ndim != 1:
        raise InputError(f"array {name!r} must be one-dimensional, got shape {arr.shape}", source=src)
    return arr


def need_ints(arrays: dict[str, np.ndarray], name: str, src: str) -> np.ndarray:
    """The array ``name`` as integers, or an :class:`InputError` if it is missing, not integral or too large.

    Signed integer arrays are kept in their stored type (a file's int32 ids stay int32: no
    copy of a large array); everything else becomes int64.
    """
    arr = need(arrays, name, src)
    if arr.size == 0:
        return arr.astype(np.int64)
    kind = arr.dtype.kind
    if kind == "i":
        return arr
    if kind in "bu":
        if kind == "u" and int(arr.max()) >= INT_LIMIT:
            raise InputError(f"array {name!r}: value {int(arr.max())} too large", source=src)
        return arr.astype(np.int64)
    if kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        if float(np.abs(arr).max()) >= INT_LIMIT:
            raise InputError(f"array {name!r}: value {float(np.abs(arr).max()):g} too large", source=src)
        return arr.astype(np.int64)
    raise InputError(f"array {name!r} must hold integers", source=src)


def need_bools(arrays: dict[str, np.ndarray], name: str, src: str) -> np.ndarray:
    """The array ``name`` as bool: booleans, or integers 0 and 1 only."""
    arr = need_ints(arrays, name, src)
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        raise InputError(f"array {name!r} must hold booleans (0 or 1), found {int(arr[(arr < 0) | (arr > 1)][0])}",
                         source=src)  # fmt: skip
    return arr.astype(bool)


def need_floats(arrays: dict[str, np.ndarray], name: str, src: str) -> np.ndarray:
    """The array ``name`` as floats (float32 kept as such, else float64), or an :class:`InputError`."""
    arr = need(arrays, name, src)
    if arr.size and arr.dtype.kind not in "biuf":
        raise InputError(f"array {name!r} must hold real numbers", source=src)
    return arr if arr.dtype == np.float32 else arr.astype(np.float64, copy=False)


def need_meta(meta: dict[str, Any], name: str, src: str) -> Any:
    """The metadata field ``name``, or an :class:`InputError` saying it is missing."""
    if name not in meta:
        raise InputError(f"missing field {name!r}", source=src)
    return meta[name]


def meta_int(
    meta: dict[str, Any], name: str, src: str, *, low: int = 0, high: int = INT_LIMIT, default: int | None = None
) -> int:
    """The integer field ``name`` (``low <= value <= high``; booleans and floats are refused)."""
    value = meta.get(name, default) if default is not None else need_meta(meta, name, src)
    if type(value) is not int:
        raise InputError(f"field {name!r} must be an integer, got {value!r}", source=src)
    if not low <= value <= high:
        raise InputError(f"field {name!r}: {value} outside {low}..{high}", source=src)
    return value


def meta_str(meta: dict[str, Any], name: str, src: str, *, default: str | None = None) -> str:
    """The string field ``name`` (``default`` when absent and a default is given)."""
    value = meta.get(name, default) if default is not None else need_meta(meta, name, src)
    if not isinstance(value, str):
        raise InputError(f"field {name!r} must be a string, got {value!r}", source=src)
    return value
