"""The `tfmbs` target's options, declared once for the compiler, the artifact and the runtime.

Part of the hardware description the compiler and the runtime share (with `machine.py`:
`FabricConfig` and the address map; `pt5.py`: the PT-5 weight codec; `tfd.py`: the TFD
descriptor layout). The compiler resolves these options and writes them on every fabric
segment (`#tsuc.target<"tfmbs", {...}>`) and in the manifest; the lowering passes, the
emitter and the executor all read that one resolved set.
"""

from __future__ import annotations

from dataclasses import dataclass

from tsuc.errors import TsucError
from tsuc.runtime.options import Options, option
from tsuc.runtime.tfmbs.machine import FabricConfig


@dataclass(frozen=True)
class TfmbsOptions(Options):
    """Quantisation, fabric size and timing of one Ternary Fabric target."""

    namespace = "tfmbs"

    quant: str = option("twn", "weight quantiser per output channel (twn-opt: thresholds and scales that minimise "
                               "each plane's L2 error)", choices=("twn", "sign", "twn-opt"))
    w_planes: int = option(1, "residual ternary weight planes (each costs one more frame per row)", minimum=1, maximum=8)
    act_trits: int = option(5, "balanced-ternary trit planes per activation (1 = the prototype's sign)", minimum=1, maximum=10)
    encoding: str = option("mod3", "PT-5 digit encoding of the weights stored in the artifact", choices=("mod3", "offset"))
    zero_skip: bool = option(True, "set ZERO_SKIP_EN on every frame (saves energy, not cycles)")
    residency: bool = option(True, "keep weights that fit in Bank A resident across calls")
    tiles: int = option(4, "fabric tiles", minimum=1, maximum=16)
    lanes: int = option(15, "lanes per tile (one trit each of a 24-bit PT-5 word)", minimum=1, maximum=15)
    bank_words: int = option(1024, "words per Bank A / Bank B of a tile (also the longest frame)", minimum=16, maximum=1 << 20)
    clock_mhz: float = option(250.0, "fabric clock in MHz (for time and static energy)", minimum=1e-3, maximum=1e6)
    dma_words_per_cycle: int = option(1, "DMA bus width in words per cycle", minimum=1, maximum=64)
    dma_latency: int = option(16, "fixed cycles per DMA burst", minimum=0, maximum=100000)
    acc_bits: int = option(32, "accumulator width in bits (wraps with a sticky overflow flag)", minimum=8, maximum=32)
    fuse: bool = option(False, "run consecutive fabric and host segments as one onnxruntime graph (integer products, the "
                               "float64 epilogue as graph ops; slower than the per-layer path on CPU, see docs/tfmbs.md)")
    overflow: str = option("error", "a layer whose K exceeds the accumulator range: error (refuse it) or wrap (compile it; "
                                    "its accumulators wrap like the hardware's, flagged in the profile)",
                           choices=("error", "wrap"))
    fold: bool = option(True, "fold a BatchNormalization, a residual Add and a Relu that follow a fabric layer into its host "
                              "epilogue")

    def fabric_config(self) -> FabricConfig:
        return FabricConfig(tiles=self.tiles, lanes=self.lanes, bank_words=self.bank_words, clock_hz=self.clock_mhz * 1e6,
                            dma_words_per_cycle=self.dma_words_per_cycle, dma_latency=self.dma_latency,
                            acc_bits=self.acc_bits)

    def validate(self) -> None:
        try:
            self.fabric_config()
        except TsucError as e:
            raise TsucError(f"target tfmbs options: {e}") from None


@dataclass(frozen=True)
class TfmbsParams(Options):
    """Run-time parameters of fabric segments (`--param tfmbs.mode=replay`)."""

    namespace = "tfmbs"
    noun = "parameter"

    mode: str = option("fast", "fast (vectorised, closed-form counters) or replay (drive the Fabric model frame by frame)",
                       choices=("fast", "replay"))
    threads: int = option(0, "threads of the fast path (products and elementwise work; 0 = one per core)",
                          minimum=0, maximum=256)
    products: str = option("auto", "fast-path products: int8 (onnxruntime's 8-bit integer kernels, act_trits <= 5), "
                                   "blas (float32 BLAS) or auto", choices=("auto", "int8", "blas"))
