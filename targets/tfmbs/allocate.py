"""`tfmbs-allocate`: Bank A placement, weight residency and the frame schedule of every layer.

All tfmbs segments of a module share one fabric, so the pass places every layer of every
segment in one Bank A of `bank_words` words per tile:

1. If all layers fit (`LayerPlan.footprint`: w_planes * K * groups words on tile 0), they are
   all *resident*: loaded on the first call and kept across calls.
2. Otherwise the pass keeps a stream window large enough for the largest chunk (min(K,
   bank_words)) and fills the rest with the layers that save the most DMA cycles per word
   of Bank A when resident (greedy by saving density, ties in program order). Every other
   layer streams through the window, in `group` mode (a group's blocks loaded once per call,
   when they fit the window) or `frame` mode (each frame's block loaded before it), whichever
   costs fewer DMA cycles for the layer's static row count.

With `residency=false` nothing is resident. Results go on the IR: each `tfmbs.dma_load` gets
`addr` (byte address, tile 0's view), `words` (Bank A words per tile for that plane) and
`resident`; each `tfmbs.gemv` gets `schedule = {mode, a_base, groups, chunks, frames_per_row,
rows}`, from which the emitter rebuilds the `LayerPlan` and its TFD program.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from xdsl.context import Context
from xdsl.dialects.builtin import DictionaryAttr, IntegerAttr, ModuleOp, StringAttr, UnitAttr, i64
from xdsl.passes import ModulePass

from tsuc.errors import TsucError
from tsuc.compiler.target_config import segment_options
from tsuc.runtime.tfmbs.machine import FabricConfig
from tsuc.runtime.tfmbs.options import TfmbsOptions
from tsuc.runtime.tfmbs.schedule import LayerPlan, layer_counters
from tsuc.targets.tfmbs.program import LoweredLayer, segment_layers, tfmbs_segments


def _i(v: int) -> IntegerAttr:
    return IntegerAttr(int(v), i64)


def dma_cost(plan: LayerPlan, cfg: FabricConfig, rows: int) -> int:
    """DMA cycles of one call of the layer in its plan's mode."""
    return layer_counters(replace(plan, zero_skip=False), cfg, rows, None).burst_wait_cycles


def best_streaming(plan: LayerPlan, cfg: FabricConfig, rows: int, window: int) -> LayerPlan:
    frame = replace(plan, mode="frame")
    group = replace(plan, mode="group")
    if group.window(cfg) <= window and dma_cost(group, cfg, rows) < dma_cost(frame, cfg, rows):
        return group
    return frame


def allocate(plans: list[LayerPlan], rows: list[int], cfg: FabricConfig, residency: bool = True) -> list[LayerPlan]:
    """Placement of every layer (see the module docstring); deterministic."""
    bank = cfg.bank_words
    total = sum(p.footprint(cfg) for p in plans)
    if residency and total <= bank:
        out, base = [], 0
        for p in plans:
            out.append(replace(p, mode="resident", a_base=base))
            base += p.footprint(cfg)
        return out
    need = max((min(p.k, bank) for p in plans), default=0)
    capacity = bank - need if residency else 0
    saving = []
    for i, (p, m) in enumerate(zip(plans, rows)):
        streamed = best_streaming(p, cfg, m, bank - need)
        saving.append((-(dma_cost(streamed, cfg, m) / p.footprint(cfg)), i))
    resident: set[int] = set()
    used = 0
    for _density, i in sorted(saving):
        f = plans[i].footprint(cfg)
        if used + f <= capacity:
            resident.add(i)
            used += f
    out, base = [], 0
    placed: dict[int, LayerPlan] = {}
    for i, p in enumerate(plans):
        if i in resident:
            placed[i] = replace(p, mode="resident", a_base=base)
            base += p.footprint(cfg)
    window = bank - base
    for i, (p, m) in enumerate(zip(plans, rows)):
        if i not in placed:
            placed[i] = replace(best_streaming(p, cfg, m, window), a_base=base)
    for i in range(len(plans)):
        placed[i].check(cfg)
        out.append(placed[i])
    return out


def plan_of(layer: LoweredLayer, zero_skip: bool) -> LayerPlan:
    return LayerPlan(layer.name, layer.n, layer.k, layer.w_planes, layer.act_trits, zero_skip=zero_skip)


def annotate(layer: LoweredLayer, plan: LayerPlan, cfg: FabricConfig) -> None:
    groups, chunks = plan.groups(cfg), plan.chunks(cfg)
    for p, load in enumerate(layer.loads):
        c0 = chunks[0]
        load.attributes["addr"] = _i(cfg.bank_a_addr(0, plan.block_word(0, p, c0)))
        load.attributes["words"] = _i(plan.k * len(groups) if plan.mode == "resident" else plan.window(cfg))
        if plan.mode == "resident":
            load.attributes["resident"] = UnitAttr()
        else:
            load.attributes.pop("resident", None)
    sched = DictionaryAttr({
        "mode": StringAttr(plan.mode),
        "a_base": _i(plan.a_base),
        "groups": _i(len(groups)),
        "chunks": _i(len(chunks)),
        "frames_per_row": _i(len(groups) * plan.w_planes * len(chunks) * plan.act_trits),
        "rows": _i(layer.rows if layer.rows >= 0 else -1),  # -1: run-time rows
    })
    for g in layer.gemvs:
        g.attributes["schedule"] = sched


def plan_from_ir(layer: LoweredLayer, zero_skip: bool) -> LayerPlan:
    """The allocated plan of a layer, read back from its gemv's `schedule` attribute."""
    sched = layer.gemvs[0].schedule
    if sched is None:
        raise TsucError(f"tfmbs layer {layer.name!r} has no schedule (run tfmbs-allocate before emitting)")
    d = sched.data
    return replace(plan_of(layer, zero_skip), mode=d["mode"].data, a_base=d["a_base"].value.data)


@dataclass(frozen=True)
class AllocateTfmbsPass(ModulePass):
    """Place every tfmbs layer of the module in Bank A and choose its frame schedule."""

    name = "tfmbs-allocate"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        segments = tfmbs_segments(op)
        if not segments:
            return
        # One fabric runs every tfmbs segment of the module, so Bank A is shared between them.
        opts = segment_options(segments[0], TfmbsOptions)
        assert opts is not None
        for seg in segments[1:]:
            if segment_options(seg, TfmbsOptions) != opts:
                raise TsucError(f"tfmbs segments {segments[0].sym_name.data} and {seg.sym_name.data} have different "
                                "options; one fabric runs them all")
        cfg = opts.fabric_config()
        layers = [layer for seg in segments for layer in segment_layers(seg)]
        plans = allocate([plan_of(layer, False) for layer in layers], [layer.planning_rows for layer in layers], cfg, opts.residency)
        for layer, plan in zip(layers, plans):
            annotate(layer, plan, cfg)
