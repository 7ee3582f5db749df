"""Which ONNX ops are fabric layers, and their weight matrix W[N, K] in fabric orientation.

A fabric layer is y = alpha * rows(x) @ W^T + bias with a constant W: ONNX `Gemm` (constant
B, transA = 0, C absent or a constant broadcastable to [N]), `MatMul` (constant 2-D B) and
2-D `Conv` (constant weights, group 1; through im2col). Leading dimensions are run-time
values: every dimension of a MatMul/Gemm input but the last (K), and the batch of a Conv,
may be dynamic (the TFD program is per row, so the compiled layer runs any row count); a
Conv's channels and spatial size must be static (they fix the patches and the output size). `layer_info` answers
both "is it supported?" (a reason string when not) and "what is it?" (a `LayerInfo`), so
`TfmbsTarget.supports` and the lowering can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.ir import Attribute, Operation, SSAValue

from tsuc.compiler.blobs import constant_value
from tsuc.compiler.onnx_export import node_name
from tsuc.compiler.attrs import float_attr as _float, int_attr as _int, ints_attr as _ints, str_attr as _str

LINEAR_OPS = ("onnx.Gemm", "onnx.MatMul", "onnx.Conv")


@dataclass
class ConvGeometry:
    kernel: tuple[int, int]
    strides: tuple[int, int]
    pads: tuple[int, int, int, int]  # top, left, bottom, right (ONNX: begins then ends)
    dilations: tuple[int, int]


@dataclass
class LayerInfo:
    """A supported op, decoded: x, W[N, K] float32, bias[N] or None, alpha, conv geometry."""

    op: Operation
    name: str
    x: SSAValue
    weight: np.ndarray
    bias: np.ndarray | None
    alpha: float
    conv: ConvGeometry | None

    @property
    def n(self) -> int:
        return self.weight.shape[0]

    @property
    def k(self) -> int:
        return self.weight.shape[1]


def _shape(ty: Attribute) -> tuple[int, ...] | None:
    """The tensor's dims, -1 for a dynamic one; None for an unranked value."""
    return tuple(ty.get_shape()) if isinstance(ty, TensorType) else None


def _is_f32(ty: Attribute) -> bool:
    from xdsl.dialects.builtin import Float32Type

    return isinstance(ty, TensorType) and isinstance(ty.element_type, Float32Type)


def layer_name(op: Operation, index: int | None = None) -> str:
    name = node_name(op)
    if name:
        return name
    return f"{op.name.split('.')[-1]}_{index}" if index is not None else op.name.split(".")[-1]


def layer_info(op: Operation, module: ModuleOp | None = None, index: int | None = None) -> LayerInfo | str:
    """The decoded layer, or a one-clause reason why the fabric cannot run `op`."""
    if op.name not in LINEAR_OPS:
        return f"the fabric runs only {', '.join(o.split('.')[1] for o in LINEAR_OPS)} with constant weights"
    if len(op.results) != 1 or not _is_f32(op.results[0].type) or not _is_f32(op.operands[0].type):
        return "the fabric path takes and produces float32 tensors"
    x_shape = _shape(op.operands[0].type)
    y_shape = _shape(op.results[0].type)
    if x_shape is None or y_shape is None or not x_shape:
        return "its input or output has no known rank"
    if op.name != "onnx.Conv" and x_shape[-1] < 0:
        return "the reduction (last) dimension of its input is not static (fix the input shapes when compiling)"
    if 0 in x_shape or 0 in y_shape:
        return "it has an empty (size 0) dimension"
    w = constant_value(op.operands[1], module)
    if w is None:
        return "its weight operand is not a constant"
    w = np.asarray(w)
    if not np.issubdtype(w.dtype, np.floating):
        return "its weights are not floating point"
    if not np.all(np.isfinite(w)):
        return "its weights contain NaN or infinite values"
    name = layer_name(op, index)
    if op.name == "onnx.MatMul":
        if w.ndim != 2 or len(x_shape) < 1 or x_shape[-1] != w.shape[0]:
            return "MatMul needs a 2-D constant B[K, N] and an input whose last dim is K"
        if tuple(y_shape) != tuple(x_shape[:-1]) + (w.shape[1],):
            return "its output shape disagrees with its input (rows, then N)"
        return LayerInfo(op, name, op.operands[0], np.asarray(w, np.float32).T, None, 1.0, None)
    if op.name == "onnx.Gemm":
        if _int(op, "transA", 0) != 0:
            return "Gemm with transA=1 is not supported"
        if len(x_shape) != 2 or w.ndim != 2:
            return "Gemm needs 2-D operands"
        wt = w if _int(op, "transB", 0) else w.T  # -> [N, K]
        if wt.shape[1] != x_shape[1]:
            return "Gemm operand shapes disagree"
        n = wt.shape[0]
        if tuple(y_shape) != (x_shape[0], n):
            return "its output shape disagrees with its input (rows, then N)"
        alpha, beta = _float(op, "alpha", 1.0), _float(op, "beta", 1.0)
        bias = None
        if len(op.operands) > 2:
            c = constant_value(op.operands[2], module)
            if c is None:
                return "its C operand is not a constant"
            c = np.asarray(c, np.float32)
            if c.size not in (1, n) or (c.ndim == 2 and c.shape[0] != 1) or c.ndim > 2:
                return "its C operand does not broadcast to one value per output column"
            c = np.broadcast_to(c.reshape(-1), (n,))
            bias = c if beta == 1.0 else (np.float32(beta) * c).astype(np.float32)
        return LayerInfo(op, name, op.operands[0], np.asarray(wt, np.float32), None if bias is None else np.ascontiguousarray(bias, np.float32), alpha, None)
    # Conv
    if len(x_shape) != 4 or w.ndim != 4:
        return "only 2-D convolutions (NCHW) run on the fabric"
    if min(x_shape[1:]) < 0:
        return "its input channels or spatial size are not static (only the batch may be dynamic; fix the input shapes when compiling)"
    if _int(op, "group", 1) != 1:
        return "grouped convolutions are not supported"
    n, c, kh, kw = w.shape
    if x_shape[1] != c:
        return "Conv input channels disagree with its weights"
    ks = _ints(op, "kernel_shape") or [kh, kw]
    if list(ks) != [kh, kw]:
        return "Conv kernel_shape disagrees with its weights"
    strides = tuple(_ints(op, "strides") or [1, 1])
    dil = tuple(_ints(op, "dilations") or [1, 1])
    auto_pad = _str(op, "auto_pad", "NOTSET")
    if auto_pad in ("NOTSET", ""):
        p = _ints(op, "pads") or [0, 0, 0, 0]
        pads = (p[0], p[1], p[2], p[3])
    elif auto_pad == "VALID":
        pads = (0, 0, 0, 0)
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads_hw = []
        for i, (size, k_, s_, d_) in enumerate(zip(x_shape[2:], (kh, kw), strides, dil)):
            out = -(-size // s_)
            total = max(0, (out - 1) * s_ + (k_ - 1) * d_ + 1 - size)
            small, big = total // 2, total - total // 2
            pads_hw.append((small, big) if auto_pad == "SAME_UPPER" else (big, small))
        pads = (pads_hw[0][0], pads_hw[1][0], pads_hw[0][1], pads_hw[1][1])
    else:
        return f"Conv auto_pad={auto_pad} is not supported"
    if len(strides) != 2 or len(dil) != 2 or min(strides + dil) < 1 or min(pads) < 0:
        return "Conv strides, dilations or pads are invalid"
    oh = (x_shape[2] + pads[0] + pads[2] - dil[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (x_shape[3] + pads[1] + pads[3] - dil[1] * (kw - 1) - 1) // strides[1] + 1
    if tuple(y_shape[1:]) != (n, oh, ow) or (y_shape[0] >= 0 and x_shape[0] >= 0 and y_shape[0] != x_shape[0]):
        return "Conv output shape disagrees with its geometry"
    bias = None
    if len(op.operands) > 2:
        b = constant_value(op.operands[2], module)
        if b is None:
            return "its bias operand is not a constant"
        bias = np.ascontiguousarray(np.asarray(b, np.float32).reshape(n))
    geo = ConvGeometry((kh, kw), (strides[0], strides[1]), pads, (dil[0], dil[1]))
    return LayerInfo(op, name, op.operands[0], np.asarray(w, np.float32).reshape(n, c * kh * kw), bias, 1.0, geo)
