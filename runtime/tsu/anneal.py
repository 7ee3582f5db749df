"""Annealing runs on the p-bit machine: schedules, parallel tempering, time limits, restarts.

`anneal` turns run parameters into machine runs and picks, for each read, the state to
return:

- Plain annealing: replica r is read r; its sample is its final state.
- Parallel tempering (`tempering = K >= 2`): read r is a group of K replicas on a geometric
  ladder from beta0 (hot) to beta1 (cold) that swap neighbouring temperatures; its sample is
  the final state of the replica at the coldest level (the prototype returned the hottest).
- With `time_limit` (seconds), annealing runs are repeated with fresh RNG streams until the
  time is up; a run still going when it expires stops after its current sweep. Each read
  then returns the best state it found over all runs (the lowest quantised energy), and the
  schedule of the unfinished run still counts towards that best.

Machine-level best states (lowest quantised energy seen after any sweep) are returned too,
so callers can score candidates on the original problem.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from tsuc.errors import TsucError
from tsuc.runtime.tsu.machine import Counters, PBitMachine
from tsuc.runtime.tsu.schedule import beta_schedule, tempering_ladder


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

    def validate(self) -> None:
        if self.reads < 1:
            raise TsucError(f"parameter reads={self.reads} must be at least 1")
        if self.sweeps < 1:
            raise TsucError(f"parameter sweeps={self.sweeps} must be at least 1")
        if self.time_limit is not None and not (self.time_limit > 0):
            raise TsucError(f"parameter time_limit={self.time_limit} must be a positive number of seconds")
        if self.tempering == 1 or self.tempering < 0:
            raise TsucError(f"parameter tempering={self.tempering} must be 0 (off) or at least 2 levels")
        if self.swap_interval < 1:
            raise TsucError(f"parameter swap_interval={self.swap_interval} must be at least 1")


@dataclass
class AnnealOutcome:
    samples: np.ndarray  # (reads, n) int8, p-bit order
    samples_q: np.ndarray  # (reads,) quantised energies of the samples
    best_states: np.ndarray  # (replicas, n) int8: each replica's best state
    best_q: np.ndarray
    counters: Counters
    replicas: int  # replicas per run
    runs: int
    stopped_early: bool
    seconds: float


def _accumulate(total: Counters, part: Counters) -> None:
    total.sweeps += part.sweeps
    total.clocks += part.clocks
    total.spin_updates += part.spin_updates
    total.flips += part.flips


def anneal(machine: PBitMachine, p: AnnealParams, start: float | None = None) -> AnnealOutcome:
    """Run the machine under `p`; see the module docstring for what each read returns.
    `start` (a time.perf_counter() value, default now) is when the time limit began."""
    p.validate()
    K = p.tempering
    if K:
        betas = np.tile(tempering_ladder(p.beta0, p.beta1, K), (p.sweeps, 1))
        R = p.reads * K
    else:
        betas = beta_schedule(p.schedule, p.beta0, p.beta1, p.sweeps)
        R = p.reads
    start = time.perf_counter() if start is None else start
    deadline = None if p.time_limit is None else start + float(p.time_limit)
    counters = Counters()
    keep_s = keep_q = None
    all_best = all_best_q = None
    runs = 0
    stopped = False
    while True:
        res = machine.run(R, betas, p.seed, groups=p.reads if K else None, swap_interval=p.swap_interval,
                          deadline=deadline, replica_offset=runs * R)
        runs += 1
        _accumulate(counters, res.counters)
        stopped = stopped or res.stopped_early
        if K:
            coldest = np.flatnonzero(res.levels == K - 1)
            coldest = coldest[np.argsort(coldest // K)]  # one per group, in read order
            final_s, final_q = res.states[coldest], res.energies_q[coldest]
            group_best = res.best_energies_q.reshape(p.reads, K)
            pick = np.arange(p.reads) * K + np.argmin(group_best, axis=1)
            run_best_s, run_best_q = res.best_states[pick], res.best_energies_q[pick]
        else:
            final_s, final_q = res.states, res.energies_q
            run_best_s, run_best_q = res.best_states, res.best_energies_q
        if deadline is None:
            keep_s, keep_q = final_s, final_q
        elif keep_s is None:
            keep_s, keep_q = run_best_s.copy(), run_best_q.copy()
        else:
            better = run_best_q < keep_q
            keep_s[better], keep_q[better] = run_best_s[better], run_best_q[better]
        if all_best is None:
            all_best, all_best_q = res.best_states.copy(), res.best_energies_q.copy()
        else:
            better = res.best_energies_q < all_best_q
            all_best[better], all_best_q[better] = res.best_states[better], res.best_energies_q[better]
        if deadline is None or res.stopped_early or time.perf_counter() >= deadline:
            break
    return AnnealOutcome(keep_s, keep_q, all_best, all_best_q, counters, R, runs, stopped,
                         time.perf_counter() - start)


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
