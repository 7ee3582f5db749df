"""TFD: the Ternary Fabric frame descriptor (the seed's `tfmbs_tfd_t`), and its checks.

One TFD runs one frame (a GEMV of depth `frame_len`) on the tiles of `tile_mask`. Seed fields:
base_addr, frame_len, packing_fmt (PT5=1, T2B=2, RAW=3), lane_count (<= 15), lane_stride,
flags, exec_hints, version, tile_mask. exec_hints bits (seed): [7:0] kernel, [15:8] quant,
bit 16 BIAS_EN (keep the accumulator of the previous frame), bit 17 ZERO_SKIP_EN.

How tsuc reads the address fields (the seed leaves them open):
- `base_addr` is the Bank A byte address of the frame's first weight word *as seen from
  tile 0* (0x1000 + 4*word); every tile of the mask reads its own Bank A at the same word.
- `lane_stride` is the word step between consecutive cycles in Bank A (1 = contiguous).
- tsuc extension `input_addr`: the Bank B byte address of the first input word, again as
  seen from tile 0 (default 0x2000 + 0, Bank B word 0); the step is always one word.
- tsuc extension `lane_mask`: a 15-bit lane enable applied to every tile of the mask, on top
  of `lane < lane_count` (the design page's "lane_mask bit").
`flags` and the quant byte are carried but not interpreted by the model. The model runs
the DOT kernel (and NOP, which does nothing); other kernels are refused with a clear error.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from tsuc.errors import TsucError
from tsuc.runtime.tfmbs.machine import BASE_ADDR, WORD_BYTES, FabricConfig

PT5, T2B, RAW = 1, 2, 3
PACKING_NAMES = {PT5: "PT5", T2B: "T2B", RAW: "RAW"}

KERNELS = {"NOP": 0, "DOT": 1, "ADD": 2, "MUL": 3, "CONV2D": 4, "MAXPOOL": 5, "TGEMM": 6, "CONV3D": 7,
           "LSTM": 8, "ATTN": 9}
KERNEL_NAMES = {v: k for k, v in KERNELS.items()}
KERNEL_NOP, KERNEL_DOT = 0, 1
BIAS_EN = 1 << 16
ZERO_SKIP_EN = 1 << 17
TFD_VERSION = 1
ALL_LANES = (1 << 15) - 1


def exec_hints(kernel: int = KERNEL_DOT, bias_en: bool = False, zero_skip: bool = True, quant: int = 0) -> int:
    """Pack the exec_hints word: kernel [7:0], quant [15:8], BIAS_EN bit 16, ZERO_SKIP_EN bit 17."""
    if not 0 <= kernel <= 0xFF or not 0 <= quant <= 0xFF:
        raise TsucError("exec_hints kernel and quant must each fit in 8 bits")
    return kernel | (quant << 8) | (BIAS_EN if bias_en else 0) | (ZERO_SKIP_EN if zero_skip else 0)


@dataclass(frozen=True)
class TFD:
    """One frame descriptor; `fields()` order is the artifact's column order."""

    base_addr: int
    frame_len: int
    packing_fmt: int = PT5
    lane_count: int = 15
    lane_stride: int = 1
    flags: int = 0
    exec_hints: int = KERNEL_DOT | ZERO_SKIP_EN
    version: int = TFD_VERSION
    tile_mask: int = 0xF
    input_addr: int = BASE_ADDR + 1024 * WORD_BYTES
    lane_mask: int = ALL_LANES

    @property
    def kernel(self) -> int:
        return self.exec_hints & 0xFF

    @property
    def quant(self) -> int:
        return (self.exec_hints >> 8) & 0xFF

    @property
    def bias_en(self) -> bool:
        return bool(self.exec_hints & BIAS_EN)

    @property
    def zero_skip(self) -> bool:
        return bool(self.exec_hints & ZERO_SKIP_EN)

    def to_row(self) -> tuple[int, ...]:
        return tuple(getattr(self, name) for name in TFD_FIELDS)

    @classmethod
    def from_row(cls, row) -> TFD:
        return cls(*(int(v) for v in row))


TFD_FIELDS = tuple(f.name for f in fields(TFD))


def tfd_array(tfds: list[TFD]) -> np.ndarray:
    """Descriptors as an int64 [n, 11] table (the artifact form)."""
    return np.array([t.to_row() for t in tfds], dtype=np.int64).reshape(len(tfds), len(TFD_FIELDS))


def enabled_lanes(tfd: TFD, config: FabricConfig) -> np.ndarray:
    """bool [lanes]: lane < lane_count and its lane_mask bit set."""
    lanes = np.arange(config.lanes)
    return (lanes < tfd.lane_count) & (((tfd.lane_mask >> lanes) & 1) == 1)


def active_tiles(tfd: TFD, config: FabricConfig) -> list[int]:
    return [t for t in range(config.tiles) if (tfd.tile_mask >> t) & 1]


def check_tfd(tfd: TFD, config: FabricConfig) -> tuple[int, int]:
    """Validate a descriptor against the machine; return (Bank A word, Bank B word) it starts at.

    Shared by the fast engine and the per-cycle reference, so both refuse the same frames.
    """
    if tfd.version != TFD_VERSION:
        raise TsucError(f"TFD version {tfd.version} is not supported (this model runs version {TFD_VERSION})")
    if tfd.kernel not in (KERNEL_NOP, KERNEL_DOT):
        name = KERNEL_NAMES.get(tfd.kernel, str(tfd.kernel))
        raise TsucError(f"TFD kernel {name} is not modelled (the fabric model runs DOT and NOP frames)")
    if tfd.packing_fmt != PT5:
        name = PACKING_NAMES.get(tfd.packing_fmt, str(tfd.packing_fmt))
        raise TsucError(f"TFD packing_fmt {name} is not supported (the fabric model decodes PT5)")
    if not 0 <= tfd.frame_len <= config.bank_words:
        raise TsucError(f"TFD frame_len {tfd.frame_len} must be between 0 and the bank size {config.bank_words}")
    if not 0 <= tfd.lane_count <= config.lanes:
        raise TsucError(f"TFD lane_count {tfd.lane_count} must be between 0 and {config.lanes}")
    if not 0 < tfd.tile_mask <= config.all_tiles_mask:
        raise TsucError(f"TFD tile_mask {tfd.tile_mask:#x} must name at least one of the {config.tiles} tiles and no others")
    if not 0 <= tfd.lane_mask <= ALL_LANES:
        raise TsucError(f"TFD lane_mask {tfd.lane_mask:#x} must fit in 15 bits")
    if tfd.lane_stride < 1:
        raise TsucError(f"TFD lane_stride {tfd.lane_stride} must be at least 1")
    a_bank, a_tiles, a_word = config.decode_addr(tfd.base_addr)
    if a_bank != "A" or a_tiles != [0]:
        raise TsucError(f"TFD base_addr {tfd.base_addr:#x} is not in tile 0's Bank A")
    b_bank, b_tiles, b_word = config.decode_addr(tfd.input_addr)
    if b_bank != "B" or b_tiles != [0]:
        raise TsucError(f"TFD input_addr {tfd.input_addr:#x} is not in tile 0's Bank B")
    if tfd.frame_len and a_word + (tfd.frame_len - 1) * tfd.lane_stride >= config.bank_words:
        raise TsucError(f"TFD at base_addr {tfd.base_addr:#x} reads past the end of Bank A")
    if b_word + tfd.frame_len > config.bank_words:
        raise TsucError(f"TFD at input_addr {tfd.input_addr:#x} reads past the end of Bank B")
    return a_word, b_word
