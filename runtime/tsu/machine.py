"""The p-bit machine simulator: clocked, colour-parallel, fixed-point, many replicas at once.

Model (the design page's machine; `reference.py` is the same machine one p-bit at a time):

- A `MachineProgram` is what the compiler loads into the machine: integer couplings Jq
  (symmetric, zero diagonal, held as the strict upper triangle), integer biases hq, the scale
  that maps them back to problem units (J ~ scale * Jq) and a proper colouring of the coupling
  graph.
- One sweep is one clock per colour, colours in increasing order. In the clock of colour c
  every p-bit i of that colour reads its integer local field I_i = sum_j Jq_ij s_j + hq_i,
  steps its own xorshift32 register, and sets s_i = +1 iff u_i < T(I_i) (`lut.py`: a bounded
  table rewritten every sweep), i.e. s_i = sign(tanh(beta I) - r). p-bits of one colour share
  no coupling, so updating them together equals updating them one at a time.
- Replicas are independent copies of the machine with their own registers; with parallel
  tempering each replica sits at one of K beta levels and, after every `swap_interval`
  sweeps, neighbouring levels of a read group try to swap with the Metropolis rule
  min(1, exp((beta_a - beta_b)(E_a - E_b))) on the quantised energy, drawn from the
  controller's PCG64 stream. Swapping moves the beta, not the state (the same thing).
- Counters: sweeps, clocks (sweeps x colours), spin_updates (p-bit updates summed over
  replicas) and flips (updates that changed a spin).

Engine: the compiled sweep kernels of `kernels.py` (numba): replica rows with fields kept
incrementally from CSR rows (sparse problems) or a dense matrix (dense ones) of 2 Jq, one
thread per replica; or, for sparse problems with LANES_MIN replicas or more, blocks of
kernels.LANES replicas side by side with fields summed over the lanes, one thread per block.
`PBitMachine.start(...)` powers replicas on and returns a `MachineRun` that `advance`s through
blocks of sweeps (the annealer uses it to fit a schedule to a time limit); `run(...)` does
both in one call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tsuc.errors import TsucError
from tsuc.runtime.tsu import kernels, limits
from tsuc.runtime.tsu.lut import TableLayout
from tsuc.runtime.tsu.rng import seed_registers, xorshift32_

SWAP_STREAM = 0x5EED5A1B  # xored into the seed for the controller's swap stream
TABLE_BUDGET = 1 << 22  # table entries (int32) built for one block of sweeps: 16 MiB
MAX_BLOCK = 512  # sweeps per kernel call


def swap_stream(seed: int, replica_offset: int) -> np.random.Generator:
    """The controller's random stream for tempering swaps (PCG64), fixed by seed and run."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, SWAP_STREAM, int(replica_offset)])))


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


def _check_betas(betas: np.ndarray, levels: int) -> np.ndarray:
    b = np.asarray(betas, dtype=np.float64)
    if b.ndim == 1:
        b = b[:, None]
    if b.ndim != 2 or b.shape[1] != levels or b.shape[0] < 1:
        raise TsucError(f"betas must have shape (sweeps, {levels}), not {np.asarray(betas).shape}")
    if not np.all(np.isfinite(b)) or np.any(b < 0):
        raise TsucError("every beta must be finite and non-negative")
    return b


def _smallest_int(bound: int):
    return next(t for t in (np.int16, np.int32, np.int64) if bound < np.iinfo(t).max)


class PBitMachine:
    """The fast engine: `run(...)` clocks `replicas` copies of the program through `betas`."""

    def __init__(self, program: MachineProgram, engine: str = "auto") -> None:
        if engine not in ("auto", "sparse", "dense"):
            raise TsucError(f"engine {engine!r} is not one of auto, sparse, dense")
        kernels.require()
        self.program = program
        n = program.n
        self.n = n
        self.bound = program.field_bound()
        self.layout = TableLayout(self.bound)
        order = np.argsort(program.colours, kind="stable")
        self.order = order  # position p holds p-bit order[p]
        self.num_colours = program.num_colours
        counts = np.unique(program.colours, return_counts=True)[1] if n else np.zeros(0, dtype=np.int64)
        self.cstart = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)  # colour c: positions cstart[c]..cstart[c+1]-1
        inv = np.empty(n, dtype=np.int64)
        inv[order] = np.arange(n)
        pr, pc = inv[program.rows], inv[program.cols]
        if engine == "auto":
            engine = "sparse" if 2 * program.rows.size < 0.25 * n * n else "dense"
        self.engine = engine
        self.fdtype = _smallest_int(self.bound)  # |I| <= bound: int16 fields for most problems (cache)
        jmax = int(np.abs(program.Jq).max()) if program.Jq.size else 0
        self.jdtype = np.int8 if 2 * jmax <= 127 else _smallest_int(2 * jmax)  # narrow rows: less memory traffic
        self.hq_perm = program.hq[order].astype(np.int64)
        rr, cc = np.r_[pr, pc], np.r_[pc, pr]
        vv = 2 * np.r_[program.Jq, program.Jq]
        if engine == "dense":
            self.J2 = np.zeros((n, n), dtype=self.jdtype)
            self.J2[rr, cc] = vv
            self._coupling_args: tuple = (self.J2,)
            idtype = None
        else:
            key = np.lexsort((cc, rr))
            rr, cc, vv = rr[key], cc[key], vv[key]
            self.indptr = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(np.bincount(rr, minlength=n), out=self.indptr[1:])
            self.indices = cc.astype(np.uint32 if n < 2**32 else np.uint64)  # unsigned: no wraparound checks in the kernels
            self.J2 = vv.astype(self.jdtype)
            self._coupling_args = (self.cstart, self.indptr, self.indices, self.J2)
            idtype = self.indices.dtype
        self._J2f = None  # float copy of the dense J2 for the initial fields (built on first use)
        self.warmup_s = kernels.warm_up(engine, self.fdtype, self.jdtype, idtype)  # JIT compile or cache load
        self._idtype = idtype
        self._lanes_ready = False
        if engine == "sparse":
            self.lanes_args()  # warm the lanes kernel too: JIT time stays out of every run

    def lanes_args(self) -> tuple:
        """Couplings for the lanes kernel (sparse engine, many replicas): CSR rows of J itself."""
        if not self._lanes_ready:
            self.J1 = (self.J2 // 2).astype(np.int8 if self.jdtype == np.int8 else _smallest_int(int(np.abs(self.J2).max(initial=0)) // 2))
            self.warmup_s += kernels.warm_up("lanes", self.fdtype, self.J1.dtype, self._idtype)
            self._lanes_ready = True
        return (self.hq_perm, self.indptr, self.indices, self.J1, np.zeros(1, dtype=self.fdtype))

    def start(self, replicas: int, seed: int = 0, *, levels_count: int = 1, levels: np.ndarray | None = None,
              groups: int | None = None, swap_interval: int = 1, init: np.ndarray | None = None,
              replica_offset: int = 0) -> MachineRun:
        """Power `replicas` replicas on (registers seeded, random or `init` spins); see `run`."""
        return MachineRun(self, replicas, seed, levels_count, levels, groups, swap_interval, init, replica_offset)

    def run(self, replicas: int, betas: np.ndarray, seed: int = 0, *, levels: np.ndarray | None = None,
            groups: int | None = None, swap_interval: int = 1, init: np.ndarray | None = None,
            replica_offset: int = 0) -> RunResult:
        """Clock `replicas` replicas through `betas` (sweeps,) or (sweeps, K).

        With K > 1 levels, `levels` (replicas,) is each replica's starting level (default:
        replica r at level r % K) and `groups` read groups of K replicas swap within themselves
        (replica r belongs to group r // K). `init` (replicas, n) of +-1 replaces the random
        start. `replica_offset` shifts the replica numbers that seed the registers (restarts).
        """
        b = np.asarray(betas)
        run = self.start(replicas, seed, levels_count=1 if b.ndim == 1 else b.shape[1], levels=levels, groups=groups,
                         swap_interval=swap_interval, init=init, replica_offset=replica_offset)
        run.advance(betas)
        return run.result()

    def fields(self, S: np.ndarray) -> np.ndarray:
        """I = Jq s + hq (int64) for permuted states S (R, n)."""
        if self.engine == "dense":
            # exact: every partial sum is an integer below 2 * bound, within the float's mantissa
            if self._J2f is None:
                self._J2f = self.J2.astype(np.float32 if 2 * self.bound < (1 << 24) else np.float64)
            twice = (S.astype(self._J2f.dtype) @ self._J2f).astype(np.float64)  # J2 is symmetric
        else:
            import scipy.sparse as sp

            mat = sp.csr_matrix((self.J2.astype(np.float64), self.indices, self.indptr), shape=(self.n, self.n))
            twice = np.asarray((mat @ S.astype(np.float64).T).T)
        return np.rint(twice).astype(np.int64) // 2 + self.hq_perm[None, :]

    def unpermute(self, S: np.ndarray) -> np.ndarray:
        """(R, n) permuted -> (R, n) in p-bit order."""
        out = np.empty_like(S)
        out[:, self.order] = S
        return out


LANES_MIN = 5  # sparse problems with this many replicas or more run side by side in lanes (measured crossover on G1)


class MachineRun:
    """Replicas powered on in a machine: `advance(betas)` clocks them, `result()` reads them.

    Two layouts of the same replicas: rows (R, n), one replica after the other (dense
    problems, and sparse ones with few replicas: fields kept incrementally), or lanes
    (B, n, L): blocks of kernels.LANES replicas side by side (sparse problems with at
    least LANES_MIN replicas: fields summed over all lanes at once). Lanes past R in the last
    block are copies of replica 0 and are never read back.
    """

    def __init__(self, machine: PBitMachine, replicas: int, seed: int, K: int, levels, groups, swap_interval: int,
                 init, replica_offset: int) -> None:
        m = self.machine = machine
        n, R = m.n, int(replicas)
        if R < 1:
            raise TsucError(f"replicas must be at least 1, not {R}")
        limits.check_replicas(R, 1, n)
        if int(swap_interval) < 1:
            raise TsucError(f"swap_interval must be at least 1, not {swap_interval}")
        self.R, self.K, self.swap_interval = R, int(K), int(swap_interval)
        self.groups = groups if groups is not None else R // self.K
        level = np.zeros(R, dtype=np.int64) if K == 1 else (np.arange(R) % K if levels is None else np.asarray(levels, dtype=np.int64).copy())
        if K > 1 and (level.shape != (R,) or level.min() < 0 or level.max() >= K):
            raise TsucError(f"levels must give each of the {R} replicas a level in 0..{K - 1}")
        X = seed_registers(seed, np.arange(replica_offset, replica_offset + R), m.order)  # (n, R) permuted
        xorshift32_(X, np.empty_like(X))
        X = np.ascontiguousarray(X.T)
        if init is not None:
            init = np.asarray(init)
            if init.shape != (R, n) or not np.all(np.abs(init) == 1):
                raise TsucError(f"init must be a ({R}, {n}) array of +-1")
            S = np.ascontiguousarray(init[:, m.order]).astype(np.int8)
        else:
            S = np.where(X >> np.uint32(31), 1, -1).astype(np.int8)
        F = m.fields(S)
        s = S.astype(np.int64)
        E = -(np.einsum("ij,ij->i", s, F) + s @ m.hq_perm) // 2  # 2E = -s.(I - hq) - 2 hq.s
        self.lanes = m.engine == "sparse" and R >= LANES_MIN
        if self.lanes:
            L = kernels.LANES
            B = -(-R // L)
            pad = B * L - R

            def blocks(a: np.ndarray) -> np.ndarray:
                a = np.concatenate([a, np.repeat(a[:1], pad, axis=0)]) if pad else a
                if a.ndim == 1:
                    return np.ascontiguousarray(a.reshape(B, L))
                return np.ascontiguousarray(a.reshape(B, L, n).transpose(0, 2, 1))

            self.S, self.X, self.E, self.level4 = blocks(S), blocks(X), blocks(E), blocks(level)
            self.level = self.level4.reshape(-1)[:R]  # views: swaps act on the blocks
            self.E_view = self.E.reshape(-1)[:R]
            self.flips = np.zeros((B, L), dtype=np.int64)
            self.F = None
        else:
            self.S, self.X, self.E, self.level = S, X, E, level
            self.level4 = level
            self.E_view = self.E
            self.F = np.ascontiguousarray(F, dtype=m.fdtype)  # rows: the kernels read a replica's fields as one vector
            self.flips = np.zeros(R, dtype=np.int64)
        self.bestS = self.S.copy()
        self.bestE = self.E.copy()
        self.counters = Counters()
        self.swap_rng = swap_stream(seed, replica_offset) if K > 1 else None
        self.t = 0  # sweeps done

    def advance(self, betas: np.ndarray) -> None:
        """Clock every replica through `betas` (sweeps,) or (sweeps, K), in problem units."""
        m, K = self.machine, self.K
        B = _check_betas(betas, K) * m.program.scale
        per = max(1, min(MAX_BLOCK, TABLE_BUDGET // max(1, K * m.layout.max_entries)))
        a = 0
        while a < B.shape[0]:
            c = min(per, B.shape[0] - a)
            if K > 1:  # a block ends at the next swap round
                c = min(c, self.swap_interval - self.t % self.swap_interval)
            tix, tables, W = m.layout.step_tables(B[a:a + c])
            if self.lanes:
                kernels.clock_lanes(self.S, self.X, self.E, self.bestS, self.bestE, self.flips, self.level4, tix, tables,
                                    np.int32(W), np.int32(m.layout.shift), *m.lanes_args())
            else:
                kernels.clock_rows(m.engine == "dense", self.S, self.X, self.F, self.E, self.bestS, self.bestE, self.flips,
                                   self.level, tix, tables, int(W), int(m.layout.shift), *m._coupling_args)
            self.t += c
            if K > 1 and self.t % self.swap_interval == 0:
                _swap(self.level, self.E_view, B[a + c - 1], self.groups, K, self.t // self.swap_interval - 1, self.swap_rng)
            a += c
        ct = self.counters
        ct.sweeps += B.shape[0]
        ct.clocks += B.shape[0] * m.num_colours
        ct.spin_updates += B.shape[0] * m.n * self.R
        ct.flips = int(self.flips.reshape(-1)[: self.R].sum())

    def _rows(self, a: np.ndarray) -> np.ndarray:
        """(R, n) or (R,) in replica order from either layout."""
        if not self.lanes:
            return a.copy()
        if a.ndim == 2:
            return a.reshape(-1)[: self.R].copy()
        return a.transpose(0, 2, 1).reshape(-1, self.machine.n)[: self.R].copy()

    def result(self) -> RunResult:
        m = self.machine
        c = Counters(**self.counters.as_dict())
        return RunResult(m.unpermute(self._rows(self.S)), self._rows(self.E), m.unpermute(self._rows(self.bestS)),
                         self._rows(self.bestE), self.level.copy(), c)


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
