"""Parsing of generator arguments (the part after ``PREFIX:`` in ``--net PREFIX:ARGS``).

Shared by the generator modules so that every family reads sizes and ``key=value``
options the same way and reports a bad argument in one clear line.
"""

from __future__ import annotations

from mapopt.errors import InputError


def parse_sizes(text: str, *, prefix: str, count: int | None = None, sep: str = "-") -> list[int]:
    """Positive integers separated by ``sep`` (exactly ``count`` of them when given)."""
    try:
        sizes = [int(x) for x in text.split(sep)]
    except ValueError:
        raise InputError(f"{prefix} sizes must be integers separated by {sep!r}, got {text!r}") from None
    if count is not None and len(sizes) != count:
        raise InputError(f"{prefix} takes {count} sizes separated by {sep!r}, got {text!r}")
    if any(s < 1 for s in sizes):
        raise InputError(f"{prefix} sizes must be positive, got {text!r}")
    return sizes


def parse_options(tokens: list[str], defaults: dict[str, float], *, prefix: str) -> dict[str, float]:
    """``key=value`` tokens over ``defaults`` (unknown keys and non-numbers are errors); ints stay ints."""
    out = dict(defaults)
    for tok in tokens:
        key, eq, value = tok.partition("=")
        if not eq or key not in defaults:
            raise InputError(f"{prefix}: unknown option {tok!r}; options: {', '.join(f'{k}=' for k in defaults)}")
        try:
            out[key] = int(value) if isinstance(defaults[key], int) else float(value)
        except ValueError:
            kind = "an integer" if isinstance(defaults[key], int) else "a number"
            raise InputError(f"{prefix}: option {key} must be {kind}, got {value!r}") from None
    return out
