"""Declared hyperparameter search spaces: what a solver may be tuned over, next to its hyperparameters.

A solver class declares ``space = SearchSpace(Int(...), Float(...), Categorical(...))``
(see :class:`mapopt.solver.Solver`). Each entry names one keyword-only hyperparameter and
maps onto one of Optuna's ``suggest_*`` calls, so a tuner samples a configuration with
:meth:`SearchSpace.suggest` (``trial`` is an ``optuna.Trial``; nothing here imports
Optuna). A parameter with ``when=("other", (values...))`` is *conditional*: it is sampled
only when the parameter ``other`` (declared before it) took one of those values, and keeps
its default otherwise (Optuna's define-by-run conditional spaces).

The conformance suite samples every declared space and checks that each sample makes a
solver that returns a valid mapping, and that every solver's defaults lie in its space.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol


class Trial(Protocol):
    """The part of ``optuna.Trial`` a search space uses."""

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int: ...

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float: ...

    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


@dataclass(frozen=True)
class Param(ABC):
    """One tunable hyperparameter: its name and, for conditional ones, when it is sampled."""

    name: str
    when: tuple[str, tuple[Any, ...]] | None = field(default=None, kw_only=True)

    def active(self, chosen: dict[str, Any]) -> bool:
        if self.when is None:
            return True
        parent, values = self.when
        return parent in chosen and chosen[parent] in values

    @abstractmethod
    def suggest(self, trial: Trial) -> Any:
        """Sample this parameter through ``trial`` (one ``suggest_*`` call)."""

    @abstractmethod
    def contains(self, value: Any) -> bool:
        """Whether ``value`` lies in this parameter's range or choices."""

    @abstractmethod
    def corners(self) -> list[Any]:
        """The extreme values (both ends of a range, every choice)."""

    @abstractmethod
    def describe(self) -> str:
        """One line for ``mapopt list solvers --params``."""

    def _cond(self) -> str:
        if self.when is None:
            return ""
        parent, values = self.when
        return f" if {parent} in {{{', '.join(map(repr, values))}}}"


@dataclass(frozen=True)
class Int(Param):
    """An integer in [low, high] (``suggest_int``), on a log scale if ``log``."""

    low: int = 0
    high: int = 0
    log: bool = False
    step: int = 1

    def suggest(self, trial: Trial) -> int:
        return trial.suggest_int(self.name, self.low, self.high, step=self.step, log=self.log)

    def contains(self, value: Any) -> bool:
        ok = isinstance(value, int) and not isinstance(value, bool) and self.low <= value <= self.high
        return ok and (value - self.low) % self.step == 0

    def corners(self) -> list[Any]:
        return [self.low, self.high]

    def describe(self) -> str:
        return f"{self.name}: int [{self.low}, {self.high}]{' log' if self.log else ''}{self._cond()}"


@dataclass(frozen=True)
class Float(Param):
    """A float in [low, high] (``suggest_float``), on a log scale if ``log``."""

    low: float = 0.0
    high: float = 1.0
    log: bool = False

    def suggest(self, trial: Trial) -> float:
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)

    def contains(self, value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and self.low <= value <= self.high

    def corners(self) -> list[Any]:
        return [self.low, self.high]

    def describe(self) -> str:
        return f"{self.name}: float [{self.low:g}, {self.high:g}]{' log' if self.log else ''}{self._cond()}"


@dataclass(frozen=True)
class Categorical(Param):
    """One of ``choices`` (``suggest_categorical``): strings, numbers, booleans or None."""

    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Trial) -> Any:
        return trial.suggest_categorical(self.name, list(self.choices))

    def contains(self, value: Any) -> bool:
        return any(value == c and type(value) is type(c) for c in self.choices)

    def corners(self) -> list[Any]:
        return list(self.choices)

    def describe(self) -> str:
        return f"{self.name}: one of {{{', '.join(map(repr, self.choices))}}}{self._cond()}"


class SearchSpace:
    """The tunable hyperparameters of one solver, in sampling order (parents before conditionals)."""

    def __init__(self, *params: Param):
        names = [p.name for p in params]
        if len(set(names)) != len(names):
            raise ValueError(f"search space names a parameter twice: {names}")
        for i, p in enumerate(params):
            if p.when is not None and p.when[0] not in names[:i]:
                raise ValueError(f"{p.name}: condition on {p.when[0]!r}, which is not declared before it")
        self.params = params

    def __iter__(self) -> Iterator[Param]:
        return iter(self.params)

    def __len__(self) -> int:
        return len(self.params)

    def __bool__(self) -> bool:
        return bool(self.params)

    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def suggest(self, trial: Trial) -> dict[str, Any]:
        """A configuration sampled by ``trial`` (conditional parameters only when active)."""
        chosen: dict[str, Any] = {}
        for p in self.params:
            if p.active(chosen):
                chosen[p.name] = p.suggest(trial)
        return chosen

    def corner_configs(self) -> list[dict[str, Any]]:
        """Configurations at the extremes: the k-th puts every parameter at its k-th corner (low or
        high end of a range, cycling through a categorical's choices), conditional ones where active."""
        out = []
        for k in range(max(len(p.corners()) for p in self.params) if self.params else 0):
            config: dict[str, Any] = {}
            for p in self.params:
                if p.active(config):
                    corners = p.corners()
                    config[p.name] = corners[k % len(corners)]
            out.append(config)
        return out

    def outside(self, params: dict[str, Any]) -> list[str]:
        """The names of ``params`` whose values lie outside this space (unknown names are ignored)."""
        by_name = {p.name: p for p in self.params}
        return [k for k, v in params.items() if k in by_name and not by_name[k].contains(v)]

    def describe(self) -> list[str]:
        return [p.describe() for p in self.params]
