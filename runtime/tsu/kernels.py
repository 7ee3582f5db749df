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

    from tsuc.runtime.tsu.simd import LANES, lane_field, lane_update

    _jit = _nb.njit(parallel=True, cache=True, nogil=True, fastmath=False, boundscheck=False)
    _body = _nb.njit(cache=True, nogil=True, fastmath=False, boundscheck=False)  # one replica / block: a plain function
    _inline = _nb.njit(cache=True, inline="always")
    prange = _nb.prange

    @_inline
    def _step(x):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        return x

    @_inline
    def _address(field, shift, half, W):
        """Table address q + W of a field, branch-free: q = sign(I) min(W, (|I| + half) >> shift)."""
        a = field if field >= 0 else -field
        q = min((a + half) >> shift, W)
        return W + q if field >= 0 else W - q

    @_body
    def _sparse_replica(s, x, f, lv, e, be, bs, tix, tables, W, shift, cstart, indptr, indices, J2):
        """One replica through the block (see `sweeps_sparse`); returns (energy, best energy, flips).
        Indices are cast to unsigned so that numba leaves out its negative-index wraparound."""
        n = s.shape[0]
        ncol = cstart.shape[0] - 1
        half = (1 << shift) >> 1
        nf = 0
        flipped = np.empty(n, dtype=np.uint32)
        for t in range(tix.shape[0]):
            tab = tables[tix[t, lv]]
            for c in range(ncol):
                m = 0
                for i0 in range(cstart[c], cstart[c + 1]):
                    i = _nb.uint64(i0)
                    xi = _step(_nb.int64(x[i]))
                    x[i] = xi
                    field = _nb.int64(f[i])
                    old = _nb.int64(s[i])
                    new = 1 if (xi >> 8) < tab[_nb.uint64(_address(field, shift, half, W))] else -1
                    e += (old - new) * field
                    s[i] = new
                    flipped[m] = i
                    m += old != new
                for k in range(m):
                    i = _nb.uint64(flipped[k])
                    sg = _nb.int64(s[i])
                    for q0 in range(indptr[i], indptr[i + 1]):
                        q = _nb.uint64(q0)
                        f[_nb.uint64(indices[q])] += sg * J2[q]
                nf += m
            if e < be:
                be = e
                bs[:] = s
        return e, be, nf

    @_jit
    def sweeps_sparse(S, X, F, E, bestS, bestE, flips, level, tix, tables, W, shift, cstart, indptr, indices, J2):
        """Replica rows, fields kept incrementally. Each colour is clocked in two passes: every
        p-bit of the colour steps its register, looks up its threshold and sets its spin (no
        branch: the flipped p-bits are appended to a list), then each flipped p-bit adds
        2 J_ij s_i to its neighbours' fields. No p-bit of the colour reads a field the second
        pass writes (a colour has no inner couplings), so this is the one-at-a-time clock."""
        for r in prange(S.shape[0]):
            E[r], bestE[r], nf = _sparse_replica(S[r], X[r], F[r], level[r], E[r], bestE[r], bestS[r], tix, tables, W, shift,
                                                 cstart, indptr, indices, J2)
            flips[r] += nf

    @_body
    def _dense_replica(s, x, f, lv, e, be, bs, tix, tables, W, shift, J2):
        n = s.shape[0]
        half = (1 << shift) >> 1
        nf = 0
        for t in range(tix.shape[0]):
            tab = tables[tix[t, lv]]
            for i in range(n):
                xi = _step(_nb.int64(x[i]))
                x[i] = xi
                field = _nb.int64(f[i])
                new = 1 if (xi >> 8) < tab[_address(field, shift, half, W)] else -1
                old = s[i]
                if new != old:
                    e += 2 * _nb.int64(old) * field
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
                bs[:] = s
        return e, be, nf

    @_jit
    def sweeps_dense(S, X, F, E, bestS, bestE, flips, level, tix, tables, W, shift, J2):
        """Replica rows of a dense problem: a flip adds the p-bit's row of 2 J to every field."""
        for r in prange(S.shape[0]):
            E[r], bestE[r], nf = _dense_replica(S[r], X[r], F[r], level[r], E[r], bestE[r], bestS[r], tix, tables, W, shift, J2)
            flips[r] += nf

    @_body
    def _lanes_block(s, x, bs, e, be, fl, lv, tix, tables, W, shift, hq, indptr, indices, J, acc0):
        """One block of LANES replicas through the block of sweeps (see `sweeps_lanes`)."""
        n = s.shape[0]
        half = (np.int32(1) << shift) >> np.int32(1)
        width = tables.shape[1]
        flat = tables.reshape(-1)
        acc = np.empty(LANES, dtype=acc0.dtype)
        base = np.empty(LANES, dtype=np.int32)
        de = np.empty(LANES, dtype=np.int64)
        nfl = np.empty(LANES, dtype=np.int32)
        better = np.empty(LANES, dtype=np.bool_)
        for t in range(tix.shape[0]):
            for r in range(LANES):
                base[r] = np.int32(tix[t, lv[r]] * width + W)
                de[r] = 0
                nfl[r] = 0
            for i in range(n):
                lane_field(acc, s, hq[i], indptr[i], indptr[i + 1], indices, J)
                lane_update(x, s, i, acc, flat, base, half, shift, W, de, nfl)
            improved = False
            for r in range(LANES):
                e[r] += de[r]
                fl[r] += nfl[r]
                better[r] = e[r] < be[r]
                improved |= better[r]
                be[r] = min(be[r], e[r])
            if improved:
                for i in range(n):
                    for r in range(LANES):
                        if better[r]:
                            bs[i, r] = s[i, r]

    @_jit
    def sweeps_lanes(S, X, E, bestS, bestE, flips, level, tix, tables, W, shift, hq, indptr, indices, J, acc0):
        """Sparse problems, replicas side by side: S, X, bestS (B, n, LANES), E, bestE, flips,
        level (B, LANES); block b holds replicas b*LANES .. b*LANES+LANES-1 in its lanes (one
        thread per block). Each p-bit's field is summed from its CSR row over all lanes at
        once (`J` holds J, not 2 J; acc0's dtype is the field type), then every lane steps its
        register, looks its threshold up and sets its spin: no branch, every step a vector
        operation over the lanes (LANES is a compile-time constant, so the lane loops are
        whole vectors)."""
        for b in prange(S.shape[0]):
            _lanes_block(S[b], X[b], bestS[b], E[b], bestE[b], flips[b], level[b], tix, tables, W, shift, hq, indptr, indices,
                         J, acc0)


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
        S3, E2 = np.ones((1, 2, LANES), dtype=np.int8), np.zeros((1, LANES), dtype=np.int64)
        sweeps_lanes(S3, np.ones((1, 2, LANES), dtype=np.uint32), E2, S3.copy(), E2.copy(), E2.copy(), E2.copy(), tix, tables, np.int32(0),
                     np.int32(0), np.zeros(2, dtype=np.int64), np.zeros(3, dtype=np.int64), np.zeros(0, dtype=idtype),
                     np.zeros(0, dtype=jdtype), np.zeros(1, dtype=fdtype))
    else:
        S = np.ones((1, 2), dtype=np.int8)
        args = (S, X, np.zeros((1, 2), dtype=fdtype), E, S.copy(), E.copy(), E.copy(), E.copy(), tix, tables, 0, 0)
        if engine == "sparse":
            sweeps_sparse(*args, np.array([0, 2]), np.zeros(3, dtype=np.int64), np.zeros(0, dtype=idtype), np.zeros(0, dtype=jdtype))
        else:
            sweeps_dense(*args, np.zeros((2, 2), dtype=jdtype))
    _WARM[key] = time.perf_counter() - t
    return _WARM[key]
