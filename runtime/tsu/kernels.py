"""Compiled sweep kernels of the p-bit machine (numba; the `tsu` extra installs it).

One call clocks every replica through a block of sweeps. Per replica (one thread each,
`prange`), per sweep, per p-bit in colour order (p-bits permuted so colours are contiguous):
step the p-bit's xorshift32 register, read its integer field I from the field array, look
up the threshold T at the field's table address, set s = +1 iff (register >> 8) < T. p-bits
of one colour share no coupling, so clocking them one after the other is the machine's
colour-parallel clock exactly.

Fields are kept incrementally: when s_i flips to s, every neighbour j gets 2 J_ij s added
(`J2` holds 2 J, CSR rows for sparse problems, a dense matrix otherwise), and the quantised
energy changes by 2 s_old I_i. After each sweep a replica that reached a new lowest energy
copies its state into its best state. Replicas only share read-only arrays, so the results
do not depend on the number of threads.

Arguments shared by both kernels (R replicas, n p-bits, C sweeps in the block):
S (R, n) int8 spins; X (R, n) uint32 registers; F (R, n) int16/int32/int64 fields; E, bestE (R,)
int64 energies; bestS (R, n) int8; flips (R,) int64 (added to); level (R,) int64 temperature
level of each replica; tix (C, K) int64 table row of each (sweep, level); tables (U, 2W+1)
int32; W the table radius; shift the address shift (`lut.py`).
"""

from __future__ import annotations

import time

from tsuc.errors import TsucError

try:
    import numba as _nb
except ImportError:  # pragma: no cover - the tsu extra installs numba
    _nb = None

INSTALL_HINT = "the p-bit machine's sweep kernels need numba: pip install 'tsuc[tsu]'"


def available() -> bool:
    return _nb is not None


def require() -> None:
    if _nb is None:
        raise TsucError(INSTALL_HINT)


if _nb is not None:
    import numpy as np

    _jit = _nb.njit(parallel=True, cache=True, nogil=True, fastmath=False, boundscheck=False)
    _inline = _nb.njit(cache=True, inline="always")
    prange = _nb.prange

    @_inline
    def _step(x):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        return x

    @_inline
    def _addr(field, shift, half, W):
        if shift == 0:
            q = field
        elif field < 0:
            q = -((-field + half) >> shift)
        else:
            q = (field + half) >> shift
        if q > W:
            q = W
        elif q < -W:
            q = -W
        return q + W

    @_jit
    def sweeps_sparse(S, X, F, E, bestS, bestE, flips, level, tix, tables, W, shift, indptr, indices, J2):
        R, n = S.shape
        C = tix.shape[0]
        half = (1 << shift) >> 1
        for r in prange(R):
            s = S[r]
            x = X[r]
            f = F[r]
            lv = level[r]
            e = E[r]
            be = bestE[r]
            nf = 0
            for t in range(C):
                tab = tables[tix[t, lv]]
                for i in range(n):
                    xi = _step(_nb.int64(x[i]))
                    x[i] = xi
                    field = f[i]
                    new = 1 if (xi >> 8) < tab[_addr(_nb.int64(field), shift, half, W)] else -1
                    old = s[i]
                    if new != old:
                        e += 2 * _nb.int64(old) * _nb.int64(field)
                        s[i] = new
                        nf += 1
                        if new > 0:
                            for k in range(indptr[i], indptr[i + 1]):
                                f[indices[k]] += J2[k]
                        else:
                            for k in range(indptr[i], indptr[i + 1]):
                                f[indices[k]] -= J2[k]
                if e < be:
                    be = e
                    bestS[r, :] = s
            E[r] = e
            bestE[r] = be
            flips[r] += nf

    @_jit
    def sweeps_dense(S, X, F, E, bestS, bestE, flips, level, tix, tables, W, shift, J2):
        R, n = S.shape
        C = tix.shape[0]
        half = (1 << shift) >> 1
        for r in prange(R):
            s = S[r]
            x = X[r]
            f = F[r]
            lv = level[r]
            e = E[r]
            be = bestE[r]
            nf = 0
            for t in range(C):
                tab = tables[tix[t, lv]]
                for i in range(n):
                    xi = _step(_nb.int64(x[i]))
                    x[i] = xi
                    field = f[i]
                    new = 1 if (xi >> 8) < tab[_addr(_nb.int64(field), shift, half, W)] else -1
                    old = s[i]
                    if new != old:
                        e += 2 * _nb.int64(old) * _nb.int64(field)
                        s[i] = new
                        nf += 1
                        row = J2[i]
                        if new > 0:
                            for j in range(n):
                                f[j] += row[j]
                        else:
                            for j in range(n):
                                f[j] -= row[j]
                if e < be:
                    be = e
                    bestS[r, :] = s
            E[r] = e
            bestE[r] = be
            flips[r] += nf


    @_jit
    def sweeps_lanes(S, X, E, bestS, bestE, flips, level, tix, tables, W, shift, hq, indptr, indices, J, acc0):
        """Sparse problems, replicas side by side: S, X, bestS (B, n, L), E, bestE, flips,
        level (B, L); block b holds replicas b*L .. b*L+L-1 in its L lanes. Each p-bit's field
        is summed from its CSR row over all lanes at once (`J` holds J, not 2 J; acc0's dtype
        is the field type), then every lane steps its register, looks its threshold up and
        sets its spin: no branch on flips, every step a vector operation over the lanes."""
        B, n, L = S.shape
        C = tix.shape[0]
        half = (1 << shift) >> 1
        width = tables.shape[1]
        flat = tables.reshape(-1)
        for b in prange(B):
            s = S[b]
            x = X[b]
            e = E[b]
            be = bestE[b]
            fl = flips[b]
            lv = level[b]
            bs = bestS[b]
            acc = np.empty(L, dtype=acc0.dtype)
            u = np.empty(L, dtype=np.int32)
            qa = np.empty(L, dtype=np.int32)
            base = np.empty(L, dtype=np.int32)
            thr = np.empty(L, dtype=np.int32)
            for t in range(C):
                for r in range(L):
                    base[r] = np.int32(tix[t, lv[r]] * width)
                for i in range(n):
                    h = hq[i]
                    for r in range(L):
                        acc[r] = h
                    for k in range(indptr[i], indptr[i + 1]):
                        sj = s[indices[k]]
                        c = J[k]
                        for r in range(L):
                            acc[r] += c * sj[r]
                    xi = x[i]
                    si = s[i]
                    for r in range(L):
                        v = xi[r]
                        v = np.uint32(v ^ np.uint32(v << np.uint32(13)))
                        v = np.uint32(v ^ np.uint32(v >> np.uint32(17)))
                        v = np.uint32(v ^ np.uint32(v << np.uint32(5)))
                        xi[r] = v
                        u[r] = np.int32(v >> np.uint32(8))
                    for r in range(L):
                        field = acc[r]
                        if shift == 0:
                            q = field
                        elif field < 0:
                            q = -((-field + half) >> shift)
                        else:
                            q = (field + half) >> shift
                        q = min(max(q, -W), W)
                        qa[r] = np.int32(q + W) + base[r]
                    for r in range(L):
                        thr[r] = flat[qa[r]]
                    for r in range(L):
                        new = np.int8(1) if u[r] < thr[r] else np.int8(-1)
                        d = np.int32(new) - np.int32(si[r])
                        e[r] -= d * np.int64(acc[r])
                        fl[r] += d != 0
                        si[r] = new
                for r in range(L):
                    if e[r] < be[r]:
                        be[r] = e[r]
                        for i in range(n):
                            bs[i, r] = s[i, r]


_WARM: dict[tuple, float] = {}  # kernel signature -> seconds its first call took to compile or load


def compile_seconds() -> float:
    """Seconds this process spent compiling or loading sweep kernels (JIT warm-up)."""
    return sum(_WARM.values())


def warm_up(engine: str, fdtype, jdtype, idtype=None) -> float:
    """Compile (or load from the on-disk cache) the kernel for these dtypes on a tiny input;
    returns the seconds it took this call (0 when already warm in this process)."""
    import numpy as np

    require()
    key = (engine, np.dtype(fdtype).str, np.dtype(jdtype).str, None if idtype is None else np.dtype(idtype).str)
    if key in _WARM:
        return 0.0
    t = time.perf_counter()
    X = np.ones((1, 2), dtype=np.uint32)
    E = np.zeros(1, dtype=np.int64)
    tix, tables = np.zeros((1, 1), dtype=np.int64), np.zeros((1, 1), dtype=np.int32)
    if engine == "lanes":
        S3, E2 = np.ones((1, 2, 1), dtype=np.int8), np.zeros((1, 1), dtype=np.int64)
        sweeps_lanes(S3, X.reshape(1, 2, 1), E2, S3.copy(), E2.copy(), E2.copy(), E2.copy(), tix, tables, np.int32(0),
                     np.int32(0), np.zeros(2, dtype=np.int64), np.zeros(3, dtype=np.int64), np.zeros(0, dtype=idtype),
                     np.zeros(0, dtype=jdtype), np.zeros(1, dtype=fdtype))
    else:
        S = np.ones((1, 2), dtype=np.int8)
        args = (S, X, np.zeros((1, 2), dtype=fdtype), E, S.copy(), E.copy(), E.copy(), E.copy(), tix, tables, 0, 0)
        if engine == "sparse":
            sweeps_sparse(*args, np.zeros(3, dtype=np.int64), np.zeros(0, dtype=idtype), np.zeros(0, dtype=jdtype))
        else:
            sweeps_dense(*args, np.zeros((2, 2), dtype=jdtype))
    _WARM[key] = time.perf_counter() - t
    return _WARM[key]
