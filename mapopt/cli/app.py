"""The ``mapopt`` console entry point.

Commands live one module per command (or family) in this package; each module with a
``register(app)`` function is discovered and registered here. :func:`main` turns an
:class:`~mapopt.errors.InputError` into one line on stderr and exit code 2, without a
traceback; Ctrl-C exits with 130.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

import mapopt.cli as cli_package
from mapopt.errors import InputError

app = typer.Typer(
    name="mapopt",
    help="Map spiking neural networks onto tile-based neuromorphic hardware.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

for _info in sorted(pkgutil.iter_modules(cli_package.__path__), key=lambda i: i.name):
    if _info.name in ("app", "common"):
        continue
    _module = importlib.import_module(f"mapopt.cli.{_info.name}")
    if hasattr(_module, "register"):
        _module.register(app)


def main() -> None:
    """Run the CLI; user errors exit 2 with one line, interrupts exit 130.

    Typer (in standalone mode) handles usage errors itself (exit 2) and exits with each
    command's code; only mapopt's own :class:`InputError` is turned into a one-line message
    here, so genuine bugs still show their traceback.
    """
    try:
        app()
    except InputError as err:
        print(f"mapopt: error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("mapopt: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
