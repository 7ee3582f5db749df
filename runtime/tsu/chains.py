"""Reading logical spins back from minor-embedded chains of p-bits.

A sparse topology holds a logical spin as a chain of p-bits coupled ferromagnetically; after a
run each chain is read by majority vote, ties going to the chain's first p-bit (the one with
the lowest index), so readback is deterministic. `chain_of[p]` is the logical spin of p-bit
p, or -1 for a p-bit the embedding leaves unused.
"""

from __future__ import annotations

import numpy as np

from tsuc.errors import TsucError


def check_chains(chain_of: np.ndarray, num_logical: int) -> None:
    used = chain_of[chain_of >= 0]
    if chain_of.ndim != 1 or (used.size and used.max() >= num_logical) or np.any(chain_of < -1):
        raise TsucError("the embedding's chain map names a logical spin that does not exist")
    if np.unique(used).size != num_logical:
        raise TsucError("the embedding leaves a logical spin without any p-bit")


def majority_vote(states: np.ndarray, chain_of: np.ndarray, num_logical: int) -> np.ndarray:
    """(R, n_pbits) +-1 -> (R, num_logical) +-1 by majority vote per chain."""
    states = np.asarray(states)
    used = np.flatnonzero(chain_of >= 0)
    owner = chain_of[used]
    order = np.lexsort((used, owner))  # p-bits grouped by chain, lowest index first
    cols, owner = used[order], owner[order]
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    votes = np.add.reduceat(states[:, cols].astype(np.int64), starts, axis=1)
    first = states[:, cols[starts]]
    out = np.where(votes > 0, 1, np.where(votes < 0, -1, first)).astype(np.int8)
    logical = np.empty((states.shape[0], num_logical), dtype=np.int8)
    logical[:, owner[starts]] = out
    return logical


def chain_breaks(states: np.ndarray, chain_of: np.ndarray) -> float:
    """Fraction of (read, chain) pairs whose p-bits disagree."""
    used = np.flatnonzero(chain_of >= 0)
    owner = chain_of[used]
    order = np.lexsort((used, owner))
    cols, owner = used[order], owner[order]
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    sizes = np.diff(np.r_[starts, cols.size])
    sums = np.add.reduceat(np.asarray(states)[:, cols].astype(np.int64), starts, axis=1)
    return float(np.mean(np.abs(sums) != sizes)) if sums.size else 0.0
