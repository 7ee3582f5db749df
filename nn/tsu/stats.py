"""Checking a sampler against physics: exact Boltzmann distributions and a G-test.

For problems small enough to enumerate (n <= ~20), `exact_boltzmann` gives P(s) ~ exp(-beta
H(s)) over all 2^n states and `g_test` asks whether sampled states are consistent with it.
The backend tests use these; they are public so that a new backend (or hardware) can be
checked the same way:

    out = backend.sample_ising(J, h, beta, num_steps=200, batch_size=20000, key=0)
    G, dof, p = g_test(state_index(out["samples"]), exact_boltzmann(J, h, beta))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tsuc.errors import TsucError


def all_states(n: int) -> np.ndarray:
    """(2^n, n) spins; row k has s_i = +1 iff bit i of k is set."""
    if not 1 <= n <= 24:
        raise TsucError(f"exact enumeration needs 1 <= n <= 24 spins, not {n}")
    k = np.arange(1 << n, dtype=np.int64)[:, None]
    return 2.0 * ((k >> np.arange(n)) & 1) - 1.0


def exact_boltzmann(J: Any, h: Any, beta: float) -> np.ndarray:
    """P(state k) ~ exp(-beta H(s_k)), H(s) = -1/2 s^T J s - h^T s with J's diagonal dropped."""
    J = np.asarray(J, dtype=np.float64)
    n = J.shape[0]
    h = np.zeros(n) if h is None else np.asarray(h, dtype=np.float64)
    s = all_states(n)
    Jz = J - np.diag(np.diag(J))
    energy = -0.5 * np.einsum("ki,ij,kj->k", s, Jz, s) - s @ h
    w = np.exp(-beta * (energy - energy.min()))
    return w / w.sum()


def state_index(samples: Any) -> np.ndarray:
    """State index k of each row of +-1 samples (numpy or torch), as in `all_states`."""
    s = samples.detach().cpu().numpy() if hasattr(samples, "detach") else np.asarray(samples)
    bits = (s > 0).astype(np.int64)
    return bits @ (1 << np.arange(bits.shape[1], dtype=np.int64))


def g_test(indices: np.ndarray, probs: np.ndarray, min_expected: float = 5.0) -> tuple[float, int, float]:
    """G-test of sampled state indices against `probs`: (G, degrees of freedom, p-value).

    States expected fewer than `min_expected` times are pooled into one bin so that the
    chi-square approximation of G holds. Needs scipy for the p-value.
    """
    try:
        from scipy.stats import chi2
    except ImportError:
        raise TsucError("g_test needs scipy for the chi-square p-value: pip install scipy") from None
    counts = np.bincount(np.asarray(indices, dtype=np.int64), minlength=len(probs)).astype(np.float64)
    expected = np.asarray(probs, dtype=np.float64) * counts.sum()
    small = expected < min_expected
    obs = np.append(counts[~small], counts[small].sum())
    exp = np.append(expected[~small], expected[small].sum())
    keep = exp > 0
    obs, exp = obs[keep], exp[keep]
    nz = obs > 0
    stat = 2.0 * float(np.sum(obs[nz] * np.log(obs[nz] / exp[nz])))
    dof = len(obs) - 1
    return stat, dof, float(chi2.sf(stat, dof))
