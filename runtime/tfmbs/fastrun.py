"""One layer on the fast path: the fabric's numbers for a whole call at once.

Three ways to get the exact plane products Q_p = sum_j 3^j acc_j (the epilogue is the same
`fastpath.finish` for all of them):

- `run_int8`: onnxruntime's 8-bit integer GEMM on the int8 levels (act_trits <= 5);
- `run_blas`: one float32 (or float64) BLAS product on the integer levels: exact while every
  partial sum is an integer below 2^24 (else float64, below 2^53);
- `run_wrapped`, for layers whose accumulators can overflow (`LayerPlan.may_overflow`: K is
  larger than the accumulator's range): the fabric accumulates each activation trit plane
  separately and wraps each chain at `acc_bits`, so Q is not the product of the levels. The
  trit planes are multiplied one by one (exact: |acc| <= K), each result wrapped to
  `acc_bits` (chunks chained with BIAS_EN wrap to the same value as their sum does), then
  combined with powers of 3 in int64.

Each returns the float32 output and the `CallRecord` the lazy profile needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tsuc.runtime.tfmbs import actquant, fastpath, kernels
from tsuc.runtime.tfmbs.host_ops import im2col_t
from tsuc.runtime.tfmbs.layer import Layer
from tsuc.runtime.tfmbs.machine import FabricConfig

EXACT_F32 = 1 << 24


@dataclass
class CallRecord:
    """What `profile()` needs of one layer in the last call."""

    levels: np.ndarray  # the layer input's integer levels (before im2col)
    act_scale: float
    rows: int  # input rows of this call (frames per trit and group)
    replayed: Any = None  # the device model's Counters when the call was replayed


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
        view = y.reshape(b, n, -1)
    else:
        view = y.reshape(-1, layer.plan.n)
    fastpath.finish(q, layer.scales, s, layer.alpha, layer.bias, view, channels_first=layer.conv is not None,
                    zero_sign=layer.zero_sign, threads=threads)
    return y


def _channel_major(layer: Layer, q: np.ndarray, out_shape: tuple[int, ...]) -> np.ndarray:
    """[P*N, M] products -> the layout `finish` takes."""
    P, N = layer.plan.w_planes, layer.plan.n
    if layer.conv is None:
        return q.reshape(P, N, -1).transpose(2, 0, 1)
    return q.reshape(P, N, out_shape[0], -1).transpose(2, 0, 1, 3)


def run_int8(layer: Layer, x: np.ndarray, threads: int) -> tuple[np.ndarray, CallRecord]:
    """Levels, onnxruntime's integer products (`IntProducts`, on the im2col'ed levels for a
    convolution) and the epilogue, with numba's one-pass kernels where numba is installed."""
    K = layer.plan.k
    out_shape = layer.out_shape_of(x.shape)
    levels, s = fastpath.levels_i8(x, layer.plan.act_trits, threads)
    if layer.conv is None:
        cols_t = np.ascontiguousarray(levels.reshape(-1, K).T)  # [K, M]; a view for one row
    else:
        cols_t = fastpath.im2col_t(levels, layer.conv, threads)
    q = layer.int_products(threads)(cols_t)  # [P*N, M], M = B*OH*OW for a convolution
    y = np.empty(out_shape, np.float32)
    if kernels.AVAILABLE:
        with kernels.threads(threads):
            if layer.conv is None:
                kernels.epilogue(q.T, layer.scales64, s, layer.alpha, layer.bias64, layer.zero_sign,
                                 y.reshape(-1, layer.plan.n), channels_first=False)
            else:
                b = out_shape[0]
                kernels.epilogue(q.reshape(q.shape[0], b, -1).transpose(1, 0, 2), layer.scales64, s, layer.alpha, layer.bias64, layer.zero_sign,
                                 y.reshape(b, layer.plan.n, -1), channels_first=True)
        return y, CallRecord(levels, s, layer.rows_of(x.shape))
    P, N = layer.plan.w_planes, layer.plan.n
    if layer.conv is None:
        qv = q.reshape(P, N, -1).transpose(2, 0, 1)
        view = y.reshape(-1, N)
    else:
        qv = q.reshape(P, N, out_shape[0], -1).transpose(2, 0, 1, 3)
        view = y.reshape(out_shape[0], N, -1)
    fastpath.finish(qv, layer.scales, s, layer.alpha, layer.bias, view, channels_first=layer.conv is not None,
                    zero_sign=layer.zero_sign, threads=threads)
    return y, CallRecord(levels, s, layer.rows_of(x.shape))


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
            q = q.reshape(P, N, out_shape[0], -1).transpose(2, 0, 1, 3)
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
        q = q.T.reshape(P, N, out_shape[0], -1).transpose(2, 0, 1, 3)
    return finish(layer, q, s, out_shape, threads), CallRecord(levels, s, layer.rows_of(x.shape))
