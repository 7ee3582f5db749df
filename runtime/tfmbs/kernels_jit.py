"""The compiled bodies of `kernels` (this module imports numba; `kernels` imports it on first use).

Module-level functions that call each other through module globals, so numba caches every
one of them on disk (a kernel that calls a closure variable is recompiled in every process).
"""

from __future__ import annotations

import numba
import numpy as np

from tsuc.runtime.tfmbs.fastpath import LEVEL_ZERO
from tsuc.runtime.tfmbs.kernels import BLOCK, BLOCK_ELEMENTS, INF_BITS, TIE_BAND

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


@_jit
def levels_block(x, r, out):  # pragma: no cover - compiled
    near = False
    for i in range(x.size):  # branch-free over one contiguous block: vectorised
        d = np.float64(x[i]) * r
        k = np.rint(d)
        near |= np.abs(d - k) > 0.5 - TIE_BAND
        out[i] = np.int32(k) + LEVEL_ZERO
    return near


@_jit
def levels(x, s, out):  # pragma: no cover - compiled
    n = x.size
    r = 1.0 / s
    for a in range(0, n, BLOCK):
        e = min(n, a + BLOCK)
        if levels_block(x[a:e], r, out[a:e]):  # a quotient close to a tie: the division decides
            for i in range(a, e):
                out[i] = np.int32(np.rint(np.float64(x[i]) / s)) + LEVEL_ZERO


@_jit
def copy_u8(src, dst):  # pragma: no cover - compiled
    for c in range(src.size):
        dst[c] = src[c]


@_jit
def im2col_cl(xq, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, out, m0, m1):  # pragma: no cover - compiled
    """Rows m0..m1 of the channels-last patches of uint8 levels xq [B, H, W, C]; a kernel row
    that lies inside the image with dw = 1 is one contiguous run of KW*C bytes."""
    B, H, W, C = xq.shape
    flat = xq.reshape(B * H * W * C)
    per = oh * ow
    run = kw * C
    for m in range(m0, m1):
        b = m // per
        rest = m - b * per
        y = rest // ow
        x0 = (rest - y * ow) * sw - pw
        for i in range(kh):
            iy = y * sh - ph + i * dh
            o = i * run
            if iy < 0 or iy >= H:
                out[m, o:o + run] = 128
            elif dw == 1 and x0 >= 0 and x0 + kw <= W:
                a = ((b * H + iy) * W + x0) * C
                copy_u8(flat[a:a + run], out[m, o:o + run])
            else:
                for j in range(kw):
                    ix = x0 + j * dw
                    if 0 <= ix < W:
                        a = ((b * H + iy) * W + ix) * C
                        copy_u8(flat[a:a + C], out[m, o + j * C:o + (j + 1) * C])
                    else:
                        out[m, o + j * C:o + (j + 1) * C] = 128


@_jit
def nhwc_from_nchw(x, out):  # pragma: no cover - compiled
    """out [B, H, W, C] = x [B, C, H, W] transposed, for few channels (an image's uint8
    levels): written in order, read from C streams (numpy's strided copy of a 3-channel
    image is 3x slower; from 16 channels on numpy's is the faster)."""
    B, C, H, W = x.shape
    xf = x.reshape(B * C * H * W)
    of = out.reshape(B * H * W * C)
    hw = H * W
    for b in range(B):
        src = b * C * hw
        dst = b * hw * C
        for p in range(hw):
            for c in range(C):
                of[dst + p * C + c] = xf[src + c * hw + p]


@_jit
def post_flat(q, w, s, b, residual, use_residual, relu, out):  # pragma: no cover - compiled
    """The common case (one weight plane, no alpha, no -0.0 bias) over a block of whole rows
    seen flat: w and b are the scales and bias repeated once per row of the block, so the loop
    runs over the whole block (per-row loops of N = 64 cost 3x as much in loop overhead)."""
    # The post (+ residual, relu) is written out here and in `epilogue_row`: moved into a shared
    # inlined function it read residual[n if use_residual else 0], which cost 30% (the loop
    # no longer vectorised as well).
    for i in range(out.size):
        v32 = np.float32(np.float64(q[i]) * w[i] * s + b[i])
        if use_residual:
            v32 = v32 + residual[i]
        if relu and v32 <= 0:  # np.maximum(y, 0): -0.0 becomes +0.0, a NaN stays
            v32 = np.float32(0.0)
        out[i] = v32


@_jit
def repeated_rows(v, rows):  # pragma: no cover - compiled
    """float64 v [N] repeated `rows` times, flat."""
    n = v.size
    out = np.empty(rows * n, np.float64)
    for r in range(rows):
        for i in range(n):
            out[r * n + i] = v[i]
    return out


@_jit
def epilogue_row(q, ws, s, alpha, use_alpha, bias, zero_sign, residual, use_residual, relu, out):  # pragma: no cover
    N = out.size
    P = ws.shape[0]
    y = np.empty(N, np.float64)
    for n in range(N):
        y[n] = np.float64(q[n]) * ws[0, n]
    if zero_sign:
        for n in range(N):
            y[n] = y[n] + 0.0
    for p in range(1, P):
        for n in range(N):
            y[n] = y[n] + np.float64(q[p * N + n]) * ws[p, n]
    for n in range(N):
        v = y[n] * s
        if use_alpha:
            v = v * alpha
        v32 = np.float32(v + bias[n])
        if use_residual:
            v32 = v32 + residual[n]
        if relu and v32 <= 0:  # np.maximum(y, 0): -0.0 becomes +0.0, a NaN stays
            v32 = np.float32(0.0)
        out[n] = v32


@_jit
def abs_max_bits(bits, top):  # pragma: no cover - compiled
    """max(|x|) of float32 values given as their int32 bits, as bits: |x|'s bits order like the
    integers (a NaN's lie above the infinity's, 0x7F800000), and an integer reduction
    vectorises where a float one does not."""
    for n in range(bits.size):
        top = max(top, bits[n] & 0x7FFFFFFF)
    return top


@_jit
def max_of(v):  # pragma: no cover - compiled
    """v.max() without numba's array reductions (whose first use imports scipy for BLAS)."""
    top = v[0]
    for i in range(1, v.size):
        top = max(top, v[i])
    return top


@_jit
def copy_f32(src, dst):  # pragma: no cover - compiled
    for n in range(src.size):
        dst[n] = src[n]


@_jit
def common_case(ws, zero_sign, use_alpha):  # pragma: no cover - compiled
    return ws.shape[0] == 1 and not zero_sign and not use_alpha


@_jit
def block_rows(n):  # pragma: no cover - compiled
    """Rows per block of the common case: about BLOCK_ELEMENTS elements, at least one row."""
    return max(1, BLOCK_ELEMENTS // n)


@_jit
def epilogue_block(q, ws, s, alpha, use_alpha, bias, zero_sign, residual, use_residual, relu, m, e, wr, br, tmp):  # pragma: no cover
    """Rows m..e of the epilogue into the flat scratch tmp [(e - m) * N] (wr, br: the common
    case's repeated scales and bias, see `post_flat`)."""
    N = ws.shape[1]
    if common_case(ws, zero_sign, use_alpha):
        n = (e - m) * N
        qf = q.reshape(q.size)[m * N:e * N]
        rf = residual.reshape(residual.size)
        post_flat(qf, wr[:n], s, br[:n], rf[m * N:e * N] if use_residual else rf, use_residual, relu, tmp[:n])
    else:
        for k in range(e - m):
            epilogue_row(q[m + k], ws, s, alpha, use_alpha, bias, zero_sign, residual[m + k if use_residual else 0],
                         use_residual, relu, tmp[k * N:(k + 1) * N])


@_jit
def epilogue_rows(q, ws, s, alpha, use_alpha, bias, zero_sign, residual, use_residual, relu, out, m0, m1):  # pragma: no cover
    """Rows m0..m1 of the epilogue into out; each block of rows is made in an L1 scratch block
    and then copied, so `out` may be q's own memory (a float32 view of it, with one weight
    plane): the block is read whole before it is overwritten, and every loop vectorises."""
    N = out.shape[1]
    R = block_rows(N)
    wr, br = repeated_rows(ws[0], R), repeated_rows(bias, R)
    tmp = np.empty(R * N, np.float32)
    bits = tmp.view(np.int32)
    flat = out.reshape(out.size)
    top = np.int32(0)
    m = m0
    while m < m1:
        e = min(m1, m + R)
        n = (e - m) * N
        epilogue_block(q, ws, s, alpha, use_alpha, bias, zero_sign, residual, use_residual, relu, m, e, wr, br, tmp)
        top = abs_max_bits(bits[:n], top)
        copy_f32(tmp[:n], flat[m * N:e * N])
        m = e
    return top


@_jit
def epilogue_rows_nchw(q, ws, s, alpha, use_alpha, bias, zero_sign, residual, use_residual, relu, out, m0, m1):  # pragma: no cover
    """`epilogue_rows` writing NCHW out [B, N, R] (rows m = b * R + r): blocks of rows are made
    in the channels-last scratch, then copied out channel by channel (contiguous runs)."""
    B, N, RR = out.shape
    R = block_rows(N)
    wr, br = repeated_rows(ws[0], R), repeated_rows(bias, R)
    tmp = np.empty(R * N, np.float32)
    bits = tmp.view(np.int32)
    top = np.int32(0)
    m = m0
    while m < m1:
        b = m // RR
        r0 = m - b * RR
        e = min(m1, m + R, (b + 1) * RR)
        epilogue_block(q, ws, s, alpha, use_alpha, bias, zero_sign, residual, use_residual, relu, m, e, wr, br, tmp)
        top = abs_max_bits(bits[:(e - m) * N], top)
        for n in range(N):
            for k in range(e - m):
                out[b, n, r0 + k] = tmp[k * N + n]
        m = e
    return top


@_jit
def bits_to_f64(top):  # pragma: no cover - compiled
    """The float32 whose bits are the int32 `top`, as float64."""
    return np.float64(np.array([top], np.int32).view(np.float32)[0])


@_jit
def next_scale(top, lv):  # pragma: no cover - compiled
    """`actquant.scale_from_extremes(m, -m, k)` of the output's max|y| m (given as its float32
    bits) for a reader with L = lv levels; 0.0 when that is not the plain quotient (m is 0,
    infinite or NaN: `actquant.checked_scale` decides those in Python)."""
    if top <= 0 or top >= INF_BITS:
        return 0.0
    return bits_to_f64(top) / lv


# -- the same over `nb` row blocks in parallel (numba's thread pool: OpenMP where it has it) ----

_par = numba.njit(cache=True, nogil=True, parallel=True, error_model="numpy")


@_par
def levels_par(x, s, out, nb):  # pragma: no cover - compiled
    n = x.size
    for i in numba.prange(nb):
        levels(x[i * n // nb:(i + 1) * n // nb], s, out[i * n // nb:(i + 1) * n // nb])


@_par
def abs_max_bits_par(bits, nb):  # pragma: no cover - compiled
    n = bits.size
    tops = np.empty(nb, np.int32)
    for i in numba.prange(nb):
        tops[i] = abs_max_bits(bits[i * n // nb:(i + 1) * n // nb], np.int32(0))
    return max_of(tops)


@_par
def im2col_cl_par(xq, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, out, nb):  # pragma: no cover - compiled
    m = out.shape[0]
    for i in numba.prange(nb):
        im2col_cl(xq, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, out, i * m // nb, (i + 1) * m // nb)


@_par
def epilogue_rows_par(q, ws, s, alpha, use_alpha, bias, zero_sign, residual, use_residual, relu, out, nb):  # pragma: no cover
    m = q.shape[0]
    tops = np.empty(nb, np.int32)
    for i in numba.prange(nb):
        tops[i] = epilogue_rows(q, ws, s, alpha, use_alpha, bias, zero_sign, residual, use_residual, relu, out,
                                i * m // nb, (i + 1) * m // nb)
    return max_of(tops)


@_par
def epilogue_rows_nchw_par(q, ws, s, alpha, use_alpha, bias, zero_sign, residual, use_residual, relu, out, nb):  # pragma: no cover
    m = q.shape[0]
    tops = np.empty(nb, np.int32)
    for i in numba.prange(nb):
        tops[i] = epilogue_rows_nchw(q, ws, s, alpha, use_alpha, bias, zero_sign, residual, use_residual, relu, out,
                                     i * m // nb, (i + 1) * m // nb)
    return max_of(tops)


@_jit
def epilogue_levels(q, ws, s, alpha, use_alpha, bias, zero_sign, residual, use_residual, relu, out, lv, u8, nb):  # pragma: no cover
    """`epilogue_rows` on all rows (nb row blocks), then the next reader's levels of the output
    (`levels`, nb blocks again, each thread on about the rows it has just written) into u8 at
    the scale its max|y| gives, when `next_scale` is not 0.0. Returns the max's bits and that
    scale. One call from Python: the second parallel region starts while the pool is awake."""
    m = q.shape[0]
    if nb == 1:
        top = epilogue_rows(q, ws, s, alpha, use_alpha, bias, zero_sign, residual, use_residual, relu, out, 0, m)
    else:
        top = epilogue_rows_par(q, ws, s, alpha, use_alpha, bias, zero_sign, residual, use_residual, relu, out, nb)
    s2 = next_scale(top, lv)
    if s2 > 0.0:
        flat = out.reshape(out.size)
        if nb == 1:
            levels(flat, s2, u8)
        else:
            levels_par(flat, s2, u8, nb)
    return top, s2
