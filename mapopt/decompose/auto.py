"""``auto``: per layer, the unrolling that packs into the fewest crossbars, below the fan-in limit too.

The paper (Balaji et al., IEEE ESL 2020, arXiv 2009.09298) unrolls only neurons whose
fan-in exceeds F, into a chain of two-input units. That misses the case it names as the
best for decomposition: image filters with local receptive fields, whose fan-in is just
under the crossbar's rows, so that no two neighbours fit one crossbar whole, while halves
of their receptive fields do, and pack densely. ``auto`` therefore considers unrolling
*every* compute neuron, and keeps a split only where it pays:

- **candidates** per layer (a *class*: its neurons read overlapping inputs, so they share
  one grouping to share rows): the source key (``id``, ``position``: the channels of one
  position together, ``cooccurrence``), the grouping (``chunk``, ``strip``: receptive-field
  rows kept whole, ``block``: aligned blocks, see :mod:`mapopt.decompose.ordering`), the
  leaf size (F, F/2, and the class's largest fan-in over 2, 3, 4), a fan-in threshold below
  which a neuron stays whole (so border neurons of a filter, with smaller windows, may stay
  whole while the interior splits: the choice is per neuron), and the shape: a tree over
  the leaves, or a chain of them where the depth limit allows (a chain of two units needs
  one unit and one partial-sum row less than a two-leaf tree);
- **scoring** by packing: each candidate's units are packed with
  :func:`mapopt.decompose.layout.pack` (next-fit over groups of identical leaves, in
  locality orders, 2-D bands when the sources form a grid) and ranked by crossbars, then
  depth, then units. Candidates are searched in two stages (source key and grouping at the
  plain leaf size; then sizes, thresholds and shapes for the two best) on the layer, or on
  a contiguous sample of at most :data:`SAMPLE_SYNAPSES` synapses of it, so the cost stays
  linear in the net;
- the chosen N' is built and packed whole (all layers together, see :func:`layout_of`),
  as are the same groups as trees when chains were chosen, the plain F-input tree and,
  within the depth limit, the plain F-input chain;
  the one with the fewest crossbars is kept, with its packing as ``Decomposition.layout``,
  a proposal solvers may start from (the validator checks whatever they return). Above
  :data:`LAYOUT_UNITS` units this whole-net packing is skipped (it is a Python loop per
  unit): the per-class choice is kept, and the solvers pack it.

``max_depth`` bounds the depth (units on a root-to-leaf path); by default it is the larger
of 2 and the depth the net needs with F-input units, so neurons that fit F may be split
into two-level trees or two-unit chains, and nothing is made deeper than necessary beyond
that. The F-input ``chunk`` tree, the shallowest decomposition, is always a candidate, so a
limit it cannot meet is reported as an :class:`InputError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from mapopt.decompose.base import Decomposition, unit_slots
from mapopt.decompose.chain import chain as chain_of
from mapopt.decompose.chain import chain_units
from mapopt.decompose.layout import UnitSets, assemble_layout, grid_width, merge, n_orders, pack, unit_ids, units_of
from mapopt.decompose.ordering import (
    GROUPINGS,
    ORDERS,
    block_groups,
    chunk_groups,
    neuron_classes,
    reader_classes,
    source_keys,
    strip_groups,
)
from mapopt.decompose.tree import grouped_units, tree_levels, tree_shape
from mapopt.errors import InputError
from mapopt.hardware import Hardware
from mapopt.network import Network, wide

#: Classes with more synapses are scored on a contiguous sample of about this many.
SAMPLE_SYNAPSES = 100_000
#: Above this many units in N', auto's own whole-net packing (a Python next-fit, linear but
#: slow per unit) is skipped: the choice per class stands and the solvers pack N' themselves
#: (``layered``'s vectorised next-fit). Every net of docs/decomposition.md is far below it.
LAYOUT_UNITS = 50_000
#: (source key, grouping) pairs of the first stage carried into the second.
KEEP_STRUCTURES = 2
#: Packing orders of the first stage carried into the second.
KEEP_ORDERS = 2


class SourceKeys(dict[str, np.ndarray]):
    """The source keys of :data:`~mapopt.decompose.ordering.ORDERS` for one net, each computed when first used."""

    def __init__(self, net: Network, positions: np.ndarray) -> None:
        super().__init__()
        self.net, self.positions = net, positions

    def __missing__(self, name: str) -> np.ndarray:
        if name == "position":  # = source_keys(net, "position"), from the classes already computed
            keys = np.empty(self.net.n_neurons, dtype=np.int64)
            keys[np.lexsort((np.arange(self.net.n_neurons), self.positions))] = np.arange(self.net.n_neurons)
        else:
            keys = source_keys(self.net, name)
        self[name] = keys
        return keys


@dataclass(frozen=True)
class Choice:
    """One candidate unrolling of a class: how leaves are cut, which neurons split, tree or chain."""

    key: str
    grouping: str
    size: int  # leaf size g: a split neuron of fan-in m gets ceil(m / g) groups
    threshold: int  # neurons with fan-in <= threshold stay whole (those above F always split)
    chain: bool  # chain of the groups (where the depth limit allows) instead of a tree
    align: int = 1  # strips only: cuts on grid rows that are multiples of this (see ordering.strip_groups)

    def label(self) -> str:
        shape = "chain" if self.chain else "tree"
        grouping = self.grouping if self.align == 1 else f"{self.grouping}/{self.align}"
        return f"{shape}:{self.size},order={self.key},grouping={grouping},whole<={self.threshold}"


@dataclass(frozen=True)
class Score:
    crossbars: int
    depth: int
    units: int
    order: int

    def rank(self) -> tuple[int, int, int]:
        return (self.crossbars, self.depth, self.units)


def default_depth(net: Network, hw: Hardware) -> int:
    """The depth limit when none is given: max(2, the depth F-input trees need)."""
    compute = ~net.is_input
    need = int(tree_levels(net.fanin[compute], hw.fanin).max(initial=1))
    return max(2, need)


def check_depth(net: Network, hw: Hardware, max_depth: int) -> None:
    """Raise if some neuron needs a deeper tree than ``max_depth`` even with F-input units."""
    if max_depth < 1:
        raise InputError(f"max depth must be at least 1, got {max_depth}", source="--decompose")
    need = np.where(net.is_input, 0, tree_levels(net.fanin, hw.fanin))
    worst = int(np.argmax(need))
    if need[worst] > max_depth:
        raise InputError(
            f"neuron {worst} has fan-in {int(net.fanin[worst])}: with at most F={hw.fanin} inputs per unit it "
            f"needs depth {int(need[worst])}, above the limit depth={max_depth}",
            source="--decompose",
        )


def _subnet(net: Network, members: np.ndarray) -> tuple[Network, np.ndarray, np.ndarray]:
    """The members with their inputs: ``(sub, ids, edges)``; ``ids`` are the N ids of sub's neurons (ascending),
    ``edges`` the N synapses of sub's synapses (members' in-edges, in sub's synapse order)."""
    lo, cnt = net.in_ptr[members], net.fanin[members]
    edges = np.repeat(lo - unit_slots(cnt), cnt) + np.arange(int(cnt.sum()))
    keep = np.zeros(net.n_neurons, dtype=bool)
    keep[members] = True
    keep[net.pre[edges]] = True
    ids = np.flatnonzero(keep)
    remap = np.full(net.n_neurons, -1, dtype=np.int64)
    remap[ids] = np.arange(ids.size)
    is_input = np.ones(ids.size, dtype=bool)
    is_input[remap[members]] = False
    sub = Network(
        name=net.name,
        is_input=is_input,
        pre=remap[net.pre[edges]],
        post=remap[net.post[edges]],
        weight=net.weight[edges],
        spikes=net.spikes[ids],
        layer=net.layer[ids],
    )  # members' in-edges are sorted by (post, pre) in N, and ids keep their order: sub is canonical
    return sub, ids, edges


def _sample(net: Network, members: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Members to score on: all of them, or a contiguous run (by first input key) of about SAMPLE_SYNAPSES."""
    total = int(net.fanin[members].sum())
    if total <= SAMPLE_SYNAPSES:
        return members
    has = net.fanin[members] > 0
    first = np.zeros(members.size, dtype=np.int64)
    if has.any():
        first[has] = _first_keys(net, members[has], keys)
    ordered = members[np.lexsort((members, first))]
    cum = np.cumsum(net.fanin[ordered])
    mid = int(np.searchsorted(cum, total / 2))
    half = SAMPLE_SYNAPSES / 2
    lo = int(np.searchsorted(cum, cum[mid] - half))
    hi = int(np.searchsorted(cum, cum[mid] + half)) + 1
    return np.sort(ordered[lo:hi])


def _first_keys(net: Network, neurons: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """The smallest source key of each neuron (all have inputs)."""
    lo, cnt = net.in_ptr[neurons], net.fanin[neurons]
    edges = np.repeat(lo - unit_slots(cnt), cnt) + np.arange(int(cnt.sum()))
    return np.minimum.reduceat(keys[net.pre[edges]], unit_slots(cnt))


def _grouping(
    sub: Network, keys: np.ndarray, choice: Choice, fanin: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(edge_leaf, leaves, chained)`` of a candidate on ``sub`` (all of sub's compute neurons are the class)."""
    k = choice.size
    if choice.grouping == "chunk":
        edge_leaf, leaves = chunk_groups(sub, k, keys)
    elif choice.grouping == "strip":
        edge_leaf, leaves = strip_groups(sub, k, keys, limit=fanin - 1 if choice.chain else fanin, align=choice.align)
    else:
        edge_leaf, leaves = block_groups(sub, k, keys)
    whole = ~sub.is_input & (sub.fanin <= choice.threshold)
    if whole.any():
        leaves = np.where(whole, 1, leaves)
        edge_leaf = np.where(whole[sub.post], 0, edge_leaf)
    chained = np.zeros(sub.n_neurons, dtype=bool)
    if choice.chain:
        # a chain link after the first carries a partial sum: at most F - 1 raw inputs there
        width = int(leaves.max(initial=1))
        size = np.bincount(wide(sub.post) * width + edge_leaf, minlength=sub.n_neurons * width).reshape(-1, width)
        fits = (size[:, 0] <= fanin) & (size[:, 1:].max(axis=1, initial=0) <= fanin - 1)
        chained = ~sub.is_input & (leaves > 1) & fits
    return edge_leaf, leaves, chained


def _depths(leaves: np.ndarray, chained: np.ndarray, fanin: int) -> np.ndarray:
    """Depth of every neuron's decomposition: a chain's units, or 1 + the tree levels above the leaves."""
    return np.where(chained, leaves, 1 + np.where(leaves > 1, tree_levels(leaves, fanin), 0))


def _units(leaves: np.ndarray, chained: np.ndarray, fanin: int) -> np.ndarray:
    """Units per neuron: a chain's links, or the nodes of the balanced tree over the leaves."""
    return np.where(chained, leaves, tree_shape(np.where(chained, 1, leaves), fanin).sum(axis=0))


def _score(
    sub: Network, keys: np.ndarray, pos: np.ndarray, width: int, choice: Choice, hw: Hardware, limit: int,
    orders: list[int] | None, beat: Score | None,
) -> Score | None:
    """Pack a candidate's units on ``sub``; None when it breaks the depth limit or cannot beat ``beat``.

    Before anything is grouped, the validator's bounds for the candidate's N' are compared
    with the best packing so far: they depend only on the unit and partial-sum counts (each
    raw source is read by one unit per synapse, whatever the grouping), and the counts of
    ``chunk`` leaves, ceil(m / g) per split neuron, are the fewest any grouping of that size
    gives, so a candidate whose bound cannot beat ``beat`` is skipped unbuilt.
    """  # fmt: skip
    from mapopt.evaluation import crossbar_bounds  # here: mapopt.evaluation imports this package

    F = hw.fanin
    compute = ~sub.is_input
    if beat is not None:
        m = sub.fanin
        fewest = np.where(compute & (m > choice.threshold) & (m > choice.size), -(-m // choice.size), 1)
        chain = choice.chain & (fewest <= limit)
        units = _units(fewest, chain, F)[compute]
        n_units = int(units.sum())
        readers = np.bincount(sub.pre, minlength=sub.n_neurons)
        readers = np.concatenate((readers, np.ones(n_units - units.size, dtype=np.int64)))  # one per partial sum
        bound = max(crossbar_bounds(n_units, sub.n_synapses + n_units - units.size, readers, hw.rows,
                                    hw.columns).values())  # fmt: skip
        if (bound, 1, n_units) >= beat.rank():
            return None
    edge_leaf, leaves, chained = _grouping(sub, keys, choice, F)
    chained &= _depths(leaves, chained, F) <= limit  # a chain too deep for the limit: a tree instead
    depth = int(_depths(leaves, chained, F)[compute].max(initial=1))
    if depth > limit:
        return None
    units = candidate_units(sub, edge_leaf, leaves, chained, F).privatized()
    packed = pack(units, hw.rows, hw.columns, pos=pos, width=width, orders=orders)
    return Score(packed.crossbars, depth, units.n_units, packed.order)


def candidate_units(
    net: Network, edge_leaf: np.ndarray, leaves: np.ndarray, chained: np.ndarray, fanin: int
) -> UnitSets:
    """The units :func:`~mapopt.decompose.tree.grouped_units` would build, as :class:`UnitSets`, without N'.

    Per neuron: one unit per group with its raw inputs (a chain link after the first also
    reads one partial sum), then a tree's inner units, which read only the partial sums of
    their children. Tested against the assembled N' (``tests/test_decompose_auto.py``).
    """
    compute = ~net.is_input
    n = net.n_neurons
    groups = np.where(compute, leaves, 0)
    sizes = tree_shape(np.where(chained, 1, groups), fanin)
    inner = np.where(chained, 0, sizes[1:].sum(axis=0)) if sizes.shape[0] > 1 else np.zeros(n, dtype=np.int64)
    # raw units, by (neuron, group): sources ascending within each
    order = np.lexsort((net.pre, edge_leaf, net.post))
    raw_unit = unit_slots(groups)[net.post[order]] + edge_leaf[order]
    counts = np.bincount(raw_unit, minlength=int(groups.sum()))
    raw_owner = np.repeat(np.arange(n), groups)
    raw_slot = np.arange(raw_owner.size) - unit_slots(groups)[raw_owner]
    raw_private = (chained[raw_owner] & (raw_slot > 0)).astype(np.int64)
    # inner units of the trees: children per parent, level by level (child j of c goes to parent j p // c)
    in_owner, in_slot, in_private = [], [], []
    offset = groups.copy()  # position of a neuron's first unit on the current level (leaves come first)
    for level in range(1, sizes.shape[0]):
        below, here = sizes[level - 1], sizes[level]
        owners = np.flatnonzero((here > 0) & ~chained)
        if owners.size == 0:
            continue
        child_owner = np.repeat(owners, below[owners])
        j = np.arange(child_owner.size) - np.repeat(unit_slots(below[owners]), below[owners])
        parent = unit_slots(here[owners])[np.searchsorted(owners, child_owner)] + j * here[child_owner] // below[
            child_owner
        ]
        in_private.append(np.bincount(parent, minlength=int(here[owners].sum())))
        p_owner = np.repeat(owners, here[owners])
        in_owner.append(p_owner)
        in_slot.append(offset[p_owner] + np.arange(p_owner.size) - np.repeat(unit_slots(here[owners]), here[owners]))
        offset[owners] += here[owners]
    n_inner = int(inner.sum())
    return UnitSets(
        ptr=np.concatenate(([0], np.cumsum(counts), np.full(n_inner, counts.sum()))),
        src=net.pre[order],
        private=np.concatenate([raw_private, *in_private]).astype(np.int64),
        owner=np.concatenate([raw_owner, *in_owner]).astype(np.int64),
        slot=np.concatenate([raw_slot, *in_slot]).astype(np.int64),
        layer=net.layer[np.concatenate([raw_owner, *in_owner]).astype(np.int64)].astype(np.int64),
    )


def _sizes(fanin: int, widest: int) -> list[int]:
    """Leaf sizes tried: F, F/2 and the class's widest fan-in over 2, 3, 4 (only sizes that split something)."""
    sizes = {fanin, math.ceil(fanin / 2)} | {math.ceil(widest / parts) for parts in (2, 3, 4)}
    return sorted(g for g in sizes if 2 <= g <= fanin and g < widest)


def _thresholds(size: int, fanin: int, widest: int) -> list[int]:
    """Fan-in thresholds tried with leaf size g: split all above g, above F only, and halfway."""
    ts = {size, fanin, (size + fanin) // 2}
    return sorted(t for t in ts if size <= t <= fanin and (t < widest or widest > fanin))


def _distinct_keys(keysets: SourceKeys, ids: np.ndarray, sources: np.ndarray, grid: bool) -> list[str]:
    """The source keys worth trying on a class: one of each set that orders its sources alike
    (same order, same runs of consecutive keys), and ``cooccurrence`` only where the sources form no grid."""
    kept: list[str] = []
    seen: list[tuple[bytes, bytes]] = []
    for name in ORDERS:
        if name == "cooccurrence" and grid:
            continue
        k = keysets[name][ids][sources]
        order = np.argsort(k, kind="stable")
        signature = (order.tobytes(), (np.diff(k[order]) == 1).tobytes())
        if signature not in seen:
            seen.append(signature)
            kept.append(name)
    return kept


#: Grid alignments tried for strip cuts (1: each neuron's own balanced cut).
STRIP_ALIGNS = (1, 2, 4)


def _structures(keys: list[str]) -> list[tuple[str, str, int]]:
    """(source key, grouping, strip alignment) combinations of the first stage."""
    return [(key, grouping, align) for key in keys for grouping in GROUPINGS
            for align in (STRIP_ALIGNS if grouping == "strip" else (1,))]  # fmt: skip


def choose(
    net: Network, members: np.ndarray, hw: Hardware, limit: int, keysets: SourceKeys, pos: np.ndarray
) -> tuple[Choice, Score]:
    """The best candidate for one class (see the module docstring)."""
    F = hw.fanin
    sample = _sample(net, members, keysets["position"])
    sub, ids, _ = _subnet(net, sample)
    sub_pos = pos[ids]
    compute = ~sub.is_input
    width = grid_width(sub.post, sub_pos[sub.pre])
    widest = int(sub.fanin[compute].max(initial=0))
    every = list(range(n_orders(width)))
    results: list[tuple[Choice, Score]] = []

    def consider(choice: Choice, orders: list[int] | None, prune: bool = True) -> None:
        beat = min((r[1] for r in results), key=Score.rank) if prune and results else None
        score = _score(sub, keysets[choice.key][ids], sub_pos, width, choice, hw, limit, orders, beat)
        if score is not None:
            results.append((choice, score))

    consider(Choice("id", "chunk", F, F, False), every, prune=False)  # the shallowest: always feasible
    if limit < 2 or widest < 2:
        return results[0]
    # stage 1: source key x grouping, at the plain leaf size (F, or half the widest fan-in when all fit F)
    size = F if widest > F else math.ceil(widest / 2)
    keys = _distinct_keys(keysets, ids, np.unique(sub.pre), width > 1)
    for key, grouping, align in _structures(keys):
        if (key, grouping, size) != ("id", "chunk", F):
            consider(Choice(key, grouping, size, F if widest > F else size, False, align), every)
    ranked = sorted(results, key=lambda r: r[1].rank())
    structures = list(dict.fromkeys((c.key, c.grouping, c.align) for c, _ in ranked))[:KEEP_STRUCTURES]
    orders = list(dict.fromkeys(sc.order for _, sc in ranked))[:KEEP_ORDERS]
    # stage 2: leaf sizes, whole-neuron thresholds and shapes for the best structures
    seen = {c for c, _ in results}
    for key, grouping, align in structures:
        for size in _sizes(F, widest):
            for threshold in _thresholds(size, F, widest):
                for chain in (False, True):
                    choice = Choice(key, grouping, size, threshold, chain, align)
                    if choice not in seen:
                        seen.add(choice)
                        consider(choice, orders)
    return min(results, key=lambda r: r[1].rank())


def class_grid(
    net: Network, members: np.ndarray, hw: Hardware, limit: int, keysets: SourceKeys, pos: np.ndarray
) -> list[tuple[Choice, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Every distinct grouping of one class over the whole candidate grid (no staging, no scoring).

    Returns ``(choice, edges, edge_leaf, leaves, chained)`` per distinct grouping: ``edges``
    are the class's synapses in N, ``edge_leaf`` their groups, ``leaves`` and ``chained``
    per class member (in ``members`` order). Two choices that group every member alike are
    one entry. The space of the exact structured solver (``cpsat-structured``).
    """
    F = hw.fanin
    sub, ids, edges = _subnet(net, members)
    compute = ~sub.is_input
    width = grid_width(sub.post, pos[ids][sub.pre])
    widest = int(sub.fanin[compute].max(initial=0))
    choices = [Choice("id", "chunk", F, F, False)]
    if limit >= 2 and widest >= 2:
        for key, grouping, align in _structures(_distinct_keys(keysets, ids, np.unique(sub.pre), width > 1)):
            for size in _sizes(F, widest):
                for threshold in _thresholds(size, F, widest):
                    choices += [Choice(key, grouping, size, threshold, chain, align) for chain in (False, True)]
    out, seen = [], set()
    for choice in choices:
        edge_leaf, leaves, chained = _grouping(sub, keysets[choice.key][ids], choice, F)
        chained &= _depths(leaves, chained, F) <= limit
        if _depths(leaves, chained, F)[compute].max(initial=1) > limit:
            continue
        mine = np.flatnonzero(compute)
        signature = (edge_leaf.tobytes(), leaves[mine].tobytes(), chained[mine].tobytes())
        if signature not in seen:
            seen.add(signature)
            out.append((choice, edges, edge_leaf, leaves[mine], chained[mine]))
    return out


def auto(net: Network, hw: Hardware, *, max_depth: int | None = None) -> Decomposition:
    """The per-class best unrolling of ``net`` for ``hw``, with its packing as ``layout`` (module docstring)."""
    if max_depth is not None:
        check_depth(net, hw, max_depth)
    limit = default_depth(net, hw) if max_depth is None else max_depth
    F = hw.fanin
    compute = ~net.is_input
    edge_leaf = np.zeros(net.n_synapses, dtype=np.int64)
    leaves = np.where(net.is_input, 0, 1).astype(np.int64)
    chained = np.zeros(net.n_neurons, dtype=bool)
    cls = neuron_classes(net)
    splittable = compute & (net.fanin >= 2)
    pos = reader_classes(net)
    if limit >= 2 and splittable.any():
        keysets = SourceKeys(net, pos)
        for c in np.unique(cls[splittable]).tolist():
            members = np.flatnonzero(compute & (cls == c))
            choice, _ = choose(net, members, hw, limit, keysets, pos)
            if choice.threshold >= int(net.fanin[members].max(initial=0)):
                continue  # the class stays whole
            sub, ids, edges = _subnet(net, members)
            e_leaf, n_leaves, chain = _grouping(sub, keysets[choice.key][ids], choice, F)
            chain &= _depths(n_leaves, chain, F) <= limit
            edge_leaf[edges] = e_leaf
            leaves[ids[~sub.is_input]] = n_leaves[~sub.is_input]
            chained[ids[~sub.is_input]] = chain[~sub.is_input]
    if int(_units(leaves, chained, F)[compute].sum()) > LAYOUT_UNITS:
        return grouped_units(net, edge_leaf, leaves, chained, F, strategy="auto", label_arity=None)
    # Layers are scored one at a time, but packed together (units that share no rows fill other layers' room),
    # so ties and near-ties between layers' choices are settled on the whole net: the choice, the same groups
    # as trees, and the plain F-input tree (what auto did before it unrolled below F) are packed whole.
    options = [(edge_leaf, leaves, chained)]
    if chained.any():
        options.append((edge_leaf, leaves, np.zeros(net.n_neurons, dtype=bool)))
    plain = chunk_groups(net, F, np.arange(net.n_neurons, dtype=np.int64))
    if not (np.array_equal(plain[0], edge_leaf) and np.array_equal(plain[1], leaves) and not chained.any()):
        options.append((*plain, np.zeros(net.n_neurons, dtype=bool)))
    made = [grouped_units(net, e_leaf, n_leaves, chain, F, strategy="auto", label_arity=None)
            for e_leaf, n_leaves, chain in options]  # fmt: skip
    links = chain_units(net.fanin, F)[compute]
    if (links > 1).any() and int(links.max()) <= limit:
        # the plain F-chain (F inputs first, the rest after: the unbalanced split the authors'
        # code makes), which the balanced groupings above never produce; on synfire chains it
        # needs a fifth fewer crossbars than any of them
        made.append(replace(chain_of(net, F), strategy="auto", arity=None))
    best: Decomposition | None = None
    for dec in made:
        dec = replace(dec, layout=layout_of(dec, hw, pos))
        if best is None or dec.layout.max(initial=-1) < best.layout.max(initial=-1):
            best = dec
    return best


def layout_of(dec: Decomposition, hw: Hardware, pos: np.ndarray) -> np.ndarray:
    """The packing of N' that ``auto`` proposes (see :mod:`mapopt.decompose.layout`).

    Each class's best order is found packing it alone; then all classes are packed
    together under column caps of C down to 5C/8 (:func:`~mapopt.decompose.layout.assemble_layout`:
    the units that share no rows, such as pooling units and roots, fill what the others
    leave), the best kept, and under-filled crossbars merged. ``pos``:
    :func:`~mapopt.decompose.ordering.reader_classes` of the original net (grid positions).
    """
    units = units_of(dec).privatized()
    classes = []
    for c in np.unique(units.layer).tolist():
        mine = np.flatnonzero(units.layer == c)
        part = units.select(mine)
        width = grid_width(np.repeat(np.arange(part.n_units), np.diff(part.ptr)), pos[part.src])
        classes.append((mine, pack(part, hw.rows, hw.columns, pos=pos, width=width).order, width))
    best = None
    for cap in sorted({hw.columns, *(max(1, hw.columns * k // 8) for k in (7, 6, 5))}, reverse=True):
        packed = assemble_layout(units, hw.rows, hw.columns, classes, cap, pos)
        if best is None or packed.crossbars < best.crossbars:
            best = packed
    unit_crossbar = merge(units, best.unit_crossbar, hw.rows, hw.columns)
    layout = np.full(dec.network.n_neurons, -1, dtype=np.int64)
    layout[unit_ids(dec)] = unit_crossbar
    return layout
