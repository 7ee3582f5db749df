"""The `xla` target: the whole graph as XLA HLO, run by XLA's CPU compiler, with a systolic model.

Pipeline after partitioning: `xla-lower` (onnx -> hlo dialect, `lower.py`). Stages for
`--emit`: `target` (the hlo dialect) and `hlo` (the XLA HLO text the artifact holds).
Emission (`emit.py`) writes the HLO text, weight parameters and per-op cost records;
`tsuc.runtime.xla.executor.XlaSegment` compiles the text with jaxlib's XLA CPU client at load.
The systolic-array options describe the TPU-like matrix unit the cycle model reports on
(`tsuc.runtime.xla.systolic`); they do not change what XLA computes.
"""

from __future__ import annotations

from typing import Any

from tsuc.dialects.onnx import onnx_schemas
from tsuc.targets.base import Option, Target
from tsuc.targets.xla.support import xla_support

DATAFLOWS = ("ws", "os", "is")


class XlaTarget(Target):
    name = "xla"
    description = "XLA HLO: the whole graph through XLA's CPU compiler (jaxlib), with a systolic-array (TPU MXU) cycle model"
    emit_after = "target"
    accelerates = frozenset(f"onnx.{t}" for t in onnx_schemas()) - {"onnx.Constant"}
    """The whole graph: every op left on the host gets a compile note saying why."""
    options = (
        Option("rows", int, 128, "systolic array rows R (TPU v2+ MXU: 128; v1: 256)", minimum=1, maximum=4096),
        Option("cols", int, 128, "systolic array columns C", minimum=1, maximum=4096),
        Option("dataflow", str, "ws", "array dataflow: weight-, output- or input-stationary (SCALE-Sim's ws/os/is)", choices=DATAFLOWS),
        Option("clock_mhz", float, 700.0, "array clock in MHz (TPU v1: 700)", minimum=1e-3),
        Option("vector_lanes", int, 128, "vector-unit elements per cycle for non-GEMM ops (assumption: one array row wide)",
               minimum=1, maximum=1 << 16),
        Option("ifmap_sram_kb", int, 8192, "input-operand buffer in KiB (TPU v1's 24 MiB unified buffer, split in three)", minimum=1),
        Option("filter_sram_kb", int, 8192, "weight buffer in KiB", minimum=1),
        Option("ofmap_sram_kb", int, 4096, "accumulator buffer in KiB (TPU v1: 4 MiB)", minimum=1),
        Option("bandwidth_gbps", float, 34.0, "off-chip memory bandwidth in GB/s (TPU v1's DDR3: 34)", minimum=1e-3),
        Option("energy_mac_pj", float, 0.2, "energy per MAC in pJ (8-bit multiply at 45 nm, Horowitz ISSCC 2014; adds ignored)", minimum=0.0),
        Option("energy_byte_pj", float, 160.0, "energy per off-chip byte in pJ (DRAM: 1.3 nJ per 64-bit access, Horowitz ISSCC 2014)", minimum=0.0),
    )

    def supports(self, op) -> bool:
        return xla_support(op) is None

    def unsupported_reason(self, op) -> str:
        return xla_support(op) or "supported"

    def emit_stages(self) -> dict[str, list[Any]]:
        from tsuc.targets.xla.lower import LowerToHloPass

        return {"target": [LowerToHloPass()], "hlo": []}

    def pipeline(self) -> list[Any]:
        return self.emit_stages()["target"]

    def render_stage(self, stage: str, module) -> str | None:
        """`--emit=hlo`: the HLO text of every xla segment instead of the IR."""
        if stage != "hlo":
            return None
        from tsuc.compiler.blobs import blob_store
        from tsuc.compiler.emit import main_function
        from tsuc.dialects.tsuc import SegmentOp
        from tsuc.targets.xla.hlo_text import segment_to_hlo

        store = blob_store(module)
        texts = [segment_to_hlo(op, store).text for op in main_function(module).body.block.ops
                 if isinstance(op, SegmentOp) and op.target.data == self.name]
        return "\n".join(texts)

    def emit_segment(self, segment, ctx) -> dict[str, Any]:
        from tsuc.targets.xla.emit import emit_xla_segment

        return emit_xla_segment(segment, ctx)


__all__ = ["XlaTarget"]
