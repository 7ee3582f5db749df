"""Thermodynamic layers (tsuc.nn.thermo): statistics, gradients, determinism, shapes."""

from __future__ import annotations

import pytest
import torch

from tsuc.errors import TsucError
from tsuc.nn import ThermodynamicAttention, TSUBinaryLayer, TSUGaussianNoise
from tsuc.nn.thermo import thermodynamic_weights


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def z_scores(freq: torch.Tensor, p: torch.Tensor, n: int) -> torch.Tensor:
    return (freq - p) / torch.sqrt(p * (1 - p) / n)


# -- TSUBinaryLayer ----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", [None, "pbit-sim"])
def test_binary_layer_frequencies_match_sigmoid(backend):
    x = torch.tensor([-2.0, -0.5, 0.0, 0.3, 1.5]).repeat(20000, 1)
    layer = TSUBinaryLayer(beta=1.7, backend=backend, generator=0)
    b = layer(x)
    assert b.shape == x.shape and set(torch.unique(b).tolist()) <= {0.0, 1.0}
    z = z_scores(b.mean(0), torch.sigmoid(1.7 * x[0]), x.shape[0])
    print(f"binary layer backend={backend} z={[round(v, 2) for v in z.tolist()]}")
    assert bool((z.abs() < 4.5).all())


def test_binary_layer_straight_through_gradients():
    x = torch.randn(6, 7, requires_grad=True)
    TSUBinaryLayer(beta=2.0, generator=1)(x).sum().backward()
    p = torch.sigmoid(2.0 * x.detach())
    torch.testing.assert_close(x.grad, 2.0 * p * (1 - p))
    x.grad = None
    TSUBinaryLayer(beta=2.0, ste="identity", generator=1)(x).sum().backward()
    torch.testing.assert_close(x.grad, torch.ones_like(x))


def test_binary_layer_determinism_and_eval_still_samples():
    x = torch.randn(64, 32)
    a, b = TSUBinaryLayer(generator=5), TSUBinaryLayer(generator=5)
    ya, yb = a(x), b(x)
    assert torch.equal(ya, yb)
    assert not torch.equal(ya, a(x))  # the generator advances
    a.reset_generator()
    assert torch.equal(ya, a(x))
    a.eval()
    assert set(torch.unique(a(x)).tolist()) == {0.0, 1.0}
    with pytest.raises(TsucError, match="ste"):
        TSUBinaryLayer(ste="linear")
    with pytest.raises(TsucError, match="unknown TSU backend"):
        TSUBinaryLayer(backend="no-such-backend")


# -- thermodynamic attention weights ----------------------------------------------------------


def test_thermodynamic_weights_rows_masks_and_expectation():
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(3, 2, 5, 6, generator=g) * 2
    scores[..., 4:] = float("-inf")  # masked keys
    sample = lambda z, p, n: torch.bernoulli(p.expand(n, *p.shape), generator=g).sum(0)  # noqa: E731
    w = thermodynamic_weights(scores, 1.3, 8, sample)
    assert w.shape == scores.shape
    torch.testing.assert_close(w.sum(-1), torch.ones(3, 2, 5))
    assert bool((w[..., 4:] == 0).all())
    # Forward values are sample averages: multiples of 1 / (count of fired p-bits).
    p = torch.sigmoid(1.3 * (scores - scores.amax(-1, keepdim=True)))
    w_e = thermodynamic_weights(scores, 1.3, None, sample)
    torch.testing.assert_close(w_e, p / p.sum(-1, keepdim=True))
    # Many samples: the normalised average converges to the expected weights.
    w_many = thermodynamic_weights(scores, 1.3, 20000, sample)
    assert float((w_many - w_e).abs().max()) < 0.02


def test_thermodynamic_weights_gradient_is_expected_value_path():
    g = torch.Generator().manual_seed(1)
    s1 = torch.randn(2, 4, 7, generator=g, requires_grad=True)
    s2 = s1.detach().clone().requires_grad_(True)
    up = torch.randn(2, 4, 7, generator=g)
    sample = lambda z, p, n: torch.bernoulli(p.expand(n, *p.shape), generator=g).sum(0)  # noqa: E731
    (thermodynamic_weights(s1, 0.9, 4, sample) * up).sum().backward()
    (thermodynamic_weights(s2, 0.9, None, sample) * up).sum().backward()
    torch.testing.assert_close(s1.grad, s2.grad)
    assert float(s1.grad.abs().sum()) > 0


# -- ThermodynamicAttention -------------------------------------------------------------------


def test_attention_shapes_gradients_and_determinism():
    x = torch.randn(2, 9, 32, requires_grad=True)
    a = ThermodynamicAttention(32, n_heads=4, n_samples=8, beta=1.5, causal=True, generator=3)
    torch.manual_seed(0)
    b = ThermodynamicAttention(32, n_heads=4, n_samples=8, beta=1.5, causal=True, generator=3)
    b.load_state_dict(a.state_dict())
    y, w = a(x, return_weights=True)
    assert y.shape == (2, 9, 32) and w.shape == (2, 4, 9, 9)
    assert torch.equal(y, b(x))
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 4, 9))
    assert bool((w.triu(1) == 0).all())  # causal
    y.square().sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    for name, p in a.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name


def test_attention_is_causal_under_sampling():
    a = ThermodynamicAttention(16, n_heads=2, n_samples=4, causal=True, generator=11)
    x = torch.randn(1, 8, 16)
    y1 = a(x)
    x2 = x.clone()
    x2[:, 5:] = torch.randn(1, 3, 16)
    a.reset_generator()
    y2 = a(x2)
    torch.testing.assert_close(y1[:, :5], y2[:, :5])
    assert not torch.allclose(y1[:, 5:], y2[:, 5:])


def test_attention_converges_to_expected_weights_and_masks():
    torch.manual_seed(2)
    exact = ThermodynamicAttention(16, n_heads=2, n_samples=None)
    sampled = ThermodynamicAttention(16, n_heads=2, n_samples=4096, generator=0)
    sampled.load_state_dict(exact.state_dict())
    x = torch.randn(2, 5, 16)
    mask = torch.ones(5, 5, dtype=torch.bool)
    mask[:, 3] = False
    ye, we = exact(x, attn_mask=mask, return_weights=True)
    ys = sampled(x, attn_mask=mask)
    assert bool((we[..., 3] == 0).all())
    assert float((ye - ys).detach().abs().max()) < 0.05
    with pytest.raises(TsucError, match="divisible"):
        ThermodynamicAttention(10, n_heads=3)
    with pytest.raises(TsucError, match="beta must be > 0"):
        ThermodynamicAttention(8, n_heads=2, beta=0)


def test_attention_through_backend_matches_statistics():
    torch.manual_seed(4)
    a = ThermodynamicAttention(8, n_heads=1, n_samples=2000, backend="pbit-sim", generator=1)
    e = ThermodynamicAttention(8, n_heads=1, n_samples=None)
    e.load_state_dict(a.state_dict())
    x = torch.randn(1, 4, 8)
    assert float((a(x) - e(x)).detach().abs().max()) < 0.05


# -- TSUGaussianNoise -------------------------------------------------------------------------


@pytest.mark.parametrize("backend", [None, "pbit-sim"])
def test_gaussian_noise_statistics(backend):
    m = 16
    layer = TSUGaussianNoise(sigma=0.5, n_pbits=m, backend=backend, generator=0)
    x = torch.zeros(200000)
    y = layer(x)
    n = y.numel()
    mean, var = float(y.mean()), float(y.var())
    kurt = float(((y - y.mean()) ** 4).mean() / y.var() ** 2)
    print(f"noise backend={backend}: mean={mean:.4f} var={var:.4f} kurtosis={kurt:.3f} (expected 0, 0.25, {3 - 2 / m:.3f})")
    assert abs(mean) < 5 * 0.5 / n**0.5
    assert abs(var / 0.25 - 1) < 0.02
    assert abs(kurt - (3 - 2 / m)) < 0.05
    # Values lie on the grid sigma * (2k - M) / sqrt(M).
    k = (y / 0.5 * m**0.5 + m) / 2
    torch.testing.assert_close(k, k.round(), atol=1e-4, rtol=0)


def test_gaussian_noise_modes_gradient_determinism():
    x = torch.randn(4, 5, requires_grad=True)
    layer = TSUGaussianNoise(sigma=0.1, generator=2)
    y = layer(x)
    y.sum().backward()
    torch.testing.assert_close(x.grad, torch.ones_like(x))
    layer.reset_generator()
    assert torch.equal(y, layer(x))
    layer.eval()
    assert torch.equal(layer(x), x)
    always = TSUGaussianNoise(sigma=0.1, always=True).eval()
    assert not torch.equal(always(x), x)
    with pytest.raises(TsucError, match="n_pbits"):
        TSUGaussianNoise(n_pbits=0)


def test_popcount_matches_python():
    from tsuc.nn.thermo import _popcount

    x = torch.randint(0, 2**31 - 1, (5000,), dtype=torch.int32, generator=torch.Generator().manual_seed(0))
    x[:3] = torch.tensor([0, 1, 2**31 - 1], dtype=torch.int32)
    assert _popcount(x).tolist() == [bin(v).count("1") for v in x.tolist()]
