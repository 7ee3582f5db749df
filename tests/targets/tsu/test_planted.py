"""Planted instances: problems whose optimum is known by construction, solved through the user
path (compile a file, run the artifact).

Max-Cut on a random bipartite graph: the planted bipartition cuts every edge, so the optimum
is the total weight and the optimal cuts are exactly the planted partition and its mirror
when the graph is connected. The node numbering is shuffled, so the partition is not visible
in the indices.
"""

from __future__ import annotations

import numpy as np

import tsuc


def planted_bipartite(tmp_path, n: int = 400, degree: int = 6, seed: int = 7):
    rng = np.random.default_rng(seed)
    side = rng.permutation(np.r_[np.ones(n // 2, dtype=int), -np.ones(n - n // 2, dtype=int)])
    left, right = np.flatnonzero(side > 0), np.flatnonzero(side < 0)
    edges = set()
    # a spanning path alternating sides keeps the graph connected, then random cross edges
    order = np.empty(n, dtype=int)
    order[0::2], order[1::2] = left[: (n + 1) // 2], right[: n // 2]
    edges.update((min(a, b), max(a, b)) for a, b in zip(order[:-1], order[1:]))
    while len(edges) < n * degree // 2:
        a, b = int(rng.choice(left)), int(rng.choice(right))
        edges.add((min(a, b), max(a, b)))
    edges = sorted(edges)
    w = rng.integers(1, 4, size=len(edges))
    path = tmp_path / "planted.txt"
    path.write_text(f"{n} {len(edges)}\n" + "".join(f"{a + 1} {b + 1} {int(x)}\n" for (a, b), x in zip(edges, w)))
    return path, side, int(w.sum())


def test_planted_bipartition_is_found(tmp_path):
    path, side, total = planted_bipartite(tmp_path)
    exe = tsuc.compile(str(path), target="tsu")
    out = exe.run(reads=8, sweeps=3000, seed=1)
    assert float(out["cut"]) == total  # every edge cut: the known optimum
    best = out["best_sample"].astype(int)
    assert np.array_equal(best, side) or np.array_equal(best, -side)
    assert float(out["best_energy"]) == -total  # H = sum_edges w s_i s_j = -W at the optimum


def test_planted_optimum_with_a_time_limit(tmp_path):
    """A schedule far too long for the time is compressed and still ends at the optimum."""
    path, side, total = planted_bipartite(tmp_path, n=300, seed=8)
    exe = tsuc.compile(str(path), target="tsu")
    out = exe.run(reads=8, sweeps=10_000_000, seed=2, time_limit=1.0)
    prof = exe.profile()["segments"][0]
    assert prof["schedule_compressed"] and prof["runs"] == 1 and prof["anneal_sweeps"] < 10_000_000
    assert float(out["cut"]) == total
