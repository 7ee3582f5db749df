"""Graph colouring for chromatic (colour-parallel) Gibbs updates.

p-bits that share no coupling are conditionally independent given the others, so all p-bits
of one colour can update in the same clock without changing the stationary distribution
(chromatic Gibbs). Greedy largest-degree-first colouring is what p-computer FPGAs use; it is
computed once per problem, so a plain loop over nodes is fine here.
"""

from __future__ import annotations

import numpy as np


def greedy_coloring(adjacency: np.ndarray) -> np.ndarray:
    """Colour index per node (int64, colours 0..k-1) such that no two adjacent nodes share one.

    `adjacency` is an (N, N) boolean matrix; its diagonal is ignored. Ties in degree break by
    node index, so the colouring is deterministic.
    """
    adj = np.asarray(adjacency, dtype=bool).copy()
    n = adj.shape[0]
    np.fill_diagonal(adj, False)
    adj |= adj.T
    order = np.argsort(-adj.sum(axis=1), kind="stable")
    colors = np.full(n, -1, dtype=np.int64)
    for v in order:
        taken = colors[adj[v]]
        taken = taken[taken >= 0]
        free = np.ones(taken.size + 1, dtype=bool)
        free[taken[taken <= taken.size]] = False
        colors[v] = int(np.argmax(free))
    return colors


def color_classes(colors: np.ndarray) -> list[np.ndarray]:
    """Node indices of each colour, in colour order."""
    return [np.flatnonzero(colors == c) for c in range(int(colors.max()) + 1 if colors.size else 0)]
