"""The `xla` target's options, declared once for the compiler and the runtime.

XLA computes the same numbers whatever these say: they describe the TPU-like matrix unit
(systolic array, buffers, memory) whose cycle model (`systolic.py`) the profile reports.
Every constant is an option, with its source or the word "assumption".
"""

from __future__ import annotations

from dataclasses import dataclass

from tsuc.runtime.options import Options, option

DATAFLOWS = ("ws", "os", "is")


@dataclass(frozen=True)
class XlaOptions(Options):
    """The systolic array and memory system the xla target's cycle model describes."""

    namespace = "xla"

    rows: int = option(128, "systolic array rows R (TPU v2+ MXU: 128; v1: 256)", minimum=1, maximum=4096)
    cols: int = option(128, "systolic array columns C", minimum=1, maximum=4096)
    dataflow: str = option("ws", "array dataflow: weight-, output- or input-stationary (SCALE-Sim's ws/os/is)",
                           choices=DATAFLOWS)
    clock_mhz: float = option(700.0, "array clock in MHz (TPU v1: 700)", minimum=1e-3, maximum=1e6)
    vector_lanes: int = option(128, "vector-unit elements per cycle for non-GEMM ops (assumption: one array row wide)",
                               minimum=1, maximum=1 << 16)
    ifmap_sram_kb: int = option(8192, "input-operand buffer in KiB (TPU v1's 24 MiB unified buffer, split in three)",
                                minimum=1, maximum=1 << 24)
    filter_sram_kb: int = option(8192, "weight buffer in KiB", minimum=1, maximum=1 << 24)
    ofmap_sram_kb: int = option(4096, "accumulator buffer in KiB (TPU v1: 4 MiB)", minimum=1, maximum=1 << 24)
    bandwidth_gbps: float = option(34.0, "off-chip memory bandwidth in GB/s (TPU v1's DDR3: 34)", minimum=1e-3,
                                   maximum=1e6)
    energy_mac_pj: float = option(0.2, "energy per MAC in pJ (8-bit multiply at 45 nm, Horowitz ISSCC 2014; adds ignored)",
                                  minimum=0.0, maximum=1e6)
    energy_byte_pj: float = option(160.0, "energy per off-chip byte in pJ (DRAM: 1.3 nJ per 64-bit access, Horowitz "
                                          "ISSCC 2014)", minimum=0.0, maximum=1e6)
