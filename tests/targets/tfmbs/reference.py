"""An independent, deliberately plain numpy model of what the Ternary Fabric computes.

This is the oracle the tfmbs artifact run and `tsuc.nn.TFMBSLinear` must equal bit for bit.
It shares nothing with `tsuc.runtime.tfmbs` or the lowering except the weight quantiser
(`tsuc.targets.tfmbs.quantize.quantize_weights`, tested on its own against hand cases): it
does not pack PT-5, has no SRAM, descriptors or tiles of its own, and spells out every step.

A linear layer y = x W^T + b, x[M, K], W[N, K], runs as (the formula is the one documented
in `tsuc.runtime.tfmbs.actquant`; this file writes it out again on its own):

1. weights: `quantize_weights(W, quant, w_planes)` -> trits[P, N, K], scales[P, N] float32;
2. activations, one dynamic scale per tensor (per call, over the whole x, batch included;
   for Conv, over the conv input before im2col), in float64:
   - act_trits = k > 1: m = (3^k - 1) / 2, s = max|x| / m, x_int = clip(rint(x / s), -m, m)
     (round half to even);
   - act_trits = 1 (the prototype's sign behaviour): s = mean|x|, x_int = sign(x);
   - s = 1 (and so x_int = 0) when s comes out 0, e.g. an all-zero x;
   x_int is written in balanced ternary, x_int = sum_j 3^j t_j with t_j in {-1, 0, 1};
3. frames: for every plane p, trit j, group of 60 output channels and chunk of <= 1024
   reduction indices, the fabric accumulates acc[m, n] += sum_d trits[p, n, d] * t_j[m, d]
   in `acc_bits`-bit accumulators (int32 by default; wrapping), chaining the chunks of one (p, j, group);
4. host, in integers: A[m, p, n] = sum_j 3^j acc[m, p, j, n] (int64);
5. host, in float64: y = sum_p A[p] * scales[p] (planes in order p = 0, 1, ...), then
   y = float32(y * s + b) (Gemm: y = float32(y * s * alpha + b) with b = float32(beta * C)).

With the option `fold`, a BatchNormalization after a layer is folded into its weight scales
and bias at compile time (per output channel n, in float64: g = gamma / sqrt(var + eps),
scales[p, n] *= g, b = (b - mean) * g + beta, each rounded once to float32), and a residual
Add and a Relu after it run on the layer's float32 output: y = float32(y + r), y = max(y, 0).
"""

from __future__ import annotations

import numpy as np

from tsuc.targets.tfmbs.quantize import quantize_weights

LANES = 60        # 4 tiles x 15 lanes: outputs per frame
MAX_DEPTH = 1024  # words per bank: reduction indices per frame


# -- activations ---------------------------------------------------------------------------

def quantize_activations(x: np.ndarray, act_trits: int) -> tuple[np.ndarray, float]:
    """(x_int as int64 of x's shape, per-tensor scale as a Python float) with x ~ s * x_int."""
    x = np.asarray(x)
    x64 = x.astype(np.float64)
    if act_trits == 1:
        scale = float(np.mean(np.abs(x64))) if x.size else 0.0
    else:
        scale = float(np.max(np.abs(x))) / ((3 ** act_trits - 1) // 2) if x.size else 0.0
    if scale == 0.0:
        return np.zeros(x.shape, dtype=np.int64), 1.0
    return levels_at_scale(x, scale, act_trits), scale


def levels_at_scale(x: np.ndarray, scale: float, act_trits: int) -> np.ndarray:
    """The integer levels of x at a given scale (sign for one trit)."""
    x64 = np.asarray(x).astype(np.float64)
    if act_trits == 1:
        return np.sign(x64).astype(np.int64)
    m = (3 ** act_trits - 1) // 2
    return np.clip(np.rint(x64 / scale), -m, m).astype(np.int64)


def balanced_ternary(x_int: np.ndarray, digits: int) -> np.ndarray:
    """Digits t[digits, ...] in {-1, 0, 1} with x_int = sum_j 3^j t[j]; fails if it does not fit."""
    rest = np.asarray(x_int, dtype=np.int64).copy()
    out = np.zeros((digits,) + rest.shape, dtype=np.int8)
    for j in range(digits):
        r = np.mod(rest, 3)              # 0, 1 or 2
        d = np.where(r == 2, -1, r)      # 2 == -1 (mod 3)
        out[j] = d
        rest = (rest - d) // 3
    if np.any(rest != 0):
        raise ValueError(f"value does not fit in {digits} balanced-ternary digits")
    return out


# -- the fabric's integer work ----------------------------------------------------------------

def _wrap(a: np.ndarray, bits: int) -> np.ndarray:
    """Two's-complement wrap of int64 values to `bits` bits."""
    span = 1 << bits
    return (a.astype(np.int64) + span // 2) % span - span // 2


def fabric_accumulate(w_trits: np.ndarray, x_trits: np.ndarray, acc_bits: int = 32) -> np.ndarray:
    """int64 acc[M, N] (values of `acc_bits`-bit accumulators) of one weight plane [N, K]
    against one activation trit plane [M, K], frame by frame: groups of LANES outputs, chunks
    of MAX_DEPTH reduction indices chained, wrapping."""
    n, k = w_trits.shape
    m = x_trits.shape[0]
    acc = np.zeros((m, n), dtype=np.int64)
    for g0 in range(0, n, LANES):
        group = slice(g0, min(g0 + LANES, n))
        chained = np.zeros((m, group.stop - group.start), dtype=np.int64)
        for c0 in range(0, k, MAX_DEPTH):
            chunk = slice(c0, min(c0 + MAX_DEPTH, k))
            part = x_trits[:, chunk].astype(np.int64) @ w_trits[group, chunk].astype(np.int64).T
            chained = _wrap(chained + part, acc_bits)   # BIAS_EN: keep the accumulator
        acc[:, group] = chained
    return acc


# -- layers --------------------------------------------------------------------------------------

def linear_quantized(x2d: np.ndarray, trits: np.ndarray, scales: np.ndarray, bias: np.ndarray | None,
                     act_trits: int, act_from: np.ndarray | None = None, alpha: float = 1.0, acc_bits: int = 32) -> np.ndarray:
    """y[M, N] for x2d[M, K] against already quantised weights; `act_from` is the tensor the
    activation scale is taken over (default x2d itself); Gemm's `alpha` multiplies before the bias."""
    x2d = np.asarray(x2d, dtype=np.float32)
    _, scale = quantize_activations(x2d if act_from is None else act_from, act_trits)
    x_int = levels_at_scale(x2d, scale, act_trits)
    digits = balanced_ternary(x_int, act_trits)
    planes, n, _ = trits.shape
    y = np.zeros((x2d.shape[0], n), dtype=np.float64)
    for p in range(planes):
        combined = np.zeros((x2d.shape[0], n), dtype=np.int64)
        for j in range(act_trits):
            combined += (3 ** j) * fabric_accumulate(trits[p], digits[j], acc_bits)
        y = y + combined.astype(np.float64) * scales[p].astype(np.float64)[None, :]
    y = y * scale
    if alpha != 1.0:
        y = y * np.float64(alpha)
    if bias is not None:
        y = y + np.asarray(bias, dtype=np.float32).astype(np.float64)[None, :]
    return y.astype(np.float32)


def linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *, quant: str = "twn", w_planes: int = 1,
           act_trits: int = 5, alpha: float = 1.0, acc_bits: int = 32) -> np.ndarray:
    """y = alpha * x W^T + b as the fabric computes it; x[..., K], W[N, K] -> y[..., N]."""
    x = np.asarray(x, dtype=np.float32)
    trits, scales = quantize_weights(np.asarray(w, dtype=np.float32), quant, w_planes)
    y = linear_quantized(x.reshape(-1, x.shape[-1]), trits, scales, b, act_trits, alpha=alpha, acc_bits=acc_bits)
    return y.reshape(x.shape[:-1] + (trits.shape[1],))


def gemm(a: np.ndarray, b: np.ndarray, c: np.ndarray | None = None, *, trans_b: int = 0, alpha: float = 1.0,
         beta: float = 1.0, **opts) -> np.ndarray:
    """ONNX Gemm with constant B and C: Y = alpha * A B' + beta * C, B' = B^T if trans_b.
    alpha and beta are float32 attributes; beta * C is folded in float32 into the bias."""
    w = np.asarray(b, dtype=np.float32)
    w = w if trans_b else w.T
    bias = None
    if c is not None:
        bias = np.broadcast_to(np.asarray(c, dtype=np.float32).reshape(-1), (w.shape[0],))
        bias = bias * np.float32(beta) if np.float32(beta) != 1 else bias
    return linear(a, w, bias, alpha=float(np.float32(alpha)), **opts)


def matmul(a: np.ndarray, b: np.ndarray, **opts) -> np.ndarray:
    """ONNX MatMul with constant 2-D B[K, N]: rows of A against the columns of B."""
    return linear(a, np.asarray(b, dtype=np.float32).T, None, **opts)


def im2col(x: np.ndarray, kh: int, kw: int, strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1)) -> tuple[np.ndarray, int, int]:
    """Patches [B*OH*OW, C*kh*kw] (C-major, then kernel row, then column) of x[B, C, H, W]."""
    bsz, ch, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (h + pads[0] + pads[2] - dilations[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (w + pads[1] + pads[3] - dilations[1] * (kw - 1) - 1) // strides[1] + 1
    cols = np.zeros((bsz, oh, ow, ch, kh, kw), dtype=np.float32)
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dilations[0], j * dilations[1]
            cols[:, :, :, :, i, j] = xp[:, :, r0:r0 + strides[0] * oh:strides[0], c0:c0 + strides[1] * ow:strides[1]].transpose(0, 2, 3, 1)
    return cols.reshape(bsz * oh * ow, ch * kh * kw), oh, ow


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *, strides=(1, 1), pads=(0, 0, 0, 0),
           dilations=(1, 1), quant: str = "twn", w_planes: int = 1, act_trits: int = 5) -> np.ndarray:
    """ONNX Conv (group 1, NCHW) through im2col: y[B, N, OH, OW]."""
    x = np.asarray(x, dtype=np.float32)
    n = w.shape[0]
    cols, oh, ow = im2col(x, w.shape[2], w.shape[3], strides, pads, dilations)
    trits, scales = quantize_weights(np.asarray(w, dtype=np.float32).reshape(n, -1), quant, w_planes)
    y = linear_quantized(cols, trits, scales, b, act_trits, act_from=x)
    return y.reshape(x.shape[0], oh, ow, n).transpose(0, 3, 1, 2).copy()


# -- the folded epilogue (option fold) -------------------------------------------------------------

def fold_batchnorm(scales: np.ndarray, bias: np.ndarray | None, gamma, beta, mean, var, eps: float):
    """(scales [P, N], bias [N]) as float32 with an inference BatchNormalization folded in,
    channel by channel in float64."""
    planes, n = scales.shape
    new_scales = np.zeros((planes, n), dtype=np.float32)
    new_bias = np.zeros(n, dtype=np.float32)
    for c in range(n):
        g = np.float64(gamma[c]) / np.sqrt(np.float64(var[c]) + np.float64(eps))
        for p in range(planes):
            new_scales[p, c] = np.float32(np.float64(scales[p, c]) * g)
        b = np.float64(bias[c]) if bias is not None else np.float64(0.0)
        new_bias[c] = np.float32((b - np.float64(mean[c])) * g + np.float64(beta[c]))
    return new_scales, new_bias


def conv2d_bn(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, bn, eps: float, *, strides=(1, 1), pads=(0, 0, 0, 0),
              dilations=(1, 1), quant: str = "twn", w_planes: int = 1, act_trits: int = 5) -> np.ndarray:
    """ONNX Conv followed by BatchNormalization (gamma, beta, mean, var), folded: y[B, N, OH, OW]."""
    x = np.asarray(x, dtype=np.float32)
    n = w.shape[0]
    cols, oh, ow = im2col(x, w.shape[2], w.shape[3], strides, pads, dilations)
    trits, scales = quantize_weights(np.asarray(w, dtype=np.float32).reshape(n, -1), quant, w_planes)
    scales, bias = fold_batchnorm(scales, b, *bn, eps)
    y = linear_quantized(cols, trits, scales, bias, act_trits, act_from=x)
    return y.reshape(x.shape[0], oh, ow, n).transpose(0, 3, 1, 2).copy()


def add(y: np.ndarray, r: np.ndarray) -> np.ndarray:
    """The folded residual Add: the float32 sum (exact in float64, rounded once)."""
    assert y.shape == r.shape and y.dtype == np.float32 and r.dtype == np.float32
    return (y.astype(np.float64) + r.astype(np.float64)).astype(np.float32)


def relu(y: np.ndarray) -> np.ndarray:
    """The folded Relu as np.maximum(y, 0) computes it: NaN stays NaN, -0.0 becomes +0.0."""
    return np.where(np.isnan(y) | (y > 0), y, np.float32(0.0)).astype(np.float32)
