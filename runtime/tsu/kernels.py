"""Compiled sweep kernels of the p-bit machine (numba; the `tsu` extra installs it).

One call clocks every replica through a block of sweeps. Per replica, per sweep, per p-bit in
colour order (p-bits permuted so colours are contiguous): step the p-bit's xorshift32
register, read its integer field I, look up the threshold T at the field's table address,
set s = +1 iff (register >> 8) < T. p-bits of one colour share no coupling, so clocking them
one after the other is the machine's colour-parallel clock exactly. After each sweep a
replica that reached a new lowest energy copies its state into its best state.

Three kernels, two layouts (`machine.MachineRun` picks one):

- `sweeps_sparse` (replica rows (R, n), few replicas): fields kept incrementally from CSR
  rows of 2 J. Each colour is clocked in a branch-free pass (register, table, spin, energy;
  flipped p-bits appended to a list) and a pass that adds 2 J_ij s_i to the neighbours of
  every flipped p-bit.
- `sweeps_dense` (replica rows, dense problems): a flip adds the p-bit's row of 2 J to every
  field (a vector loop).
- `sweeps_lanes` (sparse problems, many replicas): blocks of LANES replicas side by side,
  (B, n, LANES); each p-bit's field is summed from its CSR row over all lanes at once and
  every lane steps, looks up and sets its spin with vector operations. These steps are
  written as LLVM vector IR (`lane_field`, `lane_update`): a loop over a compile-time number
  of lanes is fully unrolled by LLVM before its loop vectoriser runs, and its SLP vectoriser
  did not re-vectorise the sixteen scalar chains, so plain numba loops ran one lane at a time.

Threads: `prange` over replicas (rows) or blocks (lanes); each thread owns whole replicas,
which share only read-only arrays, so results do not depend on the number of threads.
The intrinsics live in this module on purpose: numba's on-disk cache is invalidated by
changes to the kernel's own source file only.

Arguments shared by the row kernels (R replicas, n p-bits, C sweeps in the block):
S (R, n) int8 spins; X (R, n) uint32 registers; F (R, n) int16/int32/int64 fields; E, bestE (R,)
int64 energies; bestS (R, n) int8; flips (R,) int64 (added to); level (R,) int64 temperature
level of each replica; tix (C, K) int64 table row of each (sweep, level); tables (U, 2W+1)
int32; W the table radius; shift the address shift (`lut.py`). CSR indices are unsigned so
that numba leaves out its negative-index wraparound in the inner loops.
"""

from __future__ import annotations

import time

from tsuc.errors import TsucError

try:
    import numba as _nb
except ImportError:  # pragma: no cover - the tsu extra installs numba
    _nb = None

LANES = 16  # replicas per lanes block: one 256-bit vector of int16 fields

INSTALL_HINT = "the p-bit machine's sweep kernels need numba: pip install 'tsuc[tsu]'"


def available() -> bool:
    return _nb is not None


def require() -> None:
    if _nb is None:
        raise TsucError(INSTALL_HINT)


if _nb is not None:
    import numpy as np
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    _jit = _nb.njit(parallel=True, cache=True, nogil=True, fastmath=False, boundscheck=False)
    _body = _nb.njit(cache=True, nogil=True, fastmath=False, boundscheck=False)  # one replica / block: a plain function
    _inline = _nb.njit(cache=True, inline="always")
    prange = _nb.prange

    # -- lane-vector steps of the lanes kernel, as LLVM vector IR (see the module docstring) --

    _I1, _I8, _I32, _I64 = ir.IntType(1), ir.IntType(8), ir.IntType(32), ir.IntType(64)


    def _vec(t, n=LANES):
        return ir.VectorType(t, n)


    def _splat(builder, value, vt):
        undef = ir.Constant(vt, ir.Undefined)
        one = builder.insert_element(undef, value, ir.Constant(_I32, 0))
        return builder.shuffle_vector(one, undef, ir.Constant(_vec(_I32, vt.count), [0] * vt.count))


    def _const(vt, value):
        return ir.Constant(vt, [value] * vt.count)


    def _resize(builder, value, to):
        """Sign-extend or truncate an integer (or integer vector) to the width of `to`."""
        src = value.type.element.width if isinstance(value.type, ir.VectorType) else value.type.width
        dst = to.element.width if isinstance(to, ir.VectorType) else to.width
        if src == dst:
            return value
        return builder.sext(value, to) if src < dst else builder.trunc(value, to)


    def _step_registers(builder, ptr):
        """Step the LANES xorshift32 registers at `ptr` (13, 17, 5, as `_step`) in place; returns
        the new registers >> 8, the 24-bit values compared with the thresholds."""
        v32 = _vec(_I32)
        v = builder.load(ptr, align=4)
        v = builder.xor(v, builder.shl(v, _const(v32, 13)))
        v = builder.xor(v, builder.lshr(v, _const(v32, 17)))
        v = builder.xor(v, builder.shl(v, _const(v32, 5)))
        builder.store(v, ptr, align=4)
        return builder.lshr(v, _const(v32, 8))

    def _table_offset(builder, field, wt, half, shift, W):
        """The table offset of each lane's field in vector type wt: (sign, min(W, (|I| + half)
        >> shift), W as a vector); the address is W -/+ that offset, as in `_addr`."""
        zero = _const(wt, 0)
        neg = builder.icmp_signed("<", field, zero)
        mag = builder.select(neg, builder.sub(zero, field), field)
        q = builder.ashr(builder.add(mag, _splat(builder, _resize(builder, half, wt.element), wt)),
                         _splat(builder, _resize(builder, shift, wt.element), wt))
        Wv = _splat(builder, _resize(builder, W, wt.element), wt)
        return neg, builder.select(builder.icmp_signed("<", q, Wv), q, Wv), Wv

    def _row_ptr(builder, arr, row, elem):
        """Pointer to row `row` of a (n, LANES) array, as a pointer to a <LANES x elem> vector."""
        p = builder.gep(arr.data, [builder.mul(row, ir.Constant(_I64, LANES))])
        return builder.bitcast(p, _vec(elem).as_pointer())


    def _lltype(context, numba_type):
        return context.get_value_type(numba_type)


    @intrinsic
    def lane_field(typingctx, acc, s, h, k0, k1, indices, J):
        """acc[:] = h + sum over k0 <= k < k1 of J[k] * s[indices[k], :], in acc's integer type."""
        sig = types.void(acc, s, h, k0, k1, indices, J)

        def codegen(context, builder, signature, args):
            acc_t, s_t, _, _, _, idx_t, j_t = signature.args
            acc_a = context.make_array(acc_t)(context, builder, args[0])
            s_a = context.make_array(s_t)(context, builder, args[1])
            idx_a = context.make_array(idx_t)(context, builder, args[5])
            j_a = context.make_array(j_t)(context, builder, args[6])
            et = _lltype(context, acc_t.dtype)
            vt = _vec(et)
            k0 = _resize(builder, args[3], _I64)
            k1 = _resize(builder, args[4], _I64)
            total = cgutils.alloca_once(builder, vt)
            builder.store(_splat(builder, _resize(builder, args[2], et), vt), total)
            with cgutils.for_range(builder, builder.sub(k1, k0)) as loop:
                k = builder.add(k0, loop.index)
                j = builder.load(builder.gep(idx_a.data, [k]))
                j = j if j.type.width == 64 else (builder.sext if idx_t.dtype.signed else builder.zext)(j, _I64)
                c = _resize(builder, builder.load(builder.gep(j_a.data, [k])), et)
                row = builder.load(_row_ptr(builder, s_a, j, _I8), align=1)
                term = builder.mul(builder.sext(row, vt), _splat(builder, c, vt))
                builder.store(builder.add(builder.load(total), term), total)
            builder.store(builder.load(total), builder.bitcast(acc_a.data, vt.as_pointer()), align=1)
            return context.get_dummy_value()

        return sig, codegen


    @intrinsic
    def lane_update(typingctx, x, s, i, acc, flat, base, half, shift, W, de, nfl):
        """Clock p-bit i in every lane: step x[i, :] (xorshift32 13/17/5), address the table at
        base + sign(I) min(W, (|I| + half) >> shift) for I = acc, set s[i, :] = +1 where
        (x >> 8) < threshold else -1, de += (s_old - s_new) * I (int64), nfl += (s_old != s_new)."""
        sig = types.void(x, s, i, acc, flat, base, half, shift, W, de, nfl)

        def codegen(context, builder, signature, args):
            x_t, s_t, _, acc_t, flat_t, base_t, _, _, _, de_t, nfl_t = signature.args
            x_a = context.make_array(x_t)(context, builder, args[0])
            s_a = context.make_array(s_t)(context, builder, args[1])
            acc_a = context.make_array(acc_t)(context, builder, args[3])
            flat_a = context.make_array(flat_t)(context, builder, args[4])
            base_a = context.make_array(base_t)(context, builder, args[5])
            de_a = context.make_array(de_t)(context, builder, args[9])
            nfl_a = context.make_array(nfl_t)(context, builder, args[10])
            i = _resize(builder, args[2], _I64)
            v32 = _vec(_I32)
            # the register step
            u = _step_registers(builder, _row_ptr(builder, x_a, i, _I32))
            # the table address, in the field's width (at least 32 bits)
            et = _lltype(context, acc_t.dtype)
            wt = _vec(et if et.width > 32 else _I32)
            field = builder.sext(builder.load(builder.bitcast(acc_a.data, _vec(et).as_pointer()), align=1), wt) \
                if et.width < wt.element.width else builder.load(builder.bitcast(acc_a.data, _vec(et).as_pointer()), align=1)
            neg, q, _ = _table_offset(builder, field, wt, args[6], args[7], args[8])
            q32 = _resize(builder, q, v32)
            b = builder.load(builder.bitcast(base_a.data, v32.as_pointer()), align=4)
            adr = builder.select(neg, builder.sub(b, q32), builder.add(b, q32))
            thr = ir.Constant(v32, ir.Undefined)
            for lane in range(LANES):
                a = builder.extract_element(adr, ir.Constant(_I32, lane))
                t = builder.load(builder.gep(flat_a.data, [builder.sext(a, _I64)]))
                thr = builder.insert_element(thr, t, ir.Constant(_I32, lane))
            fire = builder.icmp_signed("<", u, thr)
            v8 = _vec(_I8)
            new = builder.select(fire, _const(v8, 1), _const(v8, -1))
            sp = _row_ptr(builder, s_a, i, _I8)
            old = builder.load(sp, align=1)
            builder.store(new, sp, align=1)
            v64 = _vec(_I64)
            d = builder.sext(builder.sub(old, new), v64)
            dep = builder.bitcast(de_a.data, v64.as_pointer())
            builder.store(builder.add(builder.load(dep, align=8), builder.mul(d, _resize(builder, field, v64))), dep, align=8)
            nfp = builder.bitcast(nfl_a.data, v32.as_pointer())
            flipped = builder.zext(builder.icmp_signed("!=", old, new), v32)
            builder.store(builder.add(builder.load(nfp, align=4), flipped), nfp, align=4)
            return context.get_dummy_value()

        return sig, codegen

    @intrinsic
    def pbit_chunk(typingctx, x, s, f, i, tab, half, shift, W, out):
        """Clock the LANES consecutive p-bits i .. i+LANES-1 of one replica (of one colour, so
        independent): step x, address `tab` (one table row) at W + sign(I) min(W, (|I| + half)
        >> shift) for I = f, set s = +1 where (x >> 8) < threshold else -1. out[0] += the
        energy change sum (s_old - s_new) I; out[1] = bit mask of the p-bits that flipped."""
        if any(a.layout != "C" for a in (x, s, f, tab)):
            return None  # contiguous rows only: the vector loads assume unit stride
        sig = types.void(x, s, f, i, tab, half, shift, W, out)

        def codegen(context, builder, signature, args):
            x_t, s_t, f_t, _, tab_t, _, _, _, out_t = signature.args
            x_a = context.make_array(x_t)(context, builder, args[0])
            s_a = context.make_array(s_t)(context, builder, args[1])
            f_a = context.make_array(f_t)(context, builder, args[2])
            tab_a = context.make_array(tab_t)(context, builder, args[4])
            out_a = context.make_array(out_t)(context, builder, args[8])
            i = _resize(builder, args[3], _I64)
            v32 = _vec(_I32)
            u = _step_registers(builder, builder.bitcast(builder.gep(x_a.data, [i]), v32.as_pointer()))
            et = _lltype(context, f_t.dtype)
            wt = _vec(et if et.width > 32 else _I32)
            field = builder.load(builder.bitcast(builder.gep(f_a.data, [i]), _vec(et).as_pointer()), align=1)
            field = _resize(builder, field, wt)
            neg, q, Wv = _table_offset(builder, field, wt, args[5], args[6], args[7])
            adr = _resize(builder, builder.select(neg, builder.sub(Wv, q), builder.add(Wv, q)), _vec(_I64))
            thr = ir.Constant(v32, ir.Undefined)
            for lane in range(LANES):
                a = builder.extract_element(adr, ir.Constant(_I32, lane))
                thr = builder.insert_element(thr, builder.load(builder.gep(tab_a.data, [a])), ir.Constant(_I32, lane))
            v8 = _vec(_I8)
            new = builder.select(builder.icmp_signed("<", u, thr), _const(v8, 1), _const(v8, -1))
            sp = builder.bitcast(builder.gep(s_a.data, [i]), v8.as_pointer())
            old = builder.load(sp, align=1)
            builder.store(new, sp, align=1)
            v64 = _vec(_I64)
            de = builder.mul(builder.sext(builder.sub(old, new), v64), _resize(builder, field, v64))
            total = builder.extract_element(de, ir.Constant(_I32, 0))
            for lane in range(1, LANES):
                total = builder.add(total, builder.extract_element(de, ir.Constant(_I32, lane)))
            mask = builder.zext(builder.bitcast(builder.icmp_signed("!=", old, new), ir.IntType(LANES)), _I64)
            builder.store(builder.add(builder.load(out_a.data), total), out_a.data)
            builder.store(mask, builder.gep(out_a.data, [ir.Constant(_I64, 1)]))
            return context.get_dummy_value()

        return sig, codegen

    # -- the kernels --

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
        out = np.zeros(2, dtype=np.int64)  # pbit_chunk's energy change (added to) and flip mask
        for t in range(tix.shape[0]):
            tab = tables[tix[t, lv]]
            for c in range(ncol):
                m = 0
                c0 = cstart[c]
                c1 = cstart[c + 1]
                while c0 + LANES <= c1:  # whole vectors of LANES p-bits
                    pbit_chunk(x, s, f, c0, tab, half, shift, W, out)
                    mask = out[1]
                    for b in range(LANES):
                        flipped[m] = c0 + b
                        m += (mask >> b) & 1
                    c0 += LANES
                for i0 in range(c0, c1):  # the rest one at a time
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
            e += out[0]
            out[0] = 0
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


def clock_rows(dense: bool, S, X, F, E, bestS, bestE, flips, level, tix, tables, W, shift, *couplings) -> None:
    """Run the row kernel; one replica is clocked by a direct call on the calling thread (a
    parallel region over one replica leaves the other OpenMP thread spinning on a core)."""
    if S.shape[0] != 1:
        (sweeps_dense if dense else sweeps_sparse)(S, X, F, E, bestS, bestE, flips, level, tix, tables, W, shift, *couplings)
        return
    body = _dense_replica if dense else _sparse_replica
    e, be, nf = body(S[0], X[0], F[0], level[0], E[0], bestE[0], bestS[0], tix, tables, W, shift, *couplings)
    E[0], bestE[0] = e, be
    flips[0] += nf


def clock_lanes(S, X, E, bestS, bestE, flips, level, tix, tables, W, shift, *couplings) -> None:
    """Run the lanes kernel; a single block is clocked by a direct call (see `clock_rows`)."""
    if S.shape[0] != 1:
        sweeps_lanes(S, X, E, bestS, bestE, flips, level, tix, tables, W, shift, *couplings)
        return
    _lanes_block(S[0], X[0], bestS[0], E[0], bestE[0], flips[0], level[0], tix, tables, W, shift, *couplings)


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
    tix, tables = np.zeros((1, 1), dtype=np.int64), np.zeros((1, 1), dtype=np.int32)
    for units in (1, 2):  # the direct call of one replica / block and the parallel kernel
        if engine == "lanes":
            S3, E2 = np.ones((units, 2, LANES), dtype=np.int8), np.zeros((units, LANES), dtype=np.int64)
            clock_lanes(S3, np.ones((units, 2, LANES), dtype=np.uint32), E2, S3.copy(), E2.copy(), E2.copy(), E2.copy(), tix,
                        tables, np.int32(0), np.int32(0), np.zeros(2, dtype=np.int64), np.zeros(3, dtype=np.int64),
                        np.zeros(0, dtype=idtype), np.zeros(0, dtype=jdtype), np.zeros(1, dtype=fdtype))
        else:
            S = np.ones((units, 2), dtype=np.int8)
            E = np.zeros(units, dtype=np.int64)
            args = (np.ones((units, 2), dtype=np.uint32), np.zeros((units, 2), dtype=fdtype), E, S.copy(), E.copy(), E.copy(),
                    E.copy(), tix, tables, 0, 0)
            if engine == "sparse":
                clock_rows(False, S, *args, np.array([0, 2]), np.zeros(3, dtype=np.int64), np.zeros(0, dtype=idtype),
                           np.zeros(0, dtype=jdtype))
            else:
                clock_rows(True, S, *args, np.zeros((2, 2), dtype=jdtype))
    _WARM[key] = time.perf_counter() - t
    return _WARM[key]
