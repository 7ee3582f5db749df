"""Lane-vector steps of the lanes kernel, written as LLVM vector IR (numba intrinsics).

Why not plain numba loops: a loop over a compile-time number of lanes is fully unrolled by
LLVM before the loop vectoriser sees it, and the SLP vectoriser does not put the sixteen
scalar chains (sign-extend, multiply, add, table load) back together, so the lanes kernel ran
one lane at a time. These intrinsics emit the vector operations directly: `<LANES x iN>`
loads, arithmetic and stores, one table load per lane. They compute exactly what the scalar
description in `kernels.sweeps_lanes` says (wrapping integer arithmetic in the field's type;
the reference model checks it bit for bit).

Arrays are C-contiguous; a lanes array (n, LANES) holds one p-bit's lanes in one row.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

LANES = 16  # replicas per lanes block: one 256-bit vector of int16 fields

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
        acc_t, s_t, h_t, _, _, idx_t, j_t = signature.args
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
        xp = _row_ptr(builder, x_a, i, _I32)
        v = builder.load(xp, align=4)
        v = builder.xor(v, builder.shl(v, _const(v32, 13)))
        v = builder.xor(v, builder.lshr(v, _const(v32, 17)))
        v = builder.xor(v, builder.shl(v, _const(v32, 5)))
        builder.store(v, xp, align=4)
        u = builder.lshr(v, _const(v32, 8))
        # the table address, in the field's width (at least 32 bits)
        et = _lltype(context, acc_t.dtype)
        wt = _vec(et if et.width > 32 else _I32)
        field = builder.sext(builder.load(builder.bitcast(acc_a.data, _vec(et).as_pointer()), align=1), wt) \
            if et.width < wt.element.width else builder.load(builder.bitcast(acc_a.data, _vec(et).as_pointer()), align=1)
        zero = _const(wt, 0)
        neg = builder.icmp_signed("<", field, zero)
        mag = builder.select(neg, builder.sub(zero, field), field)
        q = builder.ashr(builder.add(mag, _splat(builder, _resize(builder, args[6], wt.element), wt)),
                         _splat(builder, _resize(builder, args[7], wt.element), wt))
        Wv = _splat(builder, _resize(builder, args[8], wt.element), wt)
        q = builder.select(builder.icmp_signed("<", q, Wv), q, Wv)
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
