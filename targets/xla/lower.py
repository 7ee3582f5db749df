"""`xla-lower`: every onnx op in an xla segment -> hlo ops, and onnx.Constant -> hlo.constant.

One `RewritePattern` per ONNX op or family (`patterns/`), applied by one walker. What a
pattern cannot lower never reaches it: `XlaTarget.supports` asks the same pattern's `check`
(`support.xla_support`), so ops it would refuse stay on the host with that reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import GreedyRewritePatternApplier, PatternRewriter, PatternRewriteWalker, RewritePattern

from tsuc.dialects import hlo
from tsuc.targets.xla.patterns import all_patterns
from tsuc.targets.xla.patterns.base import in_xla_segment


class LowerConstant(RewritePattern):
    """`onnx.Constant` (a blob handle or small dense value) -> `hlo.constant` with the same value."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if op.name != "onnx.Constant" or not in_xla_segment(op):
            return
        value = op.attributes.get("value")
        if value is None:
            return
        rewriter.replace(op, hlo.ConstantOp(value))  # type: ignore[arg-type]


@dataclass(frozen=True)
class LowerToHloPass(ModulePass):
    """`xla-lower`: lower the onnx ops of xla segments to the hlo dialect."""

    name = "xla-lower"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        # Weights are read (BatchNorm folding, ConvTranspose kernels) before constants are
        # rewritten; `const_value` reads both forms, so the order only matters for speed.
        patterns = [LowerConstant(), *all_patterns()]
        PatternRewriteWalker(GreedyRewritePatternApplier(patterns), apply_recursively=False).rewrite_module(op)
        for seg in op.walk():
            if in_xla_segment(seg) and seg.name.startswith("onnx.") and seg.name != "onnx.Constant":
                from tsuc.errors import TsucError

                raise TsucError(f"op {seg.name} was left in an xla segment")
