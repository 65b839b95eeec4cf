"""``std::sort`` as GCC's libstdc++ does it, so that ties come out in the same order.

The authors' partitioner (drexel-DISCO/SpiNeMap, SNNPartitioning/include/cluster/cluster.cc,
``Clusters::minClusters``) sorts its clusters by utilization with ``std::sort`` before
each neuron and gives the neuron's inputs to the first clusters that take them. The C++
standard leaves the order of equal elements to the library, and it decides which of two
equally utilised clusters gets the inputs: on LeNet-5 with unroll fan-in 2 a stable sort
gives 2329 crossbars where the tool (built with g++) gives 2371. No Python library sorts
this way (numpy's introsort partitions differently; ``list.sort`` is a stable merge sort),
so the algorithm of libstdc++'s ``bits/stl_algo.h`` and ``bits/stl_heap.h`` (``__sort``,
``__introsort_loop``, ``__move_median_to_first``, ``__unguarded_partition``,
``__partial_sort``, ``__final_insertion_sort``; unchanged from GCC 4.x to 14) is written
out here. The final insertion sort is stable, so it is done by ``list.sort`` (equal result,
C speed); tests/test_stdsort.py compares the whole against a real ``std::sort``.
"""

from __future__ import annotations

from collections.abc import Sequence

#: libstdc++'s ``_S_threshold``: segments this short are left to the final insertion sort.
THRESHOLD = 16


def std_sort_desc(items: list[int], key: Sequence[int]) -> None:
    """Sort ``items`` in place as ``std::sort(items, [](a, b) { return key[a] > key[b]; })`` does.

    Items and keys must be non-negative integers. Each item is carried with its key in one
    Python int (``key << shift | item``), so that the partition loops compare and swap plain
    ints: a key comparison ``key[a] > p`` becomes ``code >= (p + 1) << shift``.
    """
    n = len(items)
    if n < 2:
        return
    shift = max(items).bit_length()
    codes = [(key[c] << shift) | c for c in items]
    _introsort_loop(codes, 0, n, 2 * (n.bit_length() - 1), shift)
    # __final_insertion_sort: insertion sort with a strict comparison, i.e. a stable sort
    keys = [c >> shift for c in codes]
    mask = (1 << shift) - 1
    items[:] = [codes[i] & mask for i in sorted(range(n), key=keys.__getitem__, reverse=True)]


def _introsort_loop(a: list[int], first: int, last: int, depth: int, shift: int) -> None:
    while last - first > THRESHOLD:
        if depth == 0:
            _heap_sort(a, first, last, shift)
            return
        depth -= 1
        cut = _partition_pivot(a, first, last, shift)
        _introsort_loop(a, cut, last, depth, shift)
        last = cut


def _partition_pivot(a: list[int], first: int, last: int, shift: int) -> int:
    """``__unguarded_partition_pivot``: median of three to ``first``, then Hoare's partition."""
    mid = first + (last - first) // 2
    x, y, z = first + 1, mid, last - 1
    kx, ky, kz = a[x] >> shift, a[y] >> shift, a[z] >> shift
    # __move_median_to_first(first, first + 1, mid, last - 1) with comp(p, q) = key(p) > key(q)
    if kx > ky:
        pick = y if ky > kz else (z if kx > kz else x)
    elif kx > kz:
        pick = x
    else:
        pick = z if ky > kz else y
    a[first], a[pick] = a[pick], a[first]
    pivot = a[first] >> shift
    above = (pivot + 1) << shift  # key(c) > pivot  <=>  c >= above
    below = pivot << shift  # pivot > key(c)  <=>  c < below
    lo, hi = first + 1, last
    while True:  # __unguarded_partition(first + 1, last, first)
        while a[lo] >= above:
            lo += 1
        hi -= 1
        while a[hi] < below:
            hi -= 1
        if not lo < hi:
            return lo
        a[lo], a[hi] = a[hi], a[lo]
        lo += 1


def _heap_sort(a: list[int], first: int, last: int, shift: int) -> None:
    """``__partial_sort(first, last, last)``: ``__make_heap`` then ``__sort_heap``."""
    n = last - first
    if n < 2:
        return
    parent = (n - 2) // 2
    while True:
        _adjust_heap(a, first, parent, n, a[first + parent], shift)
        if parent == 0:
            break
        parent -= 1
    end = n
    while end > 1:
        end -= 1
        value = a[first + end]
        a[first + end] = a[first]
        _adjust_heap(a, first, 0, end, value, shift)


def _adjust_heap(a: list[int], base: int, hole: int, n: int, value: int, shift: int) -> None:
    """``__adjust_heap`` followed by ``__push_heap``, with comp(p, q) = key(p) > key(q)."""
    top = hole
    child = hole
    while child < (n - 1) // 2:
        child = 2 * (child + 1)
        if a[base + child] >> shift > a[base + child - 1] >> shift:
            child -= 1
        a[base + hole] = a[base + child]
        hole = child
    if n % 2 == 0 and child == (n - 2) // 2:
        child = 2 * (child + 1)
        a[base + hole] = a[base + child - 1]
        hole = child - 1
    kv = value >> shift
    parent = (hole - 1) // 2
    while hole > top and a[base + parent] >> shift > kv:
        a[base + hole] = a[base + parent]
        hole = parent
        parent = (hole - 1) // 2
    a[base + hole] = value


def heap_sort_desc(items: list[int], key: Sequence[int]) -> None:
    """``std::partial_sort(items, items.end(), items.end(), comp)`` alone (for tests of the fallback)."""
    if len(items) < 2:
        return
    shift = max(items).bit_length()
    codes = [(key[c] << shift) | c for c in items]
    _heap_sort(codes, 0, len(codes), shift)
    mask = (1 << shift) - 1
    items[:] = [c & mask for c in codes]
