"""The ``mapopt`` console entry point.

Commands live one module per command (or family) in this package; each module with a
``register(app)`` function is discovered and registered here. Command modules import
numpy and the framework inside their functions, so ``mapopt --help`` stays fast.

:func:`main` gives every user error one line on stderr, ``mapopt: error: ...``, and exit
code 2, without a traceback: mapopt's own :class:`~mapopt.errors.InputError` and the
command-line parser's usage errors (unknown option, value out of range) alike. SIGINT
and SIGTERM stop the run cleanly (:mod:`mapopt.interrupt`) and exit with 130 and 143.
A :class:`~mapopt.errors.ModelWarning` (a reader met a parameter it can only approximate)
is one line ``mapopt: warning: ...`` on stderr, and the command goes on. Anything else is
a bug and keeps its traceback.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import warnings
from typing import Any

import typer

import mapopt.cli as cli_package
from mapopt import interrupt
from mapopt.errors import InputError, ModelWarning

app = typer.Typer(
    name="mapopt",
    help="Map spiking neural networks onto tile-based neuromorphic hardware.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: wraps to the terminal, never cuts text, no type noise on flags
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)

for _info in sorted(pkgutil.iter_modules(cli_package.__path__), key=lambda i: i.name):
    if _info.name in ("app", "common"):
        continue
    _module = importlib.import_module(f"mapopt.cli.{_info.name}")
    if hasattr(_module, "register"):
        _module.register(app)


def _usage_line(err: typer.TyperException) -> str:
    """A parser error as one line, with the command to get help."""
    message = " ".join(err.format_message().split())
    ctx = getattr(err, "ctx", None)
    hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
    return f"mapopt: error: {message}{hint}"


_python_show_warning = warnings.showwarning


def _show_warning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    """A :class:`ModelWarning` is one line on stderr (``mapopt: warning: ...``); others as Python shows them."""
    if issubclass(category, ModelWarning):
        print(f"mapopt: warning: {message}", file=sys.stderr)
    else:
        _python_show_warning(message, category, *args, **kwargs)


def main() -> None:
    """Run the CLI: user errors exit 2 with one line, SIGINT 130, SIGTERM 143 (docs/reliability.md)."""
    interrupt.install()
    warnings.showwarning = _show_warning
    try:
        code = app(standalone_mode=False)
    except InputError as err:
        print(f"mapopt: error: {err}", file=sys.stderr)
        code = 2
    except typer.TyperException as err:  # the parser's usage errors (exit 2) and friends
        if type(err).__name__ == "NoArgsIsHelpError":  # `mapopt` alone: the help, as --help prints it
            print(err.format_message())
            code = 0
        else:
            print(_usage_line(err), file=sys.stderr)
            code = getattr(err, "exit_code", 2)
    except typer.Abort:
        print("mapopt: aborted", file=sys.stderr)
        code = 1
    except MemoryError:
        print("mapopt: error: out of memory (the input is too large for this machine)", file=sys.stderr)
        code = 2
    except KeyboardInterrupt as err:
        interrupt.request(getattr(err, "signum", 2))
        code = 0
    except BrokenPipeError:  # e.g. `mapopt list nets | head -1`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    if interrupt.requested() is not None:
        print(f"mapopt: interrupted ({interrupt.name()})", file=sys.stderr)
        # Everything is printed and every temporary file removed (the with blocks ran): leave
        # now, without tearing down large solver models object by object.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(interrupt.exit_code())
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
