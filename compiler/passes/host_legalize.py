"""Host legalisation: rewrite ops that onnxruntime gets wrong in host segments.

onnxruntime 1.31's CPU Bernoulli returns 1 with probability 1 - p, against the ONNX spec
(measured: mean 0.099 for p = 0.9; `onnx.reference` gives 0.9). In host segments tsuc
therefore samples Bernoulli as `Cast(Less(RandomUniformLike(p), p))`, which means exactly
what the spec says. Segments of other targets keep their Bernoulli ops (tsu samples them on
its p-bits).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i1, i64
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern

from tsuc.compiler.types import onnx_elem_type, shape_of, tensor_type
from tsuc.dialects.onnx import op_class
from tsuc.dialects.tsuc import SegmentOp


def _in_host_segment(op: Operation) -> bool:
    parent = op.parent_op()
    while parent is not None and not isinstance(parent, SegmentOp):
        parent = parent.parent_op()
    return parent is not None and parent.target_name == "host"


class BernoulliViaUniform(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if op.name != "onnx.Bernoulli" or not _in_host_segment(op):
            return
        p = op.operands[0]
        p_elem = p.type.get_element_type()  # type: ignore[attr-defined]
        out_type = op.results[0].type
        attrs = {"dtype": IntegerAttr(onnx_elem_type(p_elem), i64)}
        if "seed" in op.attributes:
            attrs["seed"] = op.attributes["seed"]
        uniform = op_class("RandomUniformLike").create(operands=[p], result_types=[p.type], attributes=attrs)
        shape = shape_of(p.type)
        less = op_class("Less").create(operands=[uniform.results[0], p], result_types=[tensor_type(i1, shape)])
        cast = op_class("Cast").create(operands=[less.results[0]], result_types=[out_type],
                                       attributes={"to": IntegerAttr(onnx_elem_type(out_type.get_element_type()), i64)})  # type: ignore[attr-defined]
        for new in (uniform, less, cast):
            new.location = op.location
        rewriter.replace(op, [uniform, less, cast], [cast.results[0]])


@dataclass(frozen=True)
class HostLegalizePass(ModulePass):
    name = "tsuc-host-legalize"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(BernoulliViaUniform(), apply_recursively=False).rewrite_module(op)

