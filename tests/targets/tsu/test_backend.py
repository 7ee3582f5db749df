"""TSUBackend: the p-bit simulator backend's physics, determinism, registry and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tsuc.nn.tsu as tsu
from tsuc.errors import TsucError
from tsuc.nn.tsu.pbit_sim import PBitSimulatorBackend
from tsuc.nn.tsu.stats import exact_boltzmann, g_test, state_index

# Significance level of the Boltzmann goodness-of-fit tests: a correct sampler fails one with
# probability ALPHA for a random seed; the seeds are fixed, so the outcome is deterministic.
ALPHA = 1e-3


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def random_problem(n: int, density: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    J = rng.normal(0, 0.7, size=(n, n)) * (rng.random((n, n)) < density)
    J = np.triu(J, 1)
    J = J + J.T
    h = rng.normal(0, 0.4, size=n)
    return J, h


@pytest.mark.parametrize(
    "n,density,beta,seed",
    [(6, 1.0, 1.0, 11), (10, 0.35, 0.8, 12), (8, 0.6, 0.7, 13)],
    ids=["dense6", "sparse10", "mid8"],
)
def test_sample_ising_matches_boltzmann(n, density, beta, seed):
    J, h = random_problem(n, density, seed)
    chains = 20000
    out = tsu.get_backend().sample_ising(J, h, beta=beta, num_steps=200, batch_size=chains, key=seed)
    idx = state_index(out["samples"])
    stat, dof, p = g_test(idx, exact_boltzmann(J, h, beta))
    print(f"Boltzmann G-test n={n} colours={out['num_colors']} beta={beta}: G={stat:.2f} dof={dof} p={p:.4f} (alpha={ALPHA})")
    assert p > ALPHA
    # The same test has power: the samples are rejected against a 25% hotter distribution.
    _, _, p_wrong = g_test(idx, exact_boltzmann(J, h, beta * 0.75))
    assert p_wrong < 1e-6


def test_final_energy_and_acceptance():
    J, h = random_problem(7, 0.7, 3)
    out = tsu.get_backend().sample_ising(J, h, 0.7, 25, batch_size=64, key=4)
    s = out["samples"].numpy()
    expected = -0.5 * np.einsum("bi,ij,bj->b", s, J, s) - s @ h
    np.testing.assert_allclose(out["final_energy"].numpy(), expected, rtol=1e-12)
    assert out["samples"].shape == (64, 7) and out["final_energy"].shape == (64,)
    assert set(np.unique(s)) <= {-1.0, 1.0}
    # beta = 0: every update is a fair coin, so half of the updates flip the spin.
    hot = tsu.get_backend().sample_ising(J, h, 0.0, 50, batch_size=200, key=5)
    assert abs(hot["acceptance_rate"] - 0.5) < 0.01


def test_diagonal_is_dropped():
    J, h = random_problem(6, 1.0, 7)
    Jd = J + np.diag(np.arange(1.0, 7.0) * 3)
    a = tsu.get_backend().sample_ising(J, h, 1.0, 20, batch_size=16, key=8)
    b = tsu.get_backend().sample_ising(Jd, h, 1.0, 20, batch_size=16, key=8)
    assert torch.equal(a["samples"], b["samples"])
    assert torch.equal(a["final_energy"], b["final_energy"])


def test_trajectory_and_schedule_anneals_ferromagnet_to_ground_state():
    n = 12
    J = np.ones((n, n)) - np.eye(n)
    betas = np.geomspace(0.01, 3.0, 60)
    out = tsu.get_backend().sample_ising(J, None, betas, 60, batch_size=8, record_trajectory=True, key=2)
    assert out["trajectory"].shape == (60, 8, n) and out["energy_trajectory"].shape == (60, 8)
    assert torch.equal(out["trajectory"][-1], out["samples"])
    ground = -0.5 * n * (n - 1)
    assert torch.allclose(out["final_energy"], torch.full((8,), ground, dtype=torch.float64))


def test_init_state_and_torch_inputs():
    J, h = random_problem(5, 1.0, 9)
    Jt, ht = torch.tensor(J, dtype=torch.float32), torch.tensor(h, dtype=torch.float32)
    init = torch.tensor([1.0, -1, 1, -1, 1])
    out = tsu.get_backend().sample_ising(Jt, ht, 1.0, 0, batch_size=3, init_state=init)
    assert out["samples"].dtype == torch.float32
    assert torch.equal(out["samples"], init.expand(3, 5))
    assert out["acceptance_rate"] == 0.0


def test_determinism_from_key():
    J, h = random_problem(9, 0.5, 1)
    be = tsu.get_backend()
    a = be.sample_ising(J, h, 1.0, 30, batch_size=32, key=123)["samples"]
    b = be.sample_ising(J, h, 1.0, 30, batch_size=32, key=123)["samples"]
    c = be.sample_ising(J, h, 1.0, 30, batch_size=32, key=124)["samples"]
    d = be.sample_ising(J, h, 1.0, 30, batch_size=32, key=torch.Generator().manual_seed(123))["samples"]
    assert torch.equal(a, b) and torch.equal(a, d) and not torch.equal(a, c)
    # Without a key the backend's own generator is used; reset() re-seeds it.
    be.reset()
    e = be.sample_ising(J, h, 1.0, 30, batch_size=32)["samples"]
    f = be.sample_ising(J, h, 1.0, 30, batch_size=32)["samples"]
    be.reset()
    assert torch.equal(e, be.sample_ising(J, h, 1.0, 30, batch_size=32)["samples"]) and not torch.equal(e, f)
    assert be.get_info()["counters"]["ising_calls"] == 1


def test_colour_classes_are_independent_sets():
    J, h = random_problem(40, 0.2, 5)
    out = tsu.get_backend().sample_ising(J, h, 1.0, 1, key=0)
    assert 1 < out["num_colors"] <= int((J != 0).sum(axis=1).max()) + 1
    dense = tsu.get_backend().sample_ising(np.ones((5, 5)), None, 1.0, 1, key=0)
    assert dense["num_colors"] == 5


def test_binary_layer_frequencies_match_sigmoid():
    logits = torch.tensor([-3.0, -1.0, -0.25, 0.0, 0.5, 2.0])
    beta = 1.5
    reps = 40000
    x = logits.repeat(reps, 1)
    b = tsu.get_backend().sample_binary_layer(x, beta=beta, key=0)
    assert b.shape == x.shape and set(torch.unique(b).tolist()) <= {0.0, 1.0}
    freq = b.mean(dim=0)
    p = torch.sigmoid(beta * logits)
    z = (freq - p) / torch.sqrt(p * (1 - p) / reps)
    print("binary layer z-scores:", [round(v, 2) for v in z.tolist()])
    assert bool((z.abs() < 4.5).all())
    again = tsu.get_backend().sample_binary_layer(x, beta=beta, key=0)
    assert torch.equal(b, again)


@pytest.mark.parametrize("metropolis,step", [(True, 0.2), (False, 0.02)], ids=["mala", "ula"])
def test_langevin_recovers_gaussian(metropolis, step):
    mu = torch.tensor([1.0, -2.0], dtype=torch.float64)
    var = torch.tensor([0.5, 2.0], dtype=torch.float64)
    beta = 2.0

    def energy(x):
        return 0.5 * (((x - mu) ** 2) / var).sum(dim=1)

    chains = 4000
    init = torch.zeros((chains, 2), dtype=torch.float64)
    out = tsu.get_backend().sample_custom(energy, init, num_steps=300 if metropolis else 1000, beta=beta, key=3, step_size=step, metropolis=metropolis)
    x = out["samples"]
    target_var = var / beta
    se = torch.sqrt(target_var / chains)
    print(f"langevin {'MALA' if metropolis else 'ULA'}: mean={x.mean(0).tolist()} var={x.var(0).tolist()} acc={out['acceptance_rate']:.3f}")
    assert bool(((x.mean(0) - mu).abs() < 5 * se).all())
    assert bool(((x.var(0) / target_var - 1).abs() < 0.08).all())
    assert 0 < out["acceptance_rate"] <= 1
    torch.testing.assert_close(out["final_energy"], energy(x))


def test_langevin_leaves_parameter_grads_alone_and_is_deterministic():
    w = torch.nn.Parameter(torch.tensor(2.0))

    def energy(x):
        return w * (x**2).sum(dim=1)

    be = tsu.get_backend()
    a = be.sample_custom(energy, torch.ones(5, 3), 10, key=1, record_trajectory=True)
    b = be.sample_custom(energy, torch.ones(5, 3), 10, key=1)
    assert w.grad is None
    assert torch.equal(a["samples"], b["samples"]) and a["trajectory"].shape == (10, 5, 3)


def test_registry():
    assert "pbit-sim" in tsu.backends()
    assert isinstance(tsu.get_backend(), PBitSimulatorBackend)
    assert isinstance(tsu.get_backend(), tsu.TSUBackend)
    with pytest.raises(TsucError, match=r"unknown TSU backend 'nope'; registered backends: .*pbit-sim"):
        tsu.get_backend("nope")
    tsu.register_backend("seeded", lambda seed=0: PBitSimulatorBackend(seed=seed))
    try:
        assert "seeded" in tsu.backends()
        assert tsu.get_backend("seeded", seed=5).get_info()["seed"] == 5
        with pytest.raises(TsucError, match="already registered"):
            tsu.register_backend("seeded", PBitSimulatorBackend)
        with pytest.raises(TsucError, match="rejected its options"):
            tsu.get_backend("seeded", colour="red")
        tsu.register_backend("broken", lambda: object())
        with pytest.raises(TsucError, match="lacks the TSUBackend methods"):
            tsu.get_backend("broken")
    finally:
        tsu.unregister_backend("seeded")
        tsu.unregister_backend("broken")
    assert "seeded" not in tsu.backends()


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda b: b.sample_ising(np.ones((2, 3)), None, 1.0, 1), "square"),
        (lambda b: b.sample_ising(np.array([[0, 1], [2, 0.0]]), None, 1.0, 1), "not symmetric"),
        (lambda b: b.sample_ising(np.zeros((2, 2)), np.zeros(3), 1.0, 1), "h must have shape"),
        (lambda b: b.sample_ising(np.full((2, 2), np.nan), None, 1.0, 1), "NaN"),
        (lambda b: b.sample_ising(np.zeros((2, 2)), None, -1.0, 1), "beta"),
        (lambda b: b.sample_ising(np.zeros((2, 2)), None, [1.0, 2.0], 3), "3"),
        (lambda b: b.sample_ising(np.zeros((2, 2)), None, 1.0, 1, init_state=[0, 1]), "-1 and \\+1"),
        (lambda b: b.sample_ising(np.zeros((2, 2)), None, 1.0, 1, key="seed"), "key"),
        (lambda b: b.sample_ising(np.zeros((2, 2)), None, 1.0, -2), "num_steps"),
        (lambda b: b.sample_custom(lambda x: x, torch.zeros(3, 2), 1), "one energy per sample"),
        (lambda b: b.sample_custom(lambda x: x.sum(1), torch.zeros(3, 2), 1, bogus=1), "unknown options"),
    ],
)
def test_bad_inputs_raise_tsuc_error(call, match):
    with pytest.raises(TsucError, match=match):
        call(tsu.get_backend())


def test_exact_boltzmann_and_state_index_conventions():
    # Two ferromagnetically coupled spins plus a field on spin 0: H = -s0 s1 - 0.5 s0.
    p = exact_boltzmann(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([0.5, 0.0]), 1.0)
    # state k: s_i = +1 iff bit i of k -> k=0 (-,-), 1 (+,-), 2 (-,+), 3 (+,+)
    w = np.exp([1 - 0.5, -1 + 0.5, -1 - 0.5, 1 + 0.5])
    np.testing.assert_allclose(p, w / w.sum())
    assert state_index(torch.tensor([[-1.0, -1], [1, -1], [-1, 1], [1, 1]])).tolist() == [0, 1, 2, 3]
