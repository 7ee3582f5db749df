"""`tsuc.nn.TFMBSLinear`, `TFMBSLinearFunction` and `swap_linear_layers`."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from tsuc.errors import TsucError  # noqa: E402
from tsuc.nn import TFMBSLinear, TFMBSLinearFunction, swap_linear_layers  # noqa: E402
from tsuc.nn.tfmbs import fake_quantize_activations, quantize_weights_torch  # noqa: E402
from tsuc.targets.tfmbs.quantize import dequantize_weights, quantize_weights  # noqa: E402

from . import reference as ref  # noqa: E402

HAVE_FABRIC = importlib.util.find_spec("tsuc.runtime.tfmbs.fabric") is not None
needs_fabric = pytest.mark.skipif(not HAVE_FABRIC, reason="tsuc.runtime.tfmbs.fabric not landed yet")


def _layer(k=20, n=7, seed=0, **opts):
    torch.manual_seed(seed)
    return TFMBSLinear(k, n, **opts)


# -- drop-in ---------------------------------------------------------------------------------------

def test_drop_in_state_dict_and_shapes():
    torch.manual_seed(0)
    plain = nn.Linear(20, 7)
    layer = TFMBSLinear(20, 7)
    assert isinstance(layer, nn.Linear)
    assert set(layer.state_dict()) == set(plain.state_dict())
    layer.load_state_dict(plain.state_dict())
    assert torch.equal(layer.weight, plain.weight) and torch.equal(layer.bias, plain.bias)
    plain.load_state_dict(layer.state_dict())
    for shape in [(5, 20), (2, 3, 20), (20,)]:
        assert layer.train()(torch.randn(*shape)).shape == plain(torch.randn(*shape)).shape
    nobias = TFMBSLinear(20, 7, bias=False)
    assert nobias.bias is None and set(nobias.state_dict()) == {"weight"}


def test_options_are_validated():
    with pytest.raises(TsucError, match="quant='xnor'"):
        TFMBSLinear(4, 4, quant="xnor")
    with pytest.raises(TsucError, match="w_planes=0"):
        TFMBSLinear(4, 4, w_planes=0)
    with pytest.raises(TsucError, match="act_trits=11"):
        TFMBSLinear(4, 4, act_trits=11)


# -- the torch quantisers agree with the numpy ones ----------------------------------------------

@pytest.mark.parametrize("method", ["twn", "sign"])
def test_torch_weight_quantiser_matches_numpy(method):
    w = torch.randn(33, 70, generator=torch.Generator().manual_seed(3))
    t_t, s_t = quantize_weights_torch(w, method, 3)
    t_n, s_n = quantize_weights(w.numpy(), method, 3)
    np.testing.assert_array_equal(t_t.numpy(), t_n)
    np.testing.assert_allclose(s_t.numpy(), s_n, rtol=1e-6)


@pytest.mark.parametrize("act_trits", [1, 2, 5])
def test_fake_activation_quantiser_matches_reference(act_trits):
    x = torch.randn(6, 40, generator=torch.Generator().manual_seed(4))
    x_hat, _ = fake_quantize_activations(x, act_trits)
    x_int, scale = ref.quantize_activations(x.numpy(), act_trits)
    np.testing.assert_allclose(x_hat.numpy(), x_int * scale, rtol=1e-6, atol=1e-7)


def test_train_forward_is_the_quantised_product():
    layer = _layer(w_planes=2).train()
    x = torch.randn(9, 20, generator=torch.Generator().manual_seed(5))
    y = layer(x).detach().numpy()
    expect = ref.linear(x.numpy(), layer.weight.detach().numpy(), layer.bias.detach().numpy(), w_planes=2)
    np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-5)


# -- straight-through estimator ----------------------------------------------------------------------

@pytest.mark.parametrize("act_trits", [5, 3])
def test_ste_gradients(act_trits):
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(8, 20, generator=gen, requires_grad=True)
    w = torch.randn(7, 20, generator=gen, requires_grad=True)
    b = torch.randn(7, generator=gen, requires_grad=True)
    g = torch.randn(8, 7, generator=gen)
    y = TFMBSLinearFunction.apply(x, w, b, "twn", 2, act_trits)
    y.backward(g)

    t, s = quantize_weights(w.detach().numpy(), "twn", 2)
    w_hat = torch.from_numpy(dequantize_weights(t, s))
    x_hat, mask = fake_quantize_activations(x, act_trits)
    assert mask is None
    # dL/dW: the float gradient of x_hat W^T with respect to W; dL/dx: of x W_hat^T w.r.t. x.
    w_f = w.detach().clone().requires_grad_()
    torch.nn.functional.linear(x_hat, w_f, b.detach()).backward(g)
    x_f = x.detach().clone().requires_grad_()
    torch.nn.functional.linear(x_f, w_hat, b.detach()).backward(g)
    torch.testing.assert_close(w.grad, w_f.grad)
    torch.testing.assert_close(x.grad, x_f.grad)
    torch.testing.assert_close(b.grad, g.sum(0))


def test_ste_sign_activation_clips_beyond_the_scale():
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(4, 30, generator=gen, requires_grad=True)
    w = torch.randn(5, 30, generator=gen, requires_grad=True)
    g = torch.randn(4, 5, generator=gen)
    TFMBSLinearFunction.apply(x, w, None, "twn", 1, 1).backward(g)
    scale = x.detach().abs().mean()
    t, s = quantize_weights(w.detach().numpy())
    full = g @ torch.from_numpy(dequantize_weights(t, s))
    inside = x.detach().abs() <= scale
    assert 0 < int(inside.sum()) < x.numel()
    torch.testing.assert_close(x.grad, torch.where(inside, full, torch.zeros_like(full)))
    assert w.grad is not None


def test_ste_batched_input_and_no_grad_paths():
    layer = _layer().train()
    x = torch.randn(2, 3, 20, requires_grad=True)
    layer(x).sum().backward()
    assert x.grad.shape == x.shape and layer.weight.grad.shape == layer.weight.shape
    assert layer.bias.grad.shape == layer.bias.shape


def test_qat_training_reduces_loss():
    """A few SGD steps through the STE lower the loss of the quantised forward."""
    gen = torch.Generator().manual_seed(8)
    x = torch.randn(64, 20, generator=gen)
    target = x @ torch.randn(20, 3, generator=gen)
    torch.manual_seed(8)
    layer = TFMBSLinear(20, 3, w_planes=1).train()
    opt = torch.optim.Adam(layer.parameters(), lr=0.02)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = ((layer(x) - target) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], (losses[0], losses[-1])


# -- swap helper ----------------------------------------------------------------------------------

class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(12, 16)
        self.body = nn.Sequential(nn.ReLU(), nn.Linear(16, 16), nn.Sequential(nn.ReLU(), nn.Linear(16, 4, bias=False)))
        self.norm = nn.LayerNorm(4)

    def forward(self, x):
        return self.norm(self.body(self.stem(x)))


def test_swap_linear_layers():
    torch.manual_seed(9)
    net = _Net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    out = swap_linear_layers(net, w_planes=2, act_trits=3)
    assert out is net
    names = {name: m for name, m in net.named_modules() if isinstance(m, TFMBSLinear)}
    assert set(names) == {"stem", "body.1", "body.2.1"}
    assert not any(type(m) is nn.Linear for m in net.modules())
    for name, m in names.items():
        assert m.name == name and m.w_planes == 2 and m.act_trits == 3
    assert names["body.2.1"].bias is None
    after = net.state_dict()
    assert set(after) == set(before)
    for k in before:
        assert torch.equal(before[k], after[k])
    assert [m.telemetry_hint["fusion_order"] for m in names.values()] == [0, 1, 2]
    # Swapping again changes nothing (TFMBSLinear is not replaced).
    swap_linear_layers(net)
    assert names["stem"] is net.stem


def test_swap_keeps_training_mode():
    net = nn.Sequential(nn.Linear(3, 3)).eval()
    swap_linear_layers(net)
    assert not net[0].training


# -- telemetry -----------------------------------------------------------------------------------

def test_telemetry_hint():
    layer = _layer(k=100, n=50, name="fc1")
    hint = layer.telemetry_hint
    assert set(hint) == {"layer", "sparsity", "tile_mask", "fusion_order", "fusion_sparsity", "zero_count", "total"}
    t, _ = quantize_weights(layer.weight.detach().numpy())
    assert hint["layer"] == "fc1"
    assert hint["total"] == 50 * 100
    assert hint["zero_count"] == int((t == 0).sum())
    assert hint["sparsity"] == pytest.approx(hint["zero_count"] / 5000)
    assert hint["tile_mask"] == 0b1111  # 50 outputs -> 4 tiles of 15 lanes
    assert _layer(k=10, n=16).telemetry_hint["tile_mask"] == 0b11
    assert _layer(k=10, n=200).telemetry_hint["tile_mask"] == 0b1111


# -- eval forward on the fabric model ------------------------------------------------------------------

@needs_fabric
@pytest.mark.parametrize("opts", [{}, {"w_planes": 2}, {"act_trits": 1}, {"act_trits": 3, "quant": "sign"}])
def test_eval_forward_is_bitexact_with_reference(opts):
    layer = _layer(k=70, n=75, **opts).eval()
    x = torch.randn(5, 70, generator=torch.Generator().manual_seed(10))
    y = layer(x)
    assert y.dtype == torch.float32 and y.shape == (5, 75)
    expect = ref.linear(x.numpy(), layer.weight.detach().numpy(), layer.bias.detach().numpy(), **opts)
    np.testing.assert_array_equal(y.numpy(), expect)


@needs_fabric
def test_eval_forward_long_reduction_and_batched_input():
    layer = _layer(k=1500, n=20).eval()
    x = torch.randn(2, 3, 1500, generator=torch.Generator().manual_seed(11))
    expect = ref.linear(x.numpy(), layer.weight.detach().numpy(), layer.bias.detach().numpy())
    np.testing.assert_array_equal(layer(x).numpy(), expect)


@needs_fabric
def test_eval_reloads_when_weights_change():
    layer = _layer(k=30, n=10).eval()
    x = torch.randn(4, 30, generator=torch.Generator().manual_seed(12))
    y0 = layer(x)
    with torch.no_grad():
        layer.weight.mul_(-1)
    y1 = layer(x)
    expect = ref.linear(x.numpy(), layer.weight.detach().numpy(), layer.bias.detach().numpy())
    np.testing.assert_array_equal(y1.numpy(), expect)
    assert not torch.equal(y0, y1)
    # load_state_dict (an in-place copy) is seen too.
    other = _layer(k=30, n=10, seed=99)
    layer.load_state_dict(other.state_dict())
    np.testing.assert_array_equal(layer(x).numpy(), other.eval()(x).numpy())


def _counters(fab):
    from tsuc.runtime.tfmbs.schedule import Counters

    return Counters.of_fabric(fab)


@needs_fabric
@pytest.mark.parametrize("k, n, planes, trits", [(40, 75, 2, 3), (1100, 20, 1, 2)])
def test_fabric_counts_exactly_the_layers_work(k, n, planes, trits):
    """The fabric's counters after a forward are the closed-form counters of the layer's
    schedule (resident weights: one preload; K > 1024: streamed frame by frame)."""
    from tsuc.runtime.tfmbs import actquant
    from tsuc.runtime.tfmbs.fabric import Fabric
    from tsuc.runtime.tfmbs.schedule import Counters, layer_counters, preload_counters

    fab = Fabric()
    layer = _layer(k=k, n=n, fabric=fab, w_planes=planes, act_trits=trits).eval()
    x = torch.randn(3, k, generator=torch.Generator().manual_seed(13))
    layer(x)
    plan = layer._fabric_layer.plan
    assert plan.mode == ("resident" if k < 1024 else "frame")
    cfg = fab.config
    levels, _ = actquant.quantize(x.numpy(), trits)
    nz = actquant.nonzero_digit_table(trits)[levels.astype(np.int64) + actquant.levels(trits)].sum(axis=0)
    t, _ = layer.quantized()
    nonskip = np.einsum("d,pnd->pn", nz.astype(np.int64), (t != 0).astype(np.int64))
    expect = layer_counters(plan, cfg, 3, nonskip)
    expect += preload_counters(plan, cfg)
    assert _counters(fab).same_as(expect)
    prof = fab.profile_detailed()
    assert prof["cycles"] == expect.cycles and prof["burst_wait_cycles"] == expect.burst_wait_cycles
    # A second call reuses resident weights: only the call's own counters are added.
    before = _counters(fab)
    layer(x)
    second = Counters(cfg.tiles, cfg.lanes)
    second += layer_counters(plan, cfg, 3, nonskip)
    after = _counters(fab)
    assert after.cycles - before.cycles == second.cycles
    assert after.dma_words - before.dma_words == second.dma_words


@needs_fabric
def test_shared_fabric_layers_keep_or_lose_residency():
    from tsuc.runtime.tfmbs.fabric import Fabric

    fab = Fabric()
    x = torch.randn(2, 16, generator=torch.Generator().manual_seed(14))
    a = _layer(k=16, n=8, fabric=fab, seed=1, weight_addr=0x1000).eval()
    b = _layer(k=16, n=8, fabric=fab, seed=2, weight_addr=0x1000 + 4 * 16).eval()   # next to a
    c = _layer(k=16, n=8, fabric=fab, seed=3, weight_addr=0x1000).eval()            # on top of a
    ya = a(x)
    b(x)
    words = fab.dma_words
    np.testing.assert_array_equal(a(x).numpy(), ya.numpy())
    inputs = 2 * 5 * 16  # rows x trit planes x K words of Bank B
    assert fab.dma_words - words == inputs  # a is still resident: only the input trit planes move
    c(x)
    words = fab.dma_words
    np.testing.assert_array_equal(a(x).numpy(), ya.numpy())  # c overwrote a: a reloads, still right
    assert fab.dma_words - words == inputs + 16  # plus a's 16 weight words on its one tile


@needs_fabric
def test_swapped_model_shares_one_fabric_and_stays_resident():
    torch.manual_seed(16)
    net = swap_linear_layers(nn.Sequential(nn.Linear(20, 70), nn.ReLU(), nn.Linear(70, 5))).eval()
    fab = net[0].fabric
    assert net[2].fabric is fab
    assert (net[0].weight_addr, net[2].weight_addr) == (0x1000, 0x1000 + 4 * 20 * 2)  # 70 outputs: 2 groups
    x = torch.randn(3, 20)
    y = net(x)
    words = fab.dma_words
    np.testing.assert_array_equal(net(x).numpy(), y.numpy())
    assert fab.dma_words - words == 3 * 5 * (20 + 70)  # only the inputs' trit planes move again
    h = np.maximum(ref.linear(x.numpy(), net[0].weight.detach().numpy(), net[0].bias.detach().numpy()), 0)
    np.testing.assert_array_equal(y.numpy(), ref.linear(h, net[2].weight.detach().numpy(), net[2].bias.detach().numpy()))


@needs_fabric
def test_deepcopy_and_option_changes():
    import copy

    torch.manual_seed(17)
    net = swap_linear_layers(nn.Sequential(nn.Linear(12, 9), nn.ReLU(), nn.Linear(9, 4))).eval()
    x = torch.randn(2, 12)
    y = net(x)
    twin = copy.deepcopy(net)
    assert twin[0].fabric is twin[2].fabric and twin[0].fabric is not net[0].fabric
    assert twin[0]._fusion_group[1] is twin[2]
    np.testing.assert_array_equal(twin(x).numpy(), y.numpy())
    with torch.no_grad():
        twin[0].weight.zero_()
    assert twin[2].telemetry_hint["fusion_sparsity"] != net[2].telemetry_hint["fusion_sparsity"]
    # Changing an option after the first call takes effect on the next.
    net[2].act_trits = 2
    h = np.maximum(ref.linear(x.numpy(), net[0].weight.detach().numpy(), net[0].bias.detach().numpy()), 0)
    expect = ref.linear(h, net[2].weight.detach().numpy(), net[2].bias.detach().numpy(), act_trits=2)
    np.testing.assert_array_equal(net(x).numpy(), expect)


@needs_fabric
def test_bad_weight_addr():
    layer = _layer(weight_addr=0x2000).eval()  # Bank B of tile 0
    with pytest.raises(TsucError, match="weight_addr=0x2000"):
        layer(torch.zeros(1, 20))


@needs_fabric
def test_eval_profile_and_telemetry_after_forward():
    from tsuc.runtime.tfmbs.fabric import Fabric

    torch.manual_seed(15)
    fab = Fabric()
    net = swap_linear_layers(nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 5)), fabric=fab).eval()
    net(torch.randn(3, 20))
    prof = fab.profile()
    assert prof["cycles"] > 0 and 0 < prof["utilization"] <= 1 and len(prof["skips"]) == 15
    zero = sum(m.telemetry_hint["zero_count"] for m in net if isinstance(m, TFMBSLinear))
    total = sum(m.telemetry_hint["total"] for m in net if isinstance(m, TFMBSLinear))
    assert net[0].telemetry_hint["fusion_sparsity"] == round(zero / total, 4)
    assert net[2].telemetry_hint["tile_mask"] == 0b1
