"""The space of structured decompositions that ``cpsat-structured`` searches exactly, and its members.

``cpsat-joint`` (:mod:`problems.formulations.unroll`) lets every input of every neuron go to
any leaf, which is why it stalls above a few dozen units. The structured space is the one
``auto`` searches heuristically (:mod:`mapopt.decompose.auto`): for every layer (class),
one grouping of its candidate grid (source key ``id`` / ``position`` / ``cooccurrence`` x
grouping ``chunk`` / ``strip`` / ``block`` x leaf size x whole-neuron threshold x tree or
chain, within the depth limit), the layers combined in every way. A member is a complete
N'; with its crossbar assignment (the model of :mod:`problems.formulations.assignment`)
the pair (grouping, assignment) is a point of MODEL.md section 6, problems 1 and 2 together.

- :func:`members`: every member as ``(label, N')``, layers combined (refused above
  :data:`MAX_MEMBERS`);
- :func:`member_bound`: the validator's bounds and the conflict clique of a member
  (:func:`~problems.formulations.assignment.crossbar_lower_bounds`), which settles members
  that cannot beat an incumbent without a model;
- the lower bound over the space is the smallest over its members of what each is proven
  to need, which the exact procedure (:mod:`solvers.common.structured`) establishes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np

from mapopt.decompose.base import Decomposition
from mapopt.decompose.tree import grouped_units
from mapopt.errors import InputError
from mapopt.hardware import Hardware
from mapopt.network import Network
from mapopt.problem import MappingProblem
from problems.formulations.assignment import AssignmentData, crossbar_lower_bounds

#: Refuse spaces with more members than this (the layers' groupings multiply).
MAX_MEMBERS = 400


def class_groupings(net: Network, hw: Hardware, limit: int) -> list[list[tuple[str, tuple]]]:
    """Per class (layer) with compute neurons, its distinct groupings as ``(label, parts)``."""
    from mapopt.decompose.auto import SourceKeys, class_grid  # here: mapopt.decompose imports are heavy
    from mapopt.decompose.ordering import neuron_classes, reader_classes

    pos = reader_classes(net)
    keysets = SourceKeys(net, pos)
    cls = neuron_classes(net)
    compute = ~net.is_input
    out = []
    for c in np.unique(cls[compute]).tolist():
        members_c = np.flatnonzero(compute & (cls == c))
        grid = class_grid(net, members_c, hw, limit, keysets, pos)
        out.append([(choice.label(), (members_c, edges, e_leaf, n_leaves, chained))
                    for choice, edges, e_leaf, n_leaves, chained in grid])  # fmt: skip
    return out


def space_size(groupings: list[list[tuple[str, tuple]]]) -> int:
    size = 1
    for per_class in groupings:
        size *= len(per_class)
    return size


def members(net: Network, hw: Hardware, limit: int) -> Iterator[tuple[str, Decomposition]]:
    """Every member of the structured space of ``net`` as ``(label, N')`` (one grouping per layer)."""
    groupings = class_groupings(net, hw, limit)
    size = space_size(groupings)
    if size > MAX_MEMBERS:
        raise InputError(
            f"the structured space of {net.name} has {size} members (limit {MAX_MEMBERS}: its layers' groupings "
            "multiply); cpsat-structured is meant for small filters and convolutions of one or two layers",
            source="--solver",
        )
    for combo in itertools.product(*groupings):
        edge_leaf = np.zeros(net.n_synapses, dtype=np.int64)
        leaves = np.where(net.is_input, 0, 1).astype(np.int64)
        chained = np.zeros(net.n_neurons, dtype=bool)
        for _, (neurons, edges, e_leaf, n_leaves, chain) in combo:
            edge_leaf[edges] = e_leaf
            leaves[neurons] = n_leaves
            chained[neurons] = chain
        label = "; ".join(f"layer {i}: {lab}" for i, (lab, _) in enumerate(combo))
        yield label, grouped_units(net, edge_leaf, leaves, chained, hw.fanin, strategy="structured", label_arity=None)


def member_bound(problem: MappingProblem) -> int:
    """The strongest cheap lower bound on the crossbars of one member (validator bounds, conflict clique)."""
    return max(crossbar_lower_bounds(AssignmentData.from_problem(problem)).values())
