"""One layer on the fast path: the fabric's numbers for a whole call at once.

Three ways to get the exact plane products Q_p = sum_j 3^j acc_j (the epilogue is the same
formula for all of them: `kernels.epilogue_rows` for the first, `fastpath.finish` for the
others):

- `run_int8`: onnxruntime's 8-bit integer GEMM on the uint8 levels (act_trits <= 5), on
  channels-last rows (`values.Values`), the layer's post fused into the epilogue;
- `run_blas`: one float32 (or float64) BLAS product on the integer levels: exact while every
  partial sum is an integer below 2^24 (else float64, below 2^53);
- `run_wrapped`, for layers whose accumulators can overflow (`LayerPlan.may_overflow`: K is
  larger than the accumulator's range): the fabric accumulates each activation trit plane
  separately and wraps each chain at `acc_bits`, so Q is not the product of the levels. The
  trit planes are multiplied one by one (exact: |acc| <= K), each result wrapped to
  `acc_bits` (chunks chained with BIAS_EN wrap to the same value as their sum does), then
  combined with powers of 3 in int64.

Each gives the float32 output and the `CallRecord` the lazy profile needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tsuc.runtime.tfmbs import actquant, fastpath, kernels
from tsuc.runtime.tfmbs.host_ops import conv_out_hw, im2col_t
from tsuc.runtime.tfmbs.layer import Layer
from tsuc.runtime.tfmbs.machine import FabricConfig
from tsuc.runtime.tfmbs.values import Values

EXACT_F32 = 1 << 24


@dataclass
class CallRecord:
    """What `profile()` needs of one layer in the last call."""

    stored: Any  # the layer input's integer levels (before im2col), or a function making them on demand
    act_scale: float
    rows: int  # input rows of this call (frames per trit and group)
    replayed: Any = None  # the device model's Counters when the call was replayed

    @property
    def levels(self) -> np.ndarray:
        """int8 (int16/int32 beyond 5 trits) levels in the layer input's layout (NCHW for a
        convolution); the fast path's are made from its uint8 rows here, when a profile asks."""
        if callable(self.stored):
            self.stored = self.stored()
        return self.stored


class BlasThreads:
    """Limits BLAS threads around the products (numbers are exact integers, so identical
    either way). One per executor, built on first use; without threadpoolctl the limit is
    not applied."""

    def __init__(self) -> None:
        self._controller: Any = None
        self._looked = False

    def limit(self, n: int):
        if not self._looked:
            self._looked = True
            try:
                from threadpoolctl import ThreadpoolController
            except ImportError:
                self._controller = None
            else:
                self._controller = ThreadpoolController()
        if n <= 0 or self._controller is None:
            return _Nothing()
        return self._controller.limit(limits=n, user_api="blas")


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def finish(layer: Layer, q: np.ndarray, s: float, out_shape: tuple[int, ...], threads: int) -> np.ndarray:
    """The epilogue of q ([B, P, N, R] for convolutions, [M, P, N] for rows) into a new
    float32 array of the layer's output shape."""
    y = np.empty(out_shape, np.float32)
    if layer.conv is not None:
        b, n = out_shape[:2]
        view = y.reshape(b, n, out_shape[2] * out_shape[3])
    else:
        view = y.reshape(-1, layer.plan.n)
    fastpath.finish(q, layer.scales, s, layer.alpha, layer.bias, view, channels_first=layer.conv is not None,
                    zero_sign=layer.zero_sign, threads=threads)
    return y


def input_levels(layer: Layer, values: Values, threads: int) -> tuple[np.ndarray, float, tuple[int, ...]]:
    """(uint8 levels q + 128, flat; scale s; their shape) of the layer's input: channels-last
    [B, H, W, C] for a convolution. A value read by two layers (a ResNet block's first conv
    and its downsample) is quantised once per call. A convolution input that exists only as
    NCHW (a segment input) is quantised as it is and its bytes transposed: levels are
    elementwise and the scale does not depend on the order (act_trits = 1's mean is taken
    on NCHW either way)."""
    J, name, conv = layer.plan.act_trits, layer.input, layer.conv
    key = (name, J, conv is None)
    known = values.levels(key)
    if known is not None:
        return known
    nchw = conv is not None and not values.has_channels_last(name)
    x = np.ascontiguousarray(values[name] if conv is None or nchw else values.channels_last(name), dtype=np.float32)
    flat = x.reshape(-1)
    amax = values.abs_max(name)
    if J > 1:
        if amax is None:  # a segment input: nobody recorded it
            amax = kernels.abs_max(flat, threads)
        s = actquant.scale_from_extremes(amax, -amax, J) if flat.size else 1.0
    elif conv is not None:  # a mean: its rounding depends on the order, NCHW's is the formula's
        s = actquant.act_scale(values[name], J)
    else:
        s = fastpath.act_scale(flat, J, threads)
    u8 = fastpath.levels_u8(flat, J, s, threads, layer.scratch("levels_nchw" if nchw else "levels", flat.shape, np.uint8))
    shape = x.shape
    if nchw:
        b, c, h, w = x.shape
        shape = (b, h, w, c)
        cl = layer.scratch("levels", flat.shape, np.uint8)
        kernels.nhwc_from_nchw(u8.reshape(x.shape), cl.reshape(shape))
        u8 = cl
    values.set_levels(key, (u8, s, shape))
    return u8, s, shape


def run_int8(layer: Layer, values: Values, out: str, threads: int, nchw_out: bool = False, returned: bool = True,
             reader: Layer | None = None) -> CallRecord:
    """The layer on onnxruntime's 8-bit integer products, reading its input from `values` and
    storing its output there as `out` (channels-last for a convolution, see `Values`, unless
    `nchw_out`: an output only read as NCHW is written so by the epilogue; an output that is
    not `returned` from the segment reuses the layer's array from the last call):
    levels (uint8 q + 128), channels-last patches, products, and the fused epilogue with the
    layer's post (residual add, relu), which also records the output's max|y|. With a
    `reader` (the next layer that reads the output, in the same layout, with act_trits > 1)
    the epilogue's kernel call also makes that reader's levels of the output (see
    `kernels.epilogue_levels`)."""
    J, P, N, K = layer.plan.act_trits, layer.plan.w_planes, layer.plan.n, layer.plan.k
    conv = layer.conv
    x_shape = values.shape(layer.input)
    u8, s, shape = input_levels(layer, values, threads)
    x = u8.reshape(shape)
    if conv is None:
        lead = x.shape[:-1]
        m = u8.size // K
        a = u8.reshape(m, K)
    else:
        b, h, w, c = x.shape
        oh, ow = conv_out_hw(h, w, conv["kernel_shape"], conv["strides"], conv["pads"], conv["dilations"])
        lead = (b, oh, ow)
        m = b * oh * ow
        if tuple(conv["kernel_shape"]) == (1, 1) and tuple(conv["strides"]) == (1, 1) and not any(conv["pads"]):
            a = u8.reshape(m, c)
        else:
            a = layer.scratch("patches", (m, K), np.uint8)
            kernels.im2col_cl(x, conv, oh, ow, a, threads)
    nchw = conv is not None and nchw_out
    in_place = P == 1 and not nchw  # the float32 output overwrites the products (`kernels.epilogue_rows`)
    q_shape = (m, P * N)
    q = np.empty(q_shape, np.int32) if returned and in_place else layer.scratch("products", q_shape, np.int32)
    if m:
        layer.int_products(threads)(a, q)
    residual = None
    if layer.post_residual is not None:
        if values.shape(layer.post_residual) != layer.out_shape_of(x_shape):
            raise layer.residual_mismatch(values.shape(layer.post_residual), layer.out_shape_of(x_shape))
        r = values[layer.post_residual] if conv is None else values.channels_last(layer.post_residual)
        residual = np.ascontiguousarray(r, dtype=np.float32).reshape(m, N)
    if in_place:
        y = q.view(np.float32)
    else:
        y_shape = (lead[0], N, m // lead[0] if m else 0) if nchw else (m, N)
        y = np.empty(y_shape, np.float32) if returned else layer.scratch("output", y_shape, np.float32)
    post = (q, layer.scales64, s, layer.alpha, layer.bias64, layer.zero_sign, residual, layer.post_relu, y)
    if reader is not None and not nchw:
        rj = reader.plan.act_trits
        ru8 = reader.scratch("levels", (m * N,), np.uint8)
        top, rs = kernels.epilogue_levels(*post, rj, ru8, threads)
        if rs is not None:
            values.set_levels((out, rj, conv is None), (ru8, rs, (*lead, N)))
    else:
        top = kernels.epilogue_rows(*post, threads)
    if nchw:
        values[out] = y.reshape(lead[0], N, *lead[1:])
    elif conv is None:
        values[out] = y.reshape(*lead, N)
    else:
        values.set_channels_last(out, y.reshape(*lead, N))
    if m:
        values.set_abs_max(out, top)

    def levels() -> np.ndarray:
        lv = fastpath.as_levels(u8).reshape(shape)
        return lv if conv is None else np.ascontiguousarray(lv.transpose(0, 3, 1, 2))

    return CallRecord(levels, s, m)


def run_blas(layer: Layer, x: np.ndarray, threads: int, blas: BlasThreads) -> tuple[np.ndarray, CallRecord]:
    P, N, K = layer.plan.w_planes, layer.plan.n, layer.plan.k
    out_shape = layer.out_shape_of(x.shape)
    levels, s = actquant.quantize(x, layer.plan.act_trits)
    exact32 = actquant.levels(layer.plan.act_trits) * K < EXACT_F32
    dtype = np.float32 if exact32 else np.float64
    w = layer.wmat() if exact32 else layer.wmat().astype(np.float64)
    with blas.limit(threads):
        if layer.conv is None:
            q = (layer.cols(levels, dtype) @ w).reshape(-1, P, N)  # [M, P*N]
        else:  # channel-major: W [P*N, K] @ patches [K, B*OH*OW]
            c = layer.conv
            q = w @ im2col_t(levels, c["kernel_shape"], c["strides"], c["pads"], c["dilations"], dtype=dtype)
            q = q.reshape(P, N, out_shape[0], out_shape[2] * out_shape[3]).transpose(2, 0, 1, 3)
    return finish(layer, q, s, out_shape, threads), CallRecord(levels, s, layer.rows_of(x.shape))


def wrap(acc: np.ndarray, cfg: FabricConfig) -> np.ndarray:
    """int64 values wrapped into the signed `acc_bits` range (two's complement)."""
    lo, hi = cfg.acc_range
    return (acc - lo) % (hi - lo + 1) + lo


def run_wrapped(layer: Layer, x: np.ndarray, cfg: FabricConfig, threads: int, blas: BlasThreads) -> tuple[np.ndarray, CallRecord]:
    P, N, K, J = layer.plan.w_planes, layer.plan.n, layer.plan.k, layer.plan.act_trits
    out_shape = layer.out_shape_of(x.shape)
    levels, s = actquant.quantize(x, J)
    planes = actquant.trit_planes(layer.cols(levels, np.int32), J)  # [J, M, K]
    dtype = np.float32 if K < EXACT_F32 else np.float64
    w = layer.wmat() if dtype == np.float32 else layer.wmat().astype(np.float64)
    if layer.conv is not None:
        w = w.T  # [K, P*N]
    q = np.zeros((planes.shape[1], P * N), np.int64)
    with blas.limit(threads):
        for j in range(J):
            acc = np.rint(planes[j].astype(dtype) @ w).astype(np.int64)  # exact integers, |acc| <= K
            q += 3 ** j * wrap(acc, cfg)
    if layer.conv is None:
        q = q.reshape(-1, P, N)
    else:
        q = q.T.reshape(P, N, out_shape[0], out_shape[2] * out_shape[3]).transpose(2, 0, 1, 3)
    return finish(layer, q, s, out_shape, threads), CallRecord(levels, s, layer.rows_of(x.shape))
