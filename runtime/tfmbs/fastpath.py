"""The fast path of a tfmbs layer: the fabric's numbers, computed in bulk on the host CPU.

A layer's output is fixed bit for bit by the formula in `actquant` (levels q, scale s) and
the epilogue in `host_ops`: y = float32((sum_p Q_p * wscale[p]) * s (* alpha) + bias) in
float64, with Q_p = W_trits[p] @ q exact integers. Nothing in it depends on how Q is
computed, so this module computes it the fastest exact way it can (`fastrun.run_int8`
strings the pieces together):

- **scale**: max|x| / L from the largest magnitude the value's maker recorded
  (`values.Values.abs_max`: the fused epilogue does), or, for a segment input, from one
  pass over its bits (`kernels.abs_max`); `act_scale` (max and min in chunks over threads)
  where numba's kernels are not used. The fused epilogue also makes the levels of its
  output for the next reader (`kernels.epilogue_levels`).
- **levels** (`levels_u8`): q = rint(fl64(x / s)) stored as uint8 q + 128, for act_trits <= 5
  (|q| <= 121), numba's `kernels.levels_u8` on blocks over threads. No clip is needed: with
  s = fl(M / L) and M = max|x|, |x| / s <= M / s = L / (1 + d) with |d| <= 2^-53, so
  fl(|x| / s) < L + 1/2 and rint gives at most L.
- **products** (`IntProducts`): Q for every weight plane at once, by onnxruntime's 8-bit
  integer GEMM (`MatMulInteger`: the uint8 levels, zero point 128, channels-last patches for
  a convolution, against the int8 trits, which onnxruntime packs once). Integer arithmetic
  in int32: exact while K * 255 * 128 < 2^31, checked (`int8_exact`). Layers that do not
  qualify (act_trits > 5, or no numba) take the executor's BLAS path.
- **epilogue**: numba's `kernels.epilogue_rows` (the int8 path, fused with the layer's post)
  or `finish` (the BLAS and wrapped paths): the float64 steps of `host_ops.epilogue` on
  chunks that stay in L2, spread over threads. The `+ 0.0` of the formula only changes the
  sign of a zero, and that sign survives to the output only through a bias entry of -0.0
  (x + b is x-independent for b != 0, and +0 + +0 == -0 + +0): both skip it unless the
  layer has such an entry.

The numba kernels split their rows over numba's threads (`kernels`); the numpy steps over
one pool of Python threads (`run_tasks`: numpy releases the GIL, idle workers sleep). The onnxruntime sessions use the same
number of intra-op threads and do not spin after a run (the next step needs those cores).
"""

from __future__ import annotations

import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence

import numpy as np

from tsuc.errors import TsucError
from tsuc.runtime.tfmbs import actquant, host_ops, kernels

CHUNK = 1 << 17  # elements per chunk: its float64 scratch (1 MiB) stays in L2
PARALLEL_TASKS = 4  # fewer tasks than this run on the calling thread: waking a worker costs ~25 us
INT8_MAX_ACT_TRITS = 5  # L = 121: q + 128 fits in uint8
INT32_MAX = (1 << 31) - 1
LEVEL_ZERO = 128  # the products' uint8 zero point: a level q is stored as q + 128


def cpu_threads() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


_local = threading.local()


def scratch(n: int, slot: int = 0, dtype: Any = np.float64) -> np.ndarray:
    """This thread's work buffer `slot` of n elements (reused: no allocation, no page
    faults, warm in this core's cache; n is at most CHUNK unless one row is longer)."""
    bufs = getattr(_local, "bufs", None)
    if bufs is None:
        bufs = _local.bufs = {}
    key = (slot, np.dtype(dtype).char)
    buf = bufs.get(key)
    if buf is None or buf.size < n:
        buf = bufs[key] = np.empty(max(n, CHUNK), dtype)
    return buf[:n]


@functools.cache
def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tsuc-tfmbs")


def run_tasks(tasks: Sequence[Callable[[], None]], threads: int) -> None:
    """Run independent tasks on `threads` threads (the caller's thread is one of them); a
    few tasks run on the caller's thread alone."""
    if threads <= 1 or len(tasks) < PARALLEL_TASKS:
        for t in tasks:
            t()
        return
    n = min(threads, len(tasks))

    def share(i: int) -> None:
        for t in tasks[i::n]:
            t()

    futures = [_pool(cpu_threads()).submit(share, i) for i in range(1, n)]
    try:
        share(0)
    finally:
        for f in futures:
            f.result()  # re-raises a worker's exception


# -- levels ----------------------------------------------------------------------------------

def int8_levels_fit(act_trits: int) -> bool:
    return 1 <= act_trits <= INT8_MAX_ACT_TRITS


def act_scale(flat: np.ndarray, act_trits: int, threads: int) -> float:
    """`actquant.act_scale` of float32 `flat`, its max and min taken in chunks over threads."""
    spans = [(a, min(a + CHUNK, flat.size)) for a in range(0, flat.size, CHUNK)]
    if act_trits == 1 or not spans:
        return actquant.act_scale(flat, act_trits)  # the mean of act_trits=1 is not chunked: its rounding depends on the order
    hi = np.empty(len(spans), np.float32)
    lo = np.empty(len(spans), np.float32)

    def extremes(i: int, a: int, b: int) -> Callable[[], None]:
        def run() -> None:
            hi[i], lo[i] = np.max(flat[a:b]), np.min(flat[a:b])
        return run

    run_tasks([extremes(i, a, b) for i, (a, b) in enumerate(spans)], threads)
    return actquant.scale_from_extremes(np.max(hi), np.min(lo), act_trits)  # NaN propagates


def levels_u8(flat: np.ndarray, act_trits: int, s: float, threads: int, out: np.ndarray | None = None) -> np.ndarray:
    """uint8 q + 128 of float32 `flat` at scale s (into `out` if given), as
    `actquant.quantize` gives q (numba's `kernels.levels_u8` on blocks over threads;
    act_trits = 1 is numpy's sign)."""
    if not int8_levels_fit(act_trits):
        raise TsucError(f"act_trits={act_trits} levels do not fit in 8 bits (at most {INT8_MAX_ACT_TRITS} trits)")
    if out is None:
        out = np.empty(flat.shape, np.uint8)
    if act_trits == 1:
        np.add(np.sign(flat), LEVEL_ZERO, out=out, casting="unsafe")
    else:
        kernels.levels_u8(flat, s, out, threads)
    return out


def as_levels(u8: np.ndarray) -> np.ndarray:
    """int8 q from the stored uint8 q + 128 (a bit flip)."""
    return (u8 ^ np.uint8(LEVEL_ZERO)).view(np.int8)


def levels_i8(x: np.ndarray, act_trits: int, threads: int) -> tuple[np.ndarray, float]:
    """(int8 levels q of x's shape, scale s), as `actquant.quantize` of float32 x gives them."""
    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    s = act_scale(flat, act_trits, threads)
    return as_levels(levels_u8(flat, act_trits, s, threads)).reshape(np.shape(x)), s


# -- epilogue --------------------------------------------------------------------------------

def has_negative_zero(bias: np.ndarray) -> bool:
    return bool(np.any((bias == 0) & np.signbit(bias)))


def finish(q: np.ndarray, wscales: np.ndarray, act_scale: float, alpha: float, bias: np.ndarray,
           out: np.ndarray, *, channels_first: bool, zero_sign: bool, threads: int) -> None:
    """out = float32 epilogue of the exact plane products q, in place.

    channels_first: q [B, P, N, R] (any strides), out [B, N, R] float32; otherwise
    q [M, P, N] and out [M, N]. wscales [P, N] and bias [N] float32. Same float64 steps, in
    the same order, as `host_ops.epilogue`.
    """
    P = q.shape[1]
    ws = np.asarray(wscales, np.float64)
    b = np.asarray(bias, np.float64)
    bits = np.asarray(bias, np.float32).view(np.int32)
    uniform = bits.size > 0 and bool(np.all(bits == bits[0]))  # one bias value (e.g. none, all +0.0)
    b0 = np.float64(b[0]) if uniform else None
    if channels_first:
        ws, b = ws[:, :, None], b[:, None]
        batch, n, r = out.shape
        per = max(1, CHUNK // max(1, r))
        spans = [((i,), slice(n0, min(n0 + per, n))) for i in range(batch) for n0 in range(0, n, per)]
    else:
        m, n = out.shape
        per = max(1, CHUNK // max(1, n))
        spans = [((slice(m0, min(m0 + per, m)),), slice(None)) for m0 in range(0, m, per)]
    s64, a64 = np.float64(act_scale), np.float64(alpha)

    def task(lead: tuple[Any, ...], ns: slice) -> Callable[[], None]:
        def run() -> None:
            # Casts are separate copies and the arithmetic is in place on float64: numpy's
            # casting (buffered) loops are about 3x slower than either.
            dst = out[lead + (ns,)]
            y = scratch(dst.size).reshape(dst.shape)
            np.copyto(y, q[lead + (0, ns)])  # exact: integers below 2^24
            y *= ws[0, ns]
            if zero_sign:
                y += 0.0
            for p in range(1, P):
                t = scratch(dst.size, 1).reshape(dst.shape)
                np.copyto(t, q[lead + (p, ns)])
                t *= ws[p, ns]
                y += t
            y *= s64
            if alpha != 1.0:
                y *= a64
            if uniform:  # adding one scalar is the same sum, and 3x faster than broadcasting a column
                y += b0
            else:
                y += b[ns]
            np.copyto(dst, y, casting="same_kind")  # rounded once to float32
        return run

    run_tasks([task(lead, ns) for lead, ns in spans], threads)


# -- integer products on onnxruntime ----------------------------------------------------------

def int8_exact(k: int) -> bool:
    """True when onnxruntime's uint8 x int8 sums of K terms cannot leave int32."""
    return k * 255 * 128 <= INT32_MAX


PRODUCTS_WEIGHT = "w"  # the weight initializer of a layer's stored products graph, bound at load


def product_weights(trits: np.ndarray, conv_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """trits [P, N, K] as uint8 trits + 1 (zero point 1): [P*N, K], or [P*N, C, KH, KW] for a
    convolution (the fused graph's ConvInteger weights)."""
    P, N, K = trits.shape
    w = (trits.reshape(P * N, K) + np.int8(1)).view(np.uint8)
    return w.reshape(P * N, *conv_shape) if conv_shape is not None else w


def row_weights(trits: np.ndarray, conv_shape: tuple[int, int, int] | None = None) -> np.ndarray:
    """trits [P, N, K] as the products graph's int8 B [K, P*N]. For a convolution
    (conv_shape = (C, KH, KW)) the rows of B follow the channels-last patches of
    `kernels.im2col_cl`, (kh, kw, c), instead of the weights' (c, kh, kw)."""
    P, N, K = trits.shape
    if conv_shape is None:
        return np.ascontiguousarray(trits.reshape(P * N, K).T)
    c, kh, kw = conv_shape
    return np.ascontiguousarray(trits.reshape(P * N, c, kh, kw).transpose(2, 3, 1, 0).reshape(K, P * N))


class IntProducts:
    """One layer's exact integer products on onnxruntime, every weight plane at once:
    Q [M, P*N] = A [M, K] @ B [K, P*N], rows like the fabric's input rows.

    The graph is the compiler's (`tsuc.targets.tfmbs.emit.products_model`, stored per layer in
    the artifact): `MatMulInteger` with A = the levels q + 128 as uint8 (zero point 128; the
    channels-last patches of a convolution) and B = the weight trits as int8 (`row_weights`,
    unpacked from the PT-5 stream and bound here; onnxruntime packs a constant B once, at
    session creation). uint8 x int8 is what x86 VNNI (vpdpbusd) multiplies in one
    instruction; without VNNI MLAS uses vpmaddubsw, which saturates a pair of products at
    2^15, far above 2 * 249 here. M is symbolic in the graph, so one session serves every
    batch; returns int32 [M, P*N].
    """

    def __init__(self, model: bytes, weights: np.ndarray, threads: int) -> None:
        import onnxruntime as ort

        k = weights.shape[0]
        if not int8_exact(k):
            raise TsucError(f"a reduction of K={k} could overflow onnxruntime's int32 integer products")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        self._w = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(weights))
        opts.add_external_initializers([PRODUCTS_WEIGHT], [self._w])
        self._session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        self._binding: Any = None
        self._bound: tuple[Any, Any] = (None, None)

    def __call__(self, a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Q of uint8 A [M, K] (C order): a new array, or written into `out` (int32 [M, P*N], C
        order)."""
        if out is None:
            return self._session.run(None, {"x": a})[0]
        if self._binding is None:
            self._binding = self._session.io_binding()
        # the fast path passes the same per-layer arrays call after call: bind them once
        key_a, key_out = (a.ctypes.data, a.shape), (out.ctypes.data, out.shape)
        if key_a != self._bound[0]:
            self._bound_a = a  # the binding does not keep the array alive
            self._binding.bind_input("x", "cpu", 0, np.uint8, list(a.shape), a.ctypes.data)
        if key_out != self._bound[1]:
            self._bound_out = out
            self._binding.bind_output("q", "cpu", 0, np.int32, list(out.shape), out.ctypes.data)
        self._bound = (key_a, key_out)
        self._session.run_with_iobinding(self._binding)
        return out
