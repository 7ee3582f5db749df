"""Thermodynamic layers: torch modules whose randomness is p-bit sampling.

Three layers, each a sampling op that a p-bit machine performs natively:

- `TSUBinaryLayer`: binary stochastic neurons, b ~ Bernoulli(sigmoid(beta x)), with a
  straight-through estimator for the gradient.
- `ThermodynamicAttention`: multi-head attention whose weights come from averaging
  `n_samples` p-bit samples of the scores instead of a softmax.
- `TSUGaussianNoise`: Gaussian-like noise as the sum of M unbiased p-bits / sqrt(M).

Sampling uses torch's own RNG with the p-bit rule (a p-bit with input z fires with
probability sigmoid(z), exactly Bernoulli(sigmoid(z))), so a model exports through
`torch.onnx.export(..., dynamo=True)` to ONNX random ops (Bernoulli, RandomUniformLike) that
the `tsu` target compiles into `tsu.sample` segments. Passing `backend=` (a `TSUBackend` or a
registered name) routes eager-mode sampling through that backend instead; export always
traces the torch path. `generator=` (an int seed or a `torch.Generator`) makes eager
sampling deterministic; exported graphs draw from the runtime's RNG.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from tsuc.errors import TsucError
from tsuc.nn.tsu.registry import resolve_backend
from tsuc.nn.tsu.tensors import check_beta, check_int, make_generator


def _tracing() -> bool:
    """True while torch.export / torch.onnx / jit tracing: no generators, no backends then."""
    return bool(torch.compiler.is_exporting() or torch.compiler.is_compiling() or torch.jit.is_tracing() or torch.onnx.is_in_onnx_export())


class _Sampler(nn.Module):
    """Shared plumbing: optional backend, optional generator, the eager/export switch."""

    def __init__(self, backend: Any = None, generator: Any = None) -> None:
        super().__init__()
        self.backend = resolve_backend(backend)
        self.seed = generator if isinstance(generator, int) else None
        self.generator = make_generator(generator)

    def reset_generator(self) -> None:
        """Re-seed the layer's generator (when it was built from an int seed)."""
        if self.seed is not None and self.generator is not None:
            self.generator.manual_seed(self.seed)

    def bernoulli(self, logits: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
        """{0, 1} p-bit samples with P(1) = probs = sigmoid(logits); no gradient."""
        if _tracing():
            return torch.bernoulli(probs)
        if self.backend is not None:
            return self.backend.sample_binary_layer(logits.detach(), beta=1.0, key=self.generator).to(probs.dtype)
        return torch.bernoulli(probs.detach(), generator=self.generator)

    def fired(self, logits: torch.Tensor, probs: torch.Tensor, n: int) -> torch.Tensor:
        """How many of `n` independent p-bit draws fire, per element (float, no gradient).

        Eager mode compares uniforms with the probability directly (u < sigmoid(z) is the
        p-bit rule tanh(z/2) > 2u - 1); export traces `n` explicit Bernoulli draws.
        """
        shape = (n, *probs.shape)
        if _tracing():
            return torch.bernoulli(probs.unsqueeze(0).expand(shape)).sum(dim=0)
        if self.backend is not None:
            z = logits.detach().unsqueeze(0).expand(shape)
            return self.backend.sample_binary_layer(z, beta=1.0, key=self.generator).to(probs.dtype).sum(dim=0)
        u = torch.rand(shape, generator=self.generator, dtype=probs.dtype).to(probs.device)
        return (u < probs.detach()).sum(dim=0, dtype=probs.dtype)


class TSUBinaryLayer(_Sampler):
    """Binary stochastic neurons: b ~ Bernoulli(sigmoid(beta * x)), elementwise.

    Forward returns the {0, 1} sample (also in eval mode: the layer is a sampler). Backward is
    a straight-through estimator: `ste="sigmoid"` (default) passes the gradient of the
    expected value, d sigmoid(beta x) / dx, so out = p + (b - p).detach();
    `ste="identity"` passes the incoming gradient unchanged.
    ONNX: Mul (beta), Sigmoid, Bernoulli, Sub, Add.
    """

    def __init__(self, beta: float = 1.0, ste: str = "sigmoid", backend: Any = None, generator: Any = None) -> None:
        super().__init__(backend, generator)
        self.beta = check_beta(beta)
        if ste not in ("sigmoid", "identity"):
            raise TsucError(f"TSUBinaryLayer: ste={ste!r} must be 'sigmoid' or 'identity'")
        self.ste = ste

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = x * self.beta
        p = torch.sigmoid(logits)
        b = self.bernoulli(logits, p)
        if self.ste == "sigmoid":
            return p + (b - p).detach()
        return b + (x - x.detach())

    def extra_repr(self) -> str:
        return f"beta={self.beta}, ste={self.ste!r}"


def thermodynamic_weights(
    scores: torch.Tensor,
    beta: float,
    n_samples: int | None,
    fired: Any,
) -> torch.Tensor:
    """Attention weights over the last axis of `scores` from p-bit samples.

    Each (query, key) pair is a p-bit with input z = beta (s - max_k s): it fires with
    probability p = sigmoid(z), which is 1/2 for the best key and ~exp(z) (Boltzmann) for keys
    far below it. The forward weights average `n_samples` draws per pair, m = fired / n, and
    normalise each row, w = m / sum(m); the expected weights are w_e = p / sum(p). A row in
    which no p-bit fired (probability <= 2^-n_samples) takes w_e. Gradient: the expected-value
    straight-through path, w = w_e + (w - w_e).detach(), i.e. backward differentiates w_e.
    `n_samples=None` returns w_e (deterministic). `fired(z, p, n)` counts how many of n
    p-bit draws fire per element; masked keys must carry -inf scores (p = 0).
    """
    z = beta * (scores - scores.amax(dim=-1, keepdim=True))
    p = torch.sigmoid(z)
    w_e = p / p.sum(dim=-1, keepdim=True)
    if n_samples is None:
        return w_e
    m = fired(z, p, n_samples) * (1.0 / n_samples)
    total = m.sum(dim=-1, keepdim=True)
    w_s = torch.where(total > 0, m / total.clamp_min(1e-30), w_e)
    return w_e + (w_s - w_e).detach()


class ThermodynamicAttention(_Sampler):
    """Multi-head self-attention with p-bit sampled weights in place of a softmax.

    scores = Q K^T / sqrt(d_head) per head; weights from `thermodynamic_weights` (averaging
    `n_samples` p-bit samples at inverse temperature `beta`, rows normalised, expected-value
    straight-through gradient); out = W_o (weights V). Fully vectorised: all batches, heads,
    queries and samples are one tensor op. `causal=True` masks future keys; `attn_mask`
    (bool, True = attend, broadcastable to (B, H, L, L)) masks more. `n_samples=None` uses
    the expected weights (no sampling).
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int = 4,
        n_samples: int | None = 16,
        beta: float = 1.0,
        causal: bool = False,
        bias: bool = True,
        backend: Any = None,
        generator: Any = None,
    ) -> None:
        super().__init__(backend, generator)
        check_int(d_model, "d_model", 1)
        check_int(n_heads, "n_heads", 1)
        if d_model % n_heads:
            raise TsucError(f"ThermodynamicAttention: d_model={d_model} is not divisible by n_heads={n_heads}")
        if n_samples is not None:
            check_int(n_samples, "n_samples", 1)
        self.beta = check_beta(beta)
        if self.beta == 0:
            raise TsucError("ThermodynamicAttention: beta must be > 0")
        self.d_model, self.n_heads, self.n_samples, self.causal = d_model, n_heads, n_samples, causal
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.out = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None, return_weights: bool = False):
        B, L, D = x.shape
        H, dh = self.n_heads, D // self.n_heads
        q, k, v = self.qkv(x).view(B, L, 3, H, dh).permute(2, 0, 3, 1, 4)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(dh)
        keep = None
        if self.causal:
            keep = torch.ones(L, L, dtype=torch.bool, device=x.device).tril()
        if attn_mask is not None:
            keep = attn_mask.to(torch.bool) if keep is None else keep & attn_mask.to(torch.bool)
        if keep is not None:
            scores = scores.masked_fill(~keep, float("-inf"))
        weights = thermodynamic_weights(scores, self.beta, self.n_samples, self.fired)
        y = (weights @ v).transpose(1, 2).reshape(B, L, D)
        y = self.out(y)
        return (y, weights) if return_weights else y

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, n_heads={self.n_heads}, n_samples={self.n_samples}, beta={self.beta}, causal={self.causal}"


class TSUGaussianNoise(_Sampler):
    """Additive noise x + sigma * (sum of M unbiased p-bits) / sqrt(M).

    Each unbiased p-bit is sign(tanh(0) - r) = +-1 with probability 1/2, so the sum over M
    has mean 0 and variance exactly sigma^2, and tends to a Gaussian as M grows (its values
    lie on a grid of step 2 sigma / sqrt(M); its kurtosis is 3 - 2/M). Applied only in
    training mode unless `always=True`. ONNX: RandomUniformLike, Less, Where, ReduceSum, Mul, Add.
    """

    def __init__(self, sigma: float = 1.0, n_pbits: int = 16, always: bool = False, backend: Any = None, generator: Any = None) -> None:
        super().__init__(backend, generator)
        self.sigma = check_beta(sigma, "sigma")
        self.n_pbits = check_int(n_pbits, "n_pbits", 1)
        self.always = always

    def noise(self, like: torch.Tensor) -> torch.Tensor:
        """sum of M unbiased p-bits / sqrt(M), shaped like `like`."""
        shape = (*like.shape, self.n_pbits)
        if _tracing():
            u = torch.rand_like(like.unsqueeze(-1).expand(shape))
            spins = torch.where(u < 0.5, 1.0, -1.0).to(like.dtype)
        elif self.backend is not None:
            zeros = torch.zeros(shape, dtype=like.dtype, device=like.device)
            spins = 2 * self.backend.sample_binary_layer(zeros, beta=1.0, key=self.generator).to(like.dtype) - 1
        elif self.n_pbits <= 30:
            # Each bit of a uniform random M-bit word is one unbiased p-bit: sum = 2 popcount - M.
            words = torch.randint(0, 1 << self.n_pbits, like.shape, generator=self.generator, dtype=torch.int32)
            total = 2 * _popcount(words).to(like.dtype) - self.n_pbits
            return total.to(like.device) * (1.0 / math.sqrt(self.n_pbits))
        else:
            u = torch.rand(shape, generator=self.generator, dtype=like.dtype).to(like.device)
            spins = torch.where(u < 0.5, 1.0, -1.0).to(like.dtype)
        return spins.sum(dim=-1) * (1.0 / math.sqrt(self.n_pbits))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training or self.always) or self.sigma == 0:
            return x
        return x + self.sigma * self.noise(x)

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}, n_pbits={self.n_pbits}, always={self.always}"


def _popcount(x: torch.Tensor) -> torch.Tensor:
    """Number of set bits of each non-negative int32 (SWAR bit counting)."""
    x = x - ((x >> 1) & 0x55555555)
    x = (x & 0x33333333) + ((x >> 2) & 0x33333333)
    x = (x + (x >> 4)) & 0x0F0F0F0F
    x = x + (x >> 8)
    x = x + (x >> 16)
    return x & 0x3F
