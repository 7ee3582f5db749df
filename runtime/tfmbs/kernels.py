"""numba kernels of the fast path: levels, channels-last im2col and the fused epilogue.

Each kernel is serial and releases the GIL (`nogil`); `fastpath.run_rows` splits the rows of
a call over the cores with Python threads, which sleep when idle. (numba's own `prange`
runs on an OpenMP pool whose threads spin after every parallel region, and a spinning
thread halves the speed of the onnxruntime product that runs next.)

- `levels(x, s, out)` (int8) and `levels_u8(x, s, out)` (uint8 q + 128): q = rint(fl64(x / s)).
  A float64 division costs ~8x a multiplication, so the quotient is first taken as
  x * (1/s): fl(x * fl(1/s)) is within 3 ulp of fl(x / s) (|error| < 1e-13 for
  |x / s| <= 121.5), so rint of either is the same unless the product lies within 1e-9 of a
  half-integer: a block with such an element is redone with the division itself.
  (No fastmath: LLVM must not reassociate or contract anything.)
- `im2col_cl(xq, geometry, out, m0, m1)`: rows m0..m1 of the patches of channels-last
  uint8 levels xq [B, H, W, C]: out[m, (kh*KW + kw)*C + c], padding = 128 (level 0).
- `epilogue_rows(q, ws, s, alpha, bias, zero_sign, residual, relu, out, m0, m1)`: products
  q [M, P*N] (int32, plane-major columns) -> out [M, N] float32,
  y = float32((((Q_0 ws_0 (+ 0.0)) + Q_1 ws_1 + ...) * s (* alpha)) + b) in float64, exactly
  `host_ops.epilogue`'s steps; then the layer's post: y = float32(y + residual[m, n]),
  y = np.maximum(y, 0) (-0.0 becomes +0.0, a NaN stays). Returns the max and min of what it
  wrote (NaN if it wrote a NaN), taken on the row while it is in L1 as integer order keys of
  the float32 bits: the next layer's activation scale needs no pass of its own.
- `patches(x, s, geometry, out, m0, m1)`: `im2col_cl` of the levels of float32 x, quantised
  while copied (one pass over the input instead of two).

Inner loops run over one contiguous row or block in a function of their own: LLVM then
vectorises them (a loop bounded by min(n, a + BLOCK) inside the block loop was 3x slower).

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
BLOCK = 1 << 12  # elements per tie check of `levels`


@functools.cache
def _k():
    """The compiled kernels (numba imported here, on first use)."""
    from tsuc.runtime.tfmbs import kernels_jit

    return SimpleNamespace(levels=kernels_jit.levels, im2col_cl=kernels_jit.im2col_cl, patches=kernels_jit.patches,
                           epilogue_rows=kernels_jit.epilogue_rows)


def levels(flat: np.ndarray, s: float, out: np.ndarray) -> None:
    """int8 q of float32 `flat` into `out`."""
    _k().levels(flat, np.float64(s), out, 0)


def levels_u8(flat: np.ndarray, s: float, out: np.ndarray) -> None:
    """uint8 q + 128 of float32 `flat` into `out` (the products' zero point is 128)."""
    _k().levels(flat, np.float64(s), out, 128)


def im2col_cl(xq: np.ndarray, conv: dict[str, list[int]], oh: int, ow: int, out: np.ndarray, m0: int, m1: int) -> None:
    (kh, kw), (sh, sw), pads, (dh, dw) = conv["kernel_shape"], conv["strides"], conv["pads"], conv["dilations"]
    _k().im2col_cl(xq, kh, kw, sh, sw, pads[0], pads[1], dh, dw, oh, ow, out, m0, m1)


NO_RESIDUAL = np.zeros((1, 1), np.float32)


def patches(x: np.ndarray, s: float, conv: dict[str, list[int]], oh: int, ow: int, out: np.ndarray, m0: int, m1: int) -> None:
    """Rows m0..m1 of the channels-last patches of the levels (uint8 q + 128) of float32
    x [B, H, W, C] at scale s: `im2col_cl` of `levels_u8`, in one pass."""
    (kh, kw), (sh, sw), pads, (dh, dw) = conv["kernel_shape"], conv["strides"], conv["pads"], conv["dilations"]
    _k().patches(x, np.float64(s), kh, kw, sh, sw, pads[0], pads[1], dh, dw, oh, ow, out, m0, m1)


def _from_key(k: int) -> float:
    b = np.int32(k)
    return float(np.array([b ^ ((b >> 31) & 0x7FFFFFFF)], np.int32).view(np.float32)[0])


def epilogue_rows(q: np.ndarray, ws: np.ndarray, s: float, alpha: float, bias: np.ndarray, zero_sign: bool,
                  residual: np.ndarray | None, relu: bool, out: np.ndarray, m0: int, m1: int) -> tuple[float, float]:
    """Rows m0..m1 of the fused epilogue (see the module docstring); ws [P, N] and bias [N]
    float64, residual [M, N] float32 or None. Returns (max, min) of the rows written (max NaN
    if a NaN was written)."""
    if m1 <= m0:
        return -np.inf, np.inf
    hi, lo = _k().epilogue_rows(q, ws, np.float64(s), np.float64(alpha), alpha != 1.0, bias, zero_sign,
                                NO_RESIDUAL if residual is None else residual, residual is not None, relu, out,
                                out.view(np.int32), m0, m1)
    top, bottom = _from_key(hi), _from_key(lo)
    if np.isnan(top) or np.isnan(bottom):
        return np.nan, np.nan
    return top, bottom


def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel now, on tiny arrays."""
    if not AVAILABLE:
        return
    x = np.array([0.5, -1.0, 2.0], np.float32)
    levels(x, 1.0, np.empty(3, np.int8))
    levels_u8(x, 1.0, np.empty(3, np.uint8))
    conv = {"kernel_shape": [1, 1], "strides": [1, 1], "pads": [0, 0, 0, 0], "dilations": [1, 1]}
    im2col_cl(np.zeros((1, 1, 1, 1), np.uint8), conv, 1, 1, np.empty((1, 1), np.uint8), 0, 1)
    patches(np.zeros((1, 1, 1, 1), np.float32), 1.0, conv, 1, 1, np.empty((1, 1), np.uint8), 0, 1)
    ws, b = np.ones((1, 1), np.float64), np.zeros(1, np.float64)
    for res in (None, np.zeros((2, 1), np.float32)):
        epilogue_rows(np.zeros((2, 1), np.int32), ws, 1.0, 1.0, b, False, res, False, np.empty((2, 1), np.float32), 0, 2)
