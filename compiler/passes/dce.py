"""Dead-code removal: erase side-effect-free ops whose results nobody reads."""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern
from xdsl.transforms.dead_code_elimination import is_trivially_dead


class RemoveDeadOp(RewritePattern):
    """Erase an op if it is pure and unused; walking in reverse frees whole dead chains."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if op.results and is_trivially_dead(op):
            rewriter.erase(op)


@dataclass(frozen=True)
class DeadCodeRemovalPass(ModulePass):
    name = "onnx-dce"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(RemoveDeadOp(), walk_reverse=True, apply_recursively=True).rewrite_module(op)
