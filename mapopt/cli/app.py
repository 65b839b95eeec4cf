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

import click
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
    """Run the CLI; user errors exit 2 with one line, interrupts exit 130."""
    try:
        code = app(standalone_mode=False)
    except InputError as err:
        print(f"mapopt: error: {err}", file=sys.stderr)
        sys.exit(2)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except (click.Abort, KeyboardInterrupt):
        print("mapopt: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
