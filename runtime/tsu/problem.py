"""The Ising problem model shared by the compiler and the runtime (numpy only).

tsuc's one internal convention is

    H(s) = -1/2 s^T J s - h^T s + offset,    s in {-1, +1}^n,

with J symmetric and zero on the diagonal. `IsingProblem` stores J as its strict upper
triangle in COO form (rows < cols, sorted row-major, no repeated pairs), which is what G-set
files and BQMs hold and what the artifact stores; the full matrix is never needed to evaluate
energies. Frontends (G-set, BQM JSON, QUBO) live in `tsuc.targets.tsu.problems`; this module
is what the runtime needs to score samples on the *original* problem: energies, local fields
and Max-Cut values.

A Max-Cut instance with edge weights w is the problem J = -w, h = 0 (antiferromagnetic), and
cut(s) = sum_(i<j) w_ij (1 - s_i s_j) / 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tsuc.errors import TsucError

# Energies are evaluated in chunks of replicas so that the (replicas x edges) temporary
# stays below this many elements.
_CHUNK_ELEMENTS = 1 << 22


@dataclass(frozen=True, eq=False)
class IsingProblem:
    """H(s) = -1/2 s^T J s - h^T s + offset; J held as its strict upper triangle (COO)."""

    n: int
    rows: np.ndarray  # int64, rows[k] < cols[k], sorted by (row, col), unique
    cols: np.ndarray  # int64
    J: np.ndarray  # float64 J_ij of each (rows[k], cols[k]) pair
    h: np.ndarray  # float64 (n,)
    offset: float = 0.0
    maxcut: bool = False  # built from a Max-Cut graph: J = -w, and cut() is meaningful
    name: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = int(self.n)
        if n < 1:
            raise TsucError(f"an Ising problem needs at least one spin, not {n}")
        rows = np.ascontiguousarray(self.rows, dtype=np.int64)
        cols = np.ascontiguousarray(self.cols, dtype=np.int64)
        J = np.ascontiguousarray(self.J, dtype=np.float64)
        h = np.ascontiguousarray(self.h, dtype=np.float64)
        if not (rows.shape == cols.shape == J.shape) or rows.ndim != 1:
            raise TsucError("the coupling arrays rows, cols and J must be 1-D and of one length")
        if h.shape != (n,):
            raise TsucError(f"h has shape {h.shape}, expected ({n},)")
        if rows.size:
            if rows.min() < 0 or cols.max() >= n:
                raise TsucError(f"a coupling names a spin outside 0..{n - 1}")
            if not np.all(rows < cols):
                raise TsucError("couplings must be given as strict upper-triangle pairs (i < j)")
            key = rows * n + cols
            if not np.all(key[1:] > key[:-1]):
                raise TsucError("couplings must be sorted and unique; build problems with IsingProblem.from_edges")
        if not (np.all(np.isfinite(J)) and np.all(np.isfinite(h)) and np.isfinite(self.offset)):
            raise TsucError("the problem has a non-finite coupling, field or offset")
        for name, value in (("rows", rows), ("cols", cols), ("J", J), ("h", h)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "offset", float(self.offset))

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def from_edges(cls, n: int, i, j, J, h=None, offset: float = 0.0, **kw) -> IsingProblem:
        """From coupling triples (i, j, J_ij) in any order; (i, j) and (j, i) are one pair and
        repeated pairs add (J_ij is the coefficient of s_i s_j in -H). Zero sums are dropped."""
        i = np.asarray(i, dtype=np.int64).reshape(-1)
        j = np.asarray(j, dtype=np.int64).reshape(-1)
        J = np.asarray(J, dtype=np.float64).reshape(-1)
        if not (i.shape == j.shape == J.shape):
            raise TsucError("coupling index and value arrays differ in length")
        if i.size and (min(i.min(), j.min()) < 0 or max(i.max(), j.max()) >= n):
            raise TsucError(f"a coupling names a spin outside 0..{n - 1}")
        if np.any(i == j):
            k = int(np.flatnonzero(i == j)[0])
            raise TsucError(f"spin {int(i[k])} is coupled to itself; put self-couplings in the offset")
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        key = lo * n + hi
        uniq, inv = np.unique(key, return_inverse=True)
        vals = np.zeros(uniq.size, dtype=np.float64)
        np.add.at(vals, inv, J)
        keep = vals != 0.0
        uniq, vals = uniq[keep], vals[keep]
        h = np.zeros(n) if h is None else np.asarray(h, dtype=np.float64)
        return cls(n, uniq // n, uniq % n, vals, h, offset, **kw)

    @classmethod
    def from_dense(cls, J, h=None, offset: float = 0.0, **kw) -> IsingProblem:
        """From a dense symmetric J. A diagonal J_ii only adds the constant -J_ii/2 (s_i^2 = 1),
        so it is moved into the offset, which keeps every energy exactly the same."""
        J = np.asarray(J, dtype=np.float64)
        if J.ndim != 2 or J.shape[0] != J.shape[1]:
            raise TsucError(f"J must be a square matrix, not shape {J.shape}")
        n = J.shape[0]
        scale = max(1.0, float(np.abs(J).max())) if J.size else 1.0
        if not np.allclose(J, J.T, rtol=0, atol=1e-12 * scale):
            raise TsucError("J is not symmetric; pass (J + J.T) / 2")
        offset = float(offset) - 0.5 * float(np.trace(J))
        r, c = np.nonzero(np.triu(J, 1))
        return cls(n, r, c, J[r, c], np.zeros(n) if h is None else h, offset, **kw)

    @classmethod
    def maxcut_graph(cls, n: int, i, j, w, **kw) -> IsingProblem:
        """The Max-Cut problem of a weighted graph: J = -w, h = 0."""
        w = np.asarray(w, dtype=np.float64)
        return cls.from_edges(n, i, j, -w, maxcut=True, **kw)

    # -- views ----------------------------------------------------------------------------

    @property
    def num_couplings(self) -> int:
        return int(self.rows.size)

    def dense_J(self, dtype=np.float64) -> np.ndarray:
        """The full symmetric J (n x n); for small problems and tests."""
        out = np.zeros((self.n, self.n), dtype=dtype)
        out[self.rows, self.cols] = self.J
        out[self.cols, self.rows] = self.J
        return out

    def csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(indptr, indices, data) of the full symmetric J, rows sorted by column."""
        r = np.concatenate([self.rows, self.cols])
        c = np.concatenate([self.cols, self.rows])
        v = np.concatenate([self.J, self.J])
        order = np.lexsort((c, r))
        indptr = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(np.bincount(r, minlength=self.n), out=indptr[1:])
        return indptr, c[order], v[order]

    def total_weight(self) -> float:
        """For Max-Cut: the sum of edge weights W = -sum J (cut = (W - H + offset) / 2)."""
        return float(-self.J.sum())

    # -- evaluation -----------------------------------------------------------------------

    def _spins(self, spins) -> np.ndarray:
        s = np.asarray(spins)
        if s.shape[-1:] != (self.n,):
            raise TsucError(f"spin configurations have {s.shape[-1] if s.ndim else 0} variables, expected {self.n}")
        if not np.all(np.abs(s) == 1):
            raise TsucError("spin configurations must hold only -1 and +1")
        return s.reshape(-1, self.n)

    def coupling_sum(self, spins) -> np.ndarray:
        """sum_(i<j) J_ij s_i s_j for each configuration (float64, shape spins.shape[:-1])."""
        s = self._spins(spins)
        shape = np.asarray(spins).shape[:-1]
        out = np.empty(s.shape[0], dtype=np.float64)
        if self.rows.size == 0:
            out[:] = 0.0
            return out.reshape(shape)
        dense = self.rows.size * 8 > self.n * self.n
        step = max(1, _CHUNK_ELEMENTS // max(1, self.n if dense else self.rows.size))
        Jd = None
        if dense:  # built once per problem: scoring runs after every anneal
            Jd = self.__dict__.get("_dense_J")
            if Jd is None:
                Jd = self.dense_J()
                Jd.setflags(write=False)
                object.__setattr__(self, "_dense_J", Jd)
        for a in range(0, s.shape[0], step):
            if dense:
                chunk = s[a:a + step].astype(np.float64)
                out[a:a + step] = 0.5 * np.einsum("ri,ri->r", chunk @ Jd, chunk)
            else:  # spins as int8 columns: the (edges x replicas) gathers read whole rows
                col = np.ascontiguousarray(s[a:a + step].T, dtype=np.int8)
                out[a:a + step] = self.J @ (col[self.rows] * col[self.cols])
        return out.reshape(shape)

    def energy(self, spins) -> np.ndarray:
        """H(s) for each configuration in `spins` (..., n) of +-1; float64."""
        s = np.asarray(spins)
        pair = self.coupling_sum(s)
        lin = self._spins(s).astype(np.float64) @ self.h
        return -pair - lin.reshape(pair.shape) + self.offset

    def local_fields(self, spins) -> np.ndarray:
        """I = J s + h for each configuration (..., n)."""
        s = self._spins(spins).astype(np.float64)
        out = np.tile(self.h, (s.shape[0], 1))
        np.add.at(out.T, self.rows, (s[:, self.cols] * self.J).T)
        np.add.at(out.T, self.cols, (s[:, self.rows] * self.J).T)
        return out.reshape(np.asarray(spins).shape)

    def cut(self, spins) -> np.ndarray:
        """Max-Cut value sum_(i<j) w_ij (1 - s_i s_j) / 2 with w = -J (only for Max-Cut problems)."""
        if not self.maxcut:
            raise TsucError(f"problem {self.name or '(unnamed)'} is not a Max-Cut instance")
        pair = self.coupling_sum(spins)  # sum J s s = -sum w s s
        return 0.5 * (self.total_weight() + pair)
