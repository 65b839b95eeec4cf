"""Output folders written as one unit: built in a temporary sibling folder, then renamed into place.

A kill while a report is being written leaves either the previous folder or the new one,
never a half-written mix. An existing folder of the same name is replaced.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from mapopt.errors import InputError


def check_out_dir(out: Path, option: str = "--out") -> None:
    """``out`` can be written: not an existing file, its parent an existing, writable folder."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder", source=f"{option} {out}")
    parent = out.resolve().parent
    if not parent.is_dir():
        raise InputError(f"parent folder {parent} does not exist", source=f"{option} {out}")
    if not os.access(parent, os.W_OK):
        raise InputError(f"parent folder {parent} is not writable", source=f"{option} {out}")


def write_folder(out: Path, build: Callable[[Path], list[str]]) -> list[Path]:
    """Call ``build(tmp)`` to fill a fresh sibling folder, then move it to ``out``; returns the files."""
    out = Path(out)
    check_out_dir(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.resolve().parent))
    try:
        names = build(tmp)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.resolve().parent))
            os.replace(out, old / out.name)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [out / n for n in names]
