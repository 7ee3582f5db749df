"""`TFMBSLinear`: an `nn.Linear` that runs on the (simulated) Ternary Fabric.

The layer keeps ordinary float `weight` and `bias` parameters, so its `state_dict` is that
of `nn.Linear` and checkpoints move freely between the two. What it computes depends on the
mode:

- **eval mode** (inference): on the first forward the weights are quantised to ternary
  planes (`quant`, `w_planes`, see `tsuc.targets.tfmbs.quantize`) and loaded into a
  `tsuc.runtime.tfmbs.fabric.Fabric`; every forward then quantises its input to balanced-
  ternary trit planes (`act_trits`, one dynamic scale per call) and runs the GEMV frames
  through the fabric model's functional path, so `fabric.profile()` counts the cycles and
  skips of the work. Scales and bias are applied on the host in float32. The result is the
  same, bit for bit, as the tfmbs artifact of the same layer compiled by `tsuc.compile`.
  The weights are re-quantised and re-loaded when they change (training, `load_state_dict`).
- **training mode**: `TFMBSLinearFunction` in plain torch (fast, differentiable): the
  forward uses the same quantised weights and activations as the fabric, the backward is a
  straight-through estimator, so a model can be fine-tuned quantisation-aware and then
  evaluated (or compiled) with a single weight plane at little loss.

`swap_linear_layers(model)` turns every `nn.Linear` of a model into a `TFMBSLinear`.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tsuc.errors import TsucError
from tsuc.runtime.tfmbs.machine import FabricConfig
from tsuc.runtime.tfmbs.schedule import union_tile_mask
from tsuc.targets.tfmbs.quantize import METHODS, MAX_PLANES, TWN_DELTA, quantize_weights

MAX_ACT_TRITS = 10


# -- quantisers in torch (training path) --------------------------------------------------------

def quantize_weights_torch(w: torch.Tensor, method: str = "twn", planes: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Torch twin of `quantize_weights` (same float64 arithmetic): (trits[P, N, K], scales[P, N] f32).
    `twn-opt` (a sort per row, no gradient either way) runs the numpy quantiser itself."""
    if method == "twn-opt":
        t, s = quantize_weights(w.detach().to("cpu", torch.float64).numpy(), method, planes)
        return torch.from_numpy(t).to(w.device), torch.from_numpy(s).to(w.device)
    residual = w.detach().to(torch.float64)
    trits, scales = [], []
    for _ in range(planes):
        mag = residual.abs()
        if method == "twn":
            delta = TWN_DELTA * mag.mean(dim=1, keepdim=True)
            keep = mag > delta
            count = keep.sum(dim=1)
            total = torch.where(keep, mag, torch.zeros_like(mag)).sum(dim=1)
            scale = torch.where(count > 0, total / count.clamp(min=1), torch.zeros_like(total))
            t = torch.where(keep, torch.sign(residual), torch.zeros_like(residual))
        else:
            scale = mag.mean(dim=1)
            t = torch.sign(residual)
        scale = scale.to(torch.float32)
        trits.append(t.to(torch.int8))
        scales.append(scale)
        residual = residual - scale.to(torch.float64)[:, None] * t
    return torch.stack(trits), torch.stack(scales)


def fake_quantize_activations(x: torch.Tensor, act_trits: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(x_hat = s * x_int in float32, STE mask or None) for the fabric's per-tensor dynamic
    activation quantiser (formula in `tsuc.runtime.tfmbs`).

    With act_trits > 1 the scale is max|x| / m, so nothing ever clips and the gradient passes
    everywhere (mask None). With act_trits = 1, x_hat = s * sign(x) is read as the
    hard-tanh s * clip(x / s, -1, 1) (the XNOR-net estimator at scale s), so the gradient
    passes only where |x| <= s.
    """
    x = x.detach().to(torch.float32)
    if act_trits == 1:
        scale = x.abs().to(torch.float64).mean().to(torch.float32) if x.numel() else x.new_zeros(())
        return torch.sign(x) * scale, x.abs() <= scale
    m = (3 ** act_trits - 1) // 2
    peak = x.abs().max() if x.numel() else x.new_zeros(())
    if peak == 0:
        return torch.zeros_like(x), None
    scale = peak / m
    return torch.clamp(torch.round(x / scale), -m, m) * scale, None


class TFMBSLinearFunction(torch.autograd.Function):
    """y = Q_a(x) Q_w(W)^T + b with a straight-through estimator.

    Forward: the fabric's numbers (ternary weight planes with per-channel scales, trit-plane
    activations with a per-tensor scale), in float. Backward: dL/dW = dL/dy^T Q_a(x) (as if
    Q_w were the identity), dL/dx = (dL/dy Q_w(W)) masked to where the activation quantiser
    does not clip (see `fake_quantize_activations`), dL/db = sum of dL/dy.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                quant: str = "twn", w_planes: int = 1, act_trits: int = 5) -> torch.Tensor:
        trits, scales = quantize_weights_torch(weight, quant, w_planes)
        w_hat = (scales[:, :, None].to(torch.float64) * trits.to(torch.float64)).sum(0).to(weight.dtype)
        x_hat, mask = fake_quantize_activations(x, act_trits)
        x_hat = x_hat.to(x.dtype)
        ctx.save_for_backward(x_hat, w_hat, mask if mask is not None else x_hat.new_ones(()))
        ctx.has_bias = bias is not None
        return F.linear(x_hat, w_hat, bias)

    @staticmethod
    def backward(ctx: Any, grad_y: torch.Tensor):
        x_hat, w_hat, mask = ctx.saved_tensors
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = (grad_y @ w_hat) * mask
        g2 = grad_y.reshape(-1, grad_y.shape[-1])
        if ctx.needs_input_grad[1]:
            grad_w = g2.t() @ x_hat.reshape(-1, x_hat.shape[-1])
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = g2.sum(0)
        return grad_x, grad_w, grad_b, None, None, None


# -- the layer -----------------------------------------------------------------------------------

class TFMBSLinear(nn.Linear):
    """Drop-in for `nn.Linear` on the Ternary Fabric (seed signature, plus quantiser options)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, fabric: Any = None,
                 weight_addr: int = 0x1000, name: str | None = None, *, quant: str = "twn", w_planes: int = 1,
                 act_trits: int = 5, device: Any = None, dtype: Any = None) -> None:
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        if quant not in METHODS:
            raise TsucError(f"TFMBSLinear quant={quant!r} is unknown (use one of {', '.join(METHODS)})")
        if not isinstance(w_planes, int) or not 1 <= w_planes <= MAX_PLANES:
            raise TsucError(f"TFMBSLinear w_planes={w_planes!r} must be an integer from 1 to {MAX_PLANES}")
        if not isinstance(act_trits, int) or not 1 <= act_trits <= MAX_ACT_TRITS:
            raise TsucError(f"TFMBSLinear act_trits={act_trits!r} must be an integer from 1 to {MAX_ACT_TRITS}")
        self.quant, self.w_planes, self.act_trits = quant, w_planes, act_trits
        self.weight_addr = int(weight_addr)
        # Position among the fabric layers of a model (set by `swap_linear_layers`).
        self.fusion_order = 0
        self.name = name or f"tfmbs_linear_{out_features}x{in_features}"
        self.fabric = fabric
        self._loaded_key: tuple | None = None
        self._trits: np.ndarray | None = None
        self._scales: np.ndarray | None = None
        # The layers whose frames run as one program with this one (set by `swap_linear_layers`);
        # a plain list so that `copy.deepcopy(model)` copies the group along with the layers.
        self._fusion_group: list[TFMBSLinear] = [self]

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, quant={self.quant}, w_planes={self.w_planes}, "
                f"act_trits={self.act_trits}, name={self.name!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return TFMBSLinearFunction.apply(x, self.weight, self.bias, self.quant, self.w_planes, self.act_trits)
        return self._fabric_forward(x)

    # -- quantise and load ------------------------------------------------------------------------

    def _weight_key(self) -> tuple:
        """Changes whenever the weights do (in-place updates bump `_version`; moves change the
        storage) or the quantiser options do. The bias is read afresh on every call."""
        return (self.weight._version, self.weight.data_ptr(), self.quant, self.w_planes)

    def quantized(self) -> tuple[np.ndarray, np.ndarray]:
        """The ternary planes and scales of the current weights (cached until they change)."""
        key = self._weight_key()
        if self._trits is None or self._loaded_key != key:
            w = self.weight.detach().to("cpu", torch.float32).numpy()
            self._trits, self._scales = quantize_weights(w, self.quant, self.w_planes)
            self._loaded_key = key
        return self._trits, self._scales

    def _fabric_forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_features:
            raise TsucError(f"TFMBSLinear {self.name!r} expects inputs with {self.in_features} features, got shape {tuple(x.shape)}")
        runner = self._runner()
        rows = x.detach().to("cpu", torch.float32).reshape(-1, self.in_features).numpy()
        y = runner.run(rows, self.quantized(), self.bias, self._weight_key())
        return torch.from_numpy(y).reshape(*x.shape[:-1], self.out_features).to(x.device)

    def _runner(self) -> _FabricLayer:
        from tsuc.runtime.tfmbs.fabric import Fabric

        if self.fabric is None:
            self.fabric = Fabric()
        layer = getattr(self, "_fabric_layer", None)
        setup = (self.name, self.out_features, self.in_features, self.w_planes, self.act_trits, self.weight_addr)
        if layer is None or layer.fabric is not self.fabric or layer.setup != setup:
            layer = self._fabric_layer = _FabricLayer(self.fabric, *setup)
        return layer

    # -- telemetry --------------------------------------------------------------------------------

    @property
    def telemetry_hint(self) -> dict[str, Any]:
        """The telemetry the compiler attaches to this layer's `tfmbs.gemv`s (same definitions as
        `tfmbs-lower`: `sparsity` is the zero fraction of the layer's ternary weights over all
        planes, `tile_mask` the tiles its frames use, `fusion_order` its position among the
        model's fabric layers, `fusion_sparsity` the zero fraction over the weights of all of
        them), plus the raw `zero_count` and `total` trits."""
        trits, _ = self.quantized()
        zero = int(np.count_nonzero(trits == 0))
        total = int(trits.size)
        fused_zero = fused_total = 0
        for layer in self._fusion_group:
            t, _ = layer.quantized()
            fused_zero += int(np.count_nonzero(t == 0))
            fused_total += int(t.size)
        cfg = self.fabric.config if self.fabric is not None else FabricConfig()
        return {
            "layer": self.name,
            "sparsity": round(zero / total, 4) if total else 0.0,
            "tile_mask": union_tile_mask(self.out_features, cfg),
            "fusion_order": self.fusion_order,
            "fusion_sparsity": round(fused_zero / fused_total, 4) if fused_total else 0.0,
            "zero_count": zero,
            "total": total,
        }


class _FabricLayer:
    """Runs one layer's frames on a `Fabric` through its seed API (DMA loads, TFD submits,
    accumulator reads), following the same step-by-step program as a compiled artifact
    (`tsuc.runtime.tfmbs.schedule.commands`), so the fabric's counters and profile count
    exactly the work of the layer.

    Placement: the weights go to Bank A from word (weight_addr - 0x1000) / 4 of every tile.
    If the layer's planes (w_planes * K words per group of 60 outputs) fit there, they are
    *resident*: loaded once and reused by later calls until the weights change or another
    layer overwrites those words (tracked per fabric). Otherwise each frame's block streams
    through that window right before the frame.
    """

    def __init__(self, fabric: Any, name: str, n: int, k: int, w_planes: int, act_trits: int, weight_addr: int) -> None:
        from tsuc.runtime.tfmbs.schedule import LayerPlan

        self.fabric = fabric
        self.setup = (name, n, k, w_planes, act_trits, weight_addr)
        cfg = fabric.config
        bank, tiles, a_base = cfg.decode_addr(int(weight_addr))
        if bank != "A" or tiles != [0]:
            raise TsucError(f"TFMBSLinear {name!r} weight_addr={int(weight_addr):#x} is not a Bank A address of tile 0 "
                            f"({cfg.bank_a_addr(0):#x}..{cfg.bank_a_addr(0, cfg.bank_words) - 1:#x})")
        plan = LayerPlan(name, n, k, w_planes, act_trits, "resident", a_base, True)
        if a_base + plan.footprint(cfg) > cfg.bank_words:
            plan = LayerPlan(name, n, k, w_planes, act_trits, "frame", a_base, True)
            if a_base + plan.window(cfg) > cfg.bank_words:
                raise TsucError(f"TFMBSLinear {name!r}: a {plan.window(cfg)}-word frame block does not fit Bank A "
                                f"from weight_addr={int(weight_addr):#x}; use a lower address")
        plan.check(cfg)
        self.plan = plan
        self.token = object()
        self._images: np.ndarray | None = None
        self._key: tuple | None = None

    def run(self, rows: np.ndarray, quantized: tuple[np.ndarray, np.ndarray], bias: torch.Tensor | None,
            key: tuple) -> np.ndarray:
        """float32 y[M, N] of rows[M, K]."""
        from tsuc.runtime.tfmbs import actquant, pt5
        from tsuc.runtime.tfmbs.host_ops import epilogue
        from tsuc.runtime.tfmbs.schedule import commands
        from tsuc.runtime.tfmbs.tfd import TFD

        fab, cfg, plan = self.fabric, self.fabric.config, self.plan
        trits, scales = quantized
        if self._key != key or self._images is None:
            self._images = np.stack([pt5.weight_words(trits[p], cfg.tiles, cfg.lanes) for p in range(plan.w_planes)])
            self._key = key
            _forget_owner(fab, self.token)
        if plan.mode == "resident" and not _owns(fab, self.token):
            self._preload()
        levels, act_scale = actquant.quantize(rows, plan.act_trits)
        digits = actquant.trit_planes(levels, plan.act_trits)  # [J, M, K]
        img = self._images
        groups, chunks = plan.groups(cfg), plan.chunks(cfg)
        tfds = [TFD.from_row(r.to_row()) for r in plan.tfds(cfg)]
        m_rows = rows.shape[0]
        acc = np.zeros((plan.act_trits, plan.w_planes, m_rows, plan.n), np.int64)
        for cmd in commands(plan, cfg, m_rows):
            if cmd[0] == "x":
                _, m, j, k0, depth = cmd
                x = digits[:, m, :].reshape(-1) if j is None else digits[j, m, k0:k0 + depth]  # None: every plane of row m
                fab.load(cfg.broadcast_b_addr(0), pt5.input_words(x))
            elif cmd[0] == "w":  # frame mode: this frame's block into the window
                _, g, p, ci = cmd
                c = chunks[ci]
                for t in range(groups[g].tiles):
                    fab.load(cfg.bank_a_addr(t, plan.block_word(g, p, c)), img[p, g, t, c.k0:c.k0 + c.depth])
                _evict(fab, plan.a_base, plan.a_base + c.depth)
            elif cmd[0] == "frame":
                fab.submit(tfds[cmd[1]])
                fab.wait()
            else:
                _, m, j, g, p = cmd
                grp = groups[g]
                acc[j, p, m, grp.n0:grp.n0 + grp.rows] = fab.results(-1)[: grp.rows]
        pow3 = 3 ** np.arange(plan.act_trits, dtype=np.int64)
        q = [np.tensordot(pow3, acc[:, p], axes=1) for p in range(plan.w_planes)]
        b = np.zeros(plan.n, np.float32) if bias is None else bias.detach().to("cpu", torch.float32).numpy()
        return epilogue(q, scales, act_scale, 1.0, b)

    def _preload(self) -> None:
        from tsuc.runtime.tfmbs.schedule import preload_bursts

        fab, cfg, plan = self.fabric, self.fabric.config, self.plan
        for t, word, words in preload_bursts(plan, cfg):
            count = words // (plan.w_planes * plan.k)
            block = self._images[:, :count, t, :].transpose(1, 0, 2).reshape(-1)  # group, plane, k
            fab.load(cfg.bank_a_addr(t, word), block)
        _claim(fab, self.token, plan.a_base, plan.a_base + plan.footprint(cfg))


# Which layer's weights occupy which Bank A words of a fabric: {fabric: [(start, end, token)]}.
_OWNERS: "weakref.WeakKeyDictionary[Any, list[tuple[int, int, object]]]" = weakref.WeakKeyDictionary()


def _evict(fab: Any, start: int, end: int) -> None:
    """Words [start, end) of Bank A were overwritten: layers resident there must reload."""
    if fab in _OWNERS:
        _OWNERS[fab] = [(s, e, t) for s, e, t in _OWNERS[fab] if e <= start or s >= end]


def _claim(fab: Any, token: object, start: int, end: int) -> None:
    _evict(fab, start, end)
    _forget_owner(fab, token)
    _OWNERS.setdefault(fab, []).append((start, end, token))


def _owns(fab: Any, token: object) -> bool:
    return any(t is token for _, _, t in _OWNERS.get(fab, []))


def _forget_owner(fab: Any, token: object) -> None:
    """`token`'s region is no longer valid (its weights changed, or another layer streamed over it)."""
    if fab in _OWNERS:
        _OWNERS[fab] = [(s, e, t) for s, e, t in _OWNERS[fab] if t is not token]


def swap_linear_layers(model: nn.Module, **opts: Any) -> nn.Module:
    """Replace every `nn.Linear` of `model` (recursively, in place) with a `TFMBSLinear` that
    carries its weights; `opts` go to each `TFMBSLinear` (fabric, quant, w_planes, act_trits,
    weight_addr). Layers are named by their qualified module name and numbered in module
    order (`fusion_order`). All new layers share one fabric (`opts["fabric"]`, or a new
    `Fabric`), so its profile counts the whole model. Unless `weight_addr` is given, their
    weights are placed side by side in Bank A when they all fit, as the compiler does
    (every layer resident); otherwise each one loads at 0x1000 when it runs. Returns `model`."""
    from tsuc.runtime.tfmbs.fabric import Fabric

    opts = dict(opts)
    if opts.get("fabric") is None:
        opts["fabric"] = Fabric()
    for qual, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if type(child) is not nn.Linear:
                continue
            full = f"{qual}.{child_name}" if qual else child_name
            new = TFMBSLinear(child.in_features, child.out_features, bias=child.bias is not None, name=full,
                              device=child.weight.device, dtype=child.weight.dtype, **opts)
            with torch.no_grad():
                new.weight.copy_(child.weight)
                if child.bias is not None:
                    new.bias.copy_(child.bias)
            new.train(child.training)
            setattr(module, child_name, new)
    layers = [m for m in model.modules() if isinstance(m, TFMBSLinear)]
    for order, layer in enumerate(layers):
        layer.fusion_order = order
        layer._fusion_group = layers
    if "weight_addr" not in opts:
        _place_side_by_side([m for m in layers if m.fabric is opts["fabric"]], opts["fabric"].config)
    return model


def _place_side_by_side(layers: list[TFMBSLinear], cfg: FabricConfig) -> None:
    """Consecutive Bank A regions for `layers` if all of them fit, else leave them at 0x1000."""
    sizes = [m.w_planes * m.in_features * -(-m.out_features // cfg.outputs_per_frame) for m in layers]
    if sum(sizes) > cfg.bank_words:
        return
    word = 0
    for layer, size in zip(layers, sizes):
        layer.weight_addr = cfg.bank_a_addr(0, word)
        word += size
