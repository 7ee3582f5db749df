"""The fabric profile of a call, its Chrome trace, and the `tsuc inspect` lines.

Counters come in closed form (`schedule.layer_counters`) from what the run recorded (each
layer's integer levels and row count), computed only when a profile is asked for. The
zero-skip counters need, per reduction index, how many (row, trit) digits are nonzero
(`nonzero_digits`, then a column sum, im2col-free for convolutions); the overflow flags of a
layer whose accumulators can wrap need the prefix sums of its chains (`overflow_slots`).
After a replay the device model's own counters are the ground truth and the closed form is
checked against them (`closed_form_agrees`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tsuc.runtime.tfmbs import actquant
from tsuc.runtime.tfmbs.fabric import energy_estimate
from tsuc.runtime.tfmbs.fastrun import CallRecord
from tsuc.runtime.tfmbs.host_ops import column_sums
from tsuc.runtime.tfmbs.layer import Layer
from tsuc.runtime.tfmbs.machine import FabricConfig
from tsuc.runtime.tfmbs.schedule import (
    Counters,
    LayerPlan,
    commands,
    layer_counters,
    preload_counters,
)

FRAME_EVENTS_MAX = 4096  # per layer and call; above it a layer is one event per tile
OVERFLOW_CHUNK = 1 << 22  # elements of one prefix-sum block when checking chains for overflow


def nonzero_digits(rec: CallRecord, act_trits: int) -> np.ndarray:
    """int8, the layer input's shape: how many balanced-ternary digits of each level are nonzero."""
    lim = actquant.levels(act_trits)
    table = actquant.nonzero_digit_table(act_trits)
    if rec.levels.dtype.itemsize == 1:  # a 256-entry table indexed by the stored byte
        lut = np.zeros(256, np.int8)
        lut[np.arange(-lim, lim + 1) & 0xFF] = table
        return np.take(lut, rec.levels.view(np.uint8))
    if act_trits == 1:
        return (rec.levels != 0).view(np.int8)
    return np.take(table, rec.levels.astype(np.intp) + lim)


def overflow_slots(layer: Layer, rec: CallRecord, cfg: FabricConfig) -> np.ndarray:
    """bool [tiles, lanes]: the sticky overflow bits the layer's frames set. A chain (row,
    trit, group, plane) over the chunks of K overflows when one of its prefix sums leaves
    the accumulator's range (before the first wrap the accumulator holds the true prefix
    sum; the bit is sticky after). Only layers that can overflow are checked."""
    plan = layer.plan
    out = np.zeros((cfg.tiles, cfg.lanes), bool)
    if not plan.may_overflow(cfg):
        return out
    lo, hi = cfg.acc_range
    planes = actquant.trit_planes(layer.cols(rec.levels, np.int32), plan.act_trits)  # [J, M, K]
    hit = np.zeros(plan.n, bool)
    w = layer.trits.astype(np.int32)  # [P, N, K]
    step = max(1, OVERFLOW_CHUNK // max(1, plan.n * plan.k))
    for j in range(plan.act_trits):
        for p in range(plan.w_planes):
            for m0 in range(0, planes.shape[1], step):
                prefix = np.cumsum(planes[j, m0:m0 + step, None, :] * w[p][None], axis=2)  # [m, N, K]
                hit |= ((prefix.max(axis=2) > hi) | (prefix.min(axis=2) < lo)).any(axis=0)
    slots = np.arange(plan.n) % cfg.outputs_per_frame
    flat = out.reshape(-1)
    flat[slots[hit]] = True
    return out


def layer_counters_of_call(layer: Layer, rec: CallRecord, cfg: FabricConfig) -> tuple[Counters, float]:
    """(counters of the layer's last call, activation sparsity) in closed form."""
    plan = layer.plan
    nz = nonzero_digits(rec, plan.act_trits)
    if layer.conv is None:
        cnt = nz.reshape(-1, plan.k).sum(axis=0, dtype=np.int64)
    else:
        c = layer.conv
        cnt = column_sums(nz, c["kernel_shape"], c["strides"], c["pads"], c["dilations"])
    nonskip = None
    if plan.zero_skip:  # exact: every product and partial sum is an integer below 2^53
        busy = cnt.astype(np.float64) @ layer.slot_weights(cfg)
        nonskip = np.rint(busy).astype(np.int64).reshape(cfg.tiles, cfg.lanes)
    counters = layer_counters(plan, cfg, rec.rows, nonskip)
    counters.overflow = overflow_slots(layer, rec, cfg)
    act_sparsity = 1.0 - float(cnt.sum()) / (rec.rows * plan.act_trits * plan.k) if rec.rows else 0.0
    return counters, act_sparsity


def summary(cfg: FabricConfig, c: Counters) -> dict[str, Any]:
    active = int(c.active.sum())
    skips = int(c.skips.sum())
    lanes_total = cfg.tiles * cfg.lanes
    energy = energy_estimate(cfg, active=active, skips=skips, tile_cycles=c.tile_cycles, dma_words=c.dma_words, cycles=c.cycles)
    flags = c.overflow.any(axis=0)
    return {
        "cycles": int(c.cycles),
        "compute_cycles": int(c.compute_cycles),
        "burst_wait_cycles": int(c.burst_wait_cycles),
        "active_cycles": active,
        "skips": skips,
        "utilization": active / (c.cycles * lanes_total) if c.cycles else 0.0,
        "overflow_flags": int(sum(1 << int(i) for i in np.flatnonzero(flags))),
        "frames": int(c.frames),
        "dma_words": int(c.dma_words),
        "dma_bursts": int(c.dma_bursts),
        "tile_cycles": int(c.tile_cycles),
        "energy_j": energy["energy_j"],
    }


def segment_profile(cfg: FabricConfig, layers: list[Layer], records: list[CallRecord], *, first_call: bool, mode: str,
                    replayed_preload: Counters | None) -> dict[str, Any]:
    """The profile of the segment's last call: totals, per-lane lists and per-layer entries."""
    total = Counters(cfg.tiles, cfg.lanes)
    entries = []
    agrees = True
    for layer, rec in zip(layers, records):
        c, act_sparsity = layer_counters_of_call(layer, rec, cfg)
        if rec.replayed is not None:  # the device model ran: its counters are the ground truth
            agrees &= rec.replayed.same_as(c)
            c = rec.replayed
        total += c
        entries.append(summary(cfg, c) | {
            "name": layer.plan.name, "mode": layer.plan.mode, "act_scale": rec.act_scale, "rows": rec.rows,
            "weight_sparsity": sum(layer.weight_sparsity) / max(1, len(layer.weight_sparsity)),
            "act_sparsity": round(act_sparsity, 6),
        })
    preload = Counters(cfg.tiles, cfg.lanes)
    if first_call:
        for layer in layers:
            preload += preload_counters(layer.plan, cfg)
    if replayed_preload is not None:
        agrees &= replayed_preload.same_as(preload)
        preload = replayed_preload
    total += preload
    out = summary(cfg, total)
    out.update(
        preload_cycles=int(preload.cycles),
        fabric_ms=total.cycles / cfg.clock_hz * 1e3,
        skips_per_lane=[int(v) for v in total.skips.sum(axis=0)],
        active_cycles_per_lane=[int(v) for v in total.active.sum(axis=0)],
        mode=mode,
        layers=entries,
    )
    if mode == "replay":
        out["closed_form_agrees"] = bool(agrees)
    return out


# -- trace ---------------------------------------------------------------------------------------


def trace_layer(events: list[dict[str, Any]], pid: int, layer: Layer, cfg: FabricConfig, rows: int, t0: float,
                entry: dict[str, Any]) -> float:
    """Append the layer's events starting at cycle t0; return the cycle it ends at."""
    us = 1e6 / cfg.clock_hz
    plan = layer.plan
    groups, chunks = plan.groups(cfg), plan.chunks(cfg)
    frames = rows * plan.act_trits * len(groups) * plan.w_planes * len(chunks)
    if frames > FRAME_EVENTS_MAX:
        dur = entry["cycles"]
        used = max(g.tiles for g in groups)
        for t in range(used):
            events.append({"name": plan.name, "cat": "tfmbs.layer", "ph": "X", "pid": pid, "tid": t, "ts": t0 * us,
                           "dur": dur * us, "args": {"frames": frames, "cycles": dur, "mode": plan.mode,
                                                      "burst_wait_cycles": entry["burst_wait_cycles"]}})
        return t0 + dur
    t = t0
    tfds = layer.tfds
    for cmd in commands(plan, cfg, rows):
        if cmd[0] in ("x", "w"):
            for words in burst_sizes(plan, cfg, cmd):
                cost = cfg.dma_cycles(words)
                events.append({"name": f"dma {'input' if cmd[0] == 'x' else 'weights'}", "cat": "tfmbs.dma", "ph": "X",
                               "pid": pid, "tid": cfg.tiles, "ts": t * us, "dur": cost * us, "args": {"words": words}})
                t += cost
        elif cmd[0] == "frame":
            row = tfds[cmd[1]]
            depth, mask = int(row[1]), int(row[8])
            for tile in range(cfg.tiles):
                if mask >> tile & 1:
                    events.append({"name": plan.name, "cat": "tfmbs.frame", "ph": "X", "pid": pid, "tid": tile,
                                   "ts": t * us, "dur": depth * us, "args": {"tfd": int(cmd[1]), "frame_len": depth}})
            t += depth
    return t


def burst_sizes(plan: LayerPlan, cfg: FabricConfig, cmd: tuple) -> list[int]:
    """Words of each DMA burst an "x" or "w" command issues."""
    groups, chunks = plan.groups(cfg), plan.chunks(cfg)
    if cmd[0] == "x":
        return [cmd[4]]
    if cmd[2] is None:
        return [plan.w_planes * plan.k] * groups[cmd[1]].tiles
    return [chunks[cmd[3]].depth] * groups[cmd[1]].tiles


def trace_events(cfg: FabricConfig, layers: list[Layer], records: list[CallRecord], prof: dict[str, Any],
                 start: float, pid: int = 1000) -> tuple[list[dict[str, Any]], float]:
    """Chrome/Perfetto events of the last call on process `pid` from fabric cycle `start`, and
    the cycle it ends at (the process itself is named by the runtime's trace)."""
    us = 1e6 / cfg.clock_hz
    events: list[dict[str, Any]] = [
        *({"name": "thread_name", "ph": "M", "pid": pid, "tid": t, "args": {"name": f"tile {t}"}} for t in range(cfg.tiles)),
        {"name": "thread_name", "ph": "M", "pid": pid, "tid": cfg.tiles, "args": {"name": "DMA"}},
    ]
    t = start + prof["preload_cycles"]
    if prof["preload_cycles"]:
        events.append({"name": "preload resident weights", "cat": "tfmbs.dma", "ph": "X", "pid": pid, "tid": cfg.tiles,
                       "ts": start * us, "dur": prof["preload_cycles"] * us, "args": {}})
    for layer, rec, entry in zip(layers, records, prof["layers"]):
        t = trace_layer(events, pid, layer, cfg, rec.rows, t, entry)
    return events, t


# -- inspect -------------------------------------------------------------------------------------


def describe_lines(spec: dict[str, Any]) -> list[str]:
    """Lines for `tsuc inspect`: machine, SRAM use, and per layer its tile map and sparsity."""
    from tsuc.errors import TsucError

    config = spec.get("config", {})
    try:
        cfg = FabricConfig.from_dict(config["machine"])
        plans = [LayerPlan.from_json(e["plan"]) for e in config["layers"]]
    except (KeyError, TypeError, ValueError, TsucError):
        return ["(malformed tfmbs config)"]
    resident = sum(p.footprint(cfg) for p in plans if p.mode == "resident")
    window = max((p.window(cfg) for p in plans if p.mode != "resident"), default=0)
    lines = [
        f"fabric: {cfg.tiles} tiles x {cfg.lanes} lanes, banks {cfg.bank_words} words, {cfg.clock_hz / 1e6:g} MHz, "
        f"DMA {cfg.dma_words_per_cycle} word/cycle + {cfg.dma_latency} cycles/burst; weights PT-5 ({config.get('encoding')})",
        f"Bank A (this segment): {resident} resident words per tile, stream window {window} words",
    ]
    fused = config.get("fused")
    if isinstance(fused, dict):
        parts = fused.get("parts", [])
        lines.append(f"fused: {len(parts)} segments ({sum(p.get('kind') == 'tfmbs' for p in parts)} fabric, "
                     f"{sum(p.get('kind') != 'tfmbs' for p in parts)} host) run as one onnxruntime graph")
    for e, p in zip(config["layers"], plans):
        groups, chunks = p.groups(cfg), p.chunks(cfg)
        tiles = ",".join(f"{g.tile_mask:#x}" for g in groups[:6]) + ("..." if len(groups) > 6 else "")
        sparsity = e.get("weight_sparsity", [])
        rows = "x".join("?" if d < 0 else str(d) for d in e.get("in_shape", []))
        lines.append(
            f"{p.name}: N={p.n} K={p.k} w_planes={p.w_planes} act_trits={p.act_trits} | {p.mode} @ word {p.a_base} | "
            f"{len(groups)} group(s) x {len(chunks)} chunk(s), {len(groups) * len(chunks) * p.w_planes * p.act_trits} frames/row, "
            f"tile masks {tiles} | input {rows} | weight sparsity {', '.join(f'{s:.3f}' for s in sparsity)}"
            + (" | may overflow" if p.may_overflow(cfg) else "") + _post_text(e.get("post")))
    return lines


def _post_text(post: Any) -> str:
    """` | + residual L3, relu`: the layer's folded epilogue (host work: no fabric cycles)."""
    if not isinstance(post, dict):
        return ""
    parts = ([f"residual {post['residual']}"] if post.get("residual") else []) + (["relu"] if post.get("relu") else [])
    return " | + " + ", ".join(parts) if parts else ""
