"""One-pass numba kernels for the fast path's levels and epilogue (numpy otherwise).

The numpy fast path (`fastpath.levels_i8`, `fastpath.finish`) makes several passes over
float64 scratch per chunk; these kernels make one pass per step, on all cores (`prange`),
with the same float64 operations in the same order, so the bits are the same (the scale's
max and min stay numpy's: its SIMD max propagates NaN, a numba loop that does is 3x slower):

- `levels(x, s, out)`: q = rint(fl64(x / s)) as int8. A float64 division costs ~8x a
  multiplication, so the quotient is first taken as x * (1/s): fl(x * fl(1/s)) is within
  3 ulp of fl(x / s) (|error| < 1e-13 for |x / s| <= 121.5), so rint of either is the same
  unless the product lies within 1e-9 of a half-integer: a block with such an element is
  redone with the division itself.
  (No fastmath: LLVM must not reassociate or contract anything.)
- `epilogue_cf(q, ws, s, alpha, bias, zero_sign, out)`: channel-major products q [B, P*N, R]
  (int32, what ConvInteger returns) -> out [B, N, R] float32, and `epilogue_rows` for
  q [M, P*N] -> out [M, N]: y = float32((((Q_0 ws_0 (+ 0.0)) + Q_1 ws_1 + ...) * s (* alpha)) + b)
  in float64, exactly `host_ops.epilogue`'s steps.

Compiled on first use (cached on disk by numba); `warm_up()` compiles them at load time so
the first run does not pay for it.
"""

from __future__ import annotations

import functools
import importlib.util
from types import SimpleNamespace

import numpy as np

AVAILABLE = importlib.util.find_spec("numba") is not None  # imported on first use: compiles need not pay for it
TIE_BAND = 1e-9  # |frac(x * r)| this close to 0.5: decide by the true division


@functools.cache
def _k() -> SimpleNamespace:
    """The compiled kernels (numba imported here, on first use)."""
    import numba

    _jit = numba.njit(parallel=True, cache=True, nogil=True, error_model="numpy")
    _BLOCK = 1 << 15

    @_jit
    def _levels(x, s, out):  # pragma: no cover - compiled
        n = x.size
        r = 1.0 / s
        blocks = (n + _BLOCK - 1) // _BLOCK
        for b in numba.prange(blocks):
            a, e = b * _BLOCK, min(n, (b + 1) * _BLOCK)
            near = 0
            for i in range(a, e):  # branch-free: vectorised
                d = np.float64(x[i]) * r
                f = d - np.floor(d)
                near += (f > 0.5 - TIE_BAND) & (f < 0.5 + TIE_BAND)
                out[i] = np.int8(np.rint(d))
            if near:  # a quotient close to a tie in this block: the division decides there
                for i in range(a, e):
                    out[i] = np.int8(np.rint(np.float64(x[i]) / s))

    @_jit
    def _epilogue_cf(q, ws, s, alpha, use_alpha, bias, zero_sign, out):  # pragma: no cover - compiled
        B, _, R = q.shape
        P, N = ws.shape
        for t in numba.prange(B * N):
            b = t // N
            n = t - b * N
            y = np.empty(R, np.float64)
            w0 = ws[0, n]
            for i in range(R):
                y[i] = np.float64(q[b, n, i]) * w0
            if zero_sign:
                for i in range(R):
                    y[i] = y[i] + 0.0
            for p in range(1, P):
                wp = ws[p, n]
                for i in range(R):
                    y[i] = y[i] + np.float64(q[b, p * N + n, i]) * wp
            bn = bias[n]
            for i in range(R):
                v = y[i] * s
                if use_alpha:
                    v = v * alpha
                out[b, n, i] = np.float32(v + bn)

    @_jit
    def _epilogue_rows(q, ws, s, alpha, use_alpha, bias, zero_sign, out):  # pragma: no cover - compiled
        M = q.shape[0]
        P, N = ws.shape
        for m in numba.prange(M):
            y = np.empty(N, np.float64)
            for n in range(N):
                y[n] = np.float64(q[m, n]) * ws[0, n]
            if zero_sign:
                for n in range(N):
                    y[n] = y[n] + 0.0
            for p in range(1, P):
                for n in range(N):
                    y[n] = y[n] + np.float64(q[m, p * N + n]) * ws[p, n]
            for n in range(N):
                v = y[n] * s
                if use_alpha:
                    v = v * alpha
                out[m, n] = np.float32(v + bias[n])

    return SimpleNamespace(numba=numba, levels=_levels, epilogue_cf=_epilogue_cf, epilogue_rows=_epilogue_rows)


def levels(flat: np.ndarray, s: float, out: np.ndarray) -> None:
    _k().levels(flat, np.float64(s), out)


def epilogue(q: np.ndarray, ws: np.ndarray, s: float, alpha: float, bias: np.ndarray, zero_sign: bool, out: np.ndarray,
             channels_first: bool) -> None:
    """out = the float32 epilogue of q ([B, P*N, R] channel-major, or [M, P*N]); ws [P, N]
    and bias [N] as float64."""
    fn = _k().epilogue_cf if channels_first else _k().epilogue_rows
    fn(q, ws, np.float64(s), np.float64(alpha), alpha != 1.0, bias, zero_sign, out)


class threads:
    """`with threads(n):` numba's kernels use at most n threads inside."""

    def __init__(self, n: int) -> None:
        self.numba = _k().numba
        self.n = max(1, min(int(n), self.numba.config.NUMBA_NUM_THREADS))

    def __enter__(self) -> None:
        self.before = self.numba.get_num_threads()
        if self.n != self.before:
            self.numba.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        if self.n != self.before:
            self.numba.set_num_threads(self.before)


def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel now, on tiny arrays."""
    if not AVAILABLE:
        return
    x = np.array([0.5, -1.0, 2.0], np.float32)
    levels(x, 1.0, np.empty(3, np.int8))
    ws, b = np.ones((1, 1), np.float64), np.zeros(1, np.float64)
    epilogue(np.zeros((1, 1, 2), np.int32), ws, 1.0, 1.0, b, False, np.empty((1, 1, 2), np.float32), True)
    epilogue(np.zeros((2, 1), np.int32), ws, 1.0, 1.0, b, False, np.empty((2, 1), np.float32), False)
