"""`tsuc-count-ops`: remember each segment's core ops before lowering rewrites them.

The manifest's op statistics (ops per target, ops left on the host) count the ONNX ops the
partitioner gave each segment; lowering replaces them with target ops, so the counts are
recorded right after partitioning as the segment attribute `tsuc.op_counts`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import DictionaryAttr, IntegerAttr, ModuleOp, i64
from xdsl.passes import ModulePass

from tsuc.dialects.tsuc import SegmentOp

OP_COUNTS = "tsuc.op_counts"


def core_op_counts(seg: SegmentOp) -> dict[str, int]:
    return dict(sorted(Counter(o.name for o in seg.body.block.ops if o.name not in ("onnx.Constant", "tsuc.yield")).items()))


@dataclass(frozen=True)
class CountOpsPass(ModulePass):
    """Record every segment's core-op counts (`tsuc.op_counts`) unless already recorded."""

    name = "tsuc-count-ops"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for seg in op.walk():
            if isinstance(seg, SegmentOp) and OP_COUNTS not in seg.attributes:
                seg.attributes[OP_COUNTS] = DictionaryAttr({k: IntegerAttr(v, i64) for k, v in core_op_counts(seg).items()})
