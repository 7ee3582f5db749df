"""The slow reference p-bit machine: one p-bit of one replica at a time, Python integers.

It is the machine of `machine.py` written the obvious way, for tests: for each sweep, each
colour in order, each p-bit of that colour and each replica, it recomputes the local field
from the full coupling list, steps that p-bit's xorshift32 register (re-implemented here on
Python ints, as is the splitmix64 seeding), computes the threshold of the field's table
address with `math.exp` (its own copy of the table rule of `lut.py`: no table, no shared
code) and sets the spin. Energies are recomputed from scratch after every sweep, and
parallel-tempering swaps are decided one pair at a time. The fast engine must produce the
same states, energies, levels and counters bit for bit.
"""

from __future__ import annotations

import math

import numpy as np

from tsuc.runtime.tsu.lut import MAX_RADIUS, ONE
from tsuc.runtime.tsu.machine import Counters, MachineProgram, RunResult, swap_stream

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF


def _splitmix64(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def _seed(seed: int, replica: int, pbit: int) -> int:
    x = _splitmix64((_splitmix64(seed & M64) + ((replica << 32) | pbit)) & M64) & M32
    return x or 0x9E3779B9


def _xorshift32(x: int) -> int:
    x ^= (x << 13) & M32
    x ^= x >> 17
    x ^= (x << 5) & M32
    return x


def _threshold(beta_eff: float, field: int, shift: int) -> int:
    """round(2^24 sigmoid(2 beta_eff a(I))) with a(I) the field rounded to its top bits."""
    if shift:
        q = (abs(field) + (1 << (shift - 1))) >> shift
        field = (q if field >= 0 else -q) << shift
    return int(round(ONE / (1.0 + math.exp(min((-2.0 * beta_eff) * float(field), 700.0)))))


def _shift(bound: int) -> int:
    k = 0
    while ((bound + ((1 << k) >> 1)) >> k) > MAX_RADIUS:
        k += 1
    return k


def reference_run(program: MachineProgram, replicas: int, betas: np.ndarray, seed: int = 0, *,
                  levels=None, groups=None, swap_interval: int = 1, init=None, replica_offset: int = 0) -> RunResult:
    """Same arguments and result as `PBitMachine.run` (no deadline)."""
    n, R = program.n, int(replicas)
    B = np.asarray(betas, dtype=np.float64)
    if B.ndim == 1:
        B = B[:, None]
    K = B.shape[1]
    level = [0] * R if K == 1 else ([r % K for r in range(R)] if levels is None else [int(v) for v in levels])
    neigh: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for i, j, v in zip(program.rows.tolist(), program.cols.tolist(), program.Jq.tolist()):
        neigh[i].append((j, v))
        neigh[j].append((i, v))
    hq = program.hq.tolist()
    colours = program.colours.tolist()
    colour_ids = sorted(set(colours))
    by_colour = {c: [i for i in range(n) if colours[i] == c] for c in colour_ids}

    reg = [[_seed(seed, replica_offset + r, i) for i in range(n)] for r in range(R)]
    s = [[0] * n for _ in range(R)]
    for r in range(R):
        for i in range(n):
            reg[r][i] = _xorshift32(reg[r][i])
            s[r][i] = 1 if reg[r][i] >> 31 else -1
    if init is not None:
        s = [[int(v) for v in row] for row in np.asarray(init)]

    def energy(state: list[int]) -> int:
        e = 0
        for i, j, v in zip(program.rows.tolist(), program.cols.tolist(), program.Jq.tolist()):
            e -= v * state[i] * state[j]
        return e - sum(h * x for h, x in zip(hq, state))

    E = [energy(s[r]) for r in range(R)]
    best_E = list(E)
    best_s = [list(row) for row in s]
    bound = max([abs(hq[i]) + sum(abs(v) for _, v in neigh[i]) for i in range(n)] or [0])
    shift = _shift(bound)
    counters = Counters()
    swap_rng = swap_stream(seed, replica_offset) if K > 1 else None
    for t in range(B.shape[0]):
        beff = B[t] * program.scale
        for c in colour_ids:
            for i in by_colour[c]:
                for r in range(R):
                    field = hq[i] + sum(v * s[r][j] for j, v in neigh[i])
                    reg[r][i] = _xorshift32(reg[r][i])
                    u = reg[r][i] >> 8
                    thr = _threshold(float(beff[level[r]]), field, shift)
                    new = 1 if u < thr else -1
                    if new != s[r][i]:
                        counters.flips += 1
                    s[r][i] = new
                    counters.spin_updates += 1
            counters.clocks += 1
        counters.sweeps += 1
        for r in range(R):
            E[r] = energy(s[r])
            if E[r] < best_E[r]:
                best_E[r] = E[r]
                best_s[r] = list(s[r])
        if K > 1 and (t + 1) % swap_interval == 0:
            round_no = t // swap_interval
            lows = list(range(round_no % 2, K - 1, 2))
            G = groups if groups is not None else R // K
            draws = swap_rng.random((G, len(lows)))
            for g in range(G):
                at = {level[r]: r for r in range(g * K, g * K + K)}
                for p, k in enumerate(lows):
                    a, b = at[k], at[k + 1]
                    delta = (beff[k] - beff[k + 1]) * float(E[a] - E[b])
                    if draws[g, p] < math.exp(min(delta, 0.0)):
                        level[a], level[b] = level[b], level[a]
                at = None
    return RunResult(np.array(s, dtype=np.int8).reshape(R, n), np.array(E, dtype=np.int64),
                     np.array(best_s, dtype=np.int8).reshape(R, n), np.array(best_E, dtype=np.int64),
                     np.array(level, dtype=np.int64), counters)
