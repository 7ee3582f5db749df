"""The p-bit's activation: a lookup table from fixed-point local field to firing threshold.

A p-bit outputs s = sign(tanh(beta I) - r) with r uniform in (-1, 1), i.e. P(s = +1) =
sigmoid(2 beta I). In hardware r is the 24-bit draw u of the p-bit's RNG (r = (2u + 1) / 2^24 - 1)
and tanh is a table: the table entry for field I is the integer threshold

    T(I) = round(2^24 * sigmoid(2 * beta_eff * I)),    s = +1  iff  u < T(I),

so P(s = +1) = T(I) / 2^24 exactly. The table is addressed by the integer (fixed-point) field
itself and rewritten by the controller at every anneal step (beta is folded into the entries;
beta_eff = beta * scale converts the user's beta to integer field units). Beyond
|beta_eff I| = 9 the entries are exactly 0 or 2^24, so a rewrite touches only the
unsaturated core.

Layouts: `wrapped` puts T(0..L) first and T(-L..-1) last, so `table[I]` works for negative I
with numpy's negative indexing; `centred` is T(-L..L), indexed by I + L.
"""

from __future__ import annotations

import math

import numpy as np

from tsuc.runtime.tsu.rng import RNG_BITS

ONE = 1 << RNG_BITS  # T = ONE means "always +1"
_SATURATION = 9.0  # 2^24 * sigmoid(-18) < 0.5: every entry past this rounds to 0 or 2^24


def thresholds(beta_eff: float, fields: np.ndarray) -> np.ndarray:
    """T(I) for an array of integer fields (int64)."""
    x = (-2.0 * float(beta_eff)) * np.asarray(fields, dtype=np.float64)
    with np.errstate(over="ignore"):
        return np.rint(ONE / (1.0 + np.exp(np.minimum(x, 700.0)))).astype(np.int64)


def core_radius(beta_eff: float, L: int) -> int:
    """Largest |I| whose entry can differ from 0 or 2^24 (capped at L)."""
    if beta_eff <= 0:
        return L
    return min(L, int(math.ceil(_SATURATION / beta_eff)))


class FieldTable:
    """Threshold tables for K inverse temperatures over fields -L..L, rewritten in place."""

    def __init__(self, L: int, levels: int = 1) -> None:
        self.L = int(L)
        self.levels = int(levels)
        self.width = 2 * self.L + 1
        self.table = np.empty((self.levels, self.width), dtype=np.int32)
        self.betas = np.full(self.levels, np.nan)
        self.wrapped = self.levels == 1
        # saturated tails never change: +1 for positive fields, -1 for negative ones
        if self.wrapped:
            self.table[0, : self.L + 1] = ONE
            self.table[0, self.L + 1:] = 0
        else:
            self.table[:, self.L:] = ONE
            self.table[:, : self.L] = 0
        self.table[:, 0 if self.wrapped else self.L] = ONE // 2  # T(0) = 2^23 at every beta
        self._stale = np.ones(self.levels, dtype=bool)
        self._radius = np.full(self.levels, self.L)

    def set_betas(self, betas_eff: np.ndarray) -> None:
        """Rewrite the rows whose beta changed."""
        betas_eff = np.broadcast_to(np.asarray(betas_eff, dtype=np.float64), (self.levels,))
        for k in np.flatnonzero(betas_eff != self.betas):
            beta = float(betas_eff[k])
            new_r = core_radius(beta, self.L)
            r = max(new_r, int(self._radius[k]))  # also reset what the old core touched
            I = np.arange(-r, r + 1)
            row = self.table[k]
            vals = thresholds(beta, I).astype(np.int32)
            if self.wrapped:
                row[I] = vals  # negative I index from the end
            else:
                row[I + self.L] = vals
            self._radius[k] = new_r
            self.betas[k] = beta

    @property
    def flat(self) -> np.ndarray:
        return self.table.reshape(-1)

    def lookup(self, fields: np.ndarray, level_offset: np.ndarray | None = None) -> np.ndarray:
        """Thresholds for `fields`; `level_offset` (per column) = L + level * width when K > 1."""
        if self.wrapped:
            return np.take(self.table[0], fields)
        return np.take(self.flat, fields + level_offset)
