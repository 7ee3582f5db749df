"""`tfmbs-lower`: ONNX Gemm/MatMul/Conv in tfmbs segments -> ternary GEMV frames.

For each layer y = alpha * rows(x) @ W^T + bias (see `layers.layer_info`) the pass
- quantises W[N, K] once, at compile time, into `w_planes` residual ternary planes with one
  float scale per plane and output channel (`quantize.quantize_weights`, method `quant`);
- emits the run-time activation quantiser (`tfmbs.quantize`, `act_trits` balanced trits,
  per-tensor scale chosen per call), im2col for Conv, one `tfmbs.trit_plane` per trit;
- per weight plane: the ternary plane as a constant (blob store, never printed), `tfmbs.pack`
  (PT-5, `encoding`) and `tfmbs.dma_load` into Bank A;
- one `tfmbs.gemv` per (trit plane j, weight plane p), with `tile_mask` and telemetry;
- `tfmbs.combine`, the host epilogue (powers of 3, scales, alpha, bias) giving the float output;
- then (option `fold`, `FoldEpilogue`) a BatchNormalization after a layer folded into its
  scales and bias, a residual Add and a Relu after it as one `tfmbs.post`.

Telemetry per gemv: `layer` (the ONNX node name), `sparsity` (zero fraction of that weight
plane), `tile_mask` (tiles the layer's frames use), `fusion_order` (position of the layer in
its segment's frame program) and `fusion_sparsity` (zero fraction over every weight plane the
segment's frame program loads). Work is linear in the weights: one quantisation per layer,
no per-element Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects import arith, tensor
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    BytesAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    DenseResourceAttr,
    FloatAttr,
    IndexType,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    StringAttr,
    TensorType,
    UnitAttr,
    f32,
    f64,
    i64,
)
from xdsl.dialects.linalg.ops import FillOp
from xdsl.ir import Operation, OpResult, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
)
from xdsl.rewriter import InsertPoint

from tsuc.compiler.blobs import BlobStore, blob_store, constant_value
from tsuc.compiler.onnx_export import node_name
from tsuc.dialects.onnx import op_class
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
from tsuc.dialects.tsuc import SegmentOp
from tsuc.errors import TsucError
from tsuc.compiler.target_config import segment_options, target_segments
from tsuc.runtime.tfmbs.options import TfmbsOptions
from tsuc.runtime.tfmbs.schedule import union_tile_mask
from tsuc.targets.tfmbs.fold import ADDS, BN, FOLDABLE, batchnorm_params, fold_batchnorm_params
from tsuc.targets.tfmbs.layers import LINEAR_OPS, LayerInfo, layer_info
from tsuc.targets.tfmbs.quantize import quantize_weights

TARGET = "tfmbs"


def in_tfmbs_segment(op: Operation) -> bool:
    parent = op.parent_op()
    return isinstance(parent, SegmentOp) and parent.target_name == TARGET


def _i(v: int) -> IntegerAttr:
    return IntegerAttr(int(v), i64)


def _constant(store: BlobStore, array: np.ndarray, hint: str, elem) -> Operation:
    handle = store.add(array, hint)
    ty = TensorType(elem, list(array.shape))
    return op_class("Constant").create(result_types=[ty], attributes={"value": DenseResourceAttr.from_params(handle, ty)})


def zero_accumulator(m: int, n: int, rows_of: SSAValue) -> list[Operation]:
    """Ops making the zero i32 [m, n] accumulator; the last one's result is it. With a
    dynamic m (run-time rows) the row count is read from `rows_of` ([m, K]):
    tensor.dim, tensor.empty and linalg.fill, since a constant cannot have a dynamic shape."""
    ty = TensorType(IntegerType(32), [m, n])
    if m >= 0:
        return [arith.ConstantOp(DenseIntOrFPElementsAttr(ty, BytesAttr(b"\0\0\0\0")), ty)]
    index = arith.ConstantOp(IntegerAttr(0, IndexType()))
    dim = tensor.DimOp(rows_of, index.result)
    empty = tensor.EmptyOp([dim.result], ty)
    zero = arith.ConstantOp(IntegerAttr(0, IntegerType(32)))
    fill = FillOp([zero.result], [empty.tensor], [ty])
    return [index, dim, empty, zero, fill]


def telemetry(layer: str, sparsity: float, tile_mask: int, order: int = 0, fused: float | None = None) -> dict:
    return {
        "layer": StringAttr(layer),
        "sparsity": FloatAttr(round(float(sparsity), 4), f64),
        "tile_mask": _i(tile_mask),
        "fusion_order": _i(order),
        "fusion_sparsity": FloatAttr(round(float(sparsity if fused is None else fused), 4), f64),
    }


@dataclass
class LowerLinearLayer(RewritePattern):
    """Gemm / MatMul / Conv with constant weights inside a tfmbs segment -> tfmbs ops."""

    store: BlobStore
    module: ModuleOp

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if op.name not in LINEAR_OPS:
            return
        opts = segment_options(op, TfmbsOptions)
        if opts is None:
            return
        info = layer_info(op, self.module)
        if isinstance(info, str):
            raise TsucError(f"node {op.name}: cannot lower to tfmbs: {info}")
        rewriter.replace(op, *self.build(info, opts))

    def build(self, info: LayerInfo, opts: TfmbsOptions) -> tuple[list[Operation], list[SSAValue]]:
        cfg = opts.fabric_config()
        lo, hi = cfg.acc_range
        if info.k > hi and opts.overflow != "wrap":
            raise TsucError(f"node {info.name!r}: its reduction K={info.k} can overflow {cfg.acc_bits}-bit accumulators "
                            f"(raise acc_bits, or pass overflow=wrap to wrap like the hardware)")
        trits, scales = quantize_weights(info.weight, opts.quant, opts.w_planes)
        ops: list[Operation] = []
        J, P, N, K = opts.act_trits, opts.w_planes, info.n, info.k
        quant = QuantizeOp(info.x, J)
        ops.append(quant)
        rows_src: SSAValue = quant.levels
        level_type = quant.levels.type
        if info.conv is not None:  # rows = B*OH*OW, dynamic with the batch
            geo = info.conv
            b, _, h, w = info.x.type.get_shape()
            oh = (h + geo.pads[0] + geo.pads[2] - geo.dilations[0] * (geo.kernel[0] - 1) - 1) // geo.strides[0] + 1
            ow = (w + geo.pads[1] + geo.pads[3] - geo.dilations[1] * (geo.kernel[1] - 1) - 1) // geo.strides[1] + 1
            im = Im2ColOp.create(
                operands=[quant.levels],
                result_types=[TensorType(level_type.element_type, [b * oh * ow if b >= 0 else DYNAMIC_INDEX, K])],
                attributes={
                    "kernel_shape": DenseArrayBase.from_list(i64, list(geo.kernel)),
                    "strides": DenseArrayBase.from_list(i64, list(geo.strides)),
                    "pads": DenseArrayBase.from_list(i64, list(geo.pads)),
                    "dilations": DenseArrayBase.from_list(i64, list(geo.dilations)),
                    "group": _i(0),
                    "groups": _i(1),
                },
            )
            ops.append(im)
            rows_src = im.result
            m = b * oh * ow if b >= 0 else DYNAMIC_INDEX
        else:  # rows = the product of the leading dims, dynamic if any of them is
            shape = info.x.type.get_shape()
            m = DYNAMIC_INDEX if any(d < 0 for d in shape[:-1]) else int(np.prod(shape[:-1], dtype=np.int64))
        xplanes = []
        for j in range(J):
            tp = TritPlaneOp.create(operands=[rows_src], result_types=[TensorType(IntegerType(8), [m, K])],
                                    attributes={"plane": _i(j)})
            ops.append(tp)
            xplanes.append(tp.result)
        zero_ops = zero_accumulator(m, N, xplanes[0])
        ops += zero_ops
        zero = zero_ops[-1]
        mask = union_tile_mask(N, cfg)
        loads = []
        sparsity = []
        for p in range(P):
            const = _constant(self.store, trits[p].T, f"{info.name}.t{p}", IntegerType(8))  # [K, N] view
            pack = PackOp(const.results[0], opts.encoding)
            load = DmaLoadOp(pack.packed)
            ops += [const, pack, load]
            loads.append(load.result)
            sparsity.append(float(np.count_nonzero(trits[p] == 0)) / trits[p].size)
        accs = []
        for j in range(J):
            for p in range(P):
                g = GemvOp(loads[p], xplanes[j], zero.results[0], mask, telemetry(info.name, sparsity[p], mask))
                ops.append(g)
                accs.append(g.result)
        ws = _constant(self.store, scales, f"{info.name}.scales", f32)
        bias = info.bias if info.bias is not None else np.zeros(N, np.float32)
        bs = _constant(self.store, np.ascontiguousarray(bias, np.float32), f"{info.name}.bias", f32)
        ops += [ws, bs]
        attrs = {"act_trits": _i(J), "w_planes": _i(P), "layout": StringAttr("nchw" if info.conv else "rows")}
        if info.alpha != 1.0:
            attrs["alpha"] = FloatAttr(info.alpha, f64)
        comb = CombineOp.create(operands=[*accs, quant.scale, ws.results[0], bs.results[0]],
                                result_types=[info.op.results[0].type], attributes=attrs)
        ops.append(comb)
        return ops, [comb.result]


def _single_use_combine(value: SSAValue) -> CombineOp | None:
    owner = value.owner if isinstance(value, OpResult) else None
    return owner if isinstance(owner, CombineOp) and len(list(value.uses)) == 1 else None


def _not_foldable(op: Operation, why: str) -> TsucError:
    return TsucError(f"node {node_name(op) or op.name!r} ({op.name.split('.')[1]}) is in a tfmbs segment but cannot be "
                     f"folded into a fabric layer: {why}")


@dataclass
class FoldEpilogue(RewritePattern):
    """A BatchNormalization, Add or Relu in a tfmbs segment (the partitioner put it there only
    when it extends a fabric layer's chain, see `fold.py`), applied in program order after the
    layers are lowered:
    - BatchNormalization on a combine: folded into the combine's weight scales and bias
      (`fold.fold_batchnorm_params`, float64, new blob constants); its uses read the combine;
    - Add (or two-input Sum) with a single-use combine operand: `tfmbs.post %combine, %other` (both operands
      single-use combines: the later one in the block, so its residual is computed before it);
    - Relu on a combine: `tfmbs.post %combine {relu}`; on a post without relu: relu set there.
    """

    store: BlobStore
    module: ModuleOp

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if op.name not in FOLDABLE or segment_options(op, TfmbsOptions) is None:
            return
        if op.name == BN:
            self.batchnorm(op, rewriter)
        elif op.name in ADDS:
            self.add(op, rewriter)
        else:
            self.relu(op, rewriter)

    def batchnorm(self, op: Operation, rewriter: PatternRewriter) -> None:
        comb = _single_use_combine(op.operands[0])
        if comb is None:
            raise _not_foldable(op, "its input is not the single-use output of a fabric layer")
        params = batchnorm_params(op)
        if isinstance(params, str):
            raise _not_foldable(op, params)
        scales, bias = constant_value(comb.w_scales, self.module), constant_value(comb.bias, self.module)
        n = comb.bias.type.get_shape()[0]
        if scales is None or bias is None or any(np.asarray(p).size != n for p in params[:4]):
            raise _not_foldable(op, "its parameters do not have one value per output channel of the layer")
        s, b = fold_batchnorm_params(scales, bias, *params)
        layer = comb.accs[0].owner.telemetry.data["layer"].data
        ws = _constant(self.store, s, f"{layer}.scales.bn", f32)
        bs = _constant(self.store, b, f"{layer}.bias.bn", f32)
        rewriter.insert(ws, InsertPoint.before(comb))
        rewriter.insert(bs, InsertPoint.before(comb))
        k = len(comb.operands)
        comb.operands[k - 2] = ws.results[0]
        comb.operands[k - 1] = bs.results[0]
        rewriter.replace(op, [], [comb.result])

    def add(self, op: Operation, rewriter: PatternRewriter) -> None:
        combs = [(i, c) for i, v in enumerate(op.operands) if (c := _single_use_combine(v)) is not None]
        if not combs:
            raise _not_foldable(op, "neither operand is the single-use output of a fabric layer")
        if len(combs) == 2 and combs[1][1].is_before_in_block(combs[0][1]):
            combs.reverse()
        i, comb = combs[-1]  # the later combine
        rewriter.replace(op, PostOp(comb.result, op.operands[1 - i]))

    def relu(self, op: Operation, rewriter: PatternRewriter) -> None:
        v = op.operands[0]
        if _single_use_combine(v) is not None:
            rewriter.replace(op, PostOp(v, relu=True))
            return
        owner = v.owner if isinstance(v, OpResult) else None
        if isinstance(owner, PostOp) and owner.relu is None and len(list(v.uses)) == 1:
            owner.attributes["relu"] = UnitAttr()
            rewriter.replace(op, [], [owner.result])
            return
        raise _not_foldable(op, "its input is not the single-use output of a fabric layer or of its residual Add")


def fill_fusion_telemetry(segment: SegmentOp) -> None:
    """Set fusion_order / fusion_sparsity of every gemv from the segment's frame program."""
    gemvs = [op for op in segment.body.block.ops if isinstance(op, GemvOp)]
    zeros = total = 0
    seen = set()
    for g in gemvs:
        if g.w not in seen:
            seen.add(g.w)
            s = g.telemetry.data["sparsity"].value.data
            k, n = g.w.type.get_shape()
            zeros += s * k * n
            total += k * n
    fused = zeros / total if total else 0.0
    order: dict[str, int] = {}
    for g in gemvs:
        t = dict(g.telemetry.data)
        layer = t["layer"].data
        order.setdefault(layer, len(order))
        g.attributes["telemetry"] = type(g.telemetry)(telemetry(
            layer, t["sparsity"].value.data, t["tile_mask"].value.data, order[layer], fused))


@dataclass(frozen=True)
class LowerToTfmbsPass(ModulePass):
    """Lower the ONNX layers of every tfmbs segment to tfmbs ops (weights quantised here).

    Options (quant, w_planes, act_trits, encoding, fabric size) come from each segment's
    `#tsuc.target<"tfmbs", ...>`."""

    name = "tfmbs-lower"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        pattern = LowerLinearLayer(blob_store(op), op)
        PatternRewriteWalker(pattern, apply_recursively=False).rewrite_module(op)
        PatternRewriteWalker(FoldEpilogue(blob_store(op), op), apply_recursively=False).rewrite_module(op)
        for seg in target_segments(op, TARGET):
            _drop_dead_constants(seg)
            fill_fusion_telemetry(seg)


def _drop_dead_constants(segment: SegmentOp) -> None:
    for op in list(segment.body.block.ops):
        if op.name == "onnx.Constant" and not any(r.uses for r in op.results):
            op.detach()
            op.erase()
