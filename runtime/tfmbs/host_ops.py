"""The host side of a fabric layer: im2col, the float epilogue, nonzero counts for counters.

Patches are ordered as the weights are flattened, k = c*KH*KW + kh*KW + kw, and rows as
(b, oh, ow), so `im2col(x) @ W.reshape(N, -1).T` is the convolution.

The epilogue (see `actquant` for the quantiser) turns integer plane results into floats:

    Q[p] = sum_j 3^j acc[j, p]                     (exact integers)
    y64 = 0.0; for p: y64 = y64 + float64(Q[p]) * float64(wscale[p])
    y64 = y64 * s;  if alpha != 1: y64 = y64 * float64(alpha)
    y = float32(y64 + float64(bias))
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided


def conv_out_hw(h: int, w: int, kernel, strides, pads, dilations) -> tuple[int, int]:
    oh = (h + pads[0] + pads[2] - dilations[0] * (kernel[0] - 1) - 1) // strides[0] + 1
    ow = (w + pads[1] + pads[3] - dilations[1] * (kernel[1] - 1) - 1) // strides[1] + 1
    return oh, ow


def _windows(x: np.ndarray, kernel, strides, pads, dilations) -> np.ndarray:
    """A [B, OH, OW, C, KH, KW] strided view over the zero-padded x[B, C, H, W]."""
    b, c, h, w = x.shape
    kh, kw = kernel
    oh, ow = conv_out_hw(h, w, kernel, strides, pads, dilations)
    if any(pads):
        xp = np.zeros((b, c, h + pads[0] + pads[2], w + pads[1] + pads[3]), x.dtype)
        xp[:, :, pads[0]:pads[0] + h, pads[1]:pads[1] + w] = x
    else:
        xp = np.ascontiguousarray(x)
    sb, sc, sh, sw = xp.strides
    return as_strided(xp, (b, oh, ow, c, kh, kw),
                      (sb, sh * strides[0], sw * strides[1], sc, sh * dilations[0], sw * dilations[1]), writeable=False)


def im2col(x: np.ndarray, kernel, strides, pads, dilations, dtype=None) -> np.ndarray:
    """[B*OH*OW, C*KH*KW] patches of x[B, C, H, W] (a copy, in `dtype` if given)."""
    b, c, h, w = x.shape
    if tuple(kernel) == (1, 1) and tuple(strides) == (1, 1) and not any(pads):
        cols = x.transpose(0, 2, 3, 1).reshape(b * h * w, c)
        return cols.astype(dtype or x.dtype, copy=True)
    win = _windows(x, kernel, strides, pads, dilations)
    out = np.empty(win.shape, dtype or x.dtype)
    out[...] = win
    return out.reshape(win.shape[0] * win.shape[1] * win.shape[2], win.shape[3] * win.shape[4] * win.shape[5])


def im2col_t(x: np.ndarray, kernel, strides, pads, dilations, dtype=None) -> np.ndarray:
    """The transpose of `im2col`: [C*KH*KW, B*OH*OW], each patch element's row contiguous over
    output positions (the layout whose product with W[N, K] is already channel-major)."""
    b, c, h, w = x.shape
    if tuple(kernel) == (1, 1) and tuple(strides) == (1, 1) and not any(pads):
        return np.ascontiguousarray(x.transpose(1, 0, 2, 3).reshape(c, b * h * w), dtype=dtype or x.dtype)
    win = windows_t(x, kernel, strides, pads, dilations)
    out = np.empty(win.shape, dtype or x.dtype)
    out[...] = win
    return out.reshape(win.shape[0] * win.shape[1] * win.shape[2], -1)


def windows_t(x: np.ndarray, kernel, strides, pads, dilations) -> np.ndarray:
    """The strided view behind `im2col_t`: [C, KH, KW, B, OH, OW] (copy it to get the patches)."""
    return _windows(x, kernel, strides, pads, dilations).transpose(3, 4, 5, 0, 1, 2)


def column_sums(x: np.ndarray, kernel, strides, pads, dilations) -> np.ndarray:
    """sum over rows of im2col(x) without building it: int64 [C*KH*KW].

    Column (c, kh, kw) sums x_padded[b, c, kh*dh + oh*sh, kw*dw + ow*sw] over (b, oh, ow): a
    rectangle of one stride phase of the padded map, so one 2-D integral image per phase
    answers every kernel offset in O(1): O(B*C*H*W) work whatever the kernel size.
    """
    b, c, h, w = x.shape
    kh, kw = kernel
    sh, sw = strides
    dh, dw = dilations
    oh, ow = conv_out_hw(h, w, kernel, strides, pads, dilations)
    if (kh, kw) == (1, 1) and not any(pads):  # one strided sub-grid per channel
        return x[:, :, : (oh - 1) * sh + 1 : sh, : (ow - 1) * sw + 1 : sw].sum(axis=(0, 2, 3), dtype=np.int64)
    xp = np.zeros((c, h + pads[0] + pads[2], w + pads[1] + pads[3]), np.int32)  # one entry <= B * act_trits
    xp[:, pads[0]:pads[0] + h, pads[1]:pads[1] + w] = x.sum(axis=0, dtype=np.int32)
    out = np.empty((c, kh, kw), np.int64)
    integral = {}
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dh, j * dw
            phase = (r0 % sh, c0 % sw)
            if phase not in integral:
                sub = xp[:, phase[0]::sh, phase[1]::sw]
                ii = np.zeros((c, sub.shape[1] + 1, sub.shape[2] + 1), np.int64)
                ii[:, 1:, 1:] = sub.cumsum(axis=1, dtype=np.int64).cumsum(axis=2)
                integral[phase] = ii
            ii = integral[phase]
            a0, b0 = r0 // sh, c0 // sw
            out[:, i, j] = ii[:, a0 + oh, b0 + ow] - ii[:, a0, b0 + ow] - ii[:, a0 + oh, b0] + ii[:, a0, b0]
    return out.reshape(-1)


def epilogue(q_planes: list[np.ndarray], wscales: np.ndarray, act_scale: float, alpha: float,
             bias: np.ndarray, channels_first: bool = False) -> np.ndarray:
    """float32 [M, N] (or [N, M] with `channels_first`) from the exact per-plane integer
    products Q[p] (any dtype holding them).

    In-place float64 steps with the same rounding as the formula in the module docstring
    (`y += 0.0` is the `0.0 + ...` of the first plane: it turns -0.0 into +0.0).
    """
    def per_channel(v: np.ndarray) -> np.ndarray:
        v = v.astype(np.float64)
        return v[:, None] if channels_first else v

    y = q_planes[0].astype(np.float64)
    y *= per_channel(wscales[0])
    y += 0.0
    for p in range(1, len(q_planes)):
        y += q_planes[p].astype(np.float64) * per_channel(wscales[p])
    y *= act_scale
    if alpha != 1.0:
        y *= np.float64(alpha)
    y += per_channel(bias)
    return y.astype(np.float32)
