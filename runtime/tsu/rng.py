"""Per-p-bit hardware random number generators: one xorshift32 per p-bit per replica.

Every p-bit carries its own 32-bit xorshift register (Marsaglia's 13/17/5 triple, period
2^32 - 1), stepped once each time the p-bit is clocked. Its top 24 bits are the uniform number
u in [0, 2^24) that the p-bit compares with its lookup-table threshold. The registers are
seeded by a splitmix64 hash of (run seed, replica, p-bit index), so a run is bit-reproducible
from its seed and independent of how many replicas or which engine computes it.

The functions work on whole arrays of registers at once (the fast engine); the slow reference
model re-implements the same arithmetic on Python integers.
"""

from __future__ import annotations

import numpy as np

RNG_BITS = 24  # bits of each draw the comparator uses (the top 24 of the 32-bit register)
_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def splitmix64(z: np.ndarray) -> np.ndarray:
    """Vectorised splitmix64 finaliser on uint64 (wrapping arithmetic)."""
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def seed_registers(seed: int, replicas, pbits) -> np.ndarray:
    """xorshift32 power-on states, shape (len(pbits), len(replicas)), never zero.

    State of (replica r, p-bit i) = low 32 bits of splitmix64(splitmix64(seed) + (r << 32 | i)).
    """
    base = splitmix64(np.uint64(int(seed) & 0xFFFFFFFFFFFFFFFF))
    r = np.asarray(replicas, dtype=np.uint64)[None, :]
    i = np.asarray(pbits, dtype=np.uint64)[:, None]
    with np.errstate(over="ignore"):
        z = splitmix64(base + ((r << np.uint64(32)) | i))
    state = (z & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    state[state == 0] = np.uint32(0x9E3779B9)
    return state


def xorshift32_(x: np.ndarray, scratch: np.ndarray) -> None:
    """Step every register of `x` (uint32) once, in place; `scratch` is a same-shape buffer."""
    np.left_shift(x, 13, out=scratch)
    x ^= scratch
    np.right_shift(x, 17, out=scratch)
    x ^= scratch
    np.left_shift(x, 5, out=scratch)
    x ^= scratch
