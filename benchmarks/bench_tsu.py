"""Benchmarks of the tsu target: spin-update throughput and Max-Cut quality.

    python3 benchmarks/bench_tsu.py throughput [--reads 20,64,256] [--sweeps 1000] [--sk-sweeps 200]
    python3 benchmarks/bench_tsu.py quality [--graphs G1,...,G10] [--time-limit 10] [--quality-reads 64] [--quality-sweeps 2000]
    python3 benchmarks/bench_tsu.py all

Throughput: G1 (800 nodes, 19176 edges) and a dense 1000-spin SK instance (J = +-1, seed 0),
each compiled to a tsu artifact and run through `tsuc.load(...).run(...)`; spin updates per
wall second = reads x sweeps x spins / wall time of the whole run call (RNG seeding, all
sweeps, scoring on the original problem). The anchor is dwave-samplers'
SimulatedAnnealingSampler on the same instance in the same process, timed the same way
(its `sample` call; the BQM is built and its default beta range computed beforehand, so
dwave's Python set-up is not counted against it; both use the same geometric beta range). Both run on the same cores; the p-bit
machine's figure depends on the number of replicas it runs side by side (reads), which is
why it is reported per read count.

Quality: best cut on G-set graphs with `time_limit` seconds each (anneals repeated until
the time is up), against the best-known cuts of ../shared/data/gset/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

BEST_KNOWN = {"G1": 11624, "G2": 11620, "G3": 11622, "G4": 11646, "G5": 11631, "G6": 2178, "G7": 2006, "G8": 2005,
              "G9": 2054, "G10": 2000, "G14": 3064, "G22": 13359, "G43": 6660}


def gset_dir() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    for cand in (os.path.join(here, "..", "..", "shared", "data", "gset"), "/work/shared/data/gset"):
        if os.path.isfile(os.path.join(cand, "G1.txt")):
            return os.path.normpath(cand)
    sys.exit("G-set data not found at ../shared/data/gset or /work/shared/data/gset")


def sk_problem(n: int = 1000, seed: int = 0):
    from tsuc.runtime.tsu.problem import IsingProblem

    rng = np.random.default_rng(seed)
    r, c = np.triu_indices(n, 1)
    return IsingProblem(n, r, c, rng.choice([-1.0, 1.0], size=r.size), np.zeros(n), name=f"SK{n}")


def to_bqm(problem):
    import dimod

    # dimod minimises offset + sum b_i s_i + sum b_ij s_i s_j: b_ij = -J_ij, b_i = -h_i
    return dimod.BinaryQuadraticModel.from_numpy_vectors(-problem.h, (problem.rows, problem.cols, -problem.J), problem.offset, "SPIN")


def beta_range(problem) -> list[float]:
    """dwave's default (hot, cold) betas, computed outside the timed call (same rule as
    `tsuc.runtime.tsu.anneal.default_beta_range`, which equals dwave's on integer problems)."""
    from tsuc.runtime.tsu.anneal import default_beta_range
    from tsuc.runtime.tsu.machine import MachineProgram

    prog = MachineProgram(problem.n, problem.rows, problem.cols, np.rint(problem.J).astype(np.int64),
                          np.rint(problem.h).astype(np.int64), np.arange(problem.n))
    return list(default_beta_range(prog))


def dwave_rate(bqm, n: int, reads: int, sweeps: int, betas: list[float], seed: int = 1) -> tuple[float, float]:
    from dwave.samplers import SimulatedAnnealingSampler

    sampler = SimulatedAnnealingSampler()
    t = time.perf_counter()
    ss = sampler.sample(bqm, num_reads=reads, num_sweeps=sweeps, beta_range=betas, seed=seed)
    dt = time.perf_counter() - t
    return reads * sweeps * n / dt, float(ss.first.energy)


def tsu_rate(exe, n: int, reads: int, sweeps: int, seed: int = 1) -> tuple[float, float, dict]:
    t = time.perf_counter()
    out = exe.run(reads=reads, sweeps=sweeps, seed=seed)
    dt = time.perf_counter() - t
    prof = exe.profile()["segments"][0]
    return reads * sweeps * n / dt, float(out["best_energy"]), prof


def throughput(reads_list: list[int], sweeps_g1: int, sweeps_sk: int) -> None:
    from tsuc.targets.tsu import problems as P
    from tsuc.targets.tsu.frontend import compile_problem

    g1 = P.read_gset(os.path.join(gset_dir(), "G1.txt"))
    sk = sk_problem()
    print(f"# throughput, spin updates per wall second (numpy {np.__version__}, {os.cpu_count()} cores)")
    print("# instance  solver                         reads  sweeps  M updates/s  best energy")
    for problem, sweeps in ((g1, sweeps_g1), (sk, sweeps_sk)):
        with tempfile.TemporaryDirectory() as tmp:
            exe = compile_problem(problem, output=os.path.join(tmp, "p.tsuc"))
            bqm = to_bqm(problem)
            betas = beta_range(problem)
            rate, e = dwave_rate(bqm, problem.n, 20, sweeps, betas)
            print(f"{problem.name or 'G1':10s}  dwave SimulatedAnnealingSampler  {20:5d}  {sweeps:6d}  {rate / 1e6:11.2f}  {e:.0f}")
            for reads in reads_list:
                rate, e, prof = tsu_rate(exe, problem.n, reads, sweeps)
                print(f"{problem.name or 'G1':10s}  tsuc p-bit machine ({prof.get('colours')} colours)  {reads:5d}  {sweeps:6d}  {rate / 1e6:11.2f}  {e:.0f}"
                      f"   (anneal only {prof['updates_per_s'] / 1e6:.2f})")
            rate, e = dwave_rate(bqm, problem.n, 20, sweeps, betas)
            print(f"{problem.name or 'G1':10s}  dwave SimulatedAnnealingSampler  {20:5d}  {sweeps:6d}  {rate / 1e6:11.2f}  {e:.0f}   (again, after)")


def quality(graphs: list[str], time_limit: float, reads: int, sweeps: int, seed: int) -> None:
    import tsuc

    folder = gset_dir()
    print(f"# quality: best cut with time_limit={time_limit} s, reads={reads}, sweeps={sweeps} per anneal, seed={seed}")
    print("# graph  best known  tsuc cut  gap %   anneals  wall s")
    hits = 0
    within = 0
    for g in graphs:
        with tempfile.TemporaryDirectory() as tmp:
            art = os.path.join(tmp, f"{g}.tsuc")
            exe = tsuc.compile(os.path.join(folder, f"{g}.txt"), target="tsu", output=art)
            t = time.perf_counter()
            out = exe.run(reads=reads, sweeps=sweeps, seed=seed, time_limit=time_limit)
            wall = time.perf_counter() - t
            cut = float(out["cut"])
            best = BEST_KNOWN[g]
            gap = 100.0 * (best - cut) / best
            hits += cut >= best
            within += gap <= 0.1
            prof = exe.profile()["segments"][0]
            print(f"{g:6s}  {best:10d}  {cut:8.0f}  {gap:5.3f}  {prof['runs']:8d}  {wall:6.2f}")
    print(f"# best-known reached on {hits}/{len(graphs)}; within 0.1% on {within}/{len(graphs)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("throughput", "quality", "all"))
    ap.add_argument("--reads", default="20,64,256", help="throughput: comma-separated read counts of the p-bit machine")
    ap.add_argument("--sweeps", type=int, default=1000, help="throughput: sweeps on G1")
    ap.add_argument("--sk-sweeps", type=int, default=200, help="throughput: sweeps on SK-1000")
    ap.add_argument("--graphs", default=",".join(f"G{k}" for k in range(1, 11)))
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--quality-reads", type=int, default=64, help="quality: reads per anneal")
    ap.add_argument("--quality-sweeps", type=int, default=2000, help="quality: sweeps per anneal")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.what in ("throughput", "all"):
        throughput([int(x) for x in args.reads.split(",")], args.sweeps, args.sk_sweeps)
    if args.what in ("quality", "all"):
        quality(args.graphs.split(","), args.time_limit, args.quality_reads, args.quality_sweeps, args.seed)


if __name__ == "__main__":
    main()
