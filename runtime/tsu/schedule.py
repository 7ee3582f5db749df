"""Inverse-temperature schedules over sweeps, and parallel-tempering ladders."""

from __future__ import annotations

import numpy as np

from tsuc.errors import TsucError

SCHEDULES = ("constant", "linear", "geometric")


def beta_schedule(kind: str, beta0: float, beta1: float, sweeps: int) -> np.ndarray:
    """beta per sweep: constant (beta1 throughout), linear or geometric from beta0 to beta1."""
    if kind not in SCHEDULES:
        raise TsucError(f"schedule {kind!r} is not one of {', '.join(SCHEDULES)}")
    if sweeps < 1:
        raise TsucError(f"sweeps must be at least 1, not {sweeps}")
    if not (np.isfinite(beta0) and np.isfinite(beta1)) or beta0 < 0 or beta1 < 0:
        raise TsucError(f"beta0={beta0} and beta1={beta1} must be finite and non-negative")
    if kind == "constant":
        return np.full(sweeps, float(beta1))
    if kind == "linear" or sweeps == 1:
        return np.linspace(float(beta0), float(beta1), sweeps) if sweeps > 1 else np.array([float(beta1)])
    if beta0 <= 0 or beta1 <= 0:
        raise TsucError("a geometric schedule needs beta0 > 0 and beta1 > 0")
    return np.geomspace(float(beta0), float(beta1), sweeps)


def tempering_ladder(beta0: float, beta1: float, levels: int) -> np.ndarray:
    """Geometric ladder of `levels` inverse temperatures from hot beta0 to cold beta1."""
    if levels < 2:
        raise TsucError(f"parallel tempering needs at least 2 temperature levels, not {levels}")
    if beta0 <= 0 or beta1 <= 0:
        raise TsucError("parallel tempering needs beta0 > 0 and beta1 > 0")
    return np.geomspace(float(beta0), float(beta1), levels)
