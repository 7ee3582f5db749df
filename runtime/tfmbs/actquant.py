"""Activations as balanced-ternary trit planes (run time, dynamic per call, per tensor).

The fabric multiplies trits only, so a float activation tensor X becomes integers
q = sum_j 3**j * t_j with trits t_j in {-1, 0, 1}, j = 0..k-1 (`act_trits` = k), and one
float scale s per tensor, X ~ s * q. Each trit plane costs one frame per input row; the
host combines plane results with powers of 3 (exactly: the combination is done on the
integer accumulators, so sum_j 3**j * acc_j == W_trits @ q).

The exact formula (the numpy reference in tests/targets/tfmbs/reference.py follows it bit for bit):

    L = (3**k - 1) // 2                        # levels each side: k=1 -> 1, k=5 -> 121
    x64 = X.astype(float64)                    # the layer's input tensor, whole, before im2col
    k == 1 (the prototype's sign behaviour):
        s = mean(|x64|)                        # np.mean over the whole tensor, float64
        q = sign(x64)                          # exact zeros stay 0
    k > 1:
        s = float64(max(|X|)) / L              # max taken in the input dtype (exact)
        q = clip(rint(x64 / s), -L, L)         # rint = round half to even
    if s == 0 (or not finite, e.g. an all-zero tensor): s = 1.0 and q = 0
    t_0.. t_{k-1}: t_j = ((q_j + 1) mod 3) - 1, q_{j+1} = (q_j - t_j) / 3, q_0 = q

"Per tensor" means one scale for the whole input tensor of the layer in that call,
batch included; the scale is chosen dynamically on every call (no calibration data needed).
Non-finite inputs are a TsucError.

A layer's float output (see `executor`) is then, with Q_p = W_trits[p] @ q as exact integers:

    y64 = 0.0; for p in 0..P-1: y64 = y64 + float64(Q_p) * float64(wscale[p])   (per channel)
    y = float32(y64 * s + float64(bias))
"""

from __future__ import annotations

import numpy as np

from tsuc.errors import TsucError

MAX_ACT_TRITS = 10  # 3**10 levels; keeps |q| * K exact in float64 accumulators


def levels(act_trits: int) -> int:
    """L: the largest |q| that `act_trits` balanced trits can represent."""
    return (3 ** int(act_trits) - 1) // 2


def act_scale(x: np.ndarray, act_trits: int) -> float:
    """The per-tensor scale s (a Python float, i.e. float64) for this call."""
    if not 1 <= act_trits <= MAX_ACT_TRITS:
        raise TsucError(f"act_trits={act_trits} must be between 1 and {MAX_ACT_TRITS}")
    if x.size == 0:
        return 1.0
    if act_trits == 1:
        s = float(np.mean(np.abs(x.astype(np.float64))))
    else:
        s = max(float(np.max(x)), -float(np.min(x))) / levels(act_trits)
    return checked_scale(s)


def scale_from_extremes(hi: float, lo: float, act_trits: int) -> float:
    """`act_scale` for act_trits > 1 from max(x) and min(x) (however they were reduced: the
    extremes of a tensor do not depend on the order they are taken in)."""
    return checked_scale(max(float(hi), -float(lo)) / levels(act_trits))


def checked_scale(s: float) -> float:
    if not np.isfinite(s):
        raise TsucError("an activation tensor sent to the fabric contains NaN or infinite values")
    return s if s > 0.0 else 1.0


def quantize(x: np.ndarray, act_trits: int, scale: float | None = None) -> tuple[np.ndarray, float]:
    """(q, s): integer levels q (int16 for k <= 9, else int32) in [-L, L] and the scale s."""
    s = act_scale(x, act_trits) if scale is None else float(scale)
    dtype = np.int16 if act_trits <= 9 else np.int32
    if act_trits == 1:
        return np.sign(x).astype(dtype), s
    lim = levels(act_trits)
    x64 = np.array(x, dtype=np.float64)  # a fresh copy, worked on in place
    x64 /= s
    np.rint(x64, out=x64)
    np.clip(x64, -lim, lim, out=x64)
    return x64.astype(dtype), s


def trit_planes(q: np.ndarray, act_trits: int) -> np.ndarray:
    """Balanced-ternary digits of q: int8 [act_trits, *q.shape], q = sum_j 3**j * planes[j]."""
    rest = np.asarray(q).astype(np.int32)
    out = np.empty((act_trits,) + rest.shape, dtype=np.int8)
    for j in range(act_trits):  # k <= 10 vectorised steps
        t = (rest + 1) % 3 - 1
        out[j] = t
        rest = (rest - t) // 3
    if rest.size and np.any(rest):
        raise TsucError(f"activation levels exceed what {act_trits} trits can hold")
    return out


def nonzero_digit_table(act_trits: int) -> np.ndarray:
    """int8 [2L+1]: how many of q's balanced-ternary digits are nonzero, indexed by q + L.

    The zero-skip counters need, per reduction index, how many (row, plane) trits are
    nonzero; this table gives it from q without materialising the planes.
    """
    lim = levels(act_trits)
    q = np.arange(-lim, lim + 1)
    return (trit_planes(q, act_trits) != 0).sum(axis=0).astype(np.int8)
