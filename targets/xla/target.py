"""The `xla` target: the whole graph as XLA HLO, run by XLA's CPU compiler, with a systolic model.

Pipeline after partitioning: `xla-lower` (onnx -> hlo dialect, `lower.py`); `--emit=lowered`
prints the hlo dialect, `--emit=hlo` the XLA HLO text the artifact holds.
Emission (`emit.py`) writes the HLO text, weight parameters and per-op cost records;
`tsuc.runtime.xla.executor.XlaSegment` compiles the text with jaxlib's XLA CPU client at load.
The systolic-array options describe the TPU-like matrix unit the cycle model reports on
(`tsuc.runtime.xla.systolic`); they do not change what XLA computes.
"""

from __future__ import annotations

from typing import Any

from tsuc.dialects.onnx import onnx_schemas
from tsuc.runtime.xla.options import XlaOptions
from tsuc.targets.base import Target
from tsuc.targets.xla.support import xla_support



class XlaTarget(Target):
    name = "xla"
    description = "XLA HLO: the whole graph through XLA's CPU compiler (jaxlib), with a systolic-array (TPU MXU) cycle model"
    options_class = XlaOptions
    extra = "xla"
    requires = ("jaxlib",)
    accelerates = frozenset(f"onnx.{t}" for t in onnx_schemas()) - {"onnx.Constant"}
    """The whole graph: every op left on the host gets a compile note saying why."""

    def supports(self, op) -> bool:
        return xla_support(op) is None

    def unsupported_reason(self, op) -> str:
        return xla_support(op) or "supported"

    def pipeline(self) -> list[str]:
        return ["xla-lower"]

    def views(self) -> dict[str, list[str]]:
        return {"hlo": []}

    def render(self, view: str, module, weights: bool = True) -> str | None:
        """`--emit=hlo`: the HLO text of every xla segment instead of the IR."""
        if view != "hlo":
            return None
        from tsuc.compiler.blobs import blob_store
        from tsuc.compiler.emit import main_function
        from tsuc.dialects.tsuc import SegmentOp
        from tsuc.targets.xla.hlo_text import segment_to_hlo

        store = blob_store(module)
        texts = [segment_to_hlo(op, store).text for op in main_function(module).body.block.ops
                 if isinstance(op, SegmentOp) and op.target_name == self.name]
        return "\n".join(texts)

    def emit_segment(self, segment, ctx) -> dict[str, Any]:
        from tsuc.targets.xla.emit import emit_xla_segment

        return emit_xla_segment(segment, ctx)


__all__ = ["XlaTarget"]
