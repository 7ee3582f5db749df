"""What the p-bit machine accepts: ranges of run parameters and target options, checked in one
place so that every entry point (the executor, `tsuc run --param`, the Python backends, the
compiler's options) refuses the same things with one sentence instead of allocating them.

The bounds are sizes the simulator can hold on a workstation, not hardware limits:
replica-spins (reads x tempering levels x p-bits) up to 2^26 (about 10 bytes each: spin,
register, field, best spin), 10^7 sweeps per anneal (the schedule is an array of that many
betas), 64 tempering levels, a time limit of at most a day.
"""

from __future__ import annotations

import math
from typing import Any

from tsuc.errors import TsucError

MAX_REPLICA_SPINS = 1 << 26
MAX_SWEEPS = 10_000_000
MAX_TEMPERING = 64
MAX_TIME_LIMIT = 86_400.0
MAX_PBITS = 1 << 24
MAX_BETA = 1e12


def integer(name: str, value: Any, lo: int, hi: int) -> int:
    """`value` as an int in lo..hi, or one sentence saying why not."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float) and not value.is_integer()):
        try:
            value = int(str(value), 0)
        except ValueError:
            raise TsucError(f"parameter {name}={value!r} is not an integer") from None
    v = int(value)
    if not lo <= v <= hi:
        raise TsucError(f"parameter {name}={v} must be between {lo} and {hi}")
    return v


def real(name: str, value: Any, lo: float, hi: float, *, open_low: bool = False) -> float:
    """`value` as a finite float in [lo, hi] ((lo, hi] with open_low), or one sentence."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TsucError(f"parameter {name}={value!r} is not a number") from None
    if not math.isfinite(v):
        raise TsucError(f"parameter {name}={value!r} must be a finite number")
    if v < lo or (open_low and v == lo) or v > hi:
        raise TsucError(f"parameter {name}={v:g} must be {'above' if open_low else 'at least'} {lo:g} and at most {hi:g}")
    return v


def check_time_limit(value: Any) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TsucError(f"parameter time_limit={value!r} is not a number of seconds") from None
    if not math.isfinite(v) or v <= 0 or v > MAX_TIME_LIMIT:
        raise TsucError(f"parameter time_limit={value!r} must be a positive, finite number of seconds, at most {MAX_TIME_LIMIT:g} "
                        "(leave it out for no limit)")
    return v


def check_replicas(reads: int, levels: int, n: int) -> None:
    total = int(reads) * max(1, int(levels)) * int(n)
    if total > MAX_REPLICA_SPINS:
        what = f"reads={reads}" + (f" x tempering={levels}" if levels > 1 else "")
        raise TsucError(f"{what} replicas of {n} p-bits is {total} replica-spins, more than the simulator holds ({MAX_REPLICA_SPINS})")


def check_options(options: dict[str, Any]) -> None:
    """Finiteness and sizes of the tsu target's float options (ranges are on the Options)."""
    for key, value in options.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise TsucError(f"option {key}={value!r} of target tsu must be a finite number")
