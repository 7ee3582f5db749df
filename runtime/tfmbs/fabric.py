"""`Fabric`: the Ternary Fabric device model with the seed's API.

    fab = Fabric()                       # or Fabric(FabricConfig(...)) / Fabric(tiles=2)
    fab.load(0x1000, words)              # DMA a burst into SRAM (uint32 words or bytes)
    fab.submit(TFD(...)); fab.wait()     # run one frame
    fab.is_done(); fab.results(-1)       # 60 raw int32 accumulators, tile-major
    fab.profile(); fab.profile_detailed(); fab.energy()

The vector engine is vectorised with numpy over tiles x depth x lanes (a frame is one
decode + one multiply + one reduction); the tests hold it to a per-cycle oracle written from
the design page alone (`tests/targets/tfmbs/fabric_oracle.py`), SRAM, outputs and every counter.

Per cycle d of a frame, for every enabled lane (tile in tile_mask, lane < lane_count, lane_mask
bit): active_cycles += 1; with ZERO_SKIP_EN and (w == 0 or x == 0) skips += 1 and nothing is
accumulated; otherwise acc += w*x with wrap-around at `acc_bits` that sets a sticky overflow
bit. A frame costs `frame_len` cycles whatever its sparsity (zero-skip saves energy only).
Without BIAS_EN the enabled accumulators start the frame at zero; with it they keep their
value. Accumulators of lanes a frame does not enable are left alone. Submission is
synchronous: `submit` runs the frame, so `is_done()` is true again when it returns.

Counters accumulate from construction or the last `reset_profile()`; SRAM and
accumulators persist (weights loaded once stay resident).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tsuc.errors import TsucError
from tsuc.runtime.tfmbs import pt5
from tsuc.runtime.tfmbs.machine import FabricConfig
from tsuc.runtime.tfmbs.tfd import KERNEL_NOP, TFD, check_tfd, enabled_lanes


class Fabric:
    """A simulated Ternary Fabric: SRAM banks, accumulators, DMA and counters."""

    def __init__(self, config: FabricConfig | None = None, **overrides: Any) -> None:
        base = config or FabricConfig()
        self.config = FabricConfig.from_dict({**base.to_dict(), **overrides}) if overrides else base
        cfg = self.config
        self.bank_a = np.zeros((cfg.tiles, cfg.bank_words), dtype=np.uint32)
        self.bank_b = np.zeros((cfg.tiles, cfg.bank_words), dtype=np.uint32)
        self.acc = np.zeros((cfg.tiles, cfg.lanes), dtype=np.int64)
        self.reset_profile()

    # -- counters -------------------------------------------------------------------------------

    def reset_profile(self) -> None:
        """Zero every counter and the sticky overflow bits (SRAM and accumulators stay)."""
        cfg = self.config
        self.cycles = 0
        self.compute_cycles = 0
        self.burst_wait_cycles = 0
        self.dma_words = 0
        self.dma_bursts = 0
        self.frames = 0
        self.tile_cycles = 0  # sum over frames of frame_len x tiles in the mask (SRAM reads / 2)
        self.active = np.zeros((cfg.tiles, cfg.lanes), dtype=np.int64)
        self.skips = np.zeros((cfg.tiles, cfg.lanes), dtype=np.int64)
        self.overflow = np.zeros((cfg.tiles, cfg.lanes), dtype=bool)

    def reset(self) -> None:
        """Power-on state: clear SRAM, accumulators and counters."""
        self.bank_a[:] = 0
        self.bank_b[:] = 0
        self.acc[:] = 0
        self.reset_profile()

    # -- DMA --------------------------------------------------------------------------------------

    def load(self, addr: int, data: Any) -> None:
        """DMA one burst: `data` (uint32 words, or bytes of little-endian words) to byte `addr`.

        Words must be valid SRAM words (PT-5 bytes 0..2, byte 3 zero). A write to the Bank A
        (0x9000 by default) or Bank B broadcast window goes to every tile's bank.
        """
        words = _as_words(data)
        bank, tiles, word = self.config.decode_addr(int(addr))
        if word + words.size > self.config.bank_words:
            raise TsucError(f"a load of {words.size} words at {int(addr):#x} runs past the end of its bank")
        pt5.check_words(words, f"data loaded at {int(addr):#x}")
        target = self.bank_a if bank == "A" else self.bank_b
        target[tiles, word:word + words.size] = words
        cost = self.config.dma_cycles(words.size) if words.size else 0
        self.burst_wait_cycles += cost
        self.cycles += cost
        self.dma_words += int(words.size)
        self.dma_bursts += 1 if words.size else 0

    # -- frames -----------------------------------------------------------------------------------

    def submit(self, tfd: TFD) -> None:
        """Run one frame (synchronously)."""
        a_word, b_word = check_tfd(tfd, self.config)
        if tfd.kernel == KERNEL_NOP:
            return
        self._run_dot(tfd, a_word, b_word)

    def wait(self) -> None:
        """Block until the submitted frame is done (frames run synchronously: returns at once)."""

    def is_done(self) -> bool:
        return True

    def results(self, tile: int = -1) -> np.ndarray:
        """Raw int32 accumulators: one tile's lanes, or (-1) every tile's, tile-major."""
        if tile == -1:
            return self.acc.reshape(-1).astype(np.int32)
        if not 0 <= tile < self.config.tiles:
            raise TsucError(f"tile {tile} does not exist (the fabric has {self.config.tiles}; -1 reads all)")
        return self.acc[tile].astype(np.int32)

    def _run_dot(self, tfd: TFD, a_word: int, b_word: int) -> None:
        cfg = self.config
        depth = tfd.frame_len
        tiles = np.flatnonzero((tfd.tile_mask >> np.arange(cfg.tiles)) & 1)
        lanes = enabled_lanes(tfd, cfg)  # [L] bool
        self.cycles += depth
        self.compute_cycles += depth
        self.tile_cycles += depth * tiles.size
        self.frames += 1
        if depth == 0 or not lanes.any():
            if not tfd.bias_en:
                self.acc[np.ix_(tiles, np.flatnonzero(lanes))] = 0
            return
        a_idx = a_word + tfd.lane_stride * np.arange(depth)
        b_idx = b_word + np.arange(depth)
        w = pt5.lanes_from_words(self.bank_a[tiles][:, a_idx])[..., : cfg.lanes]  # [T, D, L] int8
        x = pt5.lanes_from_words(self.bank_b[tiles][:, b_idx])[..., : cfg.lanes]
        prod = (w * x).astype(np.int64)  # trits: the product is -1, 0 or 1
        lo, hi = cfg.acc_range
        start = self.acc[tiles] if tfd.bias_en else np.zeros((tiles.size, cfg.lanes), np.int64)
        total = prod.sum(axis=1)
        if int(np.abs(start).max()) + depth > hi:  # only then can a partial sum leave the range
            partial = start[:, None, :] + np.cumsum(prod, axis=1)
            ovf = ((partial > hi) | (partial < lo)).any(axis=1)
            self.overflow[tiles] |= ovf & lanes
        span = hi - lo + 1
        new = (start + total - lo) % span + lo
        self.acc[tiles] = np.where(lanes, new, self.acc[tiles])
        self.active[tiles] += depth * lanes
        if tfd.zero_skip:
            zero = ((w == 0) | (x == 0)).sum(axis=1)
            self.skips[tiles] += zero * lanes

    # -- telemetry --------------------------------------------------------------------------------

    def profile(self) -> dict[str, Any]:
        """The seed's `profile()`: cycles, utilization, skips per lane (summed over tiles)."""
        lanes_total = self.config.tiles * self.config.lanes
        util = float(self.active.sum()) / (self.cycles * lanes_total) if self.cycles else 0.0
        return {"cycles": int(self.cycles), "utilization": util, "skips": [int(v) for v in self.skips.sum(axis=0)]}

    def profile_detailed(self) -> dict[str, Any]:
        """`profile()` plus burst_wait_cycles, overflow_flags (15-bit OR over tiles), active_cycles."""
        prof = self.profile()
        flags = self.overflow.any(axis=0)
        prof.update(
            burst_wait_cycles=int(self.burst_wait_cycles),
            overflow_flags=int(sum(1 << i for i in np.flatnonzero(flags))),
            active_cycles=[int(v) for v in self.active.sum(axis=0)],
        )
        return prof

    def energy(self) -> dict[str, float]:
        """Energy estimate (joules) of the counted work; constants in `machine.FabricConfig`."""
        return energy_estimate(
            self.config,
            active=int(self.active.sum()),
            skips=int(self.skips.sum()),
            tile_cycles=int(self.tile_cycles),
            dma_words=int(self.dma_words),
            cycles=int(self.cycles),
        )


def energy_estimate(cfg: FabricConfig, *, active: int, skips: int, tile_cycles: int, dma_words: int,
                    cycles: int) -> dict[str, float]:
    """Energy in joules by component from the counters (see `machine` for the constants)."""
    pj = 1e-12
    parts = {
        "mac_j": (active - skips) * cfg.e_mac_pj * pj,
        "skip_j": skips * cfg.e_skip_pj * pj,
        "sram_j": 2 * tile_cycles * cfg.e_sram_word_pj * pj,
        "dma_j": dma_words * cfg.e_dma_word_pj * pj,
        "static_j": cycles * cfg.tiles * cfg.e_static_pj * pj,
    }
    parts["energy_j"] = sum(parts.values())
    return parts


def _as_words(data: Any) -> np.ndarray:
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        if len(raw) % 4:
            raise TsucError(f"a load of {len(raw)} bytes is not a whole number of 32-bit words")
        return np.frombuffer(raw, dtype="<u4").astype(np.uint32)
    arr = np.asarray(data)
    if arr.dtype != np.uint32:
        if arr.dtype.kind not in "iu" or (arr.size and (arr.min() < 0 or arr.max() > 0xFFFFFFFF)):
            raise TsucError(f"load data must be uint32 words or bytes, got {arr.dtype}")
        arr = arr.astype(np.uint32)
    return arr.reshape(-1)
