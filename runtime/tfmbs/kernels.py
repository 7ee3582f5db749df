"""numba kernels of the fast path: levels, channels-last im2col and the fused epilogue.

Each kernel is a serial numba function that releases the GIL (`nogil`), and a `prange`
wrapper over `nb` row blocks (`_blocks`: one per thread from `SPLIT_MIN` elements of work) in
`kernels_jit`. numba's OpenMP pool is asked for passive waits (see `_k`): a thread spinning
after a parallel region halves the speed of the onnxruntime product that runs next.

- `levels_u8(x, s, out)`: q = rint(fl64(x / s)), stored as uint8 q + 128.
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
  y = np.maximum(y, 0) (-0.0 becomes +0.0, a NaN stays). Returns max|y| of what it wrote (NaN
  if it wrote a NaN), taken on the block while it is in L1 as an integer max of the float32
  bits without their sign: the next layer's activation scale (max|x| / L) needs no pass of
  its own. Rows are made in blocks of about `BLOCK_ELEMENTS` in an L1 scratch, then copied:
  with one weight plane the output may overwrite the products in place, and its cache
  lines are then the ones just read. In the common case (one plane, no alpha, no -0.0 bias)
  a block is one flat loop against the scales and bias repeated per row.
- `epilogue_levels(...)`: the same, then, in the same kernel call, the levels of its output
  for the layer that reads it next (at the scale that layer would take): each thread
  quantises the rows it has just written, and the reader finds its levels made
  (`values.Values.levels`).
- `nhwc_from_nchw(x, out)`: a segment input's uint8 levels made channels-last.
- `abs_max(x)`: max|x| of a segment input (for its scale), one pass over the bits.

Inner loops run over one contiguous row or block in a function of their own: LLVM then
vectorises them (a loop bounded by min(n, a + BLOCK) inside the block loop was 3x slower).

Compiled on first use (cached on disk by numba); `warm_up()` compiles them at load time so
the first run does not pay for it.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import struct
from types import SimpleNamespace

import numpy as np

from tsuc.runtime.tfmbs import actquant

AVAILABLE = importlib.util.find_spec("numba") is not None  # imported on first use: compiles need not pay for it
TIE_BAND = 1e-9  # |frac(x * r)| this close to 0.5: decide by the true division
BLOCK = 1 << 12  # elements per tie check of `levels`
BLOCK_ELEMENTS = 2048  # elements per scratch block of the epilogue (whole rows: 8 KiB of float32, in L1)


INF_BITS = 0x7F800000  # float32 +inf's bits: |x|'s bits above it are a NaN's
SPLIT_MIN = 1 << 14  # elements of work below which a kernel runs serially on the calling thread (a launch wakes the other core)


@functools.cache
def _k():
    """The compiled kernels (numba imported here, on first use)."""
    # numba's parallel kernels run on an OpenMP pool; libgomp's default wait spins a thread
    # for a while after every parallel region, on the core the next onnxruntime product needs
    # (measured: 53 products 19 ms alone, 42 ms with a spinning region between them, 2.6 ms
    # per launch when another process holds a core). Passive waits cost ~10 us per launch.
    # Read once, when libgomp is loaded: a value the user set wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import numba

    from tsuc.runtime.tfmbs import kernels_jit

    return SimpleNamespace(numba=numba, jit=kernels_jit)


def _blocks(work: int, rows: int, threads: int) -> int:
    """How many row blocks (one per thread) a kernel with `work` elements over `rows` rows gets.
    A parallel kernel runs `prange(nb)`, so at most nb threads of numba's pool work on it
    (setting numba's thread count on every call cost ~20 us, a third of a small kernel)."""
    return max(1, min(threads, rows, work // SPLIT_MIN, _k().numba.config.NUMBA_NUM_THREADS))


def levels_u8(flat: np.ndarray, s: float, out: np.ndarray, threads: int = 1) -> None:
    """uint8 q + 128 of float32 `flat` into `out` (the products' zero point is 128)."""
    k = _k().jit
    nb = _blocks(flat.size, flat.size, threads)
    if nb == 1:
        k.levels(flat, np.float64(s), out)
    else:
        k.levels_par(flat, np.float64(s), out, nb)


def abs_max(flat: np.ndarray, threads: int = 1) -> float:
    """max|x| of float32 `flat` in one pass over its bits (NaN if it holds a NaN, 0.0 if empty):
    the scale of a segment input, whose maker recorded none."""
    if flat.size == 0:
        return 0.0
    k = _k().jit
    bits = flat.view(np.int32)
    nb = _blocks(flat.size, flat.size, threads)
    return _as_float(k.abs_max_bits(bits, np.int32(0)) if nb == 1 else k.abs_max_bits_par(bits, nb))


def _geometry(conv: dict[str, list[int]]) -> tuple[int, ...]:
    (kh, kw), (sh, sw), pads, (dh, dw) = conv["kernel_shape"], conv["strides"], conv["pads"], conv["dilations"]
    return kh, kw, sh, sw, pads[0], pads[1], dh, dw


def im2col_cl(xq: np.ndarray, conv: dict[str, list[int]], oh: int, ow: int, out: np.ndarray, threads: int = 1) -> None:
    """The channels-last patches [M, KH*KW*C] of uint8 levels xq [B, H, W, C] into `out`."""
    k = _k().jit
    nb = _blocks(out.size, out.shape[0], threads)
    if nb == 1:
        k.im2col_cl(xq, *_geometry(conv), oh, ow, out, 0, out.shape[0])
    else:
        k.im2col_cl_par(xq, *_geometry(conv), oh, ow, out, nb)


FEW_CHANNELS = 16  # below this many channels numba's transpose beats numpy's strided copy


def nhwc_from_nchw(x: np.ndarray, out: np.ndarray) -> None:
    """out [B, H, W, C] = x [B, C, H, W] (both C-contiguous, same dtype)."""
    if x.shape[1] < FEW_CHANNELS:
        _k().jit.nhwc_from_nchw(x, out)
    else:
        np.copyto(out, x.transpose(0, 2, 3, 1))


NO_RESIDUAL = np.zeros((1, 1), np.float32)


def _epilogue_args(q, ws, s, alpha, bias, zero_sign, residual, relu, out) -> tuple:
    return (q, ws, np.float64(s), np.float64(alpha), alpha != 1.0, bias, zero_sign,
            NO_RESIDUAL if residual is None else residual, residual is not None, relu, out)


def _as_float(top: int) -> float:
    """max|y| from the kernels' int32 bits of it (NaN above +inf's bits)."""
    if top > INF_BITS:
        return float("nan")
    return struct.unpack("<f", struct.pack("<i", top))[0]


def epilogue_rows(q: np.ndarray, ws: np.ndarray, s: float, alpha: float, bias: np.ndarray, zero_sign: bool,
                  residual: np.ndarray | None, relu: bool, out: np.ndarray, threads: int = 1) -> float:
    """The fused epilogue (see the module docstring) of q [M, P*N] into out: rows [M, N] (q's
    own memory viewed as float32 may be `out` when P = 1), or NCHW [B, N, R] with M = B*R (a
    convolution's output that is read as NCHW); ws [P, N] and bias [N] float64, residual
    [M, N] float32 (channels-last) or None. Returns max|out| (NaN if out holds a NaN, 0.0 if
    it is empty)."""
    m = q.shape[0]
    if m == 0:
        return 0.0
    k = _k().jit
    args = _epilogue_args(q, ws, s, alpha, bias, zero_sign, residual, relu, out)
    nb = _blocks(q.size, m, threads)
    if out.ndim == 3:
        top = k.epilogue_rows_nchw(*args, 0, m) if nb == 1 else k.epilogue_rows_nchw_par(*args, nb)
    else:
        top = k.epilogue_rows(*args, 0, m) if nb == 1 else k.epilogue_rows_par(*args, nb)
    return _as_float(top)


def epilogue_levels(q: np.ndarray, ws: np.ndarray, s: float, alpha: float, bias: np.ndarray, zero_sign: bool,
                    residual: np.ndarray | None, relu: bool, out: np.ndarray, act_trits: int, u8: np.ndarray,
                    threads: int = 1) -> tuple[float, float | None]:
    """`epilogue_rows` into rows out [M, N], then, in the same kernel call (each thread on the
    rows it has just written), the uint8 levels of out for a reader with `act_trits` > 1 into
    u8 [M*N], at the scale max|out| / L that reader would take. Returns (max|out|, that scale),
    or (max|out|, None) when max|out| is 0, infinite or NaN (u8 is then not written: the
    reader quantises as usual, and a NaN is its error)."""
    m = q.shape[0]
    if m == 0:
        return 0.0, None
    k = _k().jit
    args = _epilogue_args(q, ws, s, alpha, bias, zero_sign, residual, relu, out)
    top, s2 = k.epilogue_levels(*args, np.float64(actquant.levels(act_trits)), u8, _blocks(q.size, m, threads))
    return _as_float(top), (float(s2) if s2 > 0.0 else None)


def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel now, on tiny arrays, serial and parallel."""
    if not AVAILABLE:
        return
    k = _k().jit
    x = np.array([0.5, -1.0, 2.0], np.float32)
    u8 = np.empty(3, np.uint8)
    k.levels(x, 1.0, u8)
    k.levels_par(x, 1.0, u8, 1)
    k.abs_max_bits(x.view(np.int32), np.int32(0))
    k.abs_max_bits_par(x.view(np.int32), 1)
    g = (1, 1, 1, 1, 0, 0, 1, 1, 1, 1)
    xq, a = np.zeros((1, 1, 1, 1), np.uint8), np.empty((1, 1), np.uint8)
    k.im2col_cl(xq, *g, a, 0, 1)
    k.im2col_cl_par(xq, *g, a, 1)
    k.nhwc_from_nchw(xq, xq)
    ws, b, y = np.ones((1, 1), np.float64), np.zeros(1, np.float64), np.empty((2, 1), np.float32)
    args = (np.zeros((2, 1), np.int32), ws, 1.0, 1.0, False, b, False, NO_RESIDUAL, False, False)
    k.epilogue_rows(*args, y, 0, 2)
    k.epilogue_rows_par(*args, y, 1)
    k.epilogue_levels(*args, y, 1.0, np.empty(2, np.uint8), 1)  # compiles both branches (serial, parallel)
    y3 = y.reshape(1, 1, 2)
    k.epilogue_rows_nchw(*args, y3, 0, 2)
    k.epilogue_rows_nchw_par(*args, y3, 1)
