"""The p-bit's activation: a bounded lookup table from fixed-point local field to firing threshold.

A p-bit outputs s = sign(tanh(beta I) - r) with r uniform in (-1, 1), i.e. P(s = +1) =
sigmoid(2 beta I). In hardware r is the 24-bit draw u of the p-bit's RNG and tanh is a table
of integer thresholds: the entry for field I is

    T(I) = round(2^24 * sigmoid(2 * beta_eff * I)),    s = +1  iff  u < T(I),

so P(s = +1) = T(I) / 2^24 exactly. beta_eff = beta * scale converts the user's beta to
integer field units; the controller rewrites the table at every anneal step.

Bounded size. The table has at most 2 * MAX_RADIUS + 1 entries per temperature level
(MAX_RADIUS = 2^16: 512 KiB of int32). Fields wider than that address it with their top bits:
with `shift` = the smallest k such that the largest field, rounded to a multiple of 2^k, is
at most MAX_RADIUS * 2^k, a field I reads the entry of

    a(I) = sign(I) * 2^k * round_half_up(|I| / 2^k)       (a(I) = I when k = 0)

i.e. the table sees the field rounded to its top bits (for k > 0 a relative resolution of
2^-16 of the largest field; symmetric, so P(+1 | I) = 1 - P(+1 | -I) up to the 2^-24 rounding
of the entries). Problems with fields up to 2^16 (every 8-bit problem of up to 512 couplings
per spin) use the exact table.

Beyond |beta_eff a(I)| = 9 the entries are exactly 0 or 2^24, so each step's table only needs
the addresses up to the saturation radius; larger ones are clamped onto the last (saturated)
entry. `step_tables` builds those per-step tables for the compiled kernels.
"""

from __future__ import annotations

import math

import numpy as np

from tsuc.runtime.tsu.rng import RNG_BITS

ONE = 1 << RNG_BITS  # T = ONE means "always +1"
MAX_RADIUS = 1 << 16  # the table holds addresses -MAX_RADIUS..MAX_RADIUS
_SATURATION = 9.0  # 2^24 * sigmoid(-18) < 0.5: every entry past this rounds to 0 or 2^24


def thresholds(beta_eff: float, fields: np.ndarray) -> np.ndarray:
    """T(I) = round(2^24 sigmoid(2 beta_eff I)) for an array of (addressed) fields (int64)."""
    x = (-2.0 * float(beta_eff)) * np.asarray(fields, dtype=np.float64)
    with np.errstate(over="ignore"):
        return np.rint(ONE / (1.0 + np.exp(np.minimum(x, 700.0)))).astype(np.int64)


def address_shift(bound: int) -> int:
    """The k of the module docstring: fields up to `bound` address at most MAX_RADIUS entries."""
    k = 0
    while ((int(bound) + ((1 << k) >> 1)) >> k) > MAX_RADIUS:
        k += 1
    return k


def address(fields, shift: int):
    """a(I) / 2^shift: the table address of each field (numpy arrays or Python ints)."""
    if shift == 0:
        return fields
    half = (1 << shift) >> 1
    if isinstance(fields, (int, np.integer)):
        q = (abs(int(fields)) + half) >> shift
        return -q if fields < 0 else q
    f = np.asarray(fields, dtype=np.int64)
    q = (np.abs(f) + half) >> shift
    return np.where(f < 0, -q, q)


def core_radius(beta_eff: float, L: int) -> int:
    """Smallest field magnitude from which every entry is saturated (capped at L)."""
    if beta_eff <= 0:
        return L
    return min(L, int(math.ceil(_SATURATION / beta_eff)))


class TableLayout:
    """How a machine with fields in -bound..bound addresses its tables."""

    def __init__(self, bound: int) -> None:
        self.bound = int(bound)
        self.shift = address_shift(self.bound)
        self.radius = int(address(self.bound, self.shift))  # largest address
        self.max_entries = 2 * self.radius + 1

    def radius_for(self, betas_eff: np.ndarray) -> int:
        """Addresses needed for these betas: past it every entry is saturated (clamping is exact)."""
        b = np.unique(np.asarray(betas_eff, dtype=np.float64))
        if b.size == 0:
            return 0
        core = core_radius(float(b[0]), self.bound)  # the smallest beta needs the widest table
        return min(self.radius, -(-core >> self.shift))  # ceil(core / 2^shift)

    def step_tables(self, betas_eff: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """Tables for a block of steps: betas_eff (steps, K) -> (index (steps, K) into rows,
        rows (U, 2W+1) int32 of T(q 2^shift) for q = -W..W, W). Equal betas share a row."""
        B = np.asarray(betas_eff, dtype=np.float64)
        uniq, index = np.unique(B, return_inverse=True)
        W = self.radius_for(uniq)
        q = np.arange(-W, W + 1, dtype=np.int64) << self.shift
        x = (-2.0 * uniq)[:, None] * q.astype(np.float64)[None, :]
        with np.errstate(over="ignore"):
            rows = np.rint(ONE / (1.0 + np.exp(np.minimum(x, 700.0)))).astype(np.int32)
        return index.reshape(B.shape).astype(np.int64), rows, W
