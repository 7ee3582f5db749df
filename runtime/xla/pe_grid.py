"""A slow, step-by-step simulator of the systolic array's PE grid: the reference for `systolic.py`.

Registers move one PE per cycle; each PE does one multiply-accumulate per cycle. It shares no
code with the analytical model: no fold formula, no fill/drain arithmetic, only registers,
tags saying which operand index a register holds, and counters. A fold ends when its last
result is complete (output-stationary: every PE has accumulated K products) or has left the
bottom of the array (weight/input-stationary). Like SCALE-Sim, a fold uses the whole R x C
array (unused PEs see zeros) and the total is counted from cycle 0 (one less than the sum).

  os: A's rows on array rows, B's columns on array columns, K streams through; A enters from
      the left skewed by row, B from the top skewed by column.
  ws: B (K x N) is loaded into the array from the top, one row per cycle (R cycles); A's rows
      stream from the left skewed by array row; partial sums move down and leave at the bottom.
  is: A^T (K x M) is stationary and B^T streams: the same array computing Y^T = B^T A^T.

Per-cycle Python loops: for tests on small GEMMs only.
"""

from __future__ import annotations

import numpy as np


def _os_fold(a: np.ndarray, b: np.ndarray, rows: int, cols: int) -> tuple[np.ndarray, int]:
    """a [rows, K], b [K, cols] (zero-padded to the array); returns (a @ b, cycles)."""
    k = a.shape[1]
    acc = np.zeros((rows, cols))
    done = np.zeros((rows, cols), dtype=np.int64)
    a_val, a_tag = np.zeros((rows, cols)), np.full((rows, cols), -1)
    b_val, b_tag = np.zeros((rows, cols)), np.full((rows, cols), -1)
    r_idx, c_idx = np.arange(rows), np.arange(cols)
    t = 0
    while not np.all(done == k):
        a_val[:, 1:], a_tag[:, 1:] = a_val[:, :-1].copy(), a_tag[:, :-1].copy()
        b_val[1:, :], b_tag[1:, :] = b_val[:-1, :].copy(), b_tag[:-1, :].copy()
        ka, kb = t - r_idx, t - c_idx  # the operand index entering each row / column this cycle
        ok_a, ok_b = (ka >= 0) & (ka < k), (kb >= 0) & (kb < k)
        a_val[:, 0] = np.where(ok_a, a[r_idx, np.clip(ka, 0, k - 1)], 0.0)
        a_tag[:, 0] = np.where(ok_a, ka, -1)
        b_val[0, :] = np.where(ok_b, b[np.clip(kb, 0, k - 1), c_idx], 0.0)
        b_tag[0, :] = np.where(ok_b, kb, -1)
        valid = (a_tag >= 0) & (b_tag >= 0)
        if np.any(valid & (a_tag != b_tag)):
            raise AssertionError("operands of different k met in a PE: the skew is wrong")
        acc += np.where(valid, a_val * b_val, 0.0)
        done += valid
        t += 1
    return acc, t


def _stationary_fold(stat: np.ndarray, stream: np.ndarray, rows: int, cols: int) -> tuple[np.ndarray, int]:
    """stat [rows, cols] held in the PEs, stream [T, rows] entering from the left.

    Returns (out [T, cols] with out[t, c] = sum_r stream[t, r] * stat[r, c], cycles)."""
    cycles = 0
    w = np.zeros((rows, cols))
    for step in range(rows):  # load: the bottom row's values enter first and shift down
        w[1:, :] = w[:-1, :].copy()
        w[0, :] = stat[rows - 1 - step]
        cycles += 1
    if not np.array_equal(w, stat):
        raise AssertionError("stationary operand not in place after loading")
    length = stream.shape[0]
    a_val, a_tag = np.zeros((rows, cols)), np.full((rows, cols), -1)
    p_val, p_tag = np.zeros((rows, cols)), np.full((rows, cols), -1)
    out = np.zeros((length, cols))
    seen = np.zeros((length, cols), dtype=bool)
    r_idx = np.arange(rows)
    t = 0
    while not seen.all():
        a_val[:, 1:], a_tag[:, 1:] = a_val[:, :-1].copy(), a_tag[:, :-1].copy()
        m = t - r_idx
        ok = (m >= 0) & (m < length)
        a_val[:, 0] = np.where(ok, stream[np.clip(m, 0, length - 1), r_idx], 0.0)
        a_tag[:, 0] = np.where(ok, m, -1)
        above_val = np.vstack([np.zeros((1, cols)), p_val[:-1]])
        above_tag = np.vstack([a_tag[:1], p_tag[:-1]])  # row 0 starts a fresh partial sum
        if np.any((a_tag >= 0) & (above_tag != a_tag)):
            raise AssertionError("a partial sum met an input of another row of the stream")
        p_val = above_val + a_val * w
        p_tag = a_tag.copy()
        leaving = p_tag[rows - 1]
        for c in np.nonzero(leaving >= 0)[0]:
            out[leaving[c], c] = p_val[rows - 1, c]
            seen[leaving[c], c] = True
        t += 1
        cycles += 1
    return out, cycles


def _pad(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    out = np.zeros(shape)
    out[: x.shape[0], : x.shape[1]] = x
    return out


def simulate_gemm(a: np.ndarray, b: np.ndarray, rows: int, cols: int, dataflow: str) -> tuple[np.ndarray, int]:
    """(A @ B, total cycles counted from 0) for A [M, K], B [K, N] on a rows x cols array."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    m, k = a.shape
    n = b.shape[1]
    y = np.zeros((m, n))
    total = 0
    if dataflow == "os":
        for i in range(0, m, rows):
            for j in range(0, n, cols):
                acc, cyc = _os_fold(_pad(a[i:i + rows], (rows, k)), _pad(b[:, j:j + cols], (k, cols)), rows, cols)
                y[i:i + rows, j:j + cols] = acc[: min(rows, m - i), : min(cols, n - j)]
                total += cyc
    elif dataflow in ("ws", "is"):
        stat_full, stream_full = (b, a) if dataflow == "ws" else (a.T, b.T)  # [K, S], [T, K]
        out = np.zeros((stream_full.shape[0], stat_full.shape[1]))
        for i in range(0, k, rows):
            for j in range(0, stat_full.shape[1], cols):
                stat = _pad(stat_full[i:i + rows, j:j + cols], (rows, cols))
                stream = _pad(stream_full[:, i:i + rows], (stream_full.shape[0], rows))
                part, cyc = _stationary_fold(stat, stream, rows, cols)
                out[:, j:j + cols] += part[:, : min(cols, stat_full.shape[1] - j)]
                total += cyc
        y = out if dataflow == "ws" else out.T
    else:
        raise ValueError(f"unknown dataflow {dataflow!r}")
    return y, total - 1
