"""solvers.common.stdsort leaves ties exactly where g++'s std::sort (and its heap sort) leaves them.

A small C++ program of this test (not the authors' code) runs the real ``std::sort`` and
``std::partial_sort`` on the same keys; it needs g++, which the machine and CI have.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from solvers.common.stdsort import heap_sort_desc, std_sort_desc

PROGRAM = r"""
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>
int main(int argc, char** argv) {
    std::string mode = argv[1];
    size_t n;
    while (std::cin >> n) {
        std::vector<long> key(n); std::vector<int> idx(n);
        for (size_t i = 0; i < n; i++) { std::cin >> key[i]; idx[i] = i; }
        auto comp = [&](int a, int b) { return key[a] > key[b]; };
        if (mode == "sort") std::sort(idx.begin(), idx.end(), comp);
        else std::partial_sort(idx.begin(), idx.end(), idx.end(), comp);
        for (size_t i = 0; i < n; i++) std::cout << idx[i] << ' ';
        std::cout << '\n';
    }
}
"""


@pytest.fixture(scope="module")
def real_sort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    compiler = shutil.which("g++")
    if compiler is None:
        pytest.skip("g++ is needed to run the real std::sort")
    folder = tmp_path_factory.mktemp("stdsort")
    (folder / "sort.cc").write_text(PROGRAM)
    subprocess.run([compiler, "-O2", "-std=c++17", "sort.cc", "-o", "sort"], cwd=folder, check=True)
    return folder / "sort"


def key_sets() -> list[list[int]]:
    """Random keys with many ties, nearly sorted ones (as the clusters are between two sorts) and a
    pattern that exhausts introsort's depth limit (a key column of the authors' clustering)."""
    rng = np.random.default_rng(0)
    sets = []
    for n in (0, 1, 2, 3, 16, 17, 18, 40, 100, 257, 1000, 3000):
        for high in (1, 3, 20, 300, 10**6):
            keys = rng.integers(0, high + 1, size=n)
            sets.append(keys.tolist())
            nearly = np.sort(keys)[::-1].copy()
            if n:
                nearly[rng.integers(0, n, size=3)] += rng.integers(0, 4, size=3)
            sets.append(nearly.tolist())
    organ = [*range(0, 500, 2), *range(499, 0, -2)]  # median-of-3 degenerates on organ pipes
    sets.append(organ)
    return sets


@pytest.mark.parametrize("mode", ["sort", "partial"])
def test_same_permutation_as_libstdcxx(real_sort: Path, mode: str) -> None:
    sets = key_sets()
    text = "".join(f"{len(k)} {' '.join(map(str, k))}\n" for k in sets)
    out = subprocess.run([real_sort, mode], input=text, capture_output=True, text=True, check=True).stdout
    expected = [[int(x) for x in line.split()] for line in out.splitlines()]
    for keys, want in zip(sets, expected, strict=True):
        items = list(range(len(keys)))
        if mode == "sort":
            std_sort_desc(items, keys)
        else:
            heap_sort_desc(items, keys)
        assert items == want, f"n={len(keys)}"
