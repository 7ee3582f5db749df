"""Compiled kernels of the hologram executor: one block interpreter for elementwise chains, softmax rows.

A fused kernel's elementwise ops (`plan.py` groups them) run as ONE pass over the output's
elements: `run_chain` walks the elements in blocks of `bsize` (a few KiB, so a block's
registers stay in L1), and per block interprets the group's program, a fixed instruction
list (`code`: opcode, destination register, two source registers or an operand index;
`fp`: the op's float constants). LOAD fills a register with an operand's block (contiguous,
a broadcast scalar, or any strided broadcast, resolved per row of the coalesced iteration
space), each op is one tight loop over the block's registers (which LLVM vectorises), STORE
writes a register to a materialised buffer. So intermediates never leave the block's
registers, there is no code generation (the interpreter is compiled once, cached on disk by
numba), and the result of an element does not depend on the block or thread it fell in:
two threads running halves of the blocks (`executor.PARALLEL_WORK`) give the same bits as one.

No fastmath anywhere (no reassociation, no implicit contraction to FMA): add/sub/mul/div/
min/max/sqrt round exactly as numpy's ufuncs do; the polynomials below use explicit fused
multiply-adds (llvm.fma, one rounding, the same bits on every run). The transcendental functions are the vectorisable
polynomial forms onnxruntime (MLAS), XLA and Eigen use for float32, not libm's scalar calls
(math.tanh from a numba loop costs 28 ns an element, fifty times numpy's SIMD tanh):
  exp: Cephes expf (range reduction by ln 2 in two parts, degree-5 polynomial, 2^n by table);
  tanh: Eigen's rational approximation (odd degree 13 / even degree 6, clamped to +-7.905);
  erf, GELU: the rational approximation of `fastmath` (odd 13 / even 8 on [-4, 4]);
  sigmoid: 1 / (1 + exp(-x)); log: libm's logf (scalar, correctly rounded; only the log op).
Their errors against the exact functions are bounded in tests/targets/hologram/test_compiled.py.

Numba is the `hologram` extra; without it the executor runs the numpy steps of kernels.py.
"""

from __future__ import annotations

import numpy as np

try:
    import numba
    from numba import prange

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - depends on the environment
    HAVE_NUMBA = False

# opcodes of the block interpreter
OPCODES = ("load", "store", "add", "sub", "mul", "div", "min", "max", "abs", "neg", "relu", "clip", "fill",
           "add_scalar", "mul_scalar", "sqrt", "exp", "log", "tanh", "sigmoid", "erf", "gelu")
(LOAD, STORE, ADD, SUB, MUL, DIV, MIN, MAX, ABS, NEG, RELU, CLIP, FILL, ADDS, MULS, SQRT, EXP, LOG, TANH, SIGMOID,
 ERF, GELU) = range(len(OPCODES))
OPCODE = {name: k for k, name in enumerate(OPCODES)}
ELEMENTWISE = frozenset(OPCODES[2:])
# operand kinds (column 2 of the operand table)
CONTIGUOUS, SCALAR, STRIDED = 0, 1, 2
MAXD = 8  # coalesced dimensions of an iteration space
TAB_COLS = 3 + MAXD  # base id, offset (elements), kind, strides (elements) per coalesced dim
HEADER = 6  # nd, total, registers, block size, instructions, operands
SUB_GROUP, SUB_SOFTMAX, SUB_REDUCE, SUB_GEMM = range(4)  # the steps `run_program` runs
REDUCE_KINDS = {"reduce_sum": 0, "reduce_mean": 1, "reduce_max": 2, "reduce_min": 3}


def pack(code: np.ndarray, tab: np.ndarray, gshape: np.ndarray, nd: int, total: int, nslots: int, bsize: int) -> np.ndarray:
    """One int64 array holding a group's whole program (one argument: numba's dispatch cost
    grows with the argument count, and small groups are bound by it)."""
    head = np.array([nd, total, nslots, bsize, len(code), len(tab)], np.int64)
    return np.concatenate([head, np.asarray(gshape, np.int64), np.asarray(code, np.int64).reshape(-1),
                           np.asarray(tab, np.int64).reshape(-1)])

if HAVE_NUMBA:
    _F = np.float32
    _OPTS = dict(cache=True, error_model="numpy", boundscheck=False)

    # --- exp (Cephes expf) ---
    _EXP_HI, _EXP_LO = _F(88.72283935546875), _F(-88.3762626647949)
    _EXP_OVER, _EXP_UNDER = _F(88.72283935546875), _F(-103.97207708)
    _LOG2E, _C1, _C2 = _F(1.44269504088896341), _F(0.693359375), _F(-2.12194440e-4)
    _P0, _P1, _P2, _P3, _P4, _P5 = (_F(1.9875691500e-4), _F(1.3981999507e-3), _F(8.3334519073e-3),
                                    _F(4.1665795894e-2), _F(1.6666665459e-1), _F(5.0000001201e-1))
    from llvmlite import ir as _ir
    from numba.core import types as _types
    from numba.core.extending import intrinsic as _intrinsic

    @_intrinsic
    def _pow2(typingctx, k):
        """2.0 ** k as float32 for an int32 k in [-126, 127]: the exponent field set directly."""
        sig = _types.float32(_types.int32)

        def codegen(context, builder, signature, args):
            bits = builder.shl(builder.add(args[0], _ir.Constant(_ir.IntType(32), 127)), _ir.Constant(_ir.IntType(32), 23))
            return builder.bitcast(bits, _ir.FloatType())
        return sig, codegen

    @_intrinsic
    def _fma(typingctx, a, b, c):
        """a * b + c rounded once (llvm.fma): the polynomials' steps, deterministic like any IEEE op."""
        sig = _types.float32(_types.float32, _types.float32, _types.float32)

        def codegen(context, builder, signature, args):
            return builder.fma(*args)
        return sig, codegen
    _HALF, _ONE, _ZERO = _F(0.5), _F(1.0), _F(0.0)
    _INF = _F(np.inf)

    # --- tanh (Eigen generic_fast_tanh_float, the clamp of its FMA path) ---
    _TH_CLAMP, _TH_TINY = _F(7.99881172180175781), _F(0.0004)
    _TA1, _TA3, _TA5, _TA7, _TA9, _TA11, _TA13 = (_F(4.89352455891786e-03), _F(6.37261928875436e-04),
                                                  _F(1.48572235717979e-05), _F(5.12229709037114e-08),
                                                  _F(-8.60467152213735e-11), _F(2.00018790482477e-13),
                                                  _F(-2.76076847742355e-16))
    _TB0, _TB2, _TB4, _TB6 = (_F(4.89352518554385e-03), _F(2.26843463243900e-03), _F(1.18534705686654e-04),
                              _F(1.19825839466702e-06))

    # --- erf (as fastmath.py) ---
    from tsuc.runtime.hologram.fastmath import _A32, _B32, _F32, _SQRT1_2

    _a0, _a1, _a2, _a3, _a4, _a5, _a6 = _A32
    _b0, _b1, _b2, _b3, _b4 = _B32
    _ELO, _EHI = _F32[0], _F32[1]

    @numba.njit(inline="always", **_OPTS)
    def _exp(v):
        x = min(max(v, _EXP_LO), _EXP_HI)
        x = _ZERO if v != v else x  # keeps the table index in range; the NaN is returned below
        fx = np.floor(x * _LOG2E + _HALF)
        x = _fma(fx, -_C1, x)
        x = _fma(fx, -_C2, x)
        z = x * x
        y = _fma(_fma(_fma(_fma(_fma(_P0, x, _P1), x, _P2), x, _P3), x, _P4), x, _P5)
        y = _fma(y, z, x) + _ONE
        n = np.int32(fx)
        h = n >> 1
        y = y * _pow2(h) * _pow2(n - h)
        y = _INF if v > _EXP_OVER else y
        y = _ZERO if v < _EXP_UNDER else y
        return v if v != v else y

    @numba.njit(inline="always", **_OPTS)
    def _tanh(v):
        x = min(max(v, -_TH_CLAMP), _TH_CLAMP)
        x2 = x * x
        p = _fma(_fma(_fma(_fma(_fma(_fma(_TA13, x2, _TA11), x2, _TA9), x2, _TA7), x2, _TA5), x2, _TA3), x2, _TA1) * x
        q = _fma(_fma(_fma(_TB6, x2, _TB4), x2, _TB2), x2, _TB0)
        r = p / q
        r = v if abs(v) < _TH_TINY else r
        return v if v != v else r

    @numba.njit(inline="always", **_OPTS)
    def _erf(v):
        z = min(max(v, _ELO), _EHI)
        z2 = z * z
        p = _fma(_fma(_fma(_fma(_fma(_fma(_a0, z2, _a1), z2, _a2), z2, _a3), z2, _a4), z2, _a5), z2, _a6) * z
        q = _fma(_fma(_fma(_fma(_b0, z2, _b1), z2, _b2), z2, _b3), z2, _b4)
        r = p / q
        return v if v != v else r

    @numba.njit(inline="always", **_OPTS)
    def _load(regs, r0, src, tab, e, gshape, nd, s, m, idx):
        """regs[r0, :m] = operand e's values at flat indices [s, s + m) of the iteration space.
        Registers are indexed in two dimensions (a row view per instruction costs reference
        counting); source loops index a slice from 0 (an index numba cannot prove
        non-negative gets a wraparound check per element, which stops LLVM vectorising)."""
        off, kind = tab[e, 1], tab[e, 2]
        if kind == CONTIGUOUS:
            sv = src[off + s:off + s + m]
            for t in range(m):
                regs[r0, t] = sv[t]
            return
        if kind == SCALAR:
            v = src[off]
            for t in range(m):
                regs[r0, t] = v
            return
        n_in = gshape[nd - 1]
        st_in = tab[e, 3 + nd - 1]
        row = s // n_in
        j = s - row * n_in
        p_row = off
        r = row
        for d in range(nd - 2, -1, -1):  # the block's first row as a multi-index (divisions once a block)
            q = r // gshape[d]
            idx[d] = r - q * gshape[d]
            p_row += idx[d] * tab[e, 3 + d]
            r = q
        k = 0
        while k < m:
            cnt = min(n_in - j, m - k)
            p = p_row + j * st_in
            if st_in == 1 and cnt >= 64:  # a long contiguous run: a slice, so the copy vectorises
                sv = src[p:p + cnt]
                for t in range(cnt):
                    regs[r0, k + t] = sv[t]
            elif st_in == 0:
                v = src[p]
                for t in range(cnt):
                    regs[r0, k + t] = v
            else:  # short runs and gathers: plain indexing (a slice per row costs more than it saves)
                for t in range(cnt):
                    regs[r0, k + t] = src[p + t * st_in]
            k += cnt
            j = 0
            d = nd - 2  # next row: increment the multi-index with carry
            while d >= 0:
                idx[d] += 1
                p_row += tab[e, 3 + d]
                if idx[d] < gshape[d]:
                    break
                p_row -= idx[d] * tab[e, 3 + d]
                idx[d] = 0
                d -= 1

    @numba.njit(**_OPTS)
    def _run_block(code, fp, tab, gshape, nd, pool, arena, extras, regs, s, m, idx):
        for i in range(code.shape[0]):
            op = code[i, 0]
            d = code[i, 1]
            a = code[i, 2]
            b = code[i, 3]
            if op == LOAD or op == STORE:
                bid = tab[b, 0]
                if bid == 0:
                    base = pool
                elif bid == 1:
                    base = arena
                else:
                    base = extras[bid - 2]
                if op == LOAD:
                    _load(regs, d, base, tab, b, gshape, nd, s, m, idx)
                else:
                    o = tab[b, 1] + s
                    ov = base[o:o + m]
                    for t in range(m):
                        ov[t] = regs[a, t]
                continue
            c0 = fp[i, 0]
            c1 = fp[i, 1]
            if op == ADD:
                for t in range(m):
                    regs[d, t] = regs[a, t] + regs[b, t]
            elif op == SUB:
                for t in range(m):
                    regs[d, t] = regs[a, t] - regs[b, t]
            elif op == MUL:
                for t in range(m):
                    regs[d, t] = regs[a, t] * regs[b, t]
            elif op == DIV:
                for t in range(m):
                    regs[d, t] = regs[a, t] / regs[b, t]
            elif op == MIN:  # np.minimum: a NaN in either operand wins
                for t in range(m):
                    u = regs[a, t]
                    w = regs[b, t]
                    regs[d, t] = u if (u < w or u != u) else w
            elif op == MAX:
                for t in range(m):
                    u = regs[a, t]
                    w = regs[b, t]
                    regs[d, t] = u if (u > w or u != u) else w
            elif op == ABS:
                for t in range(m):
                    regs[d, t] = abs(regs[a, t])
            elif op == NEG:
                for t in range(m):
                    regs[d, t] = -regs[a, t]
            elif op == RELU:  # np.maximum(x, 0)
                for t in range(m):
                    u = regs[a, t]
                    regs[d, t] = u if (u > _ZERO or u != u) else _ZERO
            elif op == CLIP:  # np.clip: NaN stays NaN
                for t in range(m):
                    u = regs[a, t]
                    u = c0 if u < c0 else u
                    regs[d, t] = c1 if u > c1 else u
            elif op == FILL:
                for t in range(m):
                    regs[d, t] = c0
            elif op == ADDS:
                for t in range(m):
                    regs[d, t] = regs[a, t] + c0
            elif op == MULS:
                for t in range(m):
                    regs[d, t] = regs[a, t] * c0
            elif op == SQRT:
                for t in range(m):
                    regs[d, t] = np.sqrt(regs[a, t])
            elif op == EXP:
                for t in range(m):
                    regs[d, t] = _exp(regs[a, t])
            elif op == LOG:
                for t in range(m):
                    regs[d, t] = np.log(regs[a, t])
            elif op == TANH:
                for t in range(m):
                    regs[d, t] = _tanh(regs[a, t])
            elif op == SIGMOID:
                for t in range(m):
                    regs[d, t] = _ONE / (_ONE + _exp(-regs[a, t]))
            elif op == ERF:
                for t in range(m):
                    regs[d, t] = _erf(regs[a, t])
            elif op == GELU:
                for t in range(m):
                    u = regs[a, t]
                    regs[d, t] = _HALF * u * (_ONE + _erf(u * _SQRT1_2))

    @numba.njit(**_OPTS)
    def _group(prog, fp, pool, arena, extras, first, stop):
        """A packed group program over its blocks [first, stop) (stop < 0: to the end)."""
        nd, total, nslots, bsize, ncode, ntab = prog[0], prog[1], prog[2], prog[3], prog[4], prog[5]
        if stop < 0:
            stop = (total + bsize - 1) // bsize
        gshape = prog[HEADER:HEADER + MAXD]
        at = HEADER + MAXD
        code = prog[at:at + 4 * ncode].reshape((ncode, 4))
        at += 4 * ncode
        tab = prog[at:at + TAB_COLS * ntab].reshape((ntab, TAB_COLS))
        regs = np.empty((nslots, bsize), np.float32)
        idx = np.zeros(MAXD, np.int64)
        for b in range(first, stop):
            s = b * bsize
            _run_block(code, fp, tab, gshape, nd, pool, arena, extras, regs, s, min(bsize, total - s), idx)

    @numba.njit(nogil=True, **_OPTS)
    def run_chain(prog, fp, pool, arena, extras, first, stop):
        """One group's blocks [first, stop); releases the GIL, so two threads may run
        disjoint block ranges of one big group."""
        _group(prog, fp, pool, arena, extras, first, stop)

    @numba.njit(**_OPTS)
    def _base(bid, pool, arena, extras):
        if bid == 0:
            return pool
        if bid == 1:
            return arena
        return extras[bid - 2]

    @numba.njit(**_OPTS)
    def _pick(a, b, kind):
        """max (kind 2) or min (3) as np.maximum / np.minimum do it: a NaN wins."""
        if kind == 2:
            return a if (a > b or a != a) else b
        return a if (a < b or a != a) else b

    @numba.njit(**_OPTS)
    def _reduce(p, pool, arena, extras):
        """y[o, i] = sum / mean / max / min over k of x[o, k, i]. Sums and means of rows
        (inner 1) are one BLAS product with a ones (1 / red) vector, as the numpy path does;
        across rows they add in float64; max / min of rows keep 8 running lanes."""
        kind, outer, red, inner = p[4], p[5], p[6], p[7]
        x = _base(p[0], pool, arena, extras)[p[1]:p[1] + outer * red * inner]
        y = _base(p[2], pool, arena, extras)[p[3]:p[3] + outer * inner]
        if kind <= 1 and inner == 1:
            w = np.full((red, 1), np.float32(1.0) if kind == 0 else np.float32(1.0 / red), np.float32)
            np.dot(x.reshape((outer, red)), w, y.reshape((outer, 1)))
            return
        if kind <= 1:
            acc = np.zeros(inner, np.float64)
            for o in range(outer):
                acc[:] = 0.0
                for k in range(red):
                    xr = x[(o * red + k) * inner:(o * red + k + 1) * inner]
                    for i in range(inner):
                        acc[i] += xr[i]
                yr = y[o * inner:(o + 1) * inner]
                for i in range(inner):
                    yr[i] = np.float32(acc[i] / red) if kind == 1 else np.float32(acc[i])
            return
        if inner == 1:
            lanes = np.empty(8, np.float32)
            for o in range(outer):
                row = x[o * red:(o + 1) * red]
                r = row[0]
                if red >= 16:
                    for l in range(8):
                        lanes[l] = row[l]
                    full = red - red % 8
                    for k in range(8, full, 8):
                        for l in range(8):
                            lanes[l] = _pick(row[k + l], lanes[l], kind)
                    r = lanes[0]
                    for l in range(1, 8):
                        r = _pick(lanes[l], r, kind)
                    for k in range(full, red):
                        r = _pick(row[k], r, kind)
                else:
                    for k in range(1, red):
                        r = _pick(row[k], r, kind)
                y[o] = r
            return
        for o in range(outer):
            yr = y[o * inner:(o + 1) * inner]
            x0 = x[o * red * inner:(o * red + 1) * inner]
            for i in range(inner):
                yr[i] = x0[i]
            for k in range(1, red):
                xr = x[(o * red + k) * inner:(o * red + k + 1) * inner]
                for i in range(inner):
                    yr[i] = _pick(xr[i], yr[i], kind)

    @numba.njit(**_OPTS)
    def _gemm(p, pool, arena, extras):
        """batch x (A[M, K] @ B[K, N]) through BLAS (np.dot); batch strides sa, sb (0: shared)."""
        batch, m, k, n, sa, sb = p[6], p[7], p[8], p[9], p[10], p[11]
        abase = _base(p[0], pool, arena, extras)
        bbase = _base(p[2], pool, arena, extras)
        cbase = _base(p[4], pool, arena, extras)
        for i in range(batch):
            a = abase[p[1] + i * sa:p[1] + i * sa + m * k].reshape((m, k))
            b = bbase[p[3] + i * sb:p[3] + i * sb + k * n].reshape((k, n))
            c = cbase[p[5] + i * m * n:p[5] + (i + 1) * m * n].reshape((m, n))
            np.dot(a, b, c)

    @numba.njit(nogil=True, **_OPTS)
    def run_program(prog, fp, pool, arena, extras):
        """Several steps in one call (numba's dispatch costs a microsecond or two a call):
        prog[0] steps, then per step (kind, offset in prog, offset in fp)."""
        for j in range(prog[0]):
            kind, po, fo = prog[1 + 3 * j], prog[2 + 3 * j], prog[3 + 3 * j]
            if kind == SUB_GROUP:
                _group(prog[po:], fp[fo:], pool, arena, extras, 0, -1)
            elif kind == SUB_SOFTMAX:
                p = prog[po:]
                n_all = p[4] * p[5] * p[6]
                softmax_rows(_base(p[0], pool, arena, extras)[p[1]:p[1] + n_all],
                             _base(p[2], pool, arena, extras)[p[3]:p[3] + n_all], p[4], p[5], p[6], p[7] != 0)
            elif kind == SUB_REDUCE:
                _reduce(prog[po:], pool, arena, extras)
            else:
                _gemm(prog[po:], pool, arena, extras)

    @numba.njit(**_OPTS)
    def _softmax_row(xr, yr, log):
        """One contiguous row: max, exp(x - max) (a vectorised loop), the sum in float64,
        then a division (or x - max - log(sum))."""
        n = xr.shape[0]
        mx = xr[0]
        for k in range(1, n):
            v = xr[k]
            if v > mx or v != v:
                mx = v
        for k in range(n):
            yr[k] = _exp(xr[k] - mx)
        acc = 0.0
        for k in range(n):
            acc += yr[k]
        if log:
            ls = np.float32(np.log(acc))
            for k in range(n):
                yr[k] = (xr[k] - mx) - ls
        else:
            tot = np.float32(acc)
            for k in range(n):
                yr[k] = yr[k] / tot

    @numba.njit(**_OPTS)
    def softmax_rows(x, y, outer, n, inner, log):
        """Softmax (or log-softmax) of x[outer, n, inner] along n into y (flat float32 arrays).

        Rows along the last axis: softmax is invariant to the shift, so the tensor's max
        (8 running lanes) replaces the rows' maxima, exp(x - max) is one vectorised pass and
        the row sums one BLAS product, as the numpy path does; a row whose sum falls under
        1e-20 (it would lose precision) is redone with its own max. Rows along a middle axis
        are gathered into a contiguous buffer and done one by one."""
        if inner == 1:
            total = outer * n
            lanes = np.empty(8, np.float32)
            mx = x[0]
            if total >= 16:
                for l in range(8):
                    lanes[l] = x[l]
                full = total - total % 8
                for k in range(8, full, 8):
                    for l in range(8):
                        lanes[l] = _pick(x[k + l], lanes[l], 2)
                mx = lanes[0]
                for l in range(1, 8):
                    mx = _pick(lanes[l], mx, 2)
                for k in range(full, total):
                    mx = _pick(x[k], mx, 2)
            else:
                for k in range(1, total):
                    mx = _pick(x[k], mx, 2)
            for k in range(total):
                y[k] = _exp(x[k] - mx)
            sums = np.empty((outer, 1), np.float32)
            np.dot(y[:total].reshape((outer, n)), np.ones((n, 1), np.float32), sums)
            for o in range(outer):
                tot = sums[o, 0]
                xr = x[o * n:(o + 1) * n]
                yr = y[o * n:(o + 1) * n]
                if tot < np.float32(1e-20):
                    _softmax_row(xr, yr, log)
                elif log:
                    ls = np.log(tot)
                    for k in range(n):
                        yr[k] = (xr[k] - mx) - ls
                else:
                    for k in range(n):
                        yr[k] = yr[k] / tot
            return
        xr = np.empty(n, np.float32)
        yr = np.empty(n, np.float32)
        for o in range(outer):
            for i in range(inner):
                base = o * n * inner + i
                xs = x[base:base + (n - 1) * inner + 1:inner]
                ys = y[base:base + (n - 1) * inner + 1:inner]
                for k in range(n):
                    xr[k] = xs[k]
                _softmax_row(xr, yr, log)
                for k in range(n):
                    ys[k] = yr[k]

    @numba.vectorize(["float32(float32)"], nopython=True, cache=True)
    def exp_ufunc(v):  # pragma: no cover - compiled
        return _exp(v)

    @numba.vectorize(["float32(float32)"], nopython=True, cache=True)
    def tanh_ufunc(v):  # pragma: no cover - compiled
        return _tanh(v)
