"""Constant folding: evaluate `onnx` ops whose operands are all constants.

The op is evaluated with onnx's reference evaluator and replaced by an `onnx.Constant`
holding the result (in the blob store, or inline `dense<...>` when the module has no store,
i.e. text IR). Random ops are never folded, and results larger than `max_elements` are left
alone so that folding cannot blow up the artifact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, DenseResourceAttr, ModuleOp, TensorType
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern

from tsuc.compiler.blobs import blob_store, constant_value, has_store, module_of
from tsuc.compiler.onnx_export import evaluate_node, node_name
from tsuc.compiler.types import tensor_type
from tsuc.dialects.onnx import is_onnx_op, op_class

INLINE_ELEMENTS = 16
"""Folded results this small are written inline as `dense<...>`, larger ones go to the blob store."""

NEVER_FOLD = {"Constant", "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Bernoulli",
              "Multinomial", "If", "Loop", "Scan", "SequenceMap", "Dropout"}


class FoldConstantOp(RewritePattern):
    def __init__(self, max_elements: int) -> None:
        self.max_elements = max_elements

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not is_onnx_op(op) or op.ONNX_OP_TYPE in NEVER_FOLD or not op.operands:  # type: ignore[attr-defined]
            return
        if any(_static_size(r.type) > self.max_elements for r in op.results):
            return  # decided before evaluating: a ConstantOfShape of 10^12 elements is never built
        module = module_of(op)
        inputs = [constant_value(v, module) for v in op.operands]
        if any(x is None for x in inputs):
            return
        try:
            outputs = evaluate_node(op, inputs, blob_store(module) if module else None)  # type: ignore[arg-type]
        except Exception:
            return  # leave it to the runtime, which reports errors with the node's name
        if len(outputs) != len(op.results) or any(o.size > self.max_elements for o in outputs):
            return
        new_ops = []
        for result, value in zip(op.results, outputs):
            elem = result.type.get_element_type()  # type: ignore[attr-defined]
            ty = tensor_type(elem, list(value.shape))
            if has_store(module) and value.size > INLINE_ELEMENTS:
                handle = blob_store(module).add(np.ascontiguousarray(value), f"{node_name(op) or 'folded'}_{result.index}")
                attr = DenseResourceAttr.from_params(handle, ty)
            else:
                attr = DenseIntOrFPElementsAttr.from_list(ty, value.ravel().tolist()) if isinstance(ty, TensorType) else None
                if attr is None:
                    return
            const = op_class("Constant").create(result_types=[ty], attributes={"value": attr})
            const.location = op.location
            new_ops.append(const)
        rewriter.replace(op, new_ops, [c.results[0] for c in new_ops])


def _static_size(ty) -> int:
    """Elements of a tensor type whose dims are known (unknown dims count as 1)."""
    from tsuc.compiler.types import shape_of

    shape = shape_of(ty)
    return math.prod(d for d in shape if d is not None) if shape else 0


@dataclass(frozen=True)
class ConstantFoldPass(ModulePass):
    name = "onnx-constant-fold"

    max_elements: int = 1 << 20

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(FoldConstantOp(self.max_elements), apply_recursively=True).rewrite_module(op)
