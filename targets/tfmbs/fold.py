"""Which BatchNormalization / Add (or two-input Sum) / Relu ops fold into a fabric layer's epilogue.

A ResNet runs conv -> BatchNormalization -> (residual Add) -> Relu; left on the host, each of
those is a host segment between two fabric segments. With the option `fold` the partitioner
gives them to tfmbs when they extend a fabric layer's chain

    Linear [-> BatchNormalization] [-> Add(residual)] [-> Relu]

(Linear: a Conv/Gemm/MatMul the fabric runs), and `tfmbs-lower` folds them: the
BatchNormalization into the layer's weight scales and bias (`fold_batchnorm`), the Add and the
Relu into a `tfmbs.post` after the layer's `tfmbs.combine`.

`fold_reason` decides it, before outlining, from the op's place in `@main`: the chain operand
must be produced by the nearest preceding op that is not an `onnx.Constant` (so the chain head
and the folded op land in one segment), that producer must itself be on the fabric and an
allowed predecessor, and the chain value must have exactly one use (nothing else reads the
value the fold makes disappear, e.g. a graph output or the identity branch of a block).
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import Float32Type, TensorType
from xdsl.ir import Operation, OpResult, SSAValue

from tsuc.compiler.attrs import float_attr, int_attr
from tsuc.compiler.blobs import constant_value
from tsuc.targets.tfmbs.layers import LINEAR_OPS, layer_info

BN, ADD, SUM, RELU = "onnx.BatchNormalization", "onnx.Add", "onnx.Sum", "onnx.Relu"
ADDS = (ADD, SUM)  # a Sum of two tensors is an Add (ONNX model-zoo ResNets write the residual so)
FOLDABLE = (BN, ADD, SUM, RELU)
PREDECESSORS = {BN: LINEAR_OPS, ADD: (*LINEAR_OPS, BN), SUM: (*LINEAR_OPS, BN), RELU: (*LINEAR_OPS, BN, ADD, SUM)}


def _nearest_preceding(op: Operation) -> Operation | None:
    prev = op.prev_op
    while prev is not None and prev.name == "onnx.Constant":
        prev = prev.prev_op
    return prev


def _uses(value: SSAValue) -> int:
    return len(list(value.uses))


def _f32(value: SSAValue) -> bool:
    ty = value.type
    return isinstance(ty, TensorType) and isinstance(ty.element_type, Float32Type)


def chain_operand(op: Operation) -> int | None:
    """Index of the operand of `op` produced by its nearest preceding (non-constant) op."""
    prev = _nearest_preceding(op)
    if prev is None:
        return None
    candidates = range(len(op.operands)) if op.name in ADDS else range(min(1, len(op.operands)))
    for i in candidates:
        v = op.operands[i]
        if isinstance(v, OpResult) and v.owner is prev:
            return i
    return None


def batchnorm_params(op: Operation) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float] | str:
    """(gamma, beta, mean, var, epsilon) of an inference BatchNormalization, or why not."""
    if len(op.results) != 1 or int_attr(op, "training_mode", 0) != 0:
        return "it is in training form (more than one result)"
    if len(op.operands) != 5:
        return "it does not have the five inputs of BatchNormalization"
    params = [constant_value(v) for v in op.operands[1:]]
    if any(p is None for p in params):
        return "its scale, bias, mean or variance is not a constant"
    gamma, beta, mean, var = (np.asarray(p) for p in params)
    return gamma, beta, mean, var, float_attr(op, "epsilon", 1e-5)


def fold_reason(op: Operation) -> str | None:
    """None when `op` (a BatchNormalization, Add or Relu) folds into the fabric layer before
    it; otherwise why it stays on the host, as one clause."""
    if op.name not in FOLDABLE:
        return f"{op.name} is not a foldable epilogue op"
    what = op.name.split(".")[1]
    i = chain_operand(op)
    if i is None:
        return f"the {what} does not directly follow a fabric layer's chain (its input is not the previous op's result)"
    v = op.operands[i]
    prev = v.owner  # type: ignore[union-attr]
    if prev.name not in PREDECESSORS[op.name]:
        allowed = ", ".join(p.split(".")[1] for p in PREDECESSORS[op.name])
        return f"the {what} follows {prev.name.split('.')[1]}, and a fold takes it only after {allowed}"
    if prev.name in LINEAR_OPS:
        if isinstance(layer_info(prev), str):
            return f"the {prev.name.split('.')[1]} before it is not on the fabric"
    elif fold_reason(prev) is not None:
        return f"the {prev.name.split('.')[1]} before it is not folded into a fabric layer"
    if _uses(v) != 1:
        return f"the value it reads from {prev.name.split('.')[1]} has other uses (it must stay a tensor of its own)"
    if not all(_f32(x) for x in (*op.operands[:1], *op.results)) or len(op.results) < 1:
        return f"the {what} does not take and produce float32 tensors"
    if op.name == BN:
        return _batchnorm_reason(op, prev)
    if op.name in ADDS:
        if len(op.operands) != 2:
            return f"the {what} does not add exactly two tensors"
        a, b = op.operands
        if not (_f32(a) and _f32(b)):
            return f"the {what}'s operands are not both float32"
        if a is b:
            return f"the {what} adds a value to itself"
        sa, sb, sy = a.type.get_shape(), b.type.get_shape(), op.results[0].type.get_shape()
        if tuple(sa) != tuple(sb) or tuple(sy) != tuple(sa):
            return f"the {what} broadcasts (its operands' shapes differ)"
        other = op.operands[1 - i]
        if isinstance(other, OpResult) and other.owner.name == "onnx.Constant":
            return f"the {what}'s other operand is a constant (a residual must be a computed tensor)"
    return None


def _batchnorm_reason(op: Operation, prev: Operation) -> str | None:
    params = batchnorm_params(op)
    if isinstance(params, str):
        return f"the BatchNormalization {params}"
    shape = tuple(op.operands[0].type.get_shape())
    if prev.name == "onnx.Conv":
        if len(shape) != 4:
            return "the BatchNormalization after a Conv does not read a 4-D NCHW tensor"
    elif len(shape) != 2:
        return f"the BatchNormalization's channel axis (1) is not the output channels of the {prev.name.split('.')[1]} (rank {len(shape)})"
    c = shape[1]
    if any(np.asarray(p).size != c for p in params[:4]):
        return "the BatchNormalization's parameters do not have one value per output channel"
    return None


def fold_batchnorm_params(scales: np.ndarray, bias: np.ndarray, gamma, beta, mean, var, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """The layer's weight scales [P, N] and bias [N] with y -> gamma (y - mean) / sqrt(var + eps)
    + beta folded in, in float64: g = gamma / sqrt(var + eps), scales' = scales * g,
    bias' = (bias - mean) * g + beta, both rounded once to float32."""
    f64 = np.float64
    g = np.asarray(gamma, f64).reshape(-1) / np.sqrt(np.asarray(var, f64).reshape(-1) + f64(eps))
    s = (np.asarray(scales, np.float32).astype(f64) * g[None, :]).astype(np.float32)
    b = ((np.asarray(bias, np.float32).astype(f64) - np.asarray(mean, f64).reshape(-1)) * g
         + np.asarray(beta, f64).reshape(-1)).astype(np.float32)
    return s, b
