"""Topologies and minor embedding: fitting a problem's graph onto the machine's wiring.

`complete` wiring couples any two p-bits, so a problem maps one spin to one p-bit. A sparse
wiring (`king`: an L x L grid where each p-bit couples to its 8 neighbours, the layout of
FPGA p-computers; L = floor(sqrt(n_pbits))) holds each logical spin as a *chain* of p-bits
found by minorminer (D-Wave's minor-embedding heuristic), deterministic for a given seed.

The physical problem (`embed_problem`): a logical coupling J_uv is split evenly over the
wiring edges between the chains of u and v, a bias h_u evenly over the p-bits of u's chain,
and every wiring edge inside a chain gets the ferromagnetic coupling +chain_strength (which
lowers the energy of aligned p-bits). The offset is raised by chain_strength per chain edge,
so a state with every chain intact has exactly the logical energy. Chain strength 0 means
automatic: uniform torque compensation, 1.414 * rms(J) * sqrt(average degree), as D-Wave's
samplers default to. Readback is by majority vote (`tsuc.runtime.tsu.chains`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tsuc.errors import TsucError
from tsuc.runtime.tsu.problem import IsingProblem

TOPOLOGIES = ("complete", "king")


def king_graph(side: int) -> np.ndarray:
    """Edges (E, 2) of the side x side king's graph, node (x, y) = y * side + x."""
    x, y = np.meshgrid(np.arange(side), np.arange(side))
    x, y = x.ravel(), y.ravel()
    edges = []
    for dx, dy in ((1, 0), (0, 1), (1, 1), (-1, 1)):
        ok = (x + dx >= 0) & (x + dx < side) & (y + dy < side)
        edges.append(np.stack([y[ok] * side + x[ok], (y[ok] + dy) * side + x[ok] + dx], axis=1))
    e = np.concatenate(edges)
    return np.sort(e, axis=1)


def topology_edges(topology: str, n_pbits: int) -> tuple[int, np.ndarray]:
    """(number of p-bits, wiring edges) of a sparse topology."""
    if topology == "king":
        side = math.isqrt(n_pbits)
        if side < 2:
            raise TsucError(f"option n_pbits={n_pbits} is too small for a king topology (needs at least 4)")
        return side * side, king_graph(side)
    raise TsucError(f"topology {topology!r} is not one of {', '.join(TOPOLOGIES)}")


def uniform_torque_compensation(problem: IsingProblem, prefactor: float = 1.414) -> float:
    """D-Wave's default chain strength: prefactor * rms(J) * sqrt(average degree)."""
    m = problem.num_couplings
    if m == 0:
        peak = float(np.abs(problem.h).max()) if problem.n else 0.0
        return peak or 1.0
    rms = math.sqrt(float(np.mean(problem.J ** 2)))
    return prefactor * rms * math.sqrt(2.0 * m / problem.n)


@dataclass(frozen=True)
class Embedding:
    physical: IsingProblem  # over the used p-bits, renumbered 0..P-1
    chain_of: np.ndarray  # (P,) logical spin of each used p-bit
    site: np.ndarray  # (P,) the p-bit's index in the wiring
    chain_strength: float
    max_chain: int


def find_chains(problem: IsingProblem, topology: str, n_pbits: int, seed: int = 0, tries: int = 10) -> dict[int, list[int]]:
    """minorminer chains {logical spin: [wiring nodes]}; TsucError if it finds none."""
    from tsuc.extras import require

    minorminer = require("minorminer", "tsu", f"embedding into topology={topology}")
    size, wiring = topology_edges(topology, n_pbits)
    source = list(zip(problem.rows.tolist(), problem.cols.tolist()))
    isolated = [v for v in range(problem.n) if v not in {x for e in source for x in e}]
    target = [tuple(e) for e in wiring.tolist()]
    try:
        chains = minorminer.find_embedding(source, target, random_seed=int(seed), tries=int(tries), threads=1) if source else {}
    except (RuntimeError, ValueError):  # minorminer's own complaint, e.g. a wiring smaller than the problem
        chains = {}
    chains = {int(k): sorted(int(x) for x in v) for k, v in chains.items()}
    if source and len(chains) < problem.n - len(isolated):
        raise TsucError(f"problem {problem.name or '(unnamed)'} with {problem.n} spins and {problem.num_couplings} couplings "
                        f"does not embed into a {topology} topology of {size} p-bits (raise n_pbits or use topology=complete)")
    free = sorted(set(range(size)) - {x for c in chains.values() for x in c})
    for v in isolated:  # spins with no coupling get any free p-bit
        if not free:
            raise TsucError(f"problem {problem.name or '(unnamed)'} needs more than the {size} p-bits of the {topology} topology")
        chains[v] = [free.pop(0)]
    return chains


def embed_problem(problem: IsingProblem, chains: dict[int, list[int]], wiring: np.ndarray, chain_strength: float) -> Embedding:
    """The physical problem of `problem` under `chains` (see the module docstring)."""
    if chain_strength <= 0:
        chain_strength = uniform_torque_compensation(problem)
    site = np.array(sorted(x for c in chains.values() for x in c), dtype=np.int64)
    local = {int(s): k for k, s in enumerate(site.tolist())}
    chain_of = np.empty(site.size, dtype=np.int64)
    for v, c in chains.items():
        chain_of[[local[x] for x in c]] = v
    used = np.isin(wiring, site).all(axis=1)
    w = wiring[used]
    a = np.array([local[x] for x in w[:, 0].tolist()], dtype=np.int64)
    b = np.array([local[x] for x in w[:, 1].tolist()], dtype=np.int64)
    la, lb = chain_of[a], chain_of[b]
    intra = la == lb
    # logical coupling (u, v) -> wiring edges between the two chains
    lo, hi = np.minimum(la, lb), np.maximum(la, lb)
    key = lo * problem.n + hi
    jkey = problem.rows * problem.n + problem.cols
    between = ~intra
    count = {k: 0 for k in jkey.tolist()}
    for k in key[between].tolist():
        if k in count:
            count[k] += 1
    missing = [k for k, c in count.items() if c == 0]
    if missing:
        u, v = divmod(missing[0], problem.n)
        raise TsucError(f"the embedding has no wiring edge between the chains of spins {u} and {v}")
    jval = dict(zip(jkey.tolist(), problem.J.tolist()))
    sel = between & np.isin(key, jkey)
    pj = np.array([jval[k] / count[k] for k in key[sel].tolist()], dtype=np.float64)
    sizes = np.bincount(chain_of, minlength=problem.n)
    ph = problem.h[chain_of] / sizes[chain_of]
    rows = np.concatenate([a[sel], a[intra]])
    cols = np.concatenate([b[sel], b[intra]])
    vals = np.concatenate([pj, np.full(int(intra.sum()), float(chain_strength))])
    physical = IsingProblem.from_edges(site.size, rows, cols, vals, ph, problem.offset + chain_strength * int(intra.sum()),
                                       name=problem.name, meta={"embedded_from": problem.n})
    return Embedding(physical, chain_of, site, float(chain_strength), int(sizes.max()))
