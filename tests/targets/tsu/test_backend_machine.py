"""The "pbit-machine" TSU backend: the TSUBackend API on the fixed-point p-bit machine."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tsuc.nn.tsu as tsu
from tsuc.errors import TsucError

from tsuc.nn.tsu.stats import exact_boltzmann, g_test, state_index

ALPHA = 1e-3  # significance level of the G-tests (fixed seeds: deterministic outcomes)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def integer_problem(n: int, density: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    J = np.triu(rng.integers(-3, 4, size=(n, n)) * (rng.random((n, n)) < density), 1).astype(float)
    return J + J.T, rng.integers(-2, 3, size=n).astype(float)


@pytest.mark.parametrize("n,density,beta,seed", [(10, 0.4, 0.35, 1), (7, 1.0, 0.25, 2)], ids=["sparse10", "dense7"])
def test_machine_backend_matches_boltzmann(n, density, beta, seed):
    J, h = integer_problem(n, density, seed)
    out = tsu.get_backend("pbit-machine").sample_ising(J, h, beta, 60, batch_size=20000, key=seed)
    assert out["quantization"]["exact"]
    idx = state_index(out["samples"])
    stat, dof, p = g_test(idx, exact_boltzmann(J, h, beta))
    print(f"pbit-machine Boltzmann G-test n={n} colours={out['num_colors']} beta={beta}: G={stat:.2f} dof={dof} p={p:.4f} (alpha={ALPHA})")
    assert p > ALPHA
    _, _, p_wrong = g_test(idx, exact_boltzmann(J, h, beta * 0.75))
    assert p_wrong < 1e-6


def test_machine_backend_reports_quantisation_and_scores_original_problem():
    rng = np.random.default_rng(4)
    J = np.triu(rng.normal(0, 0.7, (8, 8)), 1)
    J, h = J + J.T, rng.normal(0, 0.4, 8)
    be = tsu.get_backend("pbit-machine", j_bits=4, h_bits=4)
    out = be.sample_ising(J, h, 1.0, 20, batch_size=16, key=0)
    q = out["quantization"]
    assert not q["exact"] and q["max_coupling_error"] > 0 and q["energy_error_bound"] > 0
    s = out["samples"].numpy()
    np.testing.assert_allclose(out["final_energy"].numpy(), -0.5 * np.einsum("bi,ij,bj->b", s, J, s) - s @ h, rtol=1e-12)
    c = out["counters"]
    assert c["sweeps"] == 20 and c["spin_updates"] == 20 * 16 * 8 and c["clocks"] == 20 * out["num_colors"]
    assert out["acceptance_rate"] == c["flips"] / c["spin_updates"]


def test_machine_backend_determinism_trajectory_and_init():
    J, h = integer_problem(9, 0.5, 3)
    be = tsu.get_backend("pbit-machine")
    a = be.sample_ising(J, h, 0.5, 12, batch_size=8, key=5)["samples"]
    assert torch.equal(a, be.sample_ising(J, h, 0.5, 12, batch_size=8, key=5)["samples"])
    assert not torch.equal(a, be.sample_ising(J, h, 0.5, 12, batch_size=8, key=6)["samples"])
    traj = be.sample_ising(J, h, 0.5, 6, batch_size=4, key=1, record_trajectory=True, init_state=np.ones(9))
    assert traj["trajectory"].shape == (6, 4, 9) and torch.equal(traj["trajectory"][-1], traj["samples"])
    assert traj["energy_trajectory"].shape == (6, 4)
    still = be.sample_ising(J, h, 0.5, 0, batch_size=2, init_state=-np.ones(9))
    assert torch.equal(still["samples"], -torch.ones(2, 9, dtype=torch.float64))


def test_machine_binary_layer_and_host_langevin():
    be = tsu.get_backend("pbit-machine")
    logits = torch.tensor([-2.0, -0.3, 0.0, 1.0])
    reps = 30000
    b = be.sample_binary_layer(logits.repeat(reps, 1), beta=1.2, key=3)
    p = torch.sigmoid(1.2 * logits)
    z = (b.mean(0) - p) / torch.sqrt(p * (1 - p) / reps)
    assert bool((z.abs() < 4.5).all()), z
    assert torch.equal(b, be.sample_binary_layer(logits.repeat(reps, 1), beta=1.2, key=3))
    out = be.sample_custom(lambda x: 0.5 * (x**2).sum(1), torch.zeros(2000, 1), 200, key=0, step_size=0.2, metropolis=True)
    assert abs(float(out["samples"].var()) - 1.0) < 0.1


def test_registry_lists_both_backends_and_checks_options():
    assert {"pbit-sim", "pbit-machine"} <= set(tsu.backends())
    assert tsu.get_backend("pbit-machine").get_info()["j_bits"] == 8
    with pytest.raises(TsucError, match="j_bits"):
        tsu.get_backend("pbit-machine", j_bits=1)
