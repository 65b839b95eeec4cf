"""Errors that mapopt reports to users as one clear line.

Every error a user can cause (bad file, unknown name, a net that cannot fit) is an
:class:`InputError`. The CLI prints ``str(error)`` on one line and exits with code 2;
nothing else is caught, so genuine bugs still show a traceback.
"""

from __future__ import annotations

#: Stable names of the mapping constraints (docs/model.md, section 4).
CONSTRAINTS = ("columns", "rows", "fanin", "tile-capacity", "complete", "decomposition")


class InputError(ValueError):
    """A user-caused error: names the file or item and, where it applies, the constraint.

    Parameters
    ----------
    message:
        What is wrong, in one line.
    source:
        The file or catalog item the problem is in (prefixed to the message).
    constraint:
        The stable constraint name of docs/model.md, when a model constraint is violated.
    """

    def __init__(self, message: str, *, source: str | None = None, constraint: str | None = None):
        self.message = message
        self.source = source
        self.constraint = constraint
        super().__init__(self._render())

    def _render(self) -> str:
        parts = []
        if self.source:
            parts.append(f"{self.source}:")
        if self.constraint:
            parts.append(f"[{self.constraint}]")
        parts.append(self.message)
        return " ".join(parts).replace("\n", " ")

    def with_source(self, source: str) -> InputError:
        """Return the same error attributed to ``source`` (when it has none yet)."""
        if self.source:
            return self
        return InputError(self.message, source=source, constraint=self.constraint)


class ModelWarning(UserWarning):
    """An input holds something mapopt's model represents only approximately (or not at all).

    Readers raise it once per node and parameter, naming both, with what mapopt does
    instead; the CLI prints it as one line ``mapopt: warning: ...`` on stderr. Nothing a
    reader cannot model is dropped silently.
    """
