"""The slow, obviously correct per-cycle model of the Ternary Fabric's vector engine.

It exists to check `fabric.Fabric`: the tests give both the same SRAM contents and frames
and require identical accumulators and counters. It walks cycle by cycle, tile by tile and
lane by lane in plain Python, decodes each trit from the raw word with integer arithmetic
(byte = word >> 8*(lane//5) & 0xFF, digit = byte // 3**(lane%5) % 3, mod3: 2 -> -1) and
wraps the accumulator one step at a time. Never use it on a hot path.
"""

from __future__ import annotations

from tsuc.runtime.tfmbs.machine import FabricConfig
from tsuc.runtime.tfmbs.tfd import KERNEL_NOP, TFD, check_tfd

_MOD3 = {0: 0, 1: 1, 2: -1}


class ReferenceEngine:
    """Per-cycle model over copies of the banks (lists of ints)."""

    def __init__(self, config: FabricConfig, bank_a, bank_b, acc=None) -> None:
        self.config = config
        self.bank_a = [[int(v) for v in row] for row in bank_a]
        self.bank_b = [[int(v) for v in row] for row in bank_b]
        t, n = config.tiles, config.lanes
        self.acc = [[0] * n for _ in range(t)] if acc is None else [[int(v) for v in row] for row in acc]
        self.active = [[0] * n for _ in range(t)]
        self.skips = [[0] * n for _ in range(t)]
        self.overflow = [[False] * n for _ in range(t)]
        self.cycles = 0
        self.tile_cycles = 0

    @staticmethod
    def trit(word: int, lane: int) -> int:
        byte = (word >> (8 * (lane // 5))) & 0xFF
        return _MOD3[(byte // 3 ** (lane % 5)) % 3]

    def submit(self, tfd: TFD) -> None:
        cfg = self.config
        a_word, b_word = check_tfd(tfd, cfg)
        if tfd.kernel == KERNEL_NOP:
            return
        lo, hi = cfg.acc_range
        tiles = [t for t in range(cfg.tiles) if tfd.tile_mask >> t & 1]
        enabled = [l < tfd.lane_count and bool(tfd.lane_mask >> l & 1) for l in range(cfg.lanes)]
        for t in tiles:
            for lane in range(cfg.lanes):
                if enabled[lane] and not tfd.bias_en:
                    self.acc[t][lane] = 0
        for d in range(tfd.frame_len):
            self.cycles += 1
            for t in tiles:
                self.tile_cycles += 1
                w_word = self.bank_a[t][a_word + d * tfd.lane_stride]
                x_word = self.bank_b[t][b_word + d]
                for lane in range(cfg.lanes):
                    if not enabled[lane]:
                        continue
                    self.active[t][lane] += 1
                    w, x = self.trit(w_word, lane), self.trit(x_word, lane)
                    if tfd.zero_skip and (w == 0 or x == 0):
                        self.skips[t][lane] += 1
                        continue
                    value = self.acc[t][lane] + w * x
                    if value > hi:
                        value = lo
                        self.overflow[t][lane] = True
                    elif value < lo:
                        value = hi
                        self.overflow[t][lane] = True
                    self.acc[t][lane] = value
