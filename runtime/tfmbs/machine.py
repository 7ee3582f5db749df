"""The Ternary Fabric's configuration: sizes, address map, DMA costs and energy constants.

Every number of the machine is a field here (and a `tsuc targets` option of the compiler),
with the seed's machine as the default: 4 tiles x 15 lanes, 1024-word Bank A (weights) and
Bank B (inputs) per tile, 250 MHz, int32 accumulators.

Address map (byte addresses, words are 4 bytes). With the defaults it is the seed's:
Bank A of tile t at 0x1000 + t*0x2000, Bank B at 0x2000 + t*0x2000, and a write to 0x9000
broadcasts to every Bank A. In general a bank is `bank_words*4` bytes, tile t's pair starts at
0x1000 + t*2*bank_bytes, and the Bank A broadcast window follows the last tile. tsuc adds one
window the seed does not name: a Bank B broadcast right after the Bank A one (0xA000 by
default), because the input vector of a frame is the same for every tile.

DMA: a `load` is one burst of n words costing `dma_latency + ceil(n / dma_words_per_cycle)`
cycles during which the vector engine waits (counted in `burst_wait_cycles` and `cycles`).
A broadcast burst moves its words over the bus once.

Energy (an estimate, not a measurement; every constant is a field so a user can plug in
their own process numbers). Defaults, per event:
- `e_mac_pj = 0.1`: one lane accumulating w*x into its 32-bit accumulator, costed as a 32-bit
  integer add at 45 nm (M. Horowitz, "Computing's energy problem", ISSCC 2014: 0.1 pJ).
- `e_skip_pj = 0.01`: a lane that zero-skips (clock-gated accumulator). Assumption: 10% of
  an add for the gating logic and the zero detect.
- `e_sram_word_pj = 5.0`: reading one 32-bit word from a 4 KB bank; each compute cycle
  of an active tile reads one Bank A and one Bank B word. From Horowitz's 10 pJ per 64-bit
  access of an 8 KB SRAM, halved for 32 bits.
- `e_dma_word_pj = 10.0`: moving one word over the bus and writing it into SRAM.
  Assumption: twice an SRAM read.
- `e_static_pj = 4.0` per tile per cycle (any cycle, busy or waiting): 1 mW of leakage and
  clock per tile at 250 MHz. Assumption.
Zero-skip saves `e_mac_pj - e_skip_pj` per skipped lane-cycle and never saves cycles.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from tsuc.errors import TsucError

BASE_ADDR = 0x1000
WORD_BYTES = 4
MAX_LANES = 15  # one PT-5 word carries 15 trits


@dataclass(frozen=True)
class FabricConfig:
    """Sizes, timing and energy constants of one Ternary Fabric."""

    tiles: int = 4
    lanes: int = 15
    bank_words: int = 1024
    clock_hz: float = 250e6
    dma_words_per_cycle: int = 1
    dma_latency: int = 16
    acc_bits: int = 32
    e_mac_pj: float = 0.1
    e_skip_pj: float = 0.01
    e_sram_word_pj: float = 5.0
    e_dma_word_pj: float = 10.0
    e_static_pj: float = 4.0

    def __post_init__(self) -> None:
        checks = [
            (1 <= self.tiles <= 16, "tiles must be between 1 and 16"),
            (1 <= self.lanes <= MAX_LANES, f"lanes must be between 1 and {MAX_LANES}"),
            (16 <= self.bank_words <= 1 << 20, "bank_words must be between 16 and 1048576"),
            (self.clock_hz > 0, "clock_hz must be positive"),
            (self.dma_words_per_cycle >= 1, "dma_words_per_cycle must be at least 1"),
            (self.dma_latency >= 0, "dma_latency must not be negative"),
            (8 <= self.acc_bits <= 32, "acc_bits must be between 8 and 32"),
            (min(self.e_mac_pj, self.e_skip_pj, self.e_sram_word_pj, self.e_dma_word_pj, self.e_static_pj) >= 0,
             "energy constants must not be negative"),
        ]
        for ok, msg in checks:
            if not ok:
                raise TsucError(f"fabric configuration: {msg}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FabricConfig:
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise TsucError(f"fabric configuration has unknown field(s) {', '.join(unknown)}")
        typed = {}
        for k, v in values.items():
            default = getattr(cls, k)
            typed[k] = float(v) if isinstance(default, float) else int(v)
        return cls(**typed)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    # -- derived numbers ----------------------------------------------------------------------

    @property
    def outputs_per_frame(self) -> int:
        return self.tiles * self.lanes

    @property
    def all_tiles_mask(self) -> int:
        return (1 << self.tiles) - 1

    @property
    def acc_range(self) -> tuple[int, int]:
        return -(1 << (self.acc_bits - 1)), (1 << (self.acc_bits - 1)) - 1

    def dma_cycles(self, words: int) -> int:
        """Cycles of one burst of `words` words."""
        return self.dma_latency + -(-int(words) // self.dma_words_per_cycle)

    # -- address map --------------------------------------------------------------------------

    @property
    def bank_bytes(self) -> int:
        return self.bank_words * WORD_BYTES

    def bank_a_addr(self, tile: int, word: int = 0) -> int:
        return BASE_ADDR + tile * 2 * self.bank_bytes + word * WORD_BYTES

    def bank_b_addr(self, tile: int, word: int = 0) -> int:
        return BASE_ADDR + tile * 2 * self.bank_bytes + self.bank_bytes + word * WORD_BYTES

    def broadcast_a_addr(self, word: int = 0) -> int:
        return BASE_ADDR + self.tiles * 2 * self.bank_bytes + word * WORD_BYTES

    def broadcast_b_addr(self, word: int = 0) -> int:
        return self.broadcast_a_addr() + self.bank_bytes + word * WORD_BYTES

    def decode_addr(self, addr: int) -> tuple[str, list[int], int]:
        """(bank "A" or "B", tiles written, word offset) of a byte address, or TsucError."""
        if addr % WORD_BYTES:
            raise TsucError(f"fabric address {addr:#x} is not word aligned")
        off = addr - BASE_ADDR
        end = self.broadcast_b_addr() + self.bank_bytes - BASE_ADDR
        if off < 0 or off >= end:
            raise TsucError(f"fabric address {addr:#x} is outside the SRAM map {BASE_ADDR:#x}..{end + BASE_ADDR - 1:#x}")
        pair, within = divmod(off, 2 * self.bank_bytes)
        bank = "A" if within < self.bank_bytes else "B"
        word = (within % self.bank_bytes) // WORD_BYTES
        tiles = list(range(self.tiles)) if pair == self.tiles else [pair]
        return bank, tiles, word
