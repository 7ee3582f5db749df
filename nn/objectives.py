"""Energy-based training objectives whose sampling runs on a TSU backend.

- `ContrastiveDivergence`: maximum-likelihood gradient of an energy model with negatives from
  the backend (Langevin on a continuous energy, or p-bit Gibbs on an `IsingEnergy`).
- `InfoNCE`: the contrastive loss of CPC / SimCLR, optionally with p-bit hard-negative
  selection.
- `ScoreMatching`: denoising score matching with p-bit noise, or sliced score matching with
  p-bit (Rademacher) projections.

Every objective takes `backend=` (a `TSUBackend`, a registered name, or None for the default
p-bit simulator) and `generator=` (an int seed or a `torch.Generator`) for determinism.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import nn
from torch.nn import functional as F

from tsuc.errors import TsucError
from tsuc.nn.tsu.registry import get_backend, resolve_backend
from tsuc.nn.tsu.tensors import check_beta, check_int, make_generator


def _backend(backend: Any):
    return resolve_backend(backend) or get_backend()


class IsingEnergy(nn.Module):
    """A fully visible Boltzmann machine on spins: E(s) = -1/2 s^T J s - h^T s.

    J is kept symmetric with a zero diagonal by construction (J = W + W^T off the diagonal),
    so it is exactly the Ising problem a p-bit machine samples.
    """

    def __init__(self, n: int, init_scale: float = 0.01, generator: Any = None) -> None:
        super().__init__()
        check_int(n, "n", 1)
        g = make_generator(generator)
        self.w = nn.Parameter(init_scale * torch.randn(n, n, generator=g))
        self.h = nn.Parameter(torch.zeros(n))

    def couplings(self) -> torch.Tensor:
        J = torch.triu(self.w, diagonal=1)
        return J + J.T

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        J = self.couplings()
        return -0.5 * ((s @ J) * s).sum(dim=-1) - s @ self.h


class ContrastiveDivergence(nn.Module):
    """CD-k / persistent CD for an energy model E_theta; `forward(x) -> (loss, negatives)`.

    loss = beta (mean E(x+) - mean E(x-)) + alpha (mean E(x+)^2 + mean E(x-)^2), whose
    gradient beta (E_data[dE/dtheta] - E_model[dE/dtheta]) is the maximum-likelihood gradient
    of p(x) ~ exp(-beta E(x)) when x- are model samples (alpha is the energy-magnitude
    regulariser of Du & Mordatch 2019; 0 by default). Negatives x- start at the data (or at
    the persistent chains with `persistent=True`) and take `n_gibbs_steps` sampler steps:

    - an `IsingEnergy` model: p-bit Gibbs sweeps on (J, h) with `backend.sample_ising`
      (data in {-1, +1});
    - any other energy (a callable mapping (B, ...) to (B,)): Langevin steps with
      `backend.sample_custom` (step_size, metropolis).
    """

    def __init__(
        self,
        energy_fn: Callable[[torch.Tensor], torch.Tensor],
        tsu_backend: Any = None,
        n_gibbs_steps: int = 1,
        beta: float = 1.0,
        step_size: float = 1e-2,
        metropolis: bool = False,
        persistent: bool = False,
        alpha: float = 0.0,
        generator: Any = None,
    ) -> None:
        super().__init__()
        if not callable(energy_fn):
            raise TsucError("ContrastiveDivergence: energy_fn must be callable (a batch -> energies (B,))")
        self.energy_fn = energy_fn
        self.backend = _backend(tsu_backend)
        self.n_gibbs_steps = check_int(n_gibbs_steps, "n_gibbs_steps", 1)
        self.beta = check_beta(beta)
        self.step_size, self.metropolis, self.persistent = step_size, metropolis, persistent
        self.alpha = check_beta(alpha, "alpha")
        self.generator = make_generator(generator)
        self._chains: torch.Tensor | None = None

    def negatives(self, x_pos: torch.Tensor) -> torch.Tensor:
        """Model samples x- (no gradient) from `n_gibbs_steps` sampler steps."""
        start = x_pos.detach()
        if self.persistent and self._chains is not None and self._chains.shape == start.shape:
            start = self._chains
        if isinstance(self.energy_fn, IsingEnergy):
            out = self.backend.sample_ising(
                self.energy_fn.couplings().detach(), self.energy_fn.h.detach(), self.beta, self.n_gibbs_steps,
                batch_size=start.shape[0], init_state=start, key=self.generator,
            )
        else:
            out = self.backend.sample_custom(
                self.energy_fn, start, self.n_gibbs_steps, beta=self.beta, key=self.generator,
                step_size=self.step_size, metropolis=self.metropolis,
            )
        neg = out["samples"].to(x_pos.dtype).detach()
        if self.persistent:
            self._chains = neg
        return neg

    def forward(self, x_pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x_neg = self.negatives(x_pos)
        e_pos, e_neg = self.energy_fn(x_pos), self.energy_fn(x_neg)
        loss = self.beta * (e_pos.mean() - e_neg.mean())
        if self.alpha:
            loss = loss + self.alpha * ((e_pos**2).mean() + (e_neg**2).mean())
        return loss, x_neg


class InfoNCE(nn.Module):
    """InfoNCE over a batch of (anchor, positive) pairs: `forward(a, p) -> loss`.

    With logits l_ij = sim(a_i, p_j) / temperature (sim: cosine or dot product),
    loss = -1/B sum_i log( exp(l_ii) / sum_{j in N_i + {i}} exp(l_ij) ).
    N_i is every other positive in the batch (the standard in-batch negatives), or with
    `hard_negative_beta=b` the negatives kept by p-bits that fire with probability
    sigmoid(b * sim(a_i, p_j)): similar (hard) negatives are kept more often. The selection
    is a sample, not differentiated.
    """

    def __init__(
        self,
        temperature: float = 0.1,
        similarity: str = "cosine",
        hard_negative_beta: float | None = None,
        tsu_backend: Any = None,
        generator: Any = None,
    ) -> None:
        super().__init__()
        if not temperature > 0:
            raise TsucError(f"InfoNCE: temperature={temperature!r} must be > 0")
        if similarity not in ("cosine", "dot"):
            raise TsucError(f"InfoNCE: similarity={similarity!r} must be 'cosine' or 'dot'")
        self.temperature, self.similarity = float(temperature), similarity
        self.hard_negative_beta = None if hard_negative_beta is None else check_beta(hard_negative_beta, "hard_negative_beta")
        self.backend = _backend(tsu_backend) if hard_negative_beta is not None else None
        self.generator = make_generator(generator)

    def similarities(self, anchors: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
        if self.similarity == "cosine":
            anchors, positives = F.normalize(anchors, dim=-1), F.normalize(positives, dim=-1)
        return anchors @ positives.T

    def negative_mask(self, sim: torch.Tensor) -> torch.Tensor:
        """Bool (B, B): which pairs enter the denominator (the diagonal always does)."""
        eye = torch.eye(sim.shape[0], dtype=torch.bool, device=sim.device)
        if self.hard_negative_beta is None:
            return torch.ones_like(eye)
        fired = self.backend.sample_binary_layer(sim.detach(), beta=self.hard_negative_beta, key=self.generator)
        return fired.to(torch.bool).to(sim.device) | eye

    def forward(self, anchors: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
        if anchors.dim() != 2 or anchors.shape != positives.shape:
            raise TsucError(f"InfoNCE: anchors and positives must both be (B, D), not {tuple(anchors.shape)} and {tuple(positives.shape)}")
        sim = self.similarities(anchors, positives)
        logits = (sim / self.temperature).masked_fill(~self.negative_mask(sim), float("-inf"))
        return F.cross_entropy(logits, torch.arange(sim.shape[0], device=sim.device))


class ScoreMatching(nn.Module):
    """Score matching for a score model s(x) (or s = -grad_x E for an energy): `forward(x) -> loss`.

    - `method="denoising"` (Vincent 2011): x~ = x + sigma eps with eps the sum of `n_pbits`
      unbiased p-bits / sqrt(n_pbits) (mean 0, variance 1);
      loss = 1/2 mean_b || s(x~) + eps / sigma ||^2. Its minimiser is the score of the
      data convolved with the noise.
    - `method="sliced"` (Song et al. 2019): projections v with unbiased p-bit (+-1) entries;
      loss = mean_b [ v^T grad_x (v^T s(x)) + 1/2 (v^T s(x))^2 ], averaged over
      `n_projections`; its minimiser is the data score.
    """

    def __init__(
        self,
        score_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
        energy_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
        method: str = "denoising",
        sigma: float = 0.1,
        n_pbits: int = 16,
        n_projections: int = 1,
        tsu_backend: Any = None,
        generator: Any = None,
    ) -> None:
        super().__init__()
        if (score_fn is None) == (energy_fn is None):
            raise TsucError("ScoreMatching: pass exactly one of score_fn and energy_fn")
        if method not in ("denoising", "sliced"):
            raise TsucError(f"ScoreMatching: method={method!r} must be 'denoising' or 'sliced'")
        self.score_fn, self.energy_fn, self.method = score_fn, energy_fn, method
        self.sigma = check_beta(sigma, "sigma")
        if method == "denoising" and self.sigma == 0:
            raise TsucError("ScoreMatching: denoising needs sigma > 0")
        self.n_pbits = check_int(n_pbits, "n_pbits", 1)
        self.n_projections = check_int(n_projections, "n_projections", 1)
        self.backend = _backend(tsu_backend)
        self.generator = make_generator(generator)

    def score(self, x: torch.Tensor, create_graph: bool = True) -> torch.Tensor:
        """s(x), or -grad_x E(x) kept differentiable for training."""
        if self.score_fn is not None:
            return self.score_fn(x)
        if not x.requires_grad:
            x = x.requires_grad_(True)
        (g,) = torch.autograd.grad(self.energy_fn(x).sum(), x, create_graph=create_graph)
        return -g

    def pbit_spins(self, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """Unbiased p-bits as +-1, drawn by the backend."""
        zeros = torch.zeros(shape, dtype=like.dtype)
        return (2 * self.backend.sample_binary_layer(zeros, beta=1.0, key=self.generator) - 1).to(like.device, like.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.detach()
        dims = tuple(range(1, x.dim()))
        if self.method == "denoising":
            eps = self.pbit_spins((*x.shape, self.n_pbits), x).sum(dim=-1) / math.sqrt(self.n_pbits)
            s = self.score(x + self.sigma * eps)
            return 0.5 * ((s + eps / self.sigma) ** 2).sum(dim=dims).mean()
        xr = x.clone().requires_grad_(True)
        s = self.score(xr)
        total = x.new_zeros(())
        for _ in range(self.n_projections):
            v = self.pbit_spins(tuple(x.shape), x)
            sv = (s * v).sum(dim=dims)
            (grad_sv,) = torch.autograd.grad(sv.sum(), xr, create_graph=True)
            total = total + ((grad_sv * v).sum(dim=dims) + 0.5 * sv**2).mean()
        return total / self.n_projections
