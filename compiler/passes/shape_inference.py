"""Shape/type inference for `onnx` ops whose result types are not fully known.

Each op is handed to onnx's own per-node inference (`infer_node_outputs`), with constant
operands as data so that shape computations (Shape -> Gather -> Reshape) resolve. Ops whose
result types are already static are left alone, so running this after the importer (which
infers whole graphs at once) costs next to nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx
import onnx.shape_inference
from onnx import numpy_helper
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern

from tsuc.compiler.blobs import blob_store, constant_value, module_of
from tsuc.compiler.onnx_export import node_proto, value_info
from tsuc.compiler.types import element_type, is_fully_static, tensor_type
from tsuc.dialects.onnx import is_onnx_op


def infer_result_types(op: Operation) -> list | None:
    """Result types onnx infers for `op`, or None if it cannot say more."""
    module = module_of(op)
    store = blob_store(module) if module is not None else None
    names = {v: f"i{k}" for k, v in enumerate(op.operands)}
    names.update({r: f"o{k}" for k, r in enumerate(op.results)})
    try:
        node = node_proto(op, names, store)
        types = {names[v]: value_info(names[v], v.type).type for v in op.operands}
        data = {}
        for v in op.operands:
            value = constant_value(v, module)
            if value is not None and value.size <= 1024:
                data[names[v]] = numpy_helper.from_array(value, names[v])
        out = onnx.shape_inference.infer_node_outputs(op.ONNX_SCHEMA, node, types, data)  # type: ignore[attr-defined]
    except Exception:
        return None
    inferred = []
    for r in op.results:
        tp = out.get(names[r])
        if tp is None or not tp.HasField("tensor_type") or tp.tensor_type.elem_type == 0:
            return None
        tt = tp.tensor_type
        elem = element_type(tt.elem_type, op.name)
        shape = None if not tt.HasField("shape") else [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        inferred.append(tensor_type(elem, shape))
    return inferred


class InferOpTypes(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not is_onnx_op(op) or all(is_fully_static(r.type) for r in op.results):
            return
        inferred = infer_result_types(op)
        if inferred is None:
            return
        changed = False
        for r, ty in zip(op.results, inferred):
            if ty != r.type and _more_precise(ty, r.type):
                rewriter.replace_value_with_new_type(r, ty)
                changed = True
        if changed:
            rewriter.notify_op_modified(op)


def _more_precise(new, old) -> bool:
    from tsuc.compiler.types import shape_of

    new_shape, old_shape = shape_of(new), shape_of(old)
    if new_shape is None:
        return False
    if old_shape is None:
        return True
    return sum(d is not None for d in new_shape) > sum(d is not None for d in old_shape)


@dataclass(frozen=True)
class ShapeInferencePass(ModulePass):
    name = "onnx-shape-inference"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(InferOpTypes(), apply_recursively=False).rewrite_module(op)
        for fn in op.ops:
            if isinstance(fn, func.FuncOp) and isinstance(fn.body.block.last_op, func.ReturnOp):
                results = [v.type for v in fn.body.block.last_op.operands]
                if results != list(fn.function_type.outputs.data):
                    fn.function_type = func.FunctionType.from_lists(list(fn.function_type.inputs.data), results)

