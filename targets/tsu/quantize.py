"""Coupling quantisation: J and h to signed fixed point with `j_bits` and `h_bits`.

The machine holds integer couplings Jq in [-(2^(j_bits-1) - 1), 2^(j_bits-1) - 1] and biases
hq in the h_bits range, with one shared scale (J ~ scale * Jq, h ~ scale * hq) because the
p-bit adds them into one field. If every J and h is already an integer that fits, the scale
is 1 and the quantisation is exact; otherwise the scale is the smallest that fits both ranges
and values round to nearest (ties to even). Couplings that round to zero are dropped.

The report says how far the machine's problem is from the original: the largest and RMS
coupling errors, the largest bias error (problem units) and a bound on the energy error of
any state, sum |J - scale Jq| + sum |h - scale hq| (each term can move H by at most that).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsuc.errors import TsucError
from tsuc.runtime.tsu.problem import IsingProblem


@dataclass(frozen=True)
class Quantized:
    rows: np.ndarray
    cols: np.ndarray
    Jq: np.ndarray  # int64
    hq: np.ndarray  # int64
    scale: float
    report: dict


def quantize(problem: IsingProblem, j_bits: int, h_bits: int) -> Quantized:
    """Quantise `problem` to the machine's fixed-point grid; see the module docstring."""
    for name, bits in (("j_bits", j_bits), ("h_bits", h_bits)):
        if not 2 <= bits <= 31:
            raise TsucError(f"option {name}={bits} must lie in 2..31")
    jmax = (1 << (j_bits - 1)) - 1
    hmax = (1 << (h_bits - 1)) - 1
    J, h = problem.J, problem.h
    peak_j = float(np.abs(J).max()) if J.size else 0.0
    peak_h = float(np.abs(h).max()) if h.size else 0.0
    integral = np.all(J == np.rint(J)) and np.all(h == np.rint(h))
    if integral and peak_j <= jmax and peak_h <= hmax:
        scale = 1.0
    else:
        scale = max(peak_j / jmax, peak_h / hmax)
        if scale == 0.0:
            scale = 1.0
    Jq = np.clip(np.rint(J / scale), -jmax, jmax).astype(np.int64)
    hq = np.clip(np.rint(h / scale), -hmax, hmax).astype(np.int64)
    dJ = J - scale * Jq
    dh = h - scale * hq
    keep = Jq != 0
    report = {
        "scale": scale,
        "exact": bool(not np.any(dJ) and not np.any(dh)),
        "max_coupling_error": float(np.abs(dJ).max()) if dJ.size else 0.0,
        "rms_coupling_error": float(np.sqrt(np.mean(dJ ** 2))) if dJ.size else 0.0,
        "relative_coupling_error": float(np.abs(dJ).max() / peak_j) if dJ.size and peak_j else 0.0,
        "max_field_error": float(np.abs(dh).max()) if dh.size else 0.0,
        "energy_error_bound": float(np.abs(dJ).sum() + np.abs(dh).sum()),
        "dropped_couplings": int(np.count_nonzero(~keep)),
    }
    return Quantized(problem.rows[keep], problem.cols[keep], Jq[keep], hq, float(scale), report)
