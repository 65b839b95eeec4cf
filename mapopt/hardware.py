"""The hardware H of docs/model.md, section 2, and its presets (TOML files in ``presets/``).

Tiles sit on a W x H mesh with XY routing, so the hop count between two tiles is their
Manhattan distance; it is computed in closed form (identical to networkx's shortest path
on ``grid_2d_graph``, which the tests check, but O(1) per pair and vectorised).
Tile ``t`` is at ``(x, y) = (t % W, t // W)``.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import asdict, dataclass, field, replace
from importlib import resources

import numpy as np

from mapopt.errors import InputError

ENERGY_FIELDS = ("e_syn", "e_msg", "e_hop", "p_cell", "p_col")
#: Largest crossbar side (rows or columns) and crossbars per tile mapopt accepts.
MAX_CROSSBAR_SIDE = 1 << 20
MAX_CROSSBARS_PER_TILE = 1 << 16
#: Largest mesh (W x H tiles) and number of crossbar slots (W x H x K): solvers keep per-slot arrays.
MAX_TILES = 1 << 20
MAX_SLOTS = 1 << 24


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def check_mesh(w: object, h: object, crossbars_per_tile: int = 1, *, what: str = "mesh") -> tuple[int, int]:
    """``(W, H)`` as ints, or an :class:`InputError` when not positive integers or beyond the supported size."""
    if not (_is_int(w) and _is_int(h)) or w < 1 or h < 1:  # type: ignore[operator]
        raise InputError(f"{what} must be at least 1x1 with integer sides, got {w!r}x{h!r}")
    w, h = int(w), int(h)  # type: ignore[call-overload]
    if w * h > MAX_TILES:
        raise InputError(f"{what} {w}x{h} has {w * h} tiles; at most {MAX_TILES} are supported")
    if w * h * crossbars_per_tile > MAX_SLOTS:
        raise InputError(
            f"{what} {w}x{h} with {crossbars_per_tile} crossbars per tile has {w * h * crossbars_per_tile} crossbar "
            f"slots; at most {MAX_SLOTS} are supported"
        )
    return w, h


@dataclass(frozen=True)
class Hardware:
    """A tile-based neuromorphic chip.

    ``mesh`` is ``(W, H)`` or ``None`` for "auto": the smallest square mesh that holds
    the mapping (see :meth:`with_mesh_for`).
    """

    name: str
    rows: int
    columns: int
    fanin: int
    crossbars_per_tile: int
    mesh: tuple[int, int] | None
    io_tile: tuple[int, int] = (0, 0)
    e_syn: float = 0.0
    e_msg: float = 0.0
    e_hop: float = 0.0
    p_cell: float = 0.0
    p_col: float = 0.0
    description: str = ""
    sources: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not isinstance(self.description, str):
            raise InputError(f"hardware name and description must be strings, got {self.name!r}, {self.description!r}")
        for label in ("rows", "columns", "fanin", "crossbars_per_tile"):
            value = getattr(self, label)
            if not _is_int(value) or value < 1:
                raise InputError(f"hardware {self.name!r}: {label} must be a positive integer, got {value!r}")
        for label in ("rows", "columns"):
            if getattr(self, label) > MAX_CROSSBAR_SIDE:
                raise InputError(
                    f"hardware {self.name!r}: {label} {getattr(self, label)} above the supported {MAX_CROSSBAR_SIDE}"
                )
        if self.crossbars_per_tile > MAX_CROSSBARS_PER_TILE:
            raise InputError(
                f"hardware {self.name!r}: crossbars_per_tile {self.crossbars_per_tile} above the supported "
                f"{MAX_CROSSBARS_PER_TILE}"
            )
        if self.fanin > self.rows:
            raise InputError(
                f"hardware {self.name!r}: fan-in limit F={self.fanin} exceeds crossbar rows R={self.rows}",
                constraint="fanin",
            )
        if not (isinstance(self.io_tile, tuple) and len(self.io_tile) == 2 and all(map(_is_int, self.io_tile))):
            raise InputError(f"hardware {self.name!r}: io_tile must be [x, y] with integers, got {self.io_tile!r}")
        if self.mesh is not None:
            if not (isinstance(self.mesh, tuple) and len(self.mesh) == 2):
                raise InputError(f"hardware {self.name!r}: mesh must be [W, H] or auto, got {self.mesh!r}")
            try:
                w, h = check_mesh(*self.mesh, self.crossbars_per_tile)
            except InputError as err:
                raise InputError(f"hardware {self.name!r}: {err.message}") from None
            x, y = self.io_tile
            if not (0 <= x < w and 0 <= y < h):
                raise InputError(f"hardware {self.name!r}: I/O tile {self.io_tile} outside the {w}x{h} mesh")
        elif min(self.io_tile) < 0:
            raise InputError(f"hardware {self.name!r}: I/O tile {self.io_tile} has a negative coordinate")
        for label in ENERGY_FIELDS:
            value = getattr(self, label)
            if not _is_real(value) or not math.isfinite(value) or value < 0:
                raise InputError(f"hardware {self.name!r}: {label} must be a finite number >= 0, got {value!r}")
        if not (isinstance(self.sources, dict) and all(isinstance(v, str) for v in self.sources.values())):
            raise InputError(f"hardware {self.name!r}: sources must map fields to strings")

    # ------------------------------------------------------------------ geometry
    @property
    def n_tiles(self) -> int:
        if self.mesh is None:
            raise ValueError("mesh is 'auto': call with_mesh_for() first")
        return self.mesh[0] * self.mesh[1]

    @property
    def io_tile_id(self) -> int:
        return self.tile_id(*self.io_tile)

    def tile_id(self, x: int, y: int) -> int:
        w = self.mesh[0] if self.mesh else 1
        return y * w + x

    def tile_xy(self, tiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = self.mesh[0] if self.mesh else 1
        tiles = np.asarray(tiles)
        return tiles % w, tiles // w

    def hops(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """XY-routing hop counts between tile ids ``a`` and ``b`` (Manhattan distance), vectorised."""
        ax, ay = self.tile_xy(a)
        bx, by = self.tile_xy(b)
        return np.abs(ax - bx) + np.abs(ay - by)

    def hop_count(self, a: int, b: int) -> int:
        """:meth:`hops` for one pair of tile ids, in plain Python (for incremental evaluators' inner loops)."""
        w = self.mesh[0] if self.mesh else 1
        return abs(a % w - b % w) + abs(a // w - b // w)

    def tiles_by_distance(self) -> np.ndarray:
        """All tile ids ordered by hop distance from the I/O tile (ties by id)."""
        tiles = np.arange(self.n_tiles)
        d = self.hops(tiles, np.full_like(tiles, self.io_tile_id))
        return tiles[np.lexsort((tiles, d))]

    def crossbar_slots(self) -> np.ndarray:
        """Tile of every crossbar slot (K per tile), slots nearest the I/O tile first."""
        return np.repeat(self.tiles_by_distance(), self.crossbars_per_tile)

    def with_mesh_for(self, crossbars: int) -> Hardware:
        """Resolve an 'auto' mesh to the smallest square mesh holding ``crossbars``."""
        if self.mesh is not None:
            return self
        tiles = max(1, math.ceil(crossbars / self.crossbars_per_tile))
        side = max(1, math.isqrt(tiles - 1) + 1) if tiles > 1 else 1
        x, y = self.io_tile
        side = max(side, x + 1, y + 1)
        return replace(self, mesh=(side, side))

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["mesh"] = "auto" if self.mesh is None else list(self.mesh)
        d["io_tile"] = list(self.io_tile)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, object], *, source: str = "hardware") -> Hardware:
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise InputError(f"unknown hardware field(s): {', '.join(sorted(unknown))}", source=source)
        missing = {"name", "rows", "columns", "fanin", "crossbars_per_tile", "mesh"} - set(d)
        if missing:
            raise InputError(f"missing hardware field(s): {', '.join(sorted(missing))}", source=source)
        d = dict(d)
        try:
            d["mesh"] = parse_mesh(d["mesh"], source=source)
        except InputError as err:
            raise err.with_source(source) from None
        io_tile = d.get("io_tile", (0, 0))
        if not (isinstance(io_tile, (list, tuple)) and len(io_tile) == 2):
            raise InputError(f"hardware field io_tile must be [x, y], got {io_tile!r}", source=source)
        d["io_tile"] = tuple(io_tile)
        try:
            return cls(**d)  # type: ignore[arg-type]
        except InputError as err:
            raise err.with_source(source) from None
        except (TypeError, ValueError) as err:
            raise InputError(f"bad hardware description: {err}", source=source) from None


def parse_mesh(value: object, *, source: str = "--mesh") -> tuple[int, int] | None:
    """Parse ``"auto"``, ``"WxH"`` or ``[W, H]`` into ``None`` or ``(W, H)``."""
    if value is None or value == "auto":
        return None
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(-?\d+)\s*[xX]\s*(-?\d+)\s*", value)
        if not m:
            raise InputError(f"mesh must be WxH or auto, got {value!r}", source=source)
        value = (int(m.group(1)), int(m.group(2)))
    if isinstance(value, (list, tuple)) and len(value) == 2:
        try:
            return check_mesh(value[0], value[1])
        except InputError as err:
            raise err.with_source(source) from None
    raise InputError(f"mesh must be WxH or auto, got {value!r}", source=source)


def parse_crossbar(value: str) -> tuple[int, int]:
    """Parse ``"RxC"`` (rows x columns)."""
    m = re.fullmatch(r"\s*(-?\d+)\s*[xX]\s*(-?\d+)\s*", value)
    if not m:
        raise InputError(f"crossbar size must be RxC, got {value!r}", source="--crossbar")
    r, c = int(m.group(1)), int(m.group(2))
    if r < 1 or c < 1:
        raise InputError(f"crossbar size must be positive, got {r}x{c}", source="--crossbar")
    if max(r, c) > MAX_CROSSBAR_SIDE:
        raise InputError(f"crossbar size {r}x{c} above the supported {MAX_CROSSBAR_SIDE} per side", source="--crossbar")
    return r, c


def preset_names() -> list[str]:
    files = resources.files("mapopt.presets").iterdir()
    return sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml"))


def load_preset(name: str) -> Hardware:
    """Load a named preset; an unknown name is an :class:`InputError` listing the known ones."""
    names = preset_names()
    if name not in names:
        raise InputError(f"unknown hardware preset {name!r}; known: {', '.join(names)}", source="--hw")
    text = resources.files("mapopt.presets").joinpath(f"{name}.toml").read_text()
    return Hardware.from_dict(tomllib.loads(text), source=f"preset {name}")


def customise(
    hw: Hardware,
    *,
    crossbar: str | None = None,
    fanin: int | None = None,
    crossbars_per_tile: int | None = None,
    mesh: str | None = None,
) -> Hardware:
    """Apply the CLI overrides ``--crossbar RxC --fanin F --crossbars-per-tile K --mesh WxH|auto``.

    A crossbar override that leaves the preset's fan-in above the new row count lowers
    the fan-in to R (F <= R always holds); an explicit ``fanin`` is kept as given.
    """
    changes: dict[str, object] = {}
    if crossbar is not None:
        r, c = parse_crossbar(crossbar)
        changes.update(rows=r, columns=c)
        if fanin is None and hw.fanin > r:
            changes["fanin"] = r
    if fanin is not None:
        changes["fanin"] = fanin
    if crossbars_per_tile is not None:
        changes["crossbars_per_tile"] = crossbars_per_tile
    if mesh is not None:
        changes["mesh"] = parse_mesh(mesh)
    if not changes:
        return hw
    try:
        return replace(hw, **changes)  # type: ignore[arg-type]
    except InputError as err:
        raise err.with_source("hardware overrides") from None
