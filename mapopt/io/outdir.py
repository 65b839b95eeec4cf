"""Output files and folders written as one unit (docs/formats.md, "Output folders").

Every command that writes (``--out``) goes through this module, so that a kill at any
moment leaves a target complete or absent, never half-written:

- :func:`check_output_file` and :func:`output_dir` check the target **first**, before any
  work: not an existing file where a folder goes (or the reverse), the parent folder
  exists and is writable, an existing folder is one mapopt wrote (it is replaced) and not
  someone's other files (refused). Problems are an :class:`~mapopt.errors.InputError`
  naming the option (exit 2).
- A folder is built in a temporary sibling (``.NAME.tmp-PID-XXXX``) and renamed into place
  in one step (``renameat2(RENAME_EXCHANGE)`` swaps it with an older version on Linux, so
  the old folder stays complete until the new one replaces it). Each folder carries a
  marker file, :data:`MARKER`, that tells later runs it is mapopt's to replace.
- One writer per folder: a lock file next to it (``.NAME.lock``, holding the owner's pid)
  is held with ``flock`` for the whole command; a second writer is refused with the
  owner's pid. The kernel drops the lock when its owner dies, so a ``kill -9`` never
  leaves a folder locked; the next writer then removes the dead run's temporary folders.
- Single files go through :func:`atomic_write` (temporary sibling, then ``os.replace``).
  Files are created with mode 0666 and folders 0777 minus the umask, like any program's.

Usage in a command (the lock is taken when the ``with`` starts, before the work)::

    with output_dir(out) as target:          # out may be None: target is then None
        result = compute()
        if target is not None:
            with target.staging() as folder:  # a fresh temporary sibling
                write(folder / "report.json")
            # here the folder is in place, complete
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import secrets
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from mapopt.errors import InputError

#: Marker file in every folder mapopt writes; a folder holding it may be replaced.
MARKER = ".mapopt-output"
#: Files an output folder of earlier mapopt versions (without a marker) holds.
LEGACY_NAMES = ("report.json", "report.md")
LEGACY_PREFIX = "mapping-"
#: Linux renameat2 flag: atomically exchange two paths.
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _temp_name(name: str, kind: str) -> str:
    return f".{name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}"


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs on this machine (a zombie, killed but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _stale_pid(entry: Path, stem: str) -> bool:
    """Whether ``entry`` (``STEM-PID-XXXX``) was left by a process that is no longer alive."""
    pid_text = entry.name[len(stem) :].split("-")[0]
    return not pid_text.isdigit() or not pid_alive(int(pid_text))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT/SIGTERM for a few system calls (a rename): they take effect right after."""
    held = {signal.SIGINT, signal.SIGTERM}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (ValueError, OSError):  # not the main thread or no signal support: nothing to hold
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _check_parent(path: Path, option: str) -> Path:
    """The folder that will hold ``path``; it must exist and be a writable folder."""
    parent = path.absolute().parent
    if not parent.exists():
        raise InputError(f"{path}: parent folder {parent} does not exist", source=option)
    if not parent.is_dir():
        raise InputError(f"{path}: {parent} is not a folder", source=option)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{path}: cannot write in {parent} (permission denied)", source=option)
    return parent


def _os_error(path: Path, option: str, err: OSError) -> InputError:
    return InputError(f"{path}: cannot write: {err.strerror or err}", source=option)


# ---------------------------------------------------------------------- single files
def check_output_file(path: Path | str, *, suffixes: tuple[str, ...] = (), option: str = "--out") -> Path:
    """Check, before any work, that a file can be written at ``path``; returns it as a Path.

    Refused: a folder at ``path``, a missing or unwritable parent, a suffix outside
    ``suffixes`` (when given). Writability is tested by creating and removing a probe file.
    """
    path = Path(path)
    if suffixes and path.suffix.lower() not in suffixes:
        raise InputError(f"{path}: unknown file type {path.suffix or '(none)'!r}; use {' or '.join(suffixes)}",
                         source=option)  # fmt: skip
    if path.is_dir():
        raise InputError(f"{path} is a folder; give a file name", source=option)
    parent = _check_parent(path, option)
    probe = parent / _temp_name(path.name, "probe")
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as err:
        raise _os_error(path, option, err) from None
    probe.unlink(missing_ok=True)
    return path


def atomic_write(path: Path | str, write: Callable[[IO[Any]], object], *, binary: bool) -> None:
    """Call ``write(file)`` on a temporary sibling of ``path``, then rename it into place.

    An interrupted write leaves no half-written ``path``; a temporary left by a killed
    process (``.NAME.tmp-PID-XXXX`` of a pid that is gone) is removed by the next write.
    """
    path = Path(path)
    parent = path.parent
    stem = f".{path.name}.tmp-"
    with contextlib.suppress(OSError):
        for entry in parent.glob(f"{_glob_escape(stem)}*"):
            if _stale_pid(entry, stem):
                entry.unlink(missing_ok=True)
    tmp = parent / _temp_name(path.name, "tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


# ---------------------------------------------------------------------- folders
class OutputDir:
    """An output folder, checked and locked when created, written as one unit by :meth:`staging`.

    Use :func:`output_dir`, which also releases the lock. ``option`` names the command-line
    option in error messages.
    """

    def __init__(self, path: Path | str, *, option: str = "--out"):
        self.path = Path(path)
        self.option = option
        self.replaces = False  #: whether an older mapopt folder is at the path (it will be replaced)
        self._lock_fd: int | None = None
        self._check()
        self._lock()

    # ------------------------------------------------------------------ checks
    def _check(self) -> None:
        path, option = self.path, self.option
        cwd = Path.cwd().resolve()
        if path.exists() and not path.is_symlink() and (cwd == path.resolve() or path.resolve() in cwd.parents):
            raise InputError(f"{path} is the current folder or holds it; give a new folder", source=option)
        resolved = path.absolute()
        if not path.name or resolved == resolved.parent:
            raise InputError(f"{path}: give a folder name for the output", source=option)
        if path.is_symlink():
            raise InputError(f"{path} is a symbolic link; give the folder itself", source=option)
        if path.exists() and not path.is_dir():
            raise InputError(f"{path} is an existing file, not a folder", source=option)
        self.parent = _check_parent(path, option)
        if path.is_dir():
            try:
                entries = sorted(p.name for p in path.iterdir())
            except OSError as err:
                raise _os_error(path, option, err) from None
            foreign = [e for e in entries if not _ours(e)]
            if MARKER not in entries and foreign:
                shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
                raise InputError(
                    f"{path} exists and holds files mapopt did not write ({shown}); choose a new folder or empty it",
                    source=option,
                )
            self.replaces = bool(entries)

    def _lock(self) -> None:
        """Take ``.NAME.lock`` next to the folder (flock, owner's pid inside); refuse a second writer."""
        lock_path = self.parent / f".{self.path.name}.lock"
        while True:
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as err:
                raise _os_error(self.path, self.option, err) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise InputError(
                    f"{self.path} is being written by another mapopt process (pid {owner}); "
                    "wait for it to finish or choose another folder",
                    source=self.option,
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(lock_path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the previous owner removed the file between our open and flock: take the new one
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd, self._lock_path = fd, lock_path
        self._sweep()

    def _sweep(self) -> None:
        """Remove temporary siblings of earlier, killed runs (we hold the lock: nobody else uses them)."""
        name = _glob_escape(self.path.name)
        for kind in ("tmp", "old"):
            for entry in self.parent.glob(f".{name}.{kind}-*"):
                _remove(entry)

    def release(self) -> None:
        """Drop the lock (removing the lock file); idempotent."""
        if self._lock_fd is None:
            return
        self._lock_path.unlink(missing_ok=True)
        os.close(self._lock_fd)
        self._lock_fd = None

    # ------------------------------------------------------------------ writing
    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A fresh temporary sibling folder to write into; renamed onto the path when the block ends.

        If the block raises (or is interrupted) the temporary folder is removed and the path
        is left as it was.
        """
        if self._lock_fd is None:
            raise RuntimeError("output folder lock already released")
        tmp = self.parent / _temp_name(self.path.name, "tmp")
        try:
            os.mkdir(tmp, 0o777)
        except OSError as err:
            raise _os_error(self.path, self.option, err) from None
        try:
            yield tmp
            marker = {"writer": "mapopt", "pid": os.getpid()}
            with open(tmp / MARKER, "w") as f:
                json.dump(marker, f)
            with _signals_held():
                old = self._commit(tmp)
            if old is not None:
                _remove(old)
        except BaseException:
            _remove(tmp)
            raise

    def _commit(self, tmp: Path) -> Path | None:
        """Put ``tmp`` at the path; returns what must be removed afterwards (the old folder) or None."""
        target = self.path.absolute()
        if not target.exists():
            os.rename(tmp, target)
            return None
        if _exchange(tmp, target):
            return tmp  # tmp now holds the old folder
        old = self.parent / _temp_name(self.path.name, "old")
        os.rename(target, old)  # no atomic exchange here: the path is absent for one rename
        os.rename(tmp, target)
        return old


def _ours(entry: str) -> bool:
    """An entry an output folder of mapopt holds (marker, reports, mappings, temporaries)."""
    temporary = entry.startswith(".") and ".tmp-" in entry
    return entry == MARKER or entry in LEGACY_NAMES or entry.startswith(LEGACY_PREFIX) or temporary


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


@contextlib.contextmanager
def output_dir(path: Path | str | None, *, option: str = "--out") -> Iterator[OutputDir | None]:
    """Check and lock the output folder ``path`` now (None: no output, yields None); release at the end."""
    if path is None:
        yield None
        return
    target = OutputDir(path, option=option)
    try:
        yield target
    finally:
        target.release()
