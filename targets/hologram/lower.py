"""Which ONNX ops run on the hologram engine, and their lowering to `hologram` vector ops.

`plan(op)` answers both questions: a reason string when the op stays on the host, else a
function that builds the op's hologram form, so `HologramTarget.supports` and the lowering
can never disagree. The lowering is literal (LayerNormalization becomes the nine vector ops
of its definition, BatchNormalization sub/div/mul/add with per-channel constants, Gemm a
transpose, a gemm and its scalings): making it short is the canonicaliser's job, so that
`ops_original` counts the work as the graph states it.

`hologram-lower` rewrites every onnx op of a hologram segment with a `RewritePattern`;
fusion into kernels is the later `hologram-fuse`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import (
    DenseResourceAttr,
    Float32Type,
    IntegerAttr,
    ModuleOp,
    TensorType,
    f32,
)
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern

from tsuc.compiler.blobs import blob_store, constant_value, module_of
from tsuc.dialects import hologram as hg
from tsuc.dialects.onnx import op_class
from tsuc.dialects.tsuc import SegmentOp
from tsuc.targets.hologram.options import segment_options
from tsuc.compiler.attrs import float_attr as _float, int_attr as _int, ints_attr as _ints, str_attr as _string

TARGET = "hologram"
Builder = Callable[["Emitter"], SSAValue]


def in_hologram_segment(op: Operation) -> bool:
    parent = op.parent_op()
    return isinstance(parent, SegmentOp) and parent.target.data == TARGET


class Emitter:
    """Collects the ops one ONNX op lowers to; constants go to the module's blob store."""

    def __init__(self, module: ModuleOp | None, hint: str) -> None:
        self.module = module
        self.hint = hint
        self.ops: list[Operation] = []

    def add(self, op: Operation) -> SSAValue:
        self.ops.append(op)
        return op.results[0]

    def const(self, array: np.ndarray) -> SSAValue:
        array = np.ascontiguousarray(array, np.float32)
        ty = TensorType(f32, list(array.shape))
        if self.module is not None and array.size > 16:
            handle = blob_store(self.module).add(array, f"{self.hint}.c")
            attr = DenseResourceAttr.from_params(handle, ty)
        else:
            from xdsl.dialects.builtin import DenseIntOrFPElementsAttr

            attr = DenseIntOrFPElementsAttr.from_list(ty, array.reshape(-1).tolist())
        return self.add(op_class("Constant").create(result_types=[ty], attributes={"value": attr}))


def _static_f32(ty) -> bool:
    return (isinstance(ty, TensorType) and isinstance(ty.element_type, Float32Type)
            and all(d >= 0 for d in ty.get_shape()))


def _shape(v: SSAValue) -> tuple[int, ...]:
    return tuple(v.type.get_shape())


def _present(op: Operation) -> list[SSAValue]:
    return list(op.operands)


BINARY = {"Add": hg.AddOp, "Sub": hg.SubOp, "Mul": hg.MulOp, "Div": hg.DivOp}
VARIADIC = {"Min": hg.MinOp, "Max": hg.MaxOp, "Sum": hg.AddOp}
UNARY = {"Abs": hg.AbsOp, "Neg": hg.NegOp, "Relu": hg.ReluOp, "Sigmoid": hg.SigmoidOp, "Tanh": hg.TanhOp,
         "Exp": hg.ExpOp, "Log": hg.LogOp, "Sqrt": hg.SqrtOp, "Erf": hg.ErfOp}
REDUCE = {"ReduceSum": hg.ReduceSumOp, "ReduceMean": hg.ReduceMeanOp, "ReduceMax": hg.ReduceMaxOp, "ReduceMin": hg.ReduceMinOp}
VIEWS = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"}
ACCELERATES = frozenset(f"onnx.{n}" for n in [*BINARY, *VARIADIC, *UNARY, *REDUCE, *VIEWS, "Gelu", "Clip", "LeakyRelu",
                                               "Softmax", "LogSoftmax", "LayerNormalization", "BatchNormalization",
                                               "MatMul", "Gemm", "Transpose", "Pow", "GlobalAveragePool"])


@dataclass
class Plan:
    build: Builder


def plan(op: Operation, module: ModuleOp | None = None, gemm_max_bytes: int | None = None) -> str | Plan:
    """A `Plan` to lower `op`, or why it stays on the host."""
    kind = getattr(op, "ONNX_OP_TYPE", None)
    if kind is None or f"onnx.{kind}" not in ACCELERATES:
        return f"the hologram engine has no {op.name}"
    module = module or module_of(op)
    operands = _present(op)
    results = list(op.results)
    data = [v for v in operands]
    if kind in ("Reshape", "Squeeze", "Unsqueeze") or kind == "Clip" or kind in REDUCE or kind == "Pow":
        data = operands[:1]
    elif kind == "Dropout":
        data = operands[:1]
        if len(results) > 1 and results[1].uses:
            return "its mask output is used"
        results = results[:1]
    elif kind == "LayerNormalization":
        if any(r.uses for r in results[1:]):
            return "its Mean/InvStdDev outputs are used"
        results = results[:1]
    elif kind == "BatchNormalization":
        if _int(op, "training_mode", 0) != 0 or len(results) > 1 and any(r.uses for r in results[1:]):
            return "training-mode BatchNormalization"
        results = results[:1]
    for v in data + results:
        if not _static_f32(v.type):
            return "it needs float32 tensors of static shape"
        if 0 in v.type.get_shape():
            return "an empty tensor has no work for the engine"
    if kind in BINARY:
        return Plan(lambda e: e.add(BINARY[kind](operands[0], operands[1])))
    if kind in VARIADIC:
        def build_variadic(e: Emitter) -> SSAValue:
            acc = operands[0]
            for v in operands[1:]:
                acc = e.add(VARIADIC[kind](acc, v))
            if len(operands) == 1:
                acc = e.add(hg.ReshapeOp(acc, _shape(acc)))
            return acc
        return Plan(build_variadic)
    if kind in UNARY:
        return Plan(lambda e: e.add(UNARY[kind](operands[0])))
    if kind == "Gelu":
        approx = _string(op, "approximate", "none")
        if approx == "none":
            return Plan(lambda e: e.add(hg.GeluOp(operands[0])))
        def build_tanh_gelu(e: Emitter) -> SSAValue:  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
            x = operands[0]
            x3 = e.add(hg.MulOp(e.add(hg.MulOp(x, x)), x))
            inner = e.add(hg.AddOp(x, e.add(hg.MulScalarOp(x3, 0.044715))))
            t = e.add(hg.TanhOp(e.add(hg.MulScalarOp(inner, math.sqrt(2 / math.pi)))))
            return e.add(hg.MulOp(e.add(hg.MulScalarOp(x, 0.5)), e.add(hg.AddScalarOp(t, 1.0))))
        return Plan(build_tanh_gelu)
    if kind == "LeakyRelu":
        alpha = _float(op, "alpha", 0.01)
        if not 0 <= alpha <= 1:
            return "LeakyRelu with alpha outside [0, 1]"
        return Plan(lambda e: e.add(hg.MaxOp(operands[0], e.add(hg.MulScalarOp(operands[0], alpha)))))
    if kind == "Clip":
        bounds = []
        for k, default in ((1, -np.inf), (2, np.inf)):
            v = op.operands[k] if len(op.operands) > k else None
            if v is None:
                bounds.append(default)
                continue
            c = constant_value(v, module)
            if c is None or c.size != 1:
                return "its bounds are not constants"
            bounds.append(float(c.reshape(())))
        lo, hi = bounds
        if lo > hi:
            return "Clip with min > max"
        return Plan(lambda e: e.add(hg.ClipOp(operands[0], float(np.float32(max(lo, -3.4e38))), float(np.float32(min(hi, 3.4e38))))))
    if kind == "Pow":
        c = constant_value(operands[1], module)
        if c is None or c.size != 1 or float(c.reshape(())) not in (1.0, 2.0, 0.5, 3.0):
            return "Pow with an exponent other than a constant 0.5, 1, 2 or 3"
        p = float(c.reshape(()))
        x = operands[0]
        if _shape(x) != _shape(results[0]):
            return "Pow that broadcasts its exponent"
        def build_pow(e: Emitter) -> SSAValue:
            if p == 0.5:
                return e.add(hg.SqrtOp(x))
            if p == 1.0:
                return e.add(hg.ReshapeOp(x, _shape(x)))
            sq = e.add(hg.MulOp(x, x))
            return sq if p == 2.0 else e.add(hg.MulOp(sq, x))
        return Plan(build_pow)
    if kind in ("Softmax", "LogSoftmax"):
        cls = hg.SoftmaxOp if kind == "Softmax" else hg.LogSoftmaxOp
        axis = _int(op, "axis", -1)
        return Plan(lambda e: e.add(cls(operands[0], axis)))
    if kind in REDUCE:
        axes: list[int] | None
        if len(op.operands) > 1 and op.operands[1] is not None:
            c = constant_value(op.operands[1], module)
            if c is None:
                return "its axes are not a constant"
            axes = [int(a) for a in c.reshape(-1)]
        else:
            axes = _ints(op, "axes")
        if not axes and _int(op, "noop_with_empty_axes", 0):
            return "noop_with_empty_axes"
        keep = bool(_int(op, "keepdims", 1))
        x = operands[0]
        return Plan(lambda e: e.add(REDUCE[kind](x, axes or [], keep)))
    if kind == "GlobalAveragePool":
        x = operands[0]
        if len(_shape(x)) < 3:
            return "GlobalAveragePool needs a spatial input"
        return Plan(lambda e: e.add(hg.ReduceMeanOp(x, list(range(2, len(_shape(x)))), True)))
    if kind in VIEWS:
        out_shape = _shape(results[0])
        return Plan(lambda e: e.add(hg.ReshapeOp(operands[0], out_shape)))
    if kind == "Transpose":
        x = operands[0]
        perm = _ints(op, "perm") or list(reversed(range(len(_shape(x)))))
        return Plan(lambda e: e.add(hg.TransposeOp(x, perm)))
    if kind == "LayerNormalization":
        return _layer_norm(op, operands)
    if kind == "BatchNormalization":
        return _batch_norm(op, operands, module)
    if kind in ("MatMul", "Gemm"):
        limit = gemm_max_bytes if gemm_max_bytes is not None else segment_gemm_limit(op)
        size = 4 * sum(int(np.prod(_shape(v))) for v in operands[:2] + results[:1])
        if size > limit:
            return f"its operands and result ({size} B) do not fit the pool ({limit} B)"
        if kind == "MatMul":
            if hg.matmul_shape(_shape(operands[0]), _shape(operands[1])) is None:
                return "MatMul shapes do not agree"
            return Plan(lambda e: e.add(hg.GemmOp(operands[0], operands[1])))
        return _gemm(op, operands)
    return f"the hologram engine has no {op.name}"


def segment_gemm_limit(op: Operation) -> int:
    return int(segment_options(op)["gemm_max_bytes"])


def _layer_norm(op: Operation, operands: list[SSAValue]) -> str | Plan:
    x = operands[0]
    scale = operands[1]
    bias = operands[2] if len(operands) > 2 else None
    rank = len(_shape(x))
    axis = _int(op, "axis", -1) % rank
    eps = _float(op, "epsilon", 1e-5)
    axes = list(range(axis, rank))

    def build(e: Emitter) -> SSAValue:
        mean = e.add(hg.ReduceMeanOp(x, axes, True))
        d = e.add(hg.SubOp(x, mean))
        var = e.add(hg.ReduceMeanOp(e.add(hg.MulOp(d, d)), axes, True))
        std = e.add(hg.SqrtOp(e.add(hg.AddScalarOp(var, eps))))
        y = e.add(hg.MulOp(e.add(hg.DivOp(d, std)), scale))
        return e.add(hg.AddOp(y, bias)) if bias is not None else y

    return Plan(build)


def _batch_norm(op: Operation, operands: list[SSAValue], module: ModuleOp | None) -> str | Plan:
    x = operands[0]
    params = [constant_value(v, module) for v in operands[1:5]]
    if any(p is None for p in params):
        return "its scale, bias, mean or variance is not a constant"
    scale, bias, mean, var = (np.asarray(p, np.float64).reshape(-1) for p in params)  # type: ignore[union-attr]
    eps = _float(op, "epsilon", 1e-5)
    rank = len(_shape(x))
    if rank < 2:
        return "BatchNormalization of a rank-1 tensor"
    bshape = [-1] + [1] * (rank - 2)

    def build(e: Emitter) -> SSAValue:
        y = e.add(hg.SubOp(x, e.const(mean.reshape(bshape))))
        y = e.add(hg.DivOp(y, e.const(np.sqrt(var + eps).reshape(bshape))))
        y = e.add(hg.MulOp(y, e.const(scale.reshape(bshape))))
        return e.add(hg.AddOp(y, e.const(bias.reshape(bshape))))

    return Plan(build)


def _gemm(op: Operation, operands: list[SSAValue]) -> str | Plan:
    a, b = operands[0], operands[1]
    c = operands[2] if len(operands) > 2 else None
    alpha, beta = _float(op, "alpha", 1.0), _float(op, "beta", 1.0)
    ta, tb = _int(op, "transA", 0), _int(op, "transB", 0)
    if len(_shape(a)) != 2 or len(_shape(b)) != 2:
        return "Gemm needs 2-D operands"

    def build(e: Emitter) -> SSAValue:
        aa = e.add(hg.TransposeOp(a, [1, 0])) if ta else a
        bb = e.add(hg.TransposeOp(b, [1, 0])) if tb else b
        y = e.add(hg.GemmOp(aa, bb))
        if alpha != 1.0:
            y = e.add(hg.MulScalarOp(y, alpha))
        if c is not None and beta != 0.0:
            cc = e.add(hg.MulScalarOp(c, beta)) if beta != 1.0 else c
            y = e.add(hg.AddOp(y, cc))
        return y

    return Plan(build)


@dataclass
class LowerOnnxOp(RewritePattern):
    """An onnx op in a hologram segment -> its hologram vector ops."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not getattr(op, "ONNX_OP_TYPE", None) or op.name == "onnx.Constant" or not in_hologram_segment(op):
            return
        p = plan(op)
        if isinstance(p, str):
            from tsuc.compiler.onnx_export import node_name
            from tsuc.errors import TsucError

            raise TsucError(f"node {node_name(op) or op.name}: cannot lower to hologram: {p}")
        from tsuc.compiler.onnx_export import node_name

        e = Emitter(module_of(op), node_name(op) or op.name.split(".")[-1])
        result = p.build(e)
        rewriter.replace(op, e.ops, [result] + [None] * (len(op.results) - 1))


def drop_dead_ops(segment: SegmentOp) -> None:
    """Erase pure ops (hologram vector ops, constants) whose results nothing reads."""
    changed = True
    while changed:
        changed = False
        for op in reversed(list(segment.body.block.ops)):
            if (isinstance(op, hg.VectorOp) or op.name == "onnx.Constant") and not any(r.uses for r in op.results):
                op.detach()
                op.erase()
                changed = True


def hologram_segments(module: ModuleOp) -> list[SegmentOp]:
    return [op for op in module.walk() if isinstance(op, SegmentOp) and op.target.data == TARGET]


def count_vector_ops(segment: SegmentOp) -> int:
    return sum(1 for op in segment.walk() if isinstance(op, hg.VectorOp))


ORIGINAL = "hologram.ops_original"


@dataclass(frozen=True)
class LowerToHologramPass(ModulePass):
    """`hologram-lower`: onnx ops of hologram segments -> hologram vector ops (not yet fused)."""

    name = "hologram-lower"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(LowerOnnxOp(), apply_recursively=False).rewrite_module(op)
        for seg in hologram_segments(op):
            drop_dead_ops(seg)
            seg.attributes[ORIGINAL] = IntegerAttr(count_vector_ops(seg), 64)
