"""The p-bit machine: the fast engine against the one-p-bit-at-a-time reference, bit for bit."""

from __future__ import annotations

import math

import time

import numpy as np
import pytest

from tsuc.errors import TsucError
from tsuc.runtime.tsu import anneal as A
from tsuc.runtime.tsu.chains import chain_breaks, majority_vote
from tsuc.runtime.tsu.lut import MAX_RADIUS, ONE, TableLayout, address, address_shift, thresholds
from tsuc.runtime.tsu.machine import MachineProgram, PBitMachine
from tsuc.runtime.tsu.reference import _seed, _xorshift32, reference_run
from tsuc.runtime.tsu.rng import seed_registers, xorshift32_
from tsuc.runtime.tsu.schedule import beta_schedule, tempering_ladder

FIELDS = ("states", "energies_q", "best_states", "best_energies_q", "levels")


def greedy_colours(n: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """A proper colouring for tests (smallest free colour, node order)."""
    nbrs = [set() for _ in range(n)]
    for i, j in zip(rows.tolist(), cols.tolist()):
        nbrs[i].add(j)
        nbrs[j].add(i)
    colour = [-1] * n
    for v in range(n):
        used = {colour[u] for u in nbrs[v]}
        colour[v] = next(c for c in range(n) if c not in used)
    return np.array(colour)


def random_program(seed: int, n: int, density: float, jmax: int = 127, hmax: int = 40, scale: float = 0.02) -> MachineProgram:
    rng = np.random.default_rng(seed)
    r, c = np.triu_indices(n, 1)
    keep = rng.random(r.size) < density
    r, c = r[keep], c[keep]
    J = rng.integers(-jmax, jmax + 1, size=r.size)
    J[J == 0] = 1
    h = rng.integers(-hmax, hmax + 1, size=n)
    return MachineProgram(n, r, c, J, h, greedy_colours(n, r, c), scale=scale)


def assert_same(a, b):
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)
    assert a.counters == b.counters


CASES = [
    # (seed, n, density, engine, jmax): sparse and dense engines, int16 and int32 couplings,
    # exact tables and tables addressed by the top bits of wide fields (shift > 0)
    (1, 7, 0.5, "sparse", 127),
    (2, 10, 1.0, "dense", 127),
    (3, 12, 0.3, "sparse", 127),
    (4, 12, 0.3, "dense", 127),
    (5, 30, 0.25, "sparse", 127),
    (6, 9, 0.8, "sparse", 7000),  # 2 J past int16: int32 couplings, fields below 2^16 (exact table)
    (7, 9, 0.8, "dense", 7000),
    (8, 11, 0.6, "sparse", 2**20),  # fields past 2^16: shifted table addresses
    (9, 14, 1.0, "dense", 2**30 - 1),  # 31-bit couplings: int64 fields
    (10, 13, 0.5, "sparse", 2**30 - 1),  # int64 fields in the sparse rows and the lanes kernels
]


@pytest.mark.parametrize("replicas", [4, 11])  # sparse: replica rows below LANES_MIN, lanes (padded to 16) above
@pytest.mark.parametrize("seed, n, density, engine, jmax", CASES)
def test_anneal_matches_reference(seed, n, density, engine, jmax, replicas):
    prog = random_program(seed, n, density, jmax=jmax, scale=0.02 * 127 / jmax)
    fast = PBitMachine(prog, engine=engine)
    betas = beta_schedule("geometric", 0.05, 4.0, 9)
    assert_same(fast.run(replicas, betas, seed=seed), reference_run(prog, replicas, betas, seed=seed))


@pytest.mark.parametrize("jmax", [127, 7000, 2**30 - 1])  # int16, int32 and int64 fields
def test_rows_vector_chunks_match_reference(jmax):
    """Colours of 16 p-bits and more: the rows kernel clocks them 16 at a time (vector
    chunks), the rest one at a time."""
    prog = random_program(24, 90, 0.03, jmax=jmax, scale=0.02 * 127 / jmax)
    m = PBitMachine(prog, engine="sparse")
    sizes = np.diff(m.cstart)
    assert sizes.max() >= 32 and np.any(sizes % 16 != 0), sizes
    betas = beta_schedule("geometric", 0.05, 4.0, 8)
    assert_same(m.run(3, betas, seed=5), reference_run(prog, 3, betas, seed=5))


def test_lanes_blocks_match_reference():
    """More replicas than one lanes block holds: several blocks, the last one padded."""
    prog = random_program(22, 12, 0.3)
    betas = beta_schedule("geometric", 0.1, 3.0, 4)
    assert_same(PBitMachine(prog, engine="sparse").run(70, betas, seed=3), reference_run(prog, 70, betas, seed=3))


@pytest.mark.parametrize("engine", ["sparse", "dense"])
def test_wide_fields_use_the_rounded_address_like_the_reference(engine):
    """24-bit couplings: fields far past the table, addressed by their top bits; many updates
    near the middle of the sigmoid, so an off-by-one address shows up."""
    prog = random_program(21, 11, 0.6, jmax=2**23, hmax=2**22, scale=1.0)
    m = PBitMachine(prog, engine=engine)
    assert m.layout.shift > 0
    betas = np.full(20, 1.0 / prog.field_bound())
    assert_same(m.run(300, betas, seed=2), reference_run(prog, 300, betas, seed=2))


@pytest.mark.parametrize("engine", ["sparse", "dense"])
def test_wide_field_addresses_round_half_away_from_zero(engine):
    """Fields exactly halfway between two table addresses (bound 2^20: shift 4, half 8)."""
    hq = [-(1 << 20), -(3 * 16 + 8), 5 * 16 + 8, 7 * 16 + 7, -(2 * 16 + 7)]
    prog = MachineProgram(5, [], [], [], hq, [0] * 5)
    m = PBitMachine(prog, engine=engine)
    assert m.layout.shift == 4
    res = m.run(2000, np.full(3, 0.01), seed=5)
    assert_same(res, reference_run(prog, 2000, np.full(3, 0.01), seed=5))
    frac = (res.states > 0).mean(axis=0)
    want = 1 / (1 + np.exp(-0.02 * np.array([-600, -64, 96, 112, -32])))  # -600: never fires
    np.testing.assert_allclose(frac, want, atol=0.035)


@pytest.mark.parametrize("engine, replicas", [("sparse", 4), ("sparse", 40), ("dense", 4)])
def test_fields_at_the_bound_read_the_last_table_entry(engine, replicas):
    """Fields equal to +-bound at a beta that leaves the table unsaturated: the clamp at W
    must keep the last entry (W - 1 would read a different threshold)."""
    hq = [37, -37, 20, -5, 36]
    prog = MachineProgram(5, [], [], [], hq, [0] * 5)
    m = PBitMachine(prog, engine=engine)
    betas = np.full(30, 0.02)
    _, tables, W = m.layout.step_tables(betas[:, None])
    assert W == 37 and tables[0, 0] != tables[0, 1] and tables[0, -1] != tables[0, -2]
    assert_same(m.run(replicas, betas, seed=6), reference_run(prog, replicas, betas, seed=6))


@pytest.mark.parametrize("engine", ["sparse", "dense"])
def test_tempering_matches_reference(engine):
    prog = random_program(11, 10, 0.5)
    fast = PBitMachine(prog, engine=engine)
    betas = np.tile(tempering_ladder(0.1, 3.0, 4), (12, 1))
    a = fast.run(12, betas, seed=4, swap_interval=2, replica_offset=7)
    b = reference_run(prog, 12, betas, seed=4, swap_interval=2, replica_offset=7)
    assert_same(a, b)
    assert not np.array_equal(a.levels, np.arange(12) % 4), "no swap was accepted: the test would not see swap bugs"


def test_constant_beta_with_init_and_zero_beta():
    prog = random_program(12, 8, 0.6)
    init = np.where(np.random.default_rng(0).random((3, 8)) < 0.5, -1, 1)
    fast = PBitMachine(prog)
    for betas in (np.full(6, 0.7), np.zeros(4)):
        assert_same(fast.run(3, betas, seed=9, init=init), reference_run(prog, 3, betas, seed=9, init=init))


def test_energies_and_counters_are_consistent():
    prog = random_program(13, 25, 0.3)
    res = PBitMachine(prog).run(6, beta_schedule("linear", 0.1, 3.0, 20), seed=2)
    np.testing.assert_array_equal(res.energies_q, prog.quantised_energy(res.states))
    np.testing.assert_array_equal(res.best_energies_q, prog.quantised_energy(res.best_states))
    assert np.all(res.best_energies_q <= res.energies_q)
    c = res.counters
    assert (c.sweeps, c.clocks, c.spin_updates) == (20, 20 * prog.num_colours, 20 * 25 * 6)
    assert 0 < c.flips < c.spin_updates


def test_same_seed_same_samples_and_seeds_differ():
    prog = random_program(14, 20, 0.3)
    m = PBitMachine(prog)
    betas = np.full(5, 1.0)
    a, b, c = m.run(4, betas, seed=1), m.run(4, betas, seed=1), m.run(4, betas, seed=2)
    np.testing.assert_array_equal(a.states, b.states)
    assert not np.array_equal(a.states, c.states)


def test_replicas_are_independent_of_batch_size():
    """Replica r's registers depend only on (seed, r, p-bit): running 2 or 5 replicas gives
    the first two the same trajectories."""
    prog = random_program(15, 16, 0.4)
    m = PBitMachine(prog)
    betas = beta_schedule("geometric", 0.1, 2.0, 8)
    np.testing.assert_array_equal(m.run(2, betas, seed=3).states, m.run(5, betas, seed=3).states[:2])


@pytest.mark.parametrize("engine, replicas", [("sparse", 3), ("sparse", 40), ("dense", 3)])
def test_results_do_not_depend_on_the_thread_count(engine, replicas):
    """Each thread owns whole replicas (rows) or whole blocks of lanes: one thread or two
    give the same bits (40 replicas: three lanes blocks, split 2 + 1 over two threads)."""
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has a single thread here")
    prog = random_program(23, 24, 0.3 if engine == "sparse" else 1.0)
    m = PBitMachine(prog, engine=engine)
    betas = beta_schedule("geometric", 0.1, 3.0, 6)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = m.run(replicas, betas, seed=8)
        numba.set_num_threads(2)
        two = m.run(replicas, betas, seed=8)
    finally:
        numba.set_num_threads(old)
    assert_same(one, two)
    assert_same(two, reference_run(prog, replicas, betas, seed=8))


def test_colouring_must_be_proper():
    with pytest.raises(TsucError, match="coupled but share colour"):
        MachineProgram(3, [0], [1], [5], [0, 0, 0], [0, 0, 1])


def test_rng_matches_scalar_xorshift_and_seeding():
    regs = seed_registers(123, np.arange(3), np.arange(5))
    assert regs.shape == (5, 3) and np.all(regs != 0)
    for i in range(5):
        for r in range(3):
            assert int(regs[i, r]) == _seed(123, r, i)
    x = regs.copy()
    scratch = np.empty_like(x)
    expect = [[int(v) for v in row] for row in regs]
    for _ in range(20):
        xorshift32_(x, scratch)
        expect = [[_xorshift32(v) for v in row] for row in expect]
        assert x.tolist() == expect


def test_lut_entries_are_the_rounded_sigmoid_and_clamping_is_exact():
    layout = TableLayout(300)
    assert layout.shift == 0 and layout.radius == 300
    betas = np.array([[0.0], [0.003], [0.05], [0.9], [3.0]])
    tix, rows, W = layout.step_tables(betas)
    assert W == 300  # beta 0 never saturates
    I = np.arange(-300, 301)
    for k, beta in enumerate(betas[:, 0]):
        row = rows[tix[k, 0]]
        np.testing.assert_array_equal(row[np.clip(I, -W, W) + W], thresholds(beta, I))
        for f in (-300, -7, -1, 0, 1, 7, 300):
            exact = ONE / (1 + math.exp(min(-2 * beta * f, 700.0)))
            assert abs(int(row[f + W]) - exact) <= 0.5 + 1e-9
    # cold tables are cut at the saturation radius: clamped addresses read the same entries
    tix, rows, W = layout.step_tables(np.array([[0.9], [3.0]]))
    assert W < 300 and rows.shape == (2, 2 * W + 1)
    for k, beta in enumerate((0.9, 3.0)):
        np.testing.assert_array_equal(rows[tix[k, 0]][np.clip(I, -W, W) + W], thresholds(beta, I))


def test_lut_is_bounded_for_wide_fields():
    """A 31-bit machine's table has at most 2 * MAX_RADIUS + 1 entries; fields address it by
    their top bits, rounded symmetrically."""
    bound = 40 * (2**30 - 1)
    k = address_shift(bound)
    layout = TableLayout(bound)
    assert layout.shift == k > 0 and layout.radius <= MAX_RADIUS and layout.max_entries <= 2 * MAX_RADIUS + 1
    assert address_shift(MAX_RADIUS) == 0 and address_shift(MAX_RADIUS + 1) == 1
    half = 1 << (k - 1)
    f = np.array([0, 1, half - 1, half, -half, -half + 1, 3 << k, -(3 << k) - half, bound, -bound])
    np.testing.assert_array_equal(address(f, k), [0, 0, 0, 1, -1, 0, 3, -4, layout.radius, -layout.radius])
    tix, rows, W = layout.step_tables(np.array([[1e-12], [1e-9]]))
    assert rows.shape[1] == 2 * W + 1 <= 2 * MAX_RADIUS + 1 and rows.dtype == np.int32


def test_schedules():
    np.testing.assert_allclose(beta_schedule("geometric", 0.1, 10, 3), [0.1, 1, 10])
    np.testing.assert_allclose(beta_schedule("linear", 0, 1, 3), [0, 0.5, 1])
    np.testing.assert_allclose(beta_schedule("constant", 0.3, 2, 2), [2, 2])
    with pytest.raises(TsucError, match="schedule 'cubic'"):
        beta_schedule("cubic", 0.1, 1, 3)
    with pytest.raises(TsucError, match="geometric schedule needs beta0 > 0"):
        beta_schedule("geometric", 0, 1, 3)


def test_majority_vote_and_chain_breaks():
    chain_of = np.array([0, 0, 0, 1, -1, 2, 2])
    states = np.array([[1, 1, -1, -1, 1, 1, -1], [-1, -1, 1, 1, -1, -1, -1]])
    logical = majority_vote(states, chain_of, 3)
    # chain 2 ties in read 0: its first p-bit (5) decides
    np.testing.assert_array_equal(logical, [[1, -1, 1], [-1, 1, -1]])
    assert chain_breaks(states, chain_of) == pytest.approx(3 / 6)


def test_anneal_tempering_returns_the_coldest_replica():
    prog = random_program(17, 12, 0.4)
    m = PBitMachine(prog)
    p = A.AnnealParams(reads=3, sweeps=15, beta0=0.05, beta1=3.0, seed=5, tempering=4)
    out = A.anneal(m, p)
    res = m.run(12, np.tile(tempering_ladder(0.05, 3.0, 4), (15, 1)), seed=5, groups=3)
    for g in range(3):
        members = np.arange(g * 4, g * 4 + 4)
        cold = members[res.levels[members] == 3][0]
        np.testing.assert_array_equal(out.samples[g], res.states[cold])
    assert out.samples.shape == (3, 12) and out.replicas == 12


def test_anneal_time_limit_returns_the_best_final_state_of_complete_anneals(monkeypatch):
    prog = random_program(18, 20, 0.3)
    m = PBitMachine(prog)
    ticks = iter(range(10**6))
    monkeypatch.setattr(A, "_clock", lambda: next(ticks) * 1e-3)  # a steady clock: 1 ms per reading
    p = A.AnnealParams(reads=2, sweeps=5, beta0=0.1, beta1=3.0, seed=1, time_limit=0.3)
    out = A.anneal(m, p, start=0.0)
    assert out.runs > 1 and out.anneal_sweeps == [5] * out.runs and not out.compressed
    assert out.counters.sweeps == 5 * out.runs
    # each read's sample is the lowest-energy FINAL state of its anneals (fresh streams each)
    betas = beta_schedule("geometric", 0.1, 3.0, 5)
    finals = [m.run(2, betas, seed=1, replica_offset=k * 2) for k in range(out.runs)]
    for r in range(2):
        energies = [f.energies_q[r] for f in finals]
        k = int(np.argmin(energies))
        np.testing.assert_array_equal(out.samples[r], finals[k].states[r])
        assert out.samples_q[r] == min(energies)
    np.testing.assert_array_equal(out.samples_q, prog.quantised_energy(out.samples))
    assert out.best_q.min() <= out.samples_q.min()


class _SlowRun:
    """Stands in for a MachineRun on a simulated clock: records the betas it is clocked
    through and advances the clock by `cost` seconds per sweep (no real time, no timing)."""

    def __init__(self, cost: float, monkeypatch) -> None:
        self.cost, self.betas, self.now = cost, [], 0.0
        monkeypatch.setattr(A, "_clock", lambda: self.now)

    def advance(self, betas) -> None:
        self.betas.extend(np.asarray(betas)[:, 0].tolist())
        self.now += self.cost * len(betas)


def test_time_limit_compresses_a_schedule_that_does_not_fit_and_still_ends_cold(monkeypatch):
    p = A.AnnealParams(reads=1, sweeps=100000, beta0=0.1, beta1=3.0, time_limit=0.4)
    sched = A._Schedule(p)
    run = _SlowRun(1e-3, monkeypatch)  # 100000 sweeps would take 100 s
    done, compressed = A._run_fitted(run, sched, 0.4, [])
    assert compressed and done == len(run.betas) and 350 < done <= 400 and run.now <= 0.4
    b = np.array(run.betas)
    assert b[-1] == 3.0 and b[0] == sched.base[0]  # the whole beta range, ending at beta1
    assert np.all(np.diff(b) >= 0) and np.isin(b, sched.base).all()  # taken from the schedule, in order


def test_time_limit_expands_back_when_the_rate_recovers(monkeypatch):
    p = A.AnnealParams(reads=1, sweeps=1000, beta0=0.1, beta1=3.0, time_limit=1.0)
    sched = A._Schedule(p)
    run = _SlowRun(0.1, monkeypatch)  # the first sweep is slow (as on a loaded machine) ...
    real_advance = run.advance

    def advance(betas):
        real_advance(betas)
        run.cost = 1e-4  # ... then the rate recovers: the rest fits in the time left
    run.advance = advance
    done, compressed = A._run_fitted(run, sched, 1.0, [])
    assert compressed and done > 800 and run.betas[-1] == 3.0  # only the slow start was compressed


def test_time_limit_keeps_a_schedule_that_fits_exactly(monkeypatch):
    p = A.AnnealParams(reads=1, sweeps=300, beta0=0.1, beta1=3.0, time_limit=5)
    sched = A._Schedule(p)
    run = _SlowRun(1e-3, monkeypatch)
    done, compressed = A._run_fitted(run, sched, 5.0, [])
    assert done == 300 and not compressed
    np.testing.assert_array_equal(run.betas, sched.base)


@pytest.mark.parametrize("kw, match", [
    ({"time_limit": math.inf}, "time_limit=inf must be a positive, finite"),
    ({"time_limit": math.nan}, "time_limit=nan"),
    ({"time_limit": -1.0}, "time_limit=-1.0"),
    ({"time_limit": 1e9}, "at most 86400"),
    ({"swap_interval": 0, "tempering": 2}, "swap_interval=0 must be between 1"),
    ({"sweeps": 10**12}, "sweeps=1000000000000 must be between 1 and 10000000"),
    ({"reads": 10**12}, "reads=1000000000000"),
    ({"reads": 10**6}, "replica-spins"),
    ({"tempering": 65}, "tempering=65"),
    ({"beta1": math.inf}, "beta1=inf must be a finite number"),
])
def test_run_parameters_out_of_range_are_refused(kw, match):
    m = PBitMachine(random_program(19, 100, 0.1))
    with pytest.raises(TsucError, match=match):
        A.anneal(m, A.AnnealParams(**kw))


def test_default_beta_range_follows_dwave_rule():
    # a ring of 4 spins with |J| = 1 (integer program, scale 1): max field 2, min gap 1, 4 spins
    prog = MachineProgram(4, [0, 1, 2, 0], [1, 2, 3, 3], [-1, -1, -1, -1], [0, 0, 0, 0], [0, 1, 0, 1])
    hot, cold = A.default_beta_range(prog)
    assert hot == pytest.approx(math.log(2) / 4)
    assert cold == pytest.approx(math.log(4 / 0.01) / 2)
