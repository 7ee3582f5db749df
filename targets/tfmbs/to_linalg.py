"""`tfmbs-to-linalg`: the tfmbs dialect as upstream MLIR (linalg, tensor, arith, math).

`tfmbs.gemv %w, %x, %y` becomes `linalg.matmul ins(%x, %w) outs(%y)` (trits sign-extended to
i32 first, elementwise) and keeps `tile_mask`,
`telemetry` (and the `schedule` of `tfmbs-allocate`) as attributes, which the prototype's
pass dropped. The host ops around it are spelled out too, so the whole segment is upstream IR:
- `tfmbs.pack` / `tfmbs.dma_load` are data movement: the gemv reads the constant plane;
- `tfmbs.quantize`: a max|x| (or mean|x| for one trit) reduction, the scale, and
  clip(roundeven(x / s)) as `linalg.generic`s, in f64 as the runtime computes it;
- `tfmbs.trit_plane` j: t = ((floor((q + (3^j-1)/2) / 3^j) + 1) mod 3) - 1, elementwise;
- `tfmbs.im2col`: `tensor.pad` + a 6-D `linalg.generic` gather + `tensor.collapse_shape`;
- `tfmbs.combine`: sum_j 3^j acc, times the plane scales, the activation scale, alpha, plus
  bias, then `tensor.expand_shape` (and `linalg.transpose` to NCHW for convolutions);
- `tfmbs.post` (a folded residual Add / Relu): an elementwise `arith.addf` / `arith.maximumf`.
Weight constants become `arith.constant dense_resource<...>` (still never printed inline).

The pass is a view for `tsuc compile --emit=linalg`; emission always uses the tfmbs form,
which the pass keeps beside each segment it lowers (`tfmbs_form`). `tfmbs-outline` turns
every tfmbs segment into a private `func.func` called from `@main`, so that a model that runs
wholly on the fabric prints as a module upstream `mlir-opt` (or `torch_mlir.ir`) accepts.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, func, math, tensor
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    AffineMapAttr,
    ArrayAttr,
    DenseArrayBase,
    FloatAttr,
    IndexType,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    TensorType,
    f64,
    i64,
)
from xdsl.dialects.linalg.attrs import IteratorTypeAttr
from xdsl.dialects.linalg.ops import FillOp, GenericOp, MatmulOp, TransposeOp
from xdsl.dialects.linalg.ops import YieldOp as LinalgYieldOp
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.ir.affine import AffineExpr, AffineMap
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from tsuc.dialects.tfmbs import (
    CombineOp,
    DmaLoadOp,
    GemvOp,
    Im2ColOp,
    PackOp,
    PostOp,
    QuantizeOp,
    TritPlaneOp,
)
from tsuc.dialects.tsuc import SegmentOp, YieldOp
from tsuc.errors import TsucError
from tsuc.targets.tfmbs.lower import in_tfmbs_segment
from tsuc.targets.tfmbs.program import tfmbs_segments

_TFMBS_FORM: weakref.WeakKeyDictionary[SegmentOp, SegmentOp] = weakref.WeakKeyDictionary()
i8, i16, i32 = IntegerType(8), IntegerType(16), IntegerType(32)


def tfmbs_form(segment: SegmentOp) -> SegmentOp:
    """The segment as it was before `tfmbs-to-linalg` (itself if it was never lowered)."""
    return _TFMBS_FORM.get(segment, segment)


# -- small builders ------------------------------------------------------------------------------


def _empty(shape, elem) -> tensor.EmptyOp:
    return tensor.EmptyOp([], TensorType(elem, list(shape)))


def _dim(value: SSAValue, axis: int) -> list[Operation]:
    """`tensor.dim` of one axis (the last op's result is the index)."""
    c = arith.ConstantOp(IntegerAttr(axis, IndexType()))
    return [c, tensor.DimOp(value, c.result)]


def _empty_like(shape, elem, like: SSAValue, axes: list[int] | None = None) -> list[Operation]:
    """Ops for `tensor.empty` of `shape` (the last op); each dynamic dim i takes its size
    from axis `axes[i]` (default i) of `like`."""
    ops: list[Operation] = []
    sizes = []
    for i, d in enumerate(shape):
        if d < 0:
            dim = _dim(like, axes[i] if axes else i)
            ops += dim
            sizes.append(dim[-1].results[0])
    return ops + [tensor.EmptyOp(sizes, TensorType(elem, list(shape)))]


def _dynamic(shape) -> bool:
    return any(d < 0 for d in shape)


def _cf(value: float, ty=f64) -> arith.ConstantOp:
    return arith.ConstantOp(FloatAttr(value, ty))


def _ci(value: int, ty) -> arith.ConstantOp:
    return arith.ConstantOp(IntegerAttr(value, ty))


def _elem(ty: Attribute) -> Attribute:
    return ty.element_type if isinstance(ty, TensorType) else ty


def _generic(inputs: list[SSAValue], init: SSAValue, maps: list[AffineMap], reduction_dims: int, rank: int,
             body) -> GenericOp:
    """linalg.generic over `rank` loops, the last `reduction_dims` of them reductions;
    `body(args) -> (ops, value)` builds the region from the scalar block arguments."""
    block = Block(arg_types=[_elem(v.type) for v in inputs] + [_elem(init.type)])
    ops, value = body(list(block.args))
    block.add_ops(ops + [LinalgYieldOp(value)])
    iters = [IteratorTypeAttr.parallel()] * (rank - reduction_dims) + [IteratorTypeAttr.reduction()] * reduction_dims
    return GenericOp(inputs, [init], Region(block), [AffineMapAttr(m) for m in maps], iters, [init.type])


def _scalar_map(rank: int) -> AffineMap:
    return AffineMap(rank, 0, ())


def _reassoc(groups: list[list[int]]) -> ArrayAttr:
    return ArrayAttr([ArrayAttr([IntegerAttr(d, i64) for d in g]) for g in groups])


def _collapse(value: SSAValue, groups: list[list[int]], shape) -> tensor.CollapseShapeOp:
    return tensor.CollapseShapeOp.create(operands=[value], result_types=[TensorType(_elem(value.type), list(shape))],
                                         properties={"reassociation": _reassoc(groups)})


def _expand(value: SSAValue, groups: list[list[int]], shape, dynamic: list[SSAValue] | None = None) -> tensor.ExpandShapeOp:
    """`tensor.expand_shape`; `dynamic` gives the sizes of the dynamic dims of `shape`, in order."""
    static = [d if d >= 0 else DYNAMIC_INDEX for d in shape]
    return tensor.ExpandShapeOp(value, dynamic or [], _reassoc(groups), static, TensorType(_elem(value.type), list(shape)))


# -- patterns -----------------------------------------------------------------------------------------


class GemvToMatmul(RewritePattern):
    """gemv -> linalg.matmul ins(x, w) outs(y). The i8 trits are sign-extended to the i32
    accumulator type first (an elementwise `arith.extsi`): xDSL's linalg.matmul wants one
    element type for all operands, and the extension is what upstream's mixed-type matmul
    does implicitly."""

    def __init__(self) -> None:
        self.widened: dict[SSAValue, SSAValue] = {}  # one extension per trit tensor, shared by its gemvs

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: GemvOp, rewriter: PatternRewriter) -> None:
        attrs = {"tile_mask": op.tile_mask, "telemetry": op.telemetry}
        if op.schedule is not None:
            attrs["schedule"] = op.schedule
        ops: list[Operation] = []
        wide = []
        for v in (op.x, op.w):
            if v in self.widened:
                wide.append(self.widened[v])
                continue
            init_ops = _empty_like(v.type.get_shape(), i32, v)
            init = init_ops[-1]

            def body(a):
                e = arith.ExtSIOp(a[0], i32)
                return [e], e.result

            g = _generic([v], init.results[0], [AffineMap.identity(2)] * 2, 0, 2, body)
            ops += init_ops + [g]
            wide.append(g.results[0])
            self.widened[v] = g.results[0]
        rewriter.replace(op, ops + [MatmulOp(wide, [op.y], attributes=attrs)])


class DmaLoadToValue(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: DmaLoadOp, rewriter: PatternRewriter) -> None:
        pack = op.packed.owner
        if isinstance(pack, PackOp):
            rewriter.replace(op, [], [pack.trits])


class DropPack(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: PackOp, rewriter: PatternRewriter) -> None:
        if not op.packed.uses:
            rewriter.erase(op)


class OnnxConstantToArith(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if op.name == "onnx.Constant" and in_tfmbs_segment(op):
            value = op.attributes["value"]
            rewriter.replace(op, arith.ConstantOp(value, op.results[0].type))


class QuantizeToLinalg(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: QuantizeOp, rewriter: PatternRewriter) -> None:
        k = op.act_trits.value.data
        xt = op.input.type
        shape = list(xt.get_shape())
        rank = len(shape)
        ident, scal = AffineMap.identity(rank), _scalar_map(rank)
        ops: list[Operation] = []
        zero = _cf(0.0)
        acc0 = _empty([], f64)
        fill = FillOp([zero.result], [acc0.results[0]], [acc0.results[0].type])
        ops += [zero, acc0, fill]
        count = 1
        for d in shape:
            count *= max(d, 1)
        count_value = None  # the element count at run time, for a mean over a dynamic shape
        if k == 1 and _dynamic(shape):
            n_idx = None
            for i, d in enumerate(shape):
                if d < 0:
                    dim = _dim(op.input, i)
                    ops += dim
                    size = dim[-1].results[0]
                    if n_idx is None:
                        n_idx = size
                    else:
                        mul = arith.MuliOp(n_idx, size)
                        ops.append(mul)
                        n_idx = mul.result
            cast = arith.IndexCastOp(n_idx, i64)
            as_f = arith.SIToFPOp(cast.result, f64)
            static = _cf(float(count))
            total = arith.MulfOp(as_f.result, static.result)
            ops += [cast, as_f, static, total]
            count_value = total.result

        def stat_body(a):
            e = arith.ExtFOp(a[0], f64)
            ab = math.AbsFOp(e.result)
            red = arith.AddfOp(ab.result, a[1]) if k == 1 else arith.MaximumfOp(ab.result, a[1])
            return [e, ab, red], red.result

        stat = _generic([op.input], fill.results[0], [ident, scal], rank, rank, stat_body)
        ops.append(stat)
        divisor = float(count) if k == 1 else float((3 ** k - 1) // 2)

        def scale_body(a):
            pre: list[Operation] = []
            if count_value is not None:
                div = count_value  # defined above the generic
            else:
                d = _cf(divisor)
                pre.append(d)
                div = d.result
            s = arith.DivfOp(a[0], div)
            z = _cf(0.0)
            one = _cf(1.0)
            isz = arith.CmpfOp(s.result, z.result, "oeq")
            sel = arith.SelectOp(isz.result, one.result, s.result)
            return pre + [s, z, one, isz, sel], sel.result

        s_init = _empty([], f64)
        scale = _generic([stat.results[0]], s_init.results[0], [AffineMap(0, 0, ()), AffineMap(0, 0, ())], 0, 0, scale_body)
        ops += [s_init, scale]
        lim = float((3 ** k - 1) // 2)
        lvl_elem = _elem(op.levels.type)

        def level_body(a):
            e = arith.ExtFOp(a[0], f64)
            if k == 1:
                z = _cf(0.0)
                pos = arith.CmpfOp(e.result, z.result, "ogt")
                neg = arith.CmpfOp(e.result, z.result, "olt")
                one, mone, zi = _ci(1, lvl_elem), _ci(-1, lvl_elem), _ci(0, lvl_elem)
                s1 = arith.SelectOp(neg.result, mone.result, zi.result)
                s2 = arith.SelectOp(pos.result, one.result, s1.result)
                return [e, z, pos, neg, one, mone, zi, s1, s2], s2.result
            d = arith.DivfOp(e.result, a[1])
            r = math.RoundEvenOp(d.result)
            lo, hi = _cf(-lim), _cf(lim)
            c1 = arith.MaximumfOp(r.result, lo.result)
            c2 = arith.MinimumfOp(c1.result, hi.result)
            i = arith.FPToSIOp(c2.result, lvl_elem)
            return [e, d, r, lo, hi, c1, c2, i], i.result

        l_ops = _empty_like(shape, lvl_elem, op.input)
        l_init = l_ops[-1]
        levels = _generic([op.input, scale.results[0]], l_init.results[0], [ident, scal, ident], 0, rank, level_body)
        ops += l_ops + [levels]
        rewriter.replace(op, ops, [levels.results[0], scale.results[0]])


class TritPlaneToLinalg(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: TritPlaneOp, rewriter: PatternRewriter) -> None:
        j = op.plane.value.data
        src = op.levels
        shape = list(src.type.get_shape())
        m, k = op.result.type.get_shape()
        ops: list[Operation] = []
        if len(shape) > 2:
            c = _collapse(src, [list(range(len(shape) - 1)), [len(shape) - 1]], [m, k])
            ops.append(c)
            src = c.result
        elif len(shape) == 1:
            e = _expand(src, [[0, 1]], [1, k])
            ops.append(e)
            src = e.result
        half, power = (3 ** j - 1) // 2, 3 ** j
        h, pw, one, three = _ci(half, i32), _ci(power, i32), _ci(1, i32), _ci(3, i32)
        ops += [h, pw, one, three]  # defined before the generic, used inside its body

        def body(a):
            v = arith.ExtSIOp(a[0], i32)
            s = arith.AddiOp(v.result, h.result)
            r = arith.FloorDivSIOp(s.result, pw.result)
            r1 = arith.AddiOp(r.result, one.result)
            f = arith.FloorDivSIOp(r1.result, three.result)
            f3 = arith.MuliOp(f.result, three.result)
            mod = arith.SubiOp(r1.result, f3.result)
            t = arith.SubiOp(mod.result, one.result)
            t8 = arith.TruncIOp(t.result, i8)
            return [v, s, r, r1, f, f3, mod, t, t8], t8.result

        init_ops = _empty_like([m, k], i8, src)
        g = _generic([src], init_ops[-1].results[0], [AffineMap.identity(2), AffineMap.identity(2)], 0, 2, body)
        rewriter.replace(op, ops + init_ops + [g], [g.results[0]])


class Im2ColToLinalg(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: Im2ColOp, rewriter: PatternRewriter) -> None:
        b, c, h, w = op.input.type.get_shape()
        kh, kw = op.kernel_shape.get_values()
        sh, sw = op.strides.get_values()
        pt, pl, pb, pr = op.pads.get_values()
        dh, dw = op.dilations.get_values()
        oh, ow = op.out_hw()
        elem = _elem(op.input.type)
        ops: list[Operation] = []
        src = op.input
        if pt or pl or pb or pr:
            block = Block(arg_types=[IndexType()] * 4)
            zero = _ci(0, elem)
            block.add_ops([zero, tensor.YieldOp(zero.result)])
            pad = tensor.PadOp(src, [], [], Region(block), [0, 0, pt, pl], [0, 0, pb, pr],
                               TensorType(elem, [b, c, h + pt + pb, w + pl + pr]))
            ops.append(pad)
            src = pad.result
        d = AffineExpr.dimension
        in_map = AffineMap(6, 0, (d(0), d(3), d(1) * sh + d(4) * dh, d(2) * sw + d(5) * dw))
        init_ops = _empty_like([b, oh, ow, c, kh, kw], elem, op.input, [0, 0, 0, 0, 0, 0])  # only B can be dynamic
        g = _generic([src], init_ops[-1].results[0], [in_map, AffineMap.identity(6)], 0, 6, lambda a: ([], a[0]))
        col = _collapse(g.results[0], [[0, 1, 2], [3, 4, 5]], [b * oh * ow if b >= 0 else b, c * kh * kw])
        rewriter.replace(op, ops + init_ops + [g, col], [col.result])


class CombineToLinalg(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: CombineOp, rewriter: PatternRewriter) -> None:
        J, P = op.act_trits.value.data, op.w_planes.value.data
        m, n = op.accs[0].type.get_shape()
        alpha = op.alpha.value.data if op.alpha is not None else 1.0
        d = AffineExpr.dimension
        ident = AffineMap.identity(2)
        inputs = list(op.accs) + [op.act_scale] + [op.w_scales] * P + [op.bias]
        maps = [ident] * (J * P) + [_scalar_map(2)] + [AffineMap(2, 0, (AffineExpr.constant(p), d(1))) for p in range(P)]
        maps += [AffineMap(2, 0, (d(1),)), ident]

        def body(a):
            ops: list[Operation] = []
            y = _cf(0.0)
            ops.append(y)
            acc_y = y.result
            for p in range(P):
                q = None
                for j in range(J):
                    e = arith.ExtSIOp(a[j * P + p], i64)
                    pw = _ci(3 ** j, i64)
                    mul = arith.MuliOp(e.result, pw.result)
                    ops += [e, pw, mul]
                    if q is None:
                        q = mul.result
                    else:
                        add = arith.AddiOp(q, mul.result)
                        ops.append(add)
                        q = add.result
                qf = arith.SIToFPOp(q, f64)
                ws = arith.ExtFOp(a[J * P + 1 + p], f64)
                prod = arith.MulfOp(qf.result, ws.result)
                s = arith.AddfOp(acc_y, prod.result)
                ops += [qf, ws, prod, s]
                acc_y = s.result
            scaled = arith.MulfOp(acc_y, a[J * P])
            ops.append(scaled)
            acc_y = scaled.result
            if alpha != 1.0:
                al = _cf(alpha)
                mul = arith.MulfOp(acc_y, al.result)
                ops += [al, mul]
                acc_y = mul.result
            bias = arith.ExtFOp(a[J * P + 1 + P], f64)
            out = arith.AddfOp(acc_y, bias.result)
            tr = arith.TruncFOp(out.result, _elem(op.result.type))
            ops += [bias, out, tr]
            return ops, tr.result

        ops: list[Operation] = _empty_like([m, n], _elem(op.result.type), op.accs[0])
        g = _generic(inputs, ops[-1].results[0], maps, 0, 2, body)
        ops.append(g)
        value = g.results[0]
        shape = list(op.result.type.get_shape())
        if op.layout.data == "nchw":
            bsz, _, oh, ow = shape
            dyn_ops, dyn = self._split_rows(value, shape[:1], oh * ow)
            e = _expand(value, [[0, 1, 2], [3]], [bsz, oh, ow, n], dyn)
            t_ops = _empty_like(shape, _elem(op.result.type), e.result, [0, 0, 0, 0])
            t = TransposeOp(e.result, t_ops[-1].results[0], DenseArrayBase.from_list(i64, [0, 3, 1, 2]))
            ops += dyn_ops + [e] + t_ops + [t]
            value = t.results[0]
        elif shape != [m, n]:
            if len(shape) == 1:
                col = _collapse(value, [[0, 1]], shape)
                ops.append(col)
            else:
                static = 1
                for d_ in shape[:-1]:
                    static *= max(d_, 1)
                dyn_ops, dyn = self._split_rows(value, shape[:-1], static)
                col = _expand(value, [list(range(len(shape) - 1)), [len(shape) - 1]], shape, dyn)
                ops += dyn_ops + [col]
            value = col.result
        rewriter.replace(op, ops, [value])

    @staticmethod
    def _split_rows(value: SSAValue, leading, static: int) -> tuple[list[Operation], list[SSAValue]]:
        """The run-time size of the one dynamic leading dim: rows / (product of the static ones)."""
        if not _dynamic(leading):
            return [], []
        if sum(1 for d_ in leading if d_ < 0) > 1:
            raise TsucError("--emit=linalg of a fabric layer with more than one dynamic leading dimension is not supported "
                            "(fix all but one with --input-shape)")
        ops = _dim(value, 0)
        c = arith.ConstantOp(IntegerAttr(static, IndexType()))
        div = arith.DivUIOp(ops[-1].results[0], c.result)
        return ops + [c, div], [div.result]


class PostToLinalg(RewritePattern):
    """tfmbs.post -> one elementwise linalg.generic: arith.addf of the residual, then
    arith.maximumf with 0 (NaN stays NaN, -0.0 becomes +0.0, as np.maximum)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: PostOp, rewriter: PatternRewriter) -> None:
        if op.residual is None and op.relu is None:
            rewriter.replace(op, [], [op.input])
            return
        shape = op.result.type.get_shape()
        elem = _elem(op.result.type)
        inputs = [op.input] + ([op.residual] if op.residual is not None else [])

        def body(a):
            ops: list[Operation] = []
            y = a[0]
            if op.residual is not None:
                add = arith.AddfOp(a[0], a[1])
                ops.append(add)
                y = add.result
            if op.relu is not None:
                zero = _cf(0.0, elem)
                mx = arith.MaximumfOp(y, zero.result)
                ops += [zero, mx]
                y = mx.result
            return ops, y

        init_ops = _empty_like(shape, elem, op.input)
        ident = AffineMap.identity(len(shape))
        g = _generic(inputs, init_ops[-1].results[0], [ident] * (len(inputs) + 1), 0, len(shape), body)
        rewriter.replace(op, init_ops + [g], [g.results[0]])


@dataclass(frozen=True)
class TfmbsToLinalgPass(ModulePass):
    """Lower every tfmbs op to upstream linalg/tensor/arith/math (see the module docstring)."""

    name = "tfmbs-to-linalg"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for seg in tfmbs_segments(op):
            if seg not in _TFMBS_FORM:
                _TFMBS_FORM[seg] = seg.clone()
        patterns = [GemvToMatmul(), DmaLoadToValue(), QuantizeToLinalg(), TritPlaneToLinalg(), Im2ColToLinalg(),
                    CombineToLinalg(), PostToLinalg(), OnnxConstantToArith()]
        PatternRewriteWalker(GreedyRewritePatternApplier(patterns), apply_recursively=False).rewrite_module(op)
        PatternRewriteWalker(DropPack()).rewrite_module(op)


@dataclass(frozen=True)
class TfmbsOutlinePass(ModulePass):
    """Move each tfmbs segment's body into `func.func private @<segment>`; call it instead."""

    name = "tfmbs-outline"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for seg in tfmbs_segments(op):
            name = seg.sym_name.data
            body = seg.body.detach_block(seg.body.block)
            yield_op = body.last_op
            assert isinstance(yield_op, YieldOp)
            values = list(yield_op.values)
            yield_op.detach()
            yield_op.erase()
            body.add_op(func.ReturnOp(*values))
            fn = func.FuncOp(name, ([a.type for a in body.args], [v.type for v in values]), Region(body),
                             visibility="private")
            op.body.block.add_op(fn)
            call = func.CallOp(name, list(seg.args), [r.type for r in seg.outs])
            rewriter_block = seg.parent_block()
            assert rewriter_block is not None
            rewriter_block.insert_op_before(call, seg)
            for old, new in zip(seg.outs, call.results):
                old.replace_all_uses_with(new)
            seg.detach()
            seg.erase()
