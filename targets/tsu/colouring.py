"""Graph colouring of the coupling graph, for chromatic (colour-parallel) p-bit updates.

p-bits that share no coupling are conditionally independent given the rest, so all p-bits of
one colour update in the same clock; fewer colours means fewer clocks per sweep. Two methods:

- `dsatur` (default): Brelaz's DSATUR, colouring next the vertex whose neighbours already use
  the most colours (ties: higher degree, then lower index); usually the fewest colours.
- `greedy`: largest-degree-first greedy (Welsh-Powell order), as p-computer FPGAs do.

Both are deterministic. A complete graph is recognised and coloured 0..n-1 directly. The
graph is taken as CSR (indptr, indices) of the symmetric coupling pattern; the loops are over
vertices and edges once (compile time, O((n + m) log n)).
"""

from __future__ import annotations

import heapq

import numpy as np

from tsuc.errors import TsucError

METHODS = ("dsatur", "greedy")


def adjacency(n: int, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR (indptr, indices) of the undirected graph with edges (rows[k], cols[k])."""
    r = np.concatenate([rows, cols]).astype(np.int64)
    c = np.concatenate([cols, rows]).astype(np.int64)
    order = np.lexsort((c, r))
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=n), out=indptr[1:])
    return indptr, c[order]


def colour_graph(n: int, rows: np.ndarray, cols: np.ndarray, method: str = "dsatur") -> np.ndarray:
    """A proper colouring (int64 per vertex, colours 0..k-1)."""
    if method not in METHODS:
        raise TsucError(f"colouring method {method!r} is not one of {', '.join(METHODS)}")
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    pairs = np.unique(np.minimum(rows, cols) * n + np.maximum(rows, cols)) if rows.size else np.array([], dtype=np.int64)
    if n > 1 and pairs.size == n * (n - 1) // 2:
        return np.arange(n, dtype=np.int64)
    indptr, indices = adjacency(n, pairs // n if pairs.size else rows, pairs % n if pairs.size else cols)
    degree = np.diff(indptr)
    nbr = [indices[indptr[v]:indptr[v + 1]].tolist() for v in range(n)]
    colour = [-1] * n
    if method == "greedy":
        for v in np.lexsort((np.arange(n), -degree)).tolist():
            used = {colour[u] for u in nbr[v]}
            c = 0
            while c in used:
                c += 1
            colour[v] = c
        return np.array(colour, dtype=np.int64)
    seen: list[set[int]] = [set() for _ in range(n)]
    deg = degree.tolist()
    heap = [(0, -deg[v], v) for v in range(n)]
    heapq.heapify(heap)
    done = 0
    while done < n:
        sat, _, v = heapq.heappop(heap)
        if colour[v] >= 0 or -sat != len(seen[v]):
            continue  # stale entry
        c = 0
        while c in seen[v]:
            c += 1
        colour[v] = c
        done += 1
        for u in nbr[v]:
            if colour[u] < 0 and c not in seen[u]:
                seen[u].add(c)
                heapq.heappush(heap, (-len(seen[u]), -deg[u], u))
    return np.array(colour, dtype=np.int64)


def check_colouring(colours: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> None:
    clash = colours[rows] == colours[cols]
    if np.any(clash):
        k = int(np.flatnonzero(clash)[0])
        raise TsucError(f"colouring is not proper: coupled p-bits {rows[k]} and {cols[k]} share colour {colours[rows[k]]}")
