"""Annealing runs on the p-bit machine: schedules, parallel tempering, time limits, restarts.

`anneal` turns run parameters into machine runs and picks, for each read, the state to
return:

- Plain annealing: replica r is read r; its sample is its final state.
- Parallel tempering (`tempering = K >= 2`): read r is a group of K replicas on a geometric
  ladder from beta0 (hot) to beta1 (cold) that swap neighbouring temperatures; its sample is
  the final state of the replica at the coldest level (the prototype returned the hottest).
- With `time_limit` (seconds) every anneal runs to the end of its schedule; the schedule is
  fitted to the time. The machine clocks the schedule in blocks and measures its sweep rate
  on each block; when the sweeps left would not finish in the time left (with a 5% margin),
  the rest of the schedule is compressed onto the sweeps that do (betas taken at evenly
  spaced positions of the remaining schedule, always ending at beta1), and expanded back
  towards the given one when the rate recovers. So `sweeps` is the schedule length of each
  anneal and an upper bound: a first anneal that does not fit runs a compressed schedule and
  still ends cold. After a complete anneal, another one (fresh RNG streams) starts if a full
  `sweeps` anneal fits in the time left at the measured rate; otherwise the run returns,
  possibly before the limit. Each read returns the lowest-energy final state of its
  completed anneals; no state of an unfinished anneal is ever returned.

Machine-level best states (lowest quantised energy seen after any sweep) are returned too,
so callers can score candidates on the original problem.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from tsuc.runtime.tsu import limits
from tsuc.runtime.tsu.machine import Counters, MachineRun, PBitMachine
from tsuc.runtime.tsu.schedule import SCHEDULES, beta_schedule, tempering_ladder

_MARGIN = 0.95  # fraction of the time left a compressed schedule is fitted to
_BLOCK_S = 0.05  # seconds per block of sweeps between rate measurements
_PIECE = 1 << 16  # sweeps per `advance` without a time limit (bounds the betas array)
_clock = time.perf_counter  # the time limit's clock (tests replace it)


@dataclass(frozen=True)
class AnnealParams:
    reads: int = 16
    sweeps: int = 1000
    schedule: str = "geometric"
    beta0: float = 0.1
    beta1: float = 3.0
    seed: int = 0
    time_limit: float | None = None
    tempering: int = 0  # temperature levels per read (0: plain annealing)
    swap_interval: int = 1

    def validate(self, n: int = 1) -> None:
        """Ranges and finiteness of every parameter (one sentence on the first bad one)."""
        limits.integer("reads", self.reads, 1, limits.MAX_REPLICA_SPINS)
        limits.integer("sweeps", self.sweeps, 1, limits.MAX_SWEEPS)
        limits.integer("tempering", self.tempering, 0, limits.MAX_TEMPERING)
        if self.tempering == 1:
            raise limits.TsucError("parameter tempering=1 must be 0 (off) or at least 2 levels")
        limits.integer("swap_interval", self.swap_interval, 1, limits.MAX_SWEEPS)
        limits.integer("seed", self.seed, -(1 << 63), (1 << 64) - 1)
        limits.real("beta0", self.beta0, 0.0, limits.MAX_BETA)
        limits.real("beta1", self.beta1, 0.0, limits.MAX_BETA)
        if self.schedule not in SCHEDULES:
            raise limits.TsucError(f"parameter schedule={self.schedule!r} is not one of {', '.join(SCHEDULES)}")
        limits.check_time_limit(self.time_limit)
        limits.check_replicas(self.reads, self.tempering, n)


@dataclass
class AnnealOutcome:
    samples: np.ndarray  # (reads, n) int8, p-bit order
    samples_q: np.ndarray  # (reads,) quantised energies of the samples
    best_states: np.ndarray  # (replicas, n) int8: each replica's best state
    best_q: np.ndarray
    counters: Counters
    replicas: int  # replicas per run
    runs: int  # completed anneals
    seconds: float
    anneal_sweeps: list[int] = field(default_factory=list)  # sweeps each anneal ran
    compressed: bool = False  # some anneal ran a compressed schedule to fit the time limit


class _Schedule:
    """Betas of one anneal at given sweep positions: (len(idx), K) in problem units."""

    def __init__(self, p: AnnealParams) -> None:
        self.length = int(p.sweeps)
        self.K = p.tempering or 1
        if p.tempering:
            self.ladder = tempering_ladder(p.beta0, p.beta1, p.tempering)
            self.base = None
        else:
            self.base = beta_schedule(p.schedule, p.beta0, p.beta1, self.length)

    def at(self, idx: np.ndarray) -> np.ndarray:
        if self.base is None:
            return np.broadcast_to(self.ladder, (len(idx), self.K))
        return self.base[idx][:, None]


def _run_whole(run: MachineRun, sched: _Schedule) -> int:
    for a in range(0, sched.length, _PIECE):
        run.advance(sched.at(np.arange(a, min(a + _PIECE, sched.length))))
    return sched.length


def _run_fitted(run: MachineRun, sched: _Schedule, deadline: float, rate: list[float]) -> tuple[int, bool]:
    """Clock the whole schedule, compressed where needed to end by `deadline`; `rate` holds
    the latest measured seconds per sweep (updated). Returns (sweeps run, compressed)."""
    S = sched.length
    pos = 0.0  # schedule sweeps covered
    done = 0
    compressed = False
    c = 1 if not rate else max(1, int(_BLOCK_S / max(rate[0], 1e-9)))
    while pos < S:
        remaining = S - pos
        if rate:
            fit = int(_MARGIN * (deadline - _clock()) / max(rate[0], 1e-12))
            m = max(1, min(int(np.ceil(remaining - 1e-9)), fit))
        else:
            m = int(np.ceil(remaining - 1e-9))
        step = remaining / m
        compressed |= step > 1.0 + 1e-12
        c = min(c, m)
        idx = np.clip(np.rint(pos + step * np.arange(1, c + 1)).astype(np.int64) - 1, 0, S - 1)
        if c == m:
            idx[-1] = S - 1  # the anneal ends at the end of its schedule
        t0 = _clock()
        run.advance(sched.at(idx))
        dt = _clock() - t0
        rate[:] = [dt / c]
        done += c
        pos = float(S) if c == m else pos + step * c
        c = max(1, min(2 * c, int(_BLOCK_S / max(rate[0], 1e-9))))
    return done, compressed


def anneal(machine: PBitMachine, p: AnnealParams, start: float | None = None) -> AnnealOutcome:
    """Run the machine under `p`; see the module docstring for what each read returns.
    `start` (a time.perf_counter() value, default now) is when the time limit began."""
    p.validate(machine.n)
    K = p.tempering
    R = p.reads * K if K else p.reads
    sched = _Schedule(p)
    start = _clock() if start is None else start
    deadline = None if p.time_limit is None else start + float(p.time_limit)
    counters = Counters()
    keep_s = keep_q = all_best = all_best_q = None
    runs = 0
    sweeps_each: list[int] = []
    compressed = False
    rate: list[float] = []
    while True:
        began = _clock()
        run = machine.start(R, p.seed, levels_count=K or 1, groups=p.reads if K else None,
                            swap_interval=p.swap_interval, replica_offset=runs * R)
        if deadline is None:
            done = _run_whole(run, sched)
        else:
            done, squeezed = _run_fitted(run, sched, deadline, rate)
            compressed |= squeezed
        res = run.result()
        runs += 1
        sweeps_each.append(done)
        for key, value in res.counters.as_dict().items():
            setattr(counters, key, getattr(counters, key) + value)
        if K:
            coldest = np.flatnonzero(res.levels == K - 1)
            coldest = coldest[np.argsort(coldest // K)]  # one per group, in read order
            final_s, final_q = res.states[coldest], res.energies_q[coldest]
        else:
            final_s, final_q = res.states, res.energies_q
        if keep_s is None:
            keep_s, keep_q = final_s.copy(), final_q.copy()
            all_best, all_best_q = res.best_states.copy(), res.best_energies_q.copy()
        else:
            better = final_q < keep_q
            keep_s[better], keep_q[better] = final_s[better], final_q[better]
            better = res.best_energies_q < all_best_q
            all_best[better], all_best_q[better] = res.best_states[better], res.best_energies_q[better]
        if deadline is None:
            break
        now = _clock()
        if now + (now - began) * sched.length / done > deadline:  # a full anneal at this one's rate
            break
    return AnnealOutcome(keep_s, keep_q, all_best, all_best_q, counters, R, runs, _clock() - start,
                         sweeps_each, compressed)


def default_beta_range(program) -> tuple[float, float]:
    """(hot, cold) betas in problem units, as dwave-samplers chooses them for annealing.

    Hot: every spin flips with probability >= about 1/2 even against its largest possible
    field (beta0 = ln 2 / (2 max_i sum_j |J_ij| + |h_i|)). Cold: the expected number of
    excitations across the spins with the smallest gap is 0.01
    (beta1 = ln(count / 0.01) / (2 min nonzero |J or h|)). Computed on the integer program,
    then converted with its scale.
    """
    n = program.n
    absJ = np.abs(program.Jq)
    total = np.abs(program.hq).astype(np.float64)
    np.add.at(total, program.rows, absJ)
    np.add.at(total, program.cols, absJ)
    smallest = np.where(program.hq != 0, np.abs(program.hq), np.inf).astype(np.float64)
    np.minimum.at(smallest, program.rows, np.where(absJ > 0, absJ, np.inf))
    np.minimum.at(smallest, program.cols, np.where(absJ > 0, absJ, np.inf))
    finite = smallest[np.isfinite(smallest)]
    if n == 0 or total.max() == 0 or finite.size == 0:
        return 0.1 / program.scale, 1.0 / program.scale
    hot = np.log(2.0) / (2.0 * total.max())
    low = finite.min()
    count = int(np.sum(finite == low))
    cold = np.log(count / 0.01) / (2.0 * low)
    return float(hot / program.scale), float(max(cold, hot) / program.scale)
