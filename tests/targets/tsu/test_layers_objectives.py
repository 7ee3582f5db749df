"""Energy-based objectives (tsuc.nn.objectives): they train what they claim to train."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from tsuc.errors import TsucError
from tsuc.nn import ContrastiveDivergence, InfoNCE, ScoreMatching
from tsuc.nn.objectives import IsingEnergy


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def gaussian_data(n: int = 4096) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 2, generator=g) * torch.tensor([0.5, 2.0]).sqrt() + torch.tensor([1.0, -2.0])


class GaussianEnergy(torch.nn.Module):
    """E(x) = 1/2 sum_d (x_d - mu_d)^2 / v_d with learnable mu, log v."""

    def __init__(self) -> None:
        super().__init__()
        self.mu = torch.nn.Parameter(torch.zeros(2))
        self.log_v = torch.nn.Parameter(torch.zeros(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (((x - self.mu) ** 2) / self.log_v.exp()).sum(dim=1)


def fit(loss_fn, params, steps: int, lr: float = 0.05) -> float:
    opt = torch.optim.Adam(params, lr=lr)
    for _ in range(steps):
        loss = loss_fn()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.detach())


# -- ContrastiveDivergence --------------------------------------------------------------------


def test_cd_learns_boltzmann_machine_with_pbit_negatives():
    n = 5
    rng = np.random.default_rng(0)
    J = np.triu(rng.normal(0, 0.5, (n, n)), 1)
    J = J + J.T
    h = rng.normal(0, 0.3, n)
    states = np.array(list(itertools.product([-1, 1], repeat=n)), float)
    energy = -0.5 * np.einsum("ki,ij,kj->k", states, J, states) - states @ h
    p = np.exp(-energy)
    data = torch.tensor(states[rng.choice(len(states), size=4000, p=p / p.sum())], dtype=torch.float32)

    model = IsingEnergy(n, generator=0)
    cd = ContrastiveDivergence(model, n_gibbs_steps=1, generator=1)
    batches = torch.Generator().manual_seed(2)

    def step():
        loss, neg = cd(data[torch.randint(0, len(data), (500,), generator=batches)])
        assert neg.shape == (500, n) and set(torch.unique(neg).tolist()) <= {-1.0, 1.0}
        return loss

    fit(step, model.parameters(), 300)
    j_err = np.abs(model.couplings().detach().numpy() - J).max()
    h_err = np.abs(model.h.detach().numpy() - h).max()
    print(f"CD-1 Boltzmann machine: max|J - J_true| = {j_err:.3f}, max|h - h_true| = {h_err:.3f}")
    assert j_err < 0.15 and h_err < 0.15


def test_cd_langevin_learns_gaussian_mean_and_is_deterministic():
    data = gaussian_data()
    model = GaussianEnergy()
    cd = ContrastiveDivergence(model, n_gibbs_steps=10, step_size=0.05, persistent=True, generator=0)
    batches = torch.Generator().manual_seed(1)
    fit(lambda: cd(data[torch.randint(0, len(data), (512,), generator=batches)])[0], model.parameters(), 300)
    print(f"CD Langevin: mu={model.mu.data.tolist()} v={model.log_v.exp().data.tolist()}")
    assert torch.allclose(model.mu.data, torch.tensor([1.0, -2.0]), atol=0.15)
    assert torch.allclose(model.log_v.exp().data, torch.tensor([0.5, 2.0]), rtol=0.3)
    a = ContrastiveDivergence(GaussianEnergy(), n_gibbs_steps=3, generator=7)(data[:16])
    b = ContrastiveDivergence(GaussianEnergy(), n_gibbs_steps=3, generator=7)(data[:16])
    assert torch.equal(a[1], b[1]) and torch.equal(a[0], b[0])


def test_cd_loss_formula_and_errors():
    model = GaussianEnergy()
    cd = ContrastiveDivergence(model, n_gibbs_steps=2, beta=2.0, alpha=0.1, generator=3)
    x = gaussian_data(32)
    loss, neg = cd(x)
    ep, en = model(x), model(neg)
    torch.testing.assert_close(loss, 2.0 * (ep.mean() - en.mean()) + 0.1 * ((ep**2).mean() + (en**2).mean()))
    with pytest.raises(TsucError, match="callable"):
        ContrastiveDivergence(3)
    with pytest.raises(TsucError, match="n_gibbs_steps"):
        ContrastiveDivergence(model, n_gibbs_steps=0)


# -- InfoNCE ----------------------------------------------------------------------------------


def test_infonce_matches_reference_formula_and_gradients():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(8, 16, generator=g, requires_grad=True)
    p = torch.randn(8, 16, generator=g)
    loss = InfoNCE(temperature=0.2)(a, p)
    logits = F.normalize(a, dim=1) @ F.normalize(p, dim=1).T / 0.2
    ref = -(logits.diag() - torch.logsumexp(logits, dim=1)).mean()
    torch.testing.assert_close(loss, ref)
    loss.backward()
    assert float(a.grad.abs().sum()) > 0
    dot = InfoNCE(temperature=1.0, similarity="dot")(a, p)
    torch.testing.assert_close(dot, F.cross_entropy(a @ p.T, torch.arange(8)))


def test_infonce_hard_negatives_kept_with_sigmoid_probability():
    g = torch.Generator().manual_seed(1)
    a, p = torch.randn(64, 8, generator=g), torch.randn(64, 8, generator=g)
    nce = InfoNCE(hard_negative_beta=3.0, generator=0)
    sim = nce.similarities(a, p)
    reps = 400
    kept = torch.stack([nce.negative_mask(sim) for _ in range(reps)]).float().mean(0)
    off = ~torch.eye(64, dtype=torch.bool)
    expected = torch.sigmoid(3.0 * sim)[off]
    z = (kept[off] - expected) / torch.sqrt(expected * (1 - expected) / reps)
    print(f"InfoNCE hard negatives: max |z| over {off.sum()} pairs = {float(z.abs().max()):.2f}")
    assert float(z.abs().max()) < 5.0
    assert bool((kept.diag() == 1).all())
    l1 = InfoNCE(hard_negative_beta=3.0, generator=5)(a, p)
    l2 = InfoNCE(hard_negative_beta=3.0, generator=5)(a, p)
    assert torch.equal(l1, l2) and float(l1) <= float(InfoNCE()(a, p)) + 1e-6
    with pytest.raises(TsucError, match="anchors and positives"):
        InfoNCE()(a, p[:3])


# -- ScoreMatching ----------------------------------------------------------------------------


def test_sliced_score_matching_recovers_gaussian():
    data = gaussian_data()
    model = GaussianEnergy()
    sm = ScoreMatching(energy_fn=model, method="sliced", generator=0)
    fit(lambda: sm(data), model.parameters(), 400)
    sample_var = data.var(0)
    print(f"sliced SM: mu={model.mu.data.tolist()} v={model.log_v.exp().data.tolist()} (data var {sample_var.tolist()})")
    assert torch.allclose(model.mu.data, data.mean(0), atol=0.05)
    assert torch.allclose(model.log_v.exp().data, sample_var, rtol=0.08)


def test_denoising_score_matching_recovers_noised_gaussian():
    data = gaussian_data()
    mu = torch.nn.Parameter(torch.zeros(2))
    log_v = torch.nn.Parameter(torch.zeros(2))
    sigma = 0.3
    sm = ScoreMatching(score_fn=lambda x: -(x - mu) / log_v.exp(), method="denoising", sigma=sigma, n_pbits=16, generator=0)
    fit(lambda: sm(data), [mu, log_v], 400)
    target = data.var(0) + sigma**2
    print(f"denoising SM: mu={mu.data.tolist()} v={log_v.exp().data.tolist()} (expected var {target.tolist()})")
    assert torch.allclose(mu.data, data.mean(0), atol=0.05)
    assert torch.allclose(log_v.exp().data, target, rtol=0.08)


def test_score_matching_determinism_and_errors():
    data = gaussian_data(64)
    a = ScoreMatching(energy_fn=GaussianEnergy(), method="sliced", generator=4)(data)
    b = ScoreMatching(energy_fn=GaussianEnergy(), method="sliced", generator=4)(data)
    assert torch.equal(a, b)
    with pytest.raises(TsucError, match="exactly one"):
        ScoreMatching()
    with pytest.raises(TsucError, match="method"):
        ScoreMatching(score_fn=lambda x: x, method="exact")
