"""The p-bit machine simulator: clocked, colour-parallel, fixed-point, many replicas at once.

Model (the design page's machine; `reference.py` is the same machine one p-bit at a time):

- A `MachineProgram` is what the compiler loads into the machine: integer couplings Jq
  (symmetric, zero diagonal, held as the strict upper triangle), integer biases hq, the scale
  that maps them back to problem units (J ~ scale * Jq) and a proper colouring of the coupling
  graph.
- One sweep is one clock per colour, colours in increasing order. In the clock of colour c
  every p-bit i of that colour reads its integer local field I_i = sum_j Jq_ij s_j + hq_i,
  steps its own xorshift32 register, and sets s_i = +1 iff u_i < T(I_i) (`lut.FieldTable`),
  i.e. s_i = sign(tanh(beta I) - r). p-bits of one colour share no coupling, so updating them
  together equals updating them one at a time.
- Replicas are independent copies of the machine with their own registers; with parallel
  tempering each replica sits at one of K beta levels and, after every `swap_interval`
  sweeps, neighbouring levels of a read group try to swap with the Metropolis rule
  min(1, exp((beta_a - beta_b)(E_a - E_b))) on the quantised energy, drawn from the
  controller's PCG64 stream. Swapping moves the beta, not the state (the same thing).
- Counters: sweeps, clocks (sweeps x colours), spin_updates (p-bit updates summed over
  replicas) and flips (updates that changed a spin).

Fast engine: the state lives as an (n, replicas) array with p-bits permuted so that each
colour is a contiguous row range. Consecutive colours are grouped into blocks of at least
`block_rows` p-bits (dense problems have one p-bit per colour); a block's fields are computed
in one matrix product against the current state (scipy sparse integer product for sparse
problems, float32/float64 BLAS for dense ones: both exact on integers), then the block's
colours are clocked in order, each adding its spin changes into the fields of the later
colours of the block through the small in-block coupling matrix. All RNG registers step
once per sweep in one vectorised xorshift, and the quantised energy is tracked incrementally
(a flip of s_i changes it by 2 s_i I_i). No Python loop runs per p-bit or per replica.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

import numpy as np

from tsuc.errors import TsucError
from tsuc.runtime.tsu.lut import FieldTable
from tsuc.runtime.tsu.rng import seed_registers, xorshift32_

try:  # scipy's sparse integer products are the fast path for sparse problems
    import scipy.sparse as _sparse
except ImportError:  # pragma: no cover - numpy-only installs use the dense path
    _sparse = None
try:  # the kernel behind scipy's `csr @ dense`; public since scipy 0.x, private by name
    from scipy.sparse._sparsetools import csr_matvecs as _csr_matvecs
except ImportError:  # pragma: no cover
    _csr_matvecs = None

SWAP_STREAM = 0x5EED5A1B  # xored into the seed for the controller's swap stream


def swap_stream(seed: int, replica_offset: int) -> np.random.Generator:
    """The controller's random stream for tempering swaps (PCG64), fixed by seed and run."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, SWAP_STREAM, int(replica_offset)])))


@contextlib.contextmanager
def _blas_threads(limit: int | None):
    """Limit BLAS threads for the run (small GEMMs lose to thread wake-up on shared cores)."""
    if limit is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        yield
        return
    with threadpool_limits(limits=limit, user_api="blas"):
        yield


@dataclass(frozen=True, eq=False)
class MachineProgram:
    """The integer problem the machine runs, with its colouring."""

    n: int
    rows: np.ndarray  # int64, strict upper triangle
    cols: np.ndarray
    Jq: np.ndarray  # int64 integer couplings
    hq: np.ndarray  # int64 (n,)
    colours: np.ndarray  # int64 (n,), 0..C-1
    scale: float = 1.0  # problem units per integer unit

    def __post_init__(self) -> None:
        for name in ("rows", "cols", "Jq", "hq", "colours"):
            object.__setattr__(self, name, np.ascontiguousarray(getattr(self, name), dtype=np.int64))
        if self.hq.shape != (self.n,) or self.colours.shape != (self.n,):
            raise TsucError(f"machine program: hq and colours must have {self.n} entries")
        if not (self.rows.shape == self.cols.shape == self.Jq.shape):
            raise TsucError("machine program: coupling arrays differ in length")
        if self.rows.size and not np.all(self.rows < self.cols):
            raise TsucError("machine program: couplings must be strict upper-triangle pairs")
        if self.n and (self.colours.min() < 0):
            raise TsucError("machine program: colours must be non-negative")
        clash = self.colours[self.rows] == self.colours[self.cols]
        if np.any(clash):
            k = int(np.flatnonzero(clash)[0])
            raise TsucError(f"machine program: p-bits {self.rows[k]} and {self.cols[k]} are coupled but share colour {self.colours[self.rows[k]]}")
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise TsucError(f"machine program: scale must be positive, not {self.scale}")

    @property
    def num_colours(self) -> int:
        return int(np.unique(self.colours).size) if self.n else 0

    def field_bound(self) -> int:
        """max_i (sum_j |Jq_ij| + |hq_i|): no local field can exceed it in magnitude."""
        acc = np.abs(self.hq).astype(np.int64)
        np.add.at(acc, self.rows, np.abs(self.Jq))
        np.add.at(acc, self.cols, np.abs(self.Jq))
        return int(acc.max()) if self.n else 0

    def quantised_energy(self, spins: np.ndarray) -> np.ndarray:
        """E_q(s) = -sum_(i<j) Jq_ij s_i s_j - hq . s for (replicas, n) spins (int64)."""
        s = np.asarray(spins, dtype=np.int64)
        return -((s[:, self.rows] * s[:, self.cols]) @ self.Jq) - s @ self.hq


@dataclass
class Counters:
    sweeps: int = 0
    clocks: int = 0
    spin_updates: int = 0
    flips: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"sweeps": self.sweeps, "clocks": self.clocks, "spin_updates": self.spin_updates, "flips": self.flips}


@dataclass
class RunResult:
    """What a run leaves: final and best states (replicas, n) of +-1 in p-bit order, their
    quantised energies, the final beta level of each replica and the counters."""

    states: np.ndarray  # int8
    energies_q: np.ndarray  # int64
    best_states: np.ndarray  # int8
    best_energies_q: np.ndarray  # int64
    levels: np.ndarray  # int64 (replicas,)
    counters: Counters = field(default_factory=Counters)
    stopped_early: bool = False


def _check_betas(betas: np.ndarray, levels: int) -> np.ndarray:
    b = np.asarray(betas, dtype=np.float64)
    if b.ndim == 1:
        b = b[:, None]
    if b.ndim != 2 or b.shape[1] != levels or b.shape[0] < 1:
        raise TsucError(f"betas must have shape (sweeps, {levels}), not {np.asarray(betas).shape}")
    if not np.all(np.isfinite(b)) or np.any(b < 0):
        raise TsucError("every beta must be finite and non-negative")
    return b


class PBitMachine:
    """The fast engine. `run(...)` clocks `replicas` copies of the program through `betas`."""

    def __init__(self, program: MachineProgram, engine: str = "auto", block_rows: int = 32, compare: str = "auto") -> None:
        if compare not in ("auto", "lut", "threshold"):
            raise TsucError(f"compare {compare!r} is not one of auto, lut, threshold")
        self.compare = compare
        self.program = program
        n = program.n
        self.n = n
        self.bound = program.field_bound()
        order = np.argsort(program.colours, kind="stable")
        self.order = order  # position p holds p-bit order[p]
        colours = program.colours[order]
        starts = np.flatnonzero(np.r_[True, colours[1:] != colours[:-1]]) if n else np.array([], dtype=np.int64)
        self.bounds = np.r_[starts, n].astype(np.int64)  # colour k = positions bounds[k]:bounds[k+1]
        self.num_colours = len(starts)
        inv = np.empty(n, dtype=np.int64)
        inv[order] = np.arange(n)
        pr, pc = inv[program.rows], inv[program.cols]
        density = 2 * program.rows.size / max(1, n * n)
        if engine == "auto":
            engine = "sparse" if (_sparse is not None and density < 0.2) else "dense"
        if engine not in ("sparse", "dense"):
            raise TsucError(f"engine {engine!r} is not one of auto, sparse, dense")
        if engine == "sparse" and _sparse is None:
            raise TsucError("the sparse engine needs scipy; use engine=dense")
        self.engine = engine
        # field arithmetic: the smallest integer type that holds 3x the field bound (a field
        # plus an in-block correction of up to 2x the bound); the state S is +-1 in the type
        # the products want: fdtype for scipy's integer kernel, float for BLAS (exact on integers)
        self.fdtype = next(t for t in (np.int16, np.int32, np.int64) if 3 * self.bound < np.iinfo(t).max)
        if engine == "sparse":
            self.sdtype = self.fdtype
        else:
            self.sdtype = np.float32 if 3 * self.bound < (1 << 24) else np.float64
        self.hq_perm = program.hq[order].astype(self.fdtype)

        # group colours into blocks of >= block_rows p-bits
        blocks: list[tuple[int, int]] = []  # (first colour, end colour)
        k = 0
        while k < self.num_colours:
            e = k + 1
            while e < self.num_colours and self.bounds[e] - self.bounds[k] < block_rows:
                e += 1
            blocks.append((k, e))
            k = e
        self.blocks = []
        rr = np.r_[pr, pc]
        cc = np.r_[pc, pr]
        vv = np.r_[program.Jq, program.Jq]
        if engine == "dense":
            full = np.zeros((n, n), dtype=self.sdtype)
            full[rr, cc] = vv
        else:
            full_sp = _sparse.csr_matrix((vv.astype(self.sdtype), (rr, cc)), shape=(n, n))
            full_sp.sum_duplicates()
        for c0, c1 in blocks:
            a, e = int(self.bounds[c0]), int(self.bounds[c1])
            if engine == "dense":
                rows_mat = np.ascontiguousarray(full[a:e])
                inner = full[a:e, a:e] if c1 - c0 > 1 else None
            else:
                rows_mat = full_sp[a:e].tocsr()
                inner = full_sp[a:e, a:e].toarray() if c1 - c0 > 1 else None
            if inner is not None:  # corrections use (s_old - s_new) / 2, hence 2 J
                inner = (2 * inner.astype(np.int64)).astype(self.sdtype if engine == "dense" else self.fdtype)
            colours_in = [(int(self.bounds[c]) - a, int(self.bounds[c + 1]) - a) for c in range(c0, c1)]
            self.blocks.append((a, e, rows_mat, inner, colours_in))
        # a sweep's energy change, sum over p-bits of 2 * half * I, fits this accumulator
        self.edtype = np.int32 if 2 * n * self.bound < np.iinfo(np.int32).max else np.int64
        self.threads = 1 if (engine == "dense" and n < 4096) else None  # small GEMMs: threading only adds latency

    # -- the run --------------------------------------------------------------------------

    def run(self, replicas: int, betas: np.ndarray, seed: int = 0, *, levels: np.ndarray | None = None,
            groups: int | None = None, swap_interval: int = 1, init: np.ndarray | None = None,
            deadline: float | None = None, replica_offset: int = 0) -> RunResult:
        """Clock `replicas` replicas through `betas` (sweeps,) or (sweeps, K).

        With K > 1 levels, `levels` (replicas,) is each replica's starting level (default:
        replica r at level r % K) and `groups` read groups of K replicas swap within themselves
        (replica r belongs to group r // K). `init` (replicas, n) of +-1 replaces the random
        start. `deadline` (a time.perf_counter() value) stops after the sweep in which it passes.
        `replica_offset` shifts the replica numbers that seed the registers (for restarts).
        """
        n, R = self.n, int(replicas)
        if R < 1:
            raise TsucError(f"replicas must be at least 1, not {R}")
        K = 1 if np.asarray(betas).ndim == 1 else np.asarray(betas).shape[1]
        B = _check_betas(betas, K) * self.program.scale
        level = np.zeros(R, dtype=np.int64) if K == 1 else (np.arange(R) % K if levels is None else np.asarray(levels, dtype=np.int64).copy())
        if K > 1 and (level.shape != (R,) or level.min() < 0 or level.max() >= K):
            raise TsucError(f"levels must give each of the {R} replicas a level in 0..{K - 1}")

        X = seed_registers(seed, np.arange(replica_offset, replica_offset + R), self.order)  # (n, R) permuted
        scratch = np.empty_like(X)
        xorshift32_(X, scratch)
        S = np.where(X >> np.uint32(31), 1, -1).astype(self.sdtype)
        if init is not None:
            init = np.asarray(init)
            if init.shape != (R, n) or not np.all(np.abs(init) == 1):
                raise TsucError(f"init must be a ({R}, {n}) array of +-1")
            S = np.ascontiguousarray(init.T[self.order]).astype(self.sdtype)
        with _blas_threads(self.threads):
            energy = self._energy(S)
        best_e = energy.copy()
        best_S = S.copy()
        table = FieldTable(self.bound, K)
        width = table.width
        counters = Counters()
        swap_rng = swap_stream(seed, replica_offset) if K > 1 else None
        stopped = False
        dense = self.engine == "dense"
        fd = self.sdtype if dense else self.fdtype  # dense: BLAS products stay in float (exact integers)
        buf = {"F": np.empty((n, R), dtype=fd), "H": np.empty((n, R), dtype=fd if dense else np.int8),
               "UP": np.empty((n, R), dtype=bool), "OLD": np.empty((n, R), dtype=fd if dense else bool),
               # measured: the per-sweep search pays off only for tiny colours x replicas
               "threshold": self.compare == "threshold" or (self.compare == "auto" and n * R <= 32 * max(1, self.num_colours))}
        with _blas_threads(self.threads):
            for t in range(B.shape[0]):
                table.set_betas(B[t])
                level_off = (table.L + level * width).astype(np.int64) if K > 1 else None
                counters.flips += self._sweep(S, X, scratch, table, level_off, level, energy, buf)
                counters.sweeps += 1
                counters.clocks += self.num_colours
                counters.spin_updates += n * R
                better = energy < best_e
                if np.any(better):
                    best_e[better] = energy[better]
                    best_S[:, better] = S[:, better]
                if K > 1 and (t + 1) % swap_interval == 0:
                    self._swap(level, energy, B[t], groups if groups is not None else R // K, K, t // swap_interval, swap_rng)
                if deadline is not None and time.perf_counter() >= deadline and t + 1 < B.shape[0]:
                    stopped = True
                    break
        return RunResult(self._unpermute(S).astype(np.int8), energy, self._unpermute(best_S).astype(np.int8), best_e,
                         level, counters, stopped)

    def _sweep(self, S: np.ndarray, X: np.ndarray, scratch: np.ndarray, table: FieldTable,
               level_off: np.ndarray | None, level: np.ndarray, energy: np.ndarray, buf: dict) -> int:
        """One clock per colour over all replicas; updates S, X and energy; returns flips.

        Each colour's rows of the field buffer F are final when the colour is clocked (in-block
        corrections only touch later colours, or are applied to a row just before its clock),
        and the rows of S a block updates are untouched before it, so the old spins, the energy
        change 2 sum_i half_i I_i and the flips are taken once per sweep from whole-sweep buffers.

        Two equivalent comparators: `lut` looks T(I) up per colour and tests u < T(I);
        `threshold` turns every draw u of the sweep into the smallest field that fires it,
        Theta(u) = min{I : T(I) > u} (T is non-decreasing), in one search per sweep, and tests
        I >= Theta. The second costs a search per draw but one call per colour instead of three,
        so it wins when colours are small (dense problems, few replicas).
        """
        xorshift32_(X, scratch)
        np.right_shift(X, 8, out=scratch)
        U = scratch.view(np.int32)  # each p-bit's 24-bit draw for this sweep
        two = S.dtype.type(2)
        dense = self.engine == "dense"
        F, H, UP = buf["F"], buf["H"], buf["UP"]
        theta = self._thresholds(table, U, level, F.dtype) if buf["threshold"] else None
        lut = table.table[0] if level_off is None else table.flat
        if dense:
            old = np.greater(S, 0, out=buf["OLD"])  # 0/1 in float
        else:
            old = np.greater(S, 0, out=buf["OLD"]).view(np.int8)
        for a, e, rows_mat, inner, colours_in in self.blocks:
            Ib = self._fields(rows_mat, S, a, e, F[a:e])
            Hb, UPb, Ob = H[a:e], UP[a:e], old[a:e]
            Ub = U[a:e] if theta is None else theta[a:e]
            last = len(colours_in) - 1
            # dense blocks of single p-bits apply the block's earlier changes to each row just
            # before its clock (one BLAS gemv); other blocks push each colour's changes to all
            # later rows
            lazy = dense and inner is not None and e - a == len(colours_in)
            for ci, (ra, re) in enumerate(colours_in):
                if lazy and ci > 0:
                    np.subtract(Ib[ra], inner[ra, :ra] @ Hb[:ra], out=Ib[ra])
                Ic = Ib[ra:re]
                if theta is None:
                    T = lut.take((Ic if level_off is None else Ic.astype(np.int64) + level_off).astype(np.intp))
                    up = np.less(Ub[ra:re], T, out=UPb[ra:re])
                else:
                    up = np.greater_equal(Ic, Ub[ra:re], out=UPb[ra:re])
                half = np.subtract(Ob[ra:re], up if dense else up.view(np.int8), out=Hb[ra:re])  # (s_old - s_new) / 2
                if ci < last and not lazy:
                    if re - ra == 1:
                        Ib[re:] -= inner[re:, ra:re] * half
                    else:
                        Ib[re:] -= inner[re:, ra:re] @ half
            Sb = S[a:e]
            np.multiply(UPb, two, out=Sb)
            Sb -= 1
        if dense:
            energy += np.rint(2.0 * np.einsum("ij,ij->j", H, F, dtype=np.float64)).astype(np.int64)
        else:
            energy += 2 * np.einsum("ij,ij->j", H, F, dtype=self.edtype)
        return int(np.count_nonzero(H))

    def _thresholds(self, table: FieldTable, U: np.ndarray, level: np.ndarray, dtype) -> np.ndarray:
        """Theta(u) = min{I : T(I) > u} for every draw (n, R): p-bit fires iff I >= Theta."""
        L, K = table.L, table.levels
        if K == 1:
            row = table.table[0]
            ordered = np.concatenate([row[L + 1:], row[: L + 1]])  # T(-L..L)
            return (np.searchsorted(ordered, U, side="right") - L).astype(dtype)
        # one search over the K tables stacked: level k's values shifted by k * 2^25
        stacked = (table.table.astype(np.int64) + (np.arange(K, dtype=np.int64) << 25)[:, None]).reshape(-1)
        keys = U.astype(np.int64) + (level.astype(np.int64) << 25)[None, :]
        return (np.searchsorted(stacked, keys, side="right") - level[None, :] * table.width - L).astype(dtype)

    def _fields(self, rows_mat, S: np.ndarray, a: int, e: int, out: np.ndarray) -> np.ndarray:
        """Integer local fields of the block's p-bits against the state S, written into `out`."""
        if self.engine == "sparse" and _csr_matvecs is not None:
            # scipy's kernel accumulates into a buffer we prefill with the biases: one pass
            # fewer than `rows_mat @ S + hq` and none of scipy's per-call checks
            out[...] = self.hq_perm[a:e, None]
            _csr_matvecs(e - a, self.n, S.shape[1], rows_mat.indptr, rows_mat.indices, rows_mat.data, S.ravel(), out.ravel())
            return out
        np.copyto(out, rows_mat @ S, casting="unsafe")  # exact: integer-valued products
        out += self.hq_perm[a:e, None]
        return out

    def _energy(self, S: np.ndarray) -> np.ndarray:
        """Quantised energy of each replica of the permuted state S (n, R), from scratch."""
        twice = np.zeros(S.shape[1], dtype=np.int64)  # 2E = -sum_i s_i (Jq s)_i - 2 hq.s
        for a, end, rows_mat, *_ in self.blocks:
            Ib = np.asarray(rows_mat @ S, dtype=np.int64) + 2 * self.hq_perm[a:end, None].astype(np.int64)
            twice -= np.einsum("ij,ij->j", S[a:end].astype(np.int64), Ib)
        return twice // 2

    @staticmethod
    def _swap(level: np.ndarray, energy: np.ndarray, betas: np.ndarray, groups: int, K: int, round_no: int,
              rng: np.random.Generator) -> None:
        """One round of replica-exchange between neighbouring levels of each read group;
        even rounds pair levels (0,1), (2,3), ...; odd rounds (1,2), (3,4), ..."""
        first = round_no % 2
        lows = np.arange(first, K - 1, 2)
        draws = rng.random((groups, lows.size))
        if lows.size == 0:
            return
        # replica at each (group, level): groups hold replicas g*K .. g*K+K-1
        who = np.empty((groups, K), dtype=np.int64)
        rep = np.arange(groups * K)
        who[rep // K, level[: groups * K]] = rep
        a = who[:, lows]
        b = who[:, lows + 1]
        delta = (betas[lows] - betas[lows + 1])[None, :] * (energy[a] - energy[b]).astype(np.float64)
        accept = draws < np.exp(np.minimum(delta, 0.0))
        la = level[a[accept]]
        level[a[accept]] = level[b[accept]]
        level[b[accept]] = la

    def _unpermute(self, S: np.ndarray) -> np.ndarray:
        """(n, R) permuted state -> (R, n) in p-bit order."""
        out = np.empty((S.shape[1], self.n), dtype=S.dtype)
        out[:, self.order] = S.T
        return out
