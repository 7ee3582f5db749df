"""Replay: a layer's real program driven on the `Fabric` device model, frame by frame.

The SRAM images are the artifact's PT-5 stream re-expanded into lane-major 24-of-32-bit
words (mod3, as the hardware decodes), DMA bursts follow `schedule.commands`, the stored TFD
descriptors run one by one, and the results are read from the accumulators. Slow (Python
per frame): for small models, and for checking the fast path and its closed-form counters.
"""

from __future__ import annotations

import numpy as np

from tsuc.runtime.tfmbs import actquant, pt5
from tsuc.runtime.tfmbs.fabric import Fabric
from tsuc.runtime.tfmbs.layer import Layer
from tsuc.runtime.tfmbs.machine import FabricConfig
from tsuc.runtime.tfmbs.schedule import Counters, commands, preload_bursts
from tsuc.runtime.tfmbs.tfd import TFD


def images(layer: Layer, cfg: FabricConfig) -> np.ndarray:
    """Lane-major SRAM words of every plane: uint32 [P, G, T, K]."""
    return np.stack([pt5.weight_words(layer.trits[p], cfg.tiles, cfg.lanes) for p in range(layer.plan.w_planes)])


def preload(fab: Fabric, layers: list[Layer]) -> None:
    """Load every resident layer's weights (one burst per tile and layer)."""
    cfg = fab.config
    for layer in layers:
        if layer.plan.mode != "resident":
            continue
        img = images(layer, cfg)  # [P, G, T, K]
        for t, word, words in preload_bursts(layer.plan, cfg):
            count = words // (layer.plan.w_planes * layer.plan.k)
            block = img[:, :count, t, :].transpose(1, 0, 2).reshape(-1)  # g-major, then p, then k
            fab.load(cfg.bank_a_addr(t, word), block)


def replay_products(fab: Fabric, layer: Layer, levels: np.ndarray) -> tuple[list[np.ndarray], Counters]:
    """The plane products Q_p [M, N] of one call read from the device model, and the
    counters the device model moved while computing them."""
    cfg, plan = fab.config, layer.plan
    sticky = fab.overflow.copy()  # the layer's own overflow bits: start it with them clear
    fab.overflow[:] = False
    before = Counters.of_fabric(fab)
    cols = layer.cols(levels, np.int32)
    planes = actquant.trit_planes(cols, plan.act_trits)  # [J, M, K]
    img = images(layer, cfg)
    groups, chunks = plan.groups(cfg), plan.chunks(cfg)
    tfds = [TFD.from_row(r) for r in layer.tfds]
    rows = cols.shape[0]
    acc = np.zeros((plan.act_trits, plan.w_planes, rows, plan.n), np.int64)
    for cmd in commands(plan, cfg, rows):
        kind = cmd[0]
        if kind == "x":
            _, m, j, k0, depth = cmd
            if j is None:  # every trit plane of the row, plane j at word j*K
                fab.load(cfg.broadcast_b_addr(0), pt5.input_words(planes[:, m, :].reshape(-1)))
            else:
                fab.load(cfg.broadcast_b_addr(0), pt5.input_words(planes[j, m, k0:k0 + depth]))
        elif kind == "w":
            _, g, p, ci = cmd
            for t in range(groups[g].tiles):
                if p is None:  # the whole group: planes side by side, P*K words
                    fab.load(cfg.bank_a_addr(t, plan.a_base), img[:, g, t, :].reshape(-1))
                else:
                    c = chunks[ci]
                    fab.load(cfg.bank_a_addr(t, plan.block_word(g, p, c)), img[p, g, t, c.k0:c.k0 + c.depth])
        elif kind == "frame":
            fab.submit(tfds[cmd[1]])
            fab.wait()
        else:  # read
            _, m, j, g, p = cmd
            grp = groups[g]
            acc[j, p, m, grp.n0:grp.n0 + grp.rows] = fab.results(-1)[: grp.rows]
    pow3 = 3 ** np.arange(plan.act_trits, dtype=np.int64)
    q = [np.tensordot(pow3, acc[:, p], axes=1) for p in range(plan.w_planes)]
    moved = difference(Counters.of_fabric(fab), before)
    fab.overflow |= sticky
    return q, moved


def difference(after: Counters, before: Counters) -> Counters:
    out = Counters(after.tiles, after.lanes)
    for name in ("cycles", "compute_cycles", "burst_wait_cycles", "dma_words", "dma_bursts", "frames", "tile_cycles"):
        setattr(out, name, getattr(after, name) - getattr(before, name))
    out.active = after.active - before.active
    out.skips = after.skips - before.skips
    out.overflow = after.overflow & ~before.overflow
    return out
