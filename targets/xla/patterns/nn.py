"""Contractions, normalisation and pooling: MatMul, Gemm, Conv, ConvTranspose, BatchNormalization,
InstanceNormalization, LayerNormalization, LRN, MaxPool/AveragePool (and global), Softmax.

Convolutions keep ONNX's NCHW/OIHW layouts (`dim_labels = "bf01_oi01->bf01"`); XLA's layout
assignment picks the machine's. A batch-norm with constant statistics is folded at compile
time into one scale and one shift per channel (blob constants), which XLA then fuses into the
convolution's output. Average-pool divisors depend only on static shapes, so they are computed
here with numpy (padding, ceil mode, count_include_pad) rather than at run time.
"""

from __future__ import annotations

import math

import numpy as np
from xdsl.dialects.builtin import TensorType
from xdsl.ir import Operation, SSAValue

from tsuc.dialects import hlo
from tsuc.targets.xla.builder import HloBuilder, const_value, is_float
from tsuc.targets.xla.patterns.base import OnnxToHlo, attr, inp, out_elem, out_shape, result_used


def _auto_pads(op: Operation, in_spatial, kernel, strides, dilations) -> tuple[list[int], list[int]]:
    n = len(in_spatial)
    auto = attr(op, "auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        lo, hi = [], []
        for i, k, s, d in zip(in_spatial, kernel, strides, dilations):
            out = -(-i // s)
            total = max(0, (out - 1) * s + (k - 1) * d + 1 - i)
            small, big = total // 2, total - total // 2
            lo.append(small if auto == "SAME_UPPER" else big)
            hi.append(big if auto == "SAME_UPPER" else small)
        return lo, hi
    if auto == "VALID":
        return [0] * n, [0] * n
    pads = attr(op, "pads", [0] * 2 * n)
    return list(pads[:n]), list(pads[n:])


class LowerMatMul(OnnxToHlo):
    op_types = ("MatMul",)

    def check(self, op: Operation) -> str | None:
        if not is_float(out_elem(op)):
            return "integer MatMul"
        return None

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        a, w = inp(op, 0), inp(op, 1)
        sa, sw = hlo.shape(a), hlo.shape(w)
        if len(sa) == 1:
            a, sa = b.reshape(a, (1, sa[0])), (1, sa[0])
        if len(sw) == 1:
            w, sw = b.reshape(w, (sw[0], 1)), (sw[0], 1)
        if len(sw) == 2:  # [..., M, K] x [K, N]: one GEMM over all rows, what a matrix unit does best
            rows = int(np.prod(sa[:-1]))
            y = b.add(hlo.DotGeneralOp(b.reshape(a, (rows, sa[-1])), w, [], [], [1], [0]))
            return [b.reshape(y, out_shape(op))]
        batch = tuple(np.broadcast_shapes(sa[:-2], sw[:-2]))
        a = b.broadcast_to(a, batch + sa[-2:])
        w = b.broadcast_to(w, batch + sw[-2:])
        nb = len(batch)
        y = b.add(hlo.DotGeneralOp(a, w, list(range(nb)), list(range(nb)), [nb + 1], [nb]))
        return [b.reshape(y, out_shape(op))]


class LowerGemm(OnnxToHlo):
    op_types = ("Gemm",)

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        a, w, c = inp(op, 0), inp(op, 1), inp(op, 2)
        lc = [0] if attr(op, "transA", 0) else [1]
        rc = [1] if attr(op, "transB", 0) else [0]
        y = b.add(hlo.DotGeneralOp(a, w, [], [], lc, rc))
        alpha, beta = attr(op, "alpha", 1.0), attr(op, "beta", 1.0)
        if alpha != 1.0:
            y = b.scalar_op("multiply", y, alpha)
        if c is not None and beta != 0.0:
            if beta != 1.0:
                c = b.scalar_op("multiply", c, beta)
            y = b.binary("add", y, c)
        return [y]


def _bias_add(b: HloBuilder, y: SSAValue, bias: SSAValue | None) -> SSAValue:
    if bias is None:
        return y
    out = hlo.shape(y)
    return b.binary("add", y, b.add(hlo.BroadcastInDimOp(bias, [1], TensorType(hlo.elem(y), list(out)))))


class LowerConv(OnnxToHlo):
    op_types = ("Conv",)

    def check(self, op: Operation) -> str | None:
        if not is_float(out_elem(op)):
            return "integer convolution"
        return None

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        x, w, bias = inp(op, 0), inp(op, 1), inp(op, 2)
        sx, sw = hlo.shape(x), hlo.shape(w)
        n = len(sx) - 2
        kernel, strides = sw[2:], attr(op, "strides", [1] * n)
        dilations = attr(op, "dilations", [1] * n)
        lo, hi = _auto_pads(op, sx[2:], kernel, strides, dilations)
        labels = "bf" + "".join(map(str, range(n)))
        dim_labels = f"{labels}_oi{labels[2:]}->{labels}"
        y = b.add(hlo.ConvolutionOp(x, w, strides, lo, hi, [1] * n, dilations, attr(op, "group", 1), dim_labels))
        return [_bias_add(b, y, bias)]


class LowerConvTranspose(OnnxToHlo):
    """A transposed convolution is a convolution of the input dilated by the stride with the
    kernel flipped and its in/out features swapped per group; the kernel is rearranged here."""

    op_types = ("ConvTranspose",)

    def check(self, op: Operation) -> str | None:
        if const_value(inp(op, 1)) is None:
            return "its kernel is not a constant"
        if not is_float(out_elem(op)):
            return "integer convolution"
        return None

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        x, bias = inp(op, 0), inp(op, 2)
        w = const_value(inp(op, 1))
        assert w is not None
        sx, out = hlo.shape(x), out_shape(op)
        n, g = len(sx) - 2, attr(op, "group", 1)
        kernel = w.shape[2:]
        strides, dilations = attr(op, "strides", [1] * n), attr(op, "dilations", [1] * n)
        c_in, o_per_g = w.shape[0], w.shape[1]
        k = w.reshape((g, c_in // g, o_per_g) + kernel).swapaxes(1, 2).reshape((g * o_per_g, c_in // g) + kernel)
        k = np.ascontiguousarray(np.flip(k, axis=tuple(range(2, 2 + n))))
        pads = attr(op, "pads", None)
        if attr(op, "auto_pad", "NOTSET") != "NOTSET" or pads is None:
            # SAME/VALID or no pads: total padding from the output size, split as ONNX does
            total = [s * (i - 1) + attr(op, "output_padding", [0] * n)[d] + (kk - 1) * dl + 1 - o
                     for d, (i, s, kk, dl, o) in enumerate(zip(sx[2:], strides, kernel, dilations, out[2:]))]
            upper = attr(op, "auto_pad", "NOTSET") != "SAME_LOWER"
            pads = [t // 2 if upper else t - t // 2 for t in total] + [t - t // 2 if upper else t // 2 for t in total]
        lo = [(kk - 1) * dl - p for kk, dl, p in zip(kernel, dilations, pads[:n])]
        hi = [o + (kk - 1) * dl - (i - 1) * s - 1 - l
              for o, kk, dl, i, s, l in zip(out[2:], kernel, dilations, sx[2:], strides, lo)]
        labels = "bf" + "".join(map(str, range(n)))
        wk = b.constant(k.astype(w.dtype), hlo.elem(x))
        y = b.add(hlo.ConvolutionOp(x, wk, [1] * n, lo, hi, strides, dilations, g, f"{labels}_oi{labels[2:]}->{labels}"))
        return [_bias_add(b, y, bias)]


def _channel(b: HloBuilder, v: SSAValue, shape) -> SSAValue:
    """A per-channel vector broadcast along dimension 1 of `shape`."""
    return b.add(hlo.BroadcastInDimOp(b.reshape(v, (shape[1],)), [1], TensorType(hlo.elem(v), list(shape))))


class LowerBatchNorm(OnnxToHlo):
    op_types = ("BatchNormalization",)

    def check(self, op: Operation) -> str | None:
        if attr(op, "training_mode", 0) or result_used(op, 1) or result_used(op, 2):
            return "training mode (running statistics as outputs)"
        return None

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        x = inp(op, 0)
        shape, el = out_shape(op), out_elem(op)
        eps = attr(op, "epsilon", 1e-5)
        consts = [const_value(inp(op, k)) for k in range(1, 5)]
        if all(c is not None for c in consts):
            gamma, beta, mean, var = (c.astype(np.float64) for c in consts)  # type: ignore[union-attr]
            scale = gamma / np.sqrt(var + eps)
            shift = beta - mean * scale
            dt = np.dtype(consts[0].dtype)  # type: ignore[union-attr]
            s, t = b.constant(scale.astype(dt), el), b.constant(shift.astype(dt), el)
        else:
            gamma, beta, mean, var = (inp(op, k) for k in range(1, 5))
            s = b.binary("multiply", gamma, b.unary("rsqrt", b.scalar_op("add", var, eps)))
            t = b.binary("subtract", beta, b.binary("multiply", mean, s))
        y = b.binary("multiply", x, _channel(b, s, shape))
        return [b.binary("add", y, _channel(b, t, shape))] + [None] * (len(op.results) - 1)  # type: ignore[list-item]


def _mean_var(b: HloBuilder, x: SSAValue, dims: list[int]) -> tuple[SSAValue, SSAValue]:
    """Mean and (biased) variance over `dims`, broadcast back to x's shape."""
    shape = hlo.shape(x)
    count = float(np.prod([shape[d] for d in dims]))
    kept = [d for d in range(len(shape)) if d not in dims]
    ty = TensorType(hlo.elem(x), list(shape))
    mean = b.add(hlo.BroadcastInDimOp(b.scalar_op("divide", b.reduce(x, dims, "add"), count), kept, ty))
    centred = b.binary("subtract", x, mean)
    var = b.scalar_op("divide", b.reduce(b.binary("multiply", centred, centred), dims, "add"), count)
    return mean, b.add(hlo.BroadcastInDimOp(var, kept, ty))


class LowerInstanceNorm(OnnxToHlo):
    op_types = ("InstanceNormalization",)

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        x, scale, bias = inp(op, 0), inp(op, 1), inp(op, 2)
        shape = out_shape(op)
        mean, var = _mean_var(b, x, list(range(2, len(shape))))
        y = b.binary("multiply", b.binary("subtract", x, mean), b.unary("rsqrt", b.scalar_op("add", var, attr(op, "epsilon", 1e-5))))
        return [b.binary("add", b.binary("multiply", y, _channel(b, scale, shape)), _channel(b, bias, shape))]


class LowerLayerNorm(OnnxToHlo):
    op_types = ("LayerNormalization",)

    def check(self, op: Operation) -> str | None:
        if result_used(op, 1) or result_used(op, 2):
            return "its mean / inverse deviation outputs are read"
        return None

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        x, scale, bias = inp(op, 0), inp(op, 1), inp(op, 2)
        shape = out_shape(op)
        axis = attr(op, "axis", -1) % len(shape)
        mean, var = _mean_var(b, x, list(range(axis, len(shape))))
        y = b.binary("multiply", b.binary("subtract", x, mean), b.unary("rsqrt", b.scalar_op("add", var, attr(op, "epsilon", 1e-5))))
        y = b.binary("multiply", y, scale)
        if bias is not None:
            y = b.binary("add", y, bias)
        return [y] + [None] * (len(op.results) - 1)  # type: ignore[list-item]


class LowerLRN(OnnxToHlo):
    """y = x / (bias + alpha / size * sum of x^2 over `size` neighbouring channels)^beta."""

    op_types = ("LRN",)

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        x = inp(op, 0)
        shape, el = out_shape(op), out_elem(op)
        size = attr(op, "size")
        rank = len(shape)
        window = [1] * rank
        window[1] = size
        lo, hi = [0] * rank, [0] * rank
        lo[1], hi[1] = (size - 1) // 2, size - 1 - (size - 1) // 2
        body = hlo.scalar_body(el, hlo.AddOp)
        sq = b.binary("multiply", x, x)
        s = b.add(hlo.ReduceWindowOp([sq], [b.constant(0.0, el)], window, [1] * rank, lo, hi, [1] * rank, body))
        d = b.scalar_op("add", b.scalar_op("multiply", s, attr(op, "alpha", 1e-4) / size), attr(op, "bias", 1.0))
        return [b.binary("divide", x, b.scalar_op("power", d, attr(op, "beta", 0.75)))]


def _pool_geometry(op: Operation, in_shape, out):
    n = len(in_shape) - 2
    kernel = attr(op, "kernel_shape")
    strides, dilations = attr(op, "strides", [1] * n), attr(op, "dilations", [1] * n)
    lo, _hi = _auto_pads(op, in_shape[2:], kernel, strides, dilations)
    # the high padding that gives ONNX's output size (covers ceil_mode)
    hi = [max(0, (o - 1) * s + (k - 1) * d + 1 - i - l) for o, s, k, d, i, l in zip(out[2:], strides, kernel, dilations, in_shape[2:], lo)]
    return kernel, strides, dilations, lo, hi, _hi


class LowerPool(OnnxToHlo):
    op_types = ("MaxPool", "AveragePool")

    def check(self, op: Operation) -> str | None:
        if op.ONNX_OP_TYPE == "MaxPool" and result_used(op, 1):  # type: ignore[attr-defined]
            return "its indices output is read"
        if not is_float(out_elem(op)):
            return "integer pooling"
        return None

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        x = inp(op, 0)
        sx, out, el = hlo.shape(x), out_shape(op), out_elem(op)
        kernel, strides, dilations, lo, hi, explicit_hi = _pool_geometry(op, sx, out)
        one = [1, 1]
        is_max = op.ONNX_OP_TYPE == "MaxPool"  # type: ignore[attr-defined]
        init = b.constant(-np.inf if is_max else 0.0, el)
        body = hlo.scalar_body(el, hlo.MaximumOp if is_max else hlo.AddOp)
        y = b.add(hlo.ReduceWindowOp([x], [init], one + list(kernel), one + list(strides), [0, 0] + lo, [0, 0] + hi,
                                     one + list(dilations), body))
        if is_max:
            return [y] + [None] * (len(op.results) - 1)  # type: ignore[list-item]
        counts = _window_counts(sx[2:], kernel, strides, dilations, lo, hi, explicit_hi, bool(attr(op, "count_include_pad", 0)))
        div = b.add(hlo.BroadcastInDimOp(b.constant(counts.astype(np.dtype(_np(el))), el), list(range(2, len(out))),
                                         TensorType(el, list(out))))
        return [b.binary("divide", y, div)]


def _np(el) -> str:
    from tsuc.compiler.types import numpy_dtype

    return numpy_dtype(el).name


def _window_counts(spatial, kernel, strides, dilations, lo, hi, explicit_hi, include_pad: bool) -> np.ndarray:
    """The divisor of each average-pool window: the cells it covers that are input (or explicit padding)."""
    mask = np.ones(spatial, dtype=np.float64)
    if include_pad:
        mask = np.pad(mask, [(l, min(e, h)) for l, e, h in zip(lo, explicit_hi, hi)], constant_values=1.0)
        mask = np.pad(mask, [(0, h - min(e, h)) for e, h in zip(explicit_hi, hi)], constant_values=0.0)
    else:
        mask = np.pad(mask, list(zip(lo, hi)), constant_values=0.0)
    windows = np.lib.stride_tricks.sliding_window_view(mask, [(k - 1) * d + 1 for k, d in zip(kernel, dilations)])
    sel = tuple(slice(None, None, s) for s in strides) + tuple(slice(None, None, d) for d in dilations)
    return windows[sel].sum(axis=tuple(range(len(spatial), 2 * len(spatial))))


class LowerGlobalPool(OnnxToHlo):
    op_types = ("GlobalAveragePool", "GlobalMaxPool")

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        x = inp(op, 0)
        sx = hlo.shape(x)
        dims = list(range(2, len(sx)))
        if op.ONNX_OP_TYPE == "GlobalMaxPool":  # type: ignore[attr-defined]
            y = b.reduce(x, dims, "maximum")
        else:
            y = b.scalar_op("divide", b.reduce(x, dims, "add"), float(np.prod(sx[2:])))
        return [b.reshape(y, out_shape(op))]


class LowerSoftmax(OnnxToHlo):
    op_types = ("Softmax", "LogSoftmax")

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        x = inp(op, 0)
        shape = out_shape(op)
        axis = attr(op, "axis", -1) % len(shape)
        kept = [d for d in range(len(shape)) if d != axis]
        ty = TensorType(out_elem(op), list(shape))
        m = b.add(hlo.BroadcastInDimOp(b.reduce(x, [axis], "maximum"), kept, ty))
        shifted = b.binary("subtract", x, m)
        e = b.unary("exponential", shifted)
        s = b.add(hlo.BroadcastInDimOp(b.reduce(e, [axis], "add"), kept, ty))
        if op.ONNX_OP_TYPE == "LogSoftmax":  # type: ignore[attr-defined]
            return [b.binary("subtract", shifted, b.unary("log", s))]
        return [b.binary("divide", e, s)]


REDUCE_KINDS = {"ReduceSum": "add", "ReduceMean": "add", "ReduceMax": "maximum", "ReduceMin": "minimum",
                "ReduceProd": "multiply", "ReduceSumSquare": "add", "ReduceL1": "add", "ReduceL2": "add",
                "ReduceLogSumExp": "add", "ReduceLogSum": "add"}


class LowerReduce(OnnxToHlo):
    op_types = tuple(REDUCE_KINDS)

    def _axes(self, op: Operation, rank: int) -> list[int] | None:
        axes_in = inp(op, 1) if len(op.ONNX_OPERANDS) > 1 else None  # type: ignore[attr-defined]
        if axes_in is not None:
            value = const_value(axes_in)
            if value is None:
                return None
            axes = [int(a) for a in value.reshape(-1)]
        else:
            axes = attr(op, "axes", [])
        if not axes:
            return [] if attr(op, "noop_with_empty_axes", 0) else list(range(rank))
        return sorted(a % rank for a in axes)

    def check(self, op: Operation) -> str | None:
        if self._axes(op, len(hlo.shape(inp(op, 0)))) is None:
            return "its axes are computed at run time"
        return None

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        t, x = op.ONNX_OP_TYPE, inp(op, 0)  # type: ignore[attr-defined]
        shape = hlo.shape(x)
        axes = self._axes(op, len(shape))
        assert axes is not None
        if not axes:
            return [x]
        if t in ("ReduceSumSquare", "ReduceL2"):
            x = b.binary("multiply", x, x)
        elif t == "ReduceL1":
            x = b.unary("abs", x)
        elif t == "ReduceLogSumExp":
            x = b.unary("exponential", x)
        y = b.reduce(x, axes, REDUCE_KINDS[t])
        if t == "ReduceMean":
            y = b.scalar_op("divide", y, float(np.prod([shape[a] for a in axes])))
        elif t == "ReduceL2":
            y = b.unary("sqrt", y)
        elif t in ("ReduceLogSumExp", "ReduceLogSum"):
            y = b.unary("log", y)
        return [b.reshape(y, out_shape(op))]


PATTERNS = (LowerMatMul, LowerGemm, LowerConv, LowerConvTranspose, LowerBatchNorm, LowerInstanceNorm, LowerLayerNorm,
            LowerLRN, LowerPool, LowerGlobalPool, LowerSoftmax, LowerReduce)

_ = math
