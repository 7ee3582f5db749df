"""Physics: the p-bit machine samples the Boltzmann distribution at fixed beta.

On problems small enough to enumerate (n <= 12), many independent replicas run at constant
beta from random starts; their final states are compared with the exact distribution
P(s) ~ exp(-beta H(s)) by a G-test (likelihood-ratio goodness of fit). States whose expected
count is below 5 are pooled into one bin, as the chi-square approximation requires.

Significance level ALPHA = 1e-3: a correct sampler fails a test with probability 1e-3 for a
random seed. The seeds are fixed, so each test is deterministic; run with `-s` to see the
statistic and p-value. The problems have integer couplings, so the machine's fixed-point
program is exactly the problem and the only departure from the ideal sampler is the 24-bit
threshold rounding (|P - sigmoid| <= 2^-25 per update).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

scipy_stats = pytest.importorskip("scipy.stats")

from tsuc.runtime.tsu.machine import MachineProgram, PBitMachine  # noqa: E402
from tsuc.targets.tsu import problems as P  # noqa: E402
from tsuc.targets.tsu.colouring import colour_graph  # noqa: E402
from tsuc.targets.tsu.frontend import compile_problem  # noqa: E402

ALPHA = 1e-3


def exact_distribution(prob, beta: float) -> tuple[np.ndarray, np.ndarray]:
    states = np.array(list(itertools.product([-1, 1], repeat=prob.n)), dtype=np.int8)
    e = prob.energy(states)
    w = np.exp(-beta * (e - e.min()))
    return states, w / w.sum()


def g_test(samples: np.ndarray, states: np.ndarray, probs: np.ndarray) -> tuple[float, int, float]:
    """(G statistic, degrees of freedom, p-value) of `samples` against `probs` over `states`."""
    n = samples.shape[1]
    weights = 1 << np.arange(n)[::-1]
    index = ((states > 0).astype(np.int64) @ weights)
    observed_by_index = np.bincount((samples > 0).astype(np.int64) @ weights, minlength=1 << n)
    observed = observed_by_index[index]
    expected = probs * samples.shape[0]
    big = expected >= 5
    obs = np.r_[observed[big], observed[~big].sum()] if (~big).any() else observed[big]
    exp = np.r_[expected[big], expected[~big].sum()] if (~big).any() else expected[big]
    nz = obs > 0
    G = 2.0 * float(np.sum(obs[nz] * np.log(obs[nz] / exp[nz])))
    dof = obs.size - 1
    return G, dof, float(scipy_stats.chi2.sf(G, dof))


def integer_problem(seed: int, n: int, density: float, jmax: int, hmax: int):
    rng = np.random.default_rng(seed)
    J = np.triu(rng.integers(-jmax, jmax + 1, size=(n, n)) * (rng.random((n, n)) < density), 1)
    J = J + J.T
    return P.from_numpy(J, rng.integers(-hmax, hmax + 1, size=n), name=f"int{n}")


def report(name: str, G: float, dof: int, p: float, samples: int) -> None:
    print(f"\n{name}: G = {G:.2f}, dof = {dof}, p = {p:.4f} ({samples} samples, alpha = {ALPHA})")


def program_of(prob) -> MachineProgram:
    colours = colour_graph(prob.n, prob.rows, prob.cols)
    return MachineProgram(prob.n, prob.rows, prob.cols, prob.J.astype(np.int64), prob.h.astype(np.int64), colours)


# 40 sweeps from random starts: enough burn-in for these couplings and betas (a colder or
# more strongly coupled problem needs more; the stationarity test below does not depend on it)
@pytest.mark.parametrize("engine, n, density, jmax, beta, seed", [("sparse", 10, 0.4, 3, 0.35, 1), ("dense", 8, 1.0, 2, 0.2, 2)])
def test_fast_engine_samples_boltzmann(engine, n, density, jmax, beta, seed):
    prob = integer_problem(seed, n, density, jmax=jmax, hmax=2)
    reads = 20000
    res = PBitMachine(program_of(prob), engine=engine).run(reads, np.full(40, beta), seed=seed)
    states, probs = exact_distribution(prob, beta)
    G, dof, p = g_test(res.states, states, probs)
    report(f"{engine} engine, n={n}, beta={beta}", G, dof, p, reads)
    assert p > ALPHA, f"G = {G:.1f} on {dof} dof: p = {p:.2e} < {ALPHA}"


def test_boltzmann_distribution_is_stationary():
    """Started from exact Boltzmann samples, three sweeps keep the distribution (the transition
    kernel leaves it invariant), independently of how fast the chain mixes."""
    prob = integer_problem(2, 8, 1.0, jmax=3, hmax=2)
    beta = 0.25
    states, probs = exact_distribution(prob, beta)
    init = states[np.random.default_rng(0).choice(len(states), size=20000, p=probs)]
    res = PBitMachine(program_of(prob), engine="dense").run(20000, np.full(3, beta), seed=3, init=init)
    G, dof, p = g_test(res.states, states, probs)
    report(f"stationarity, dense n=8, beta={beta}", G, dof, p, 20000)
    assert p > ALPHA


def test_compiled_artifact_constant_schedule_samples_boltzmann():
    """The user path: compile, run with a constant schedule, read `samples`."""
    prob = integer_problem(3, 9, 0.5, jmax=2, hmax=1)
    beta = 0.5
    exe = compile_problem(prob)
    out = exe.run(reads=20000, sweeps=40, seed=4, schedule="constant", beta0=beta, beta1=beta)
    states, probs = exact_distribution(prob, beta)
    G, dof, p = g_test(out["samples"], states, probs)
    report(f"artifact, n=9, beta={beta}", G, dof, p, 20000)
    assert p > ALPHA


def test_parallel_tempering_coldest_replica_samples_boltzmann_at_beta1():
    prob = integer_problem(5, 8, 0.6, jmax=3, hmax=2)
    beta1 = 0.6
    exe = compile_problem(prob)
    out = exe.run(reads=12000, sweeps=40, seed=6, tempering=4, beta0=0.1, beta1=beta1)
    states, probs = exact_distribution(prob, beta1)
    G, dof, p = g_test(out["samples"], states, probs)
    report(f"tempering (4 levels), cold beta={beta1}", G, dof, p, 12000)
    assert p > ALPHA


def test_the_test_rejects_a_wrong_temperature():
    """The G-test has the power to see a 20% error in beta at this sample size."""
    prob = integer_problem(1, 10, 0.4, jmax=3, hmax=2)
    res = PBitMachine(program_of(prob)).run(20000, np.full(40, 0.35 * 1.2), seed=1)
    states, probs = exact_distribution(prob, 0.35)
    G, dof, p = g_test(res.states, states, probs)
    report("wrong beta (x1.2)", G, dof, p, 20000)
    assert p < ALPHA
