"""Ternary weight quantisation for the Ternary Fabric: float W -> residual ternary planes.

The fabric multiplies trits only, so a float weight matrix W[N, K] (N output channels,
K reduction) becomes `planes` ternary matrices with one float scale per plane and output
channel:

    W ~ sum_p scales[p, :, None] * trits[p]        trits in {-1, 0, +1}

Plane p quantises the residual R_p = W - sum_{q<p} scales[q, :, None] * trits[q] that the
planes before it left over (using the float32 scales exactly as stored, so the residual is
what the artifact really misses). k planes cost k times the fabric frames; on a small MLP
two planes already bring post-training accuracy within about 2 points of float.

Methods, per output channel n of the residual R:
- `twn` (Ternary Weight Networks, Li & Liu 2016): delta = 0.7 * mean|R[n]|;
  t = sign(R) where |R| > delta, else 0; scale = mean |R| over the kept entries (0 if none).
- `sign` (the prototype's `torch.sign`): t = sign(R) (exact zeros stay 0);
  scale = mean |R[n]| over all K entries.
- `twn-opt`: the plane that minimises the L2 error ||R[n] - s t||^2 exactly. For a given
  support of k entries the best t is sign(R) there and the best s the mean |R| over it,
  leaving ||R[n]||^2 - (sum of the kept |R|)^2 / k; so the support is the k largest |R[n]|
  with k maximising (top-k sum)^2 / k (ties: the earlier index first). Sorting each row
  costs O(K log K). TWN's fixed 0.7 mean|R| threshold is close to this for a Gaussian first
  plane, but not for the residual planes, whose distribution is far from Gaussian.

Statistics are computed in float64 and the scales rounded once to float32, so the result
does not depend on summation order tricks of float32 reductions; the function is
deterministic and fully vectorised (one small loop over planes).

This module is numpy-only: the compiler's lowering, `tsuc.nn.TFMBSLinear` and the test
reference all call it, so every path quantises a given weight identically.
"""

from __future__ import annotations

import numpy as np

from tsuc.errors import TsucError

METHODS = ("twn", "sign", "twn-opt")
MAX_PLANES = 8
TWN_DELTA = 0.7


def quantize_weights(w: np.ndarray, method: str = "twn", planes: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Quantise W[N, K] into (trits[planes, N, K] int8 in {-1,0,1}, scales[planes, N] float32)."""
    if method not in METHODS:
        raise TsucError(f"weight quantisation method {method!r} is unknown (use one of {', '.join(METHODS)})")
    if isinstance(planes, bool) or not isinstance(planes, (int, np.integer)) or not 1 <= planes <= MAX_PLANES:
        raise TsucError(f"weight planes={planes!r} must be an integer from 1 to {MAX_PLANES}")
    arr = np.asarray(w)
    if arr.ndim != 2:
        raise TsucError(f"weight matrix to quantise must be 2-D [N, K], got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating) and not np.issubdtype(arr.dtype, np.integer):
        raise TsucError(f"weight matrix to quantise has non-numeric dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise TsucError("weight matrix to quantise contains NaN or infinite values")
    residual = arr.astype(np.float64)
    n, k = residual.shape
    trits = np.zeros((int(planes), n, k), dtype=np.int8)
    scales = np.zeros((int(planes), n), dtype=np.float32)
    for p in range(int(planes)):
        t, s = _one_plane(residual, method)
        trits[p] = t
        scales[p] = s
        if p + 1 < planes:
            residual = residual - s.astype(np.float64)[:, None] * t
    return trits, scales


def dequantize_weights(trits: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """The float32 matrix sum_p scales[p, :, None] * trits[p] the planes stand for."""
    trits = np.asarray(trits)
    scales = np.asarray(scales, dtype=np.float32)
    if trits.ndim != 3 or scales.shape != trits.shape[:2]:
        raise TsucError(f"ternary planes {trits.shape} and scales {scales.shape} do not match ([P, N, K] and [P, N])")
    return np.einsum("pn,pnk->nk", scales.astype(np.float64), trits.astype(np.float64)).astype(np.float32)


def _one_plane(r: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """One ternary plane of the float64 residual `r`: (int8 trits, float32 scale per row)."""
    mag = np.abs(r)
    if method == "twn":
        delta = TWN_DELTA * mag.mean(axis=1, keepdims=True) if r.shape[1] else np.zeros((r.shape[0], 1))
        keep = mag > delta
        count = np.count_nonzero(keep, axis=1)
        np.multiply(mag, keep, out=mag)  # |R| where kept, +0.0 elsewhere: the same sums as a where
        total = mag.sum(axis=1)
        scale = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
        trits = keep.view(np.int8).copy()  # int8 arithmetic: no float64 sign/where passes
        np.negative(trits, out=trits, where=r < 0)
        return trits, scale.astype(np.float32)
    elif method == "twn-opt":
        n, k = r.shape
        if k == 0:
            return np.zeros(r.shape, np.int8), np.zeros(n, np.float32)
        order = np.argsort(-mag, axis=1, kind="stable")  # largest first, ties by index
        top = np.take_along_axis(mag, order, axis=1).cumsum(axis=1)  # sum of the k largest, k = 1..K
        best = np.argmax(top * top / np.arange(1, k + 1), axis=1)  # first maximum: the smallest such support
        count = best + 1
        keep = np.zeros(r.shape, bool)
        np.put_along_axis(keep, order, np.arange(k)[None, :] < count[:, None], axis=1)
        keep &= mag > 0
        total = np.where(keep, mag, 0.0).sum(axis=1)
        kept = keep.sum(axis=1)
        scale = np.divide(total, kept, out=np.zeros_like(total), where=kept > 0)
        trits = np.where(keep, np.sign(r), 0.0)
    else:  # sign
        scale = mag.mean(axis=1) if r.shape[1] else np.zeros(r.shape[0])
        trits = np.sign(r)
    return trits.astype(np.int8), scale.astype(np.float32)
