"""Passes that shape `@main`'s outputs before partitioning.

`tsuc-materialize-outputs`: a graph output that is a graph input, a constant, or a repeat of
another output gets an `onnx.Identity`, so some segment produces every output under its own
name. `tsuc-expose-values`: every op result becomes a graph output named `<node>#<k>` (what
`tsuc verify --all-layers` compares with onnxruntime, layer by layer).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, ModuleOp, StringAttr
from xdsl.passes import ModulePass

from tsuc.compiler.frontends.onnx_import import OUTPUT_NAMES
from tsuc.dialects.onnx import is_onnx_op, op_class


def _main(module: ModuleOp) -> func.FuncOp | None:
    return next((op for op in module.ops if isinstance(op, func.FuncOp) and op.sym_name.data == "main"), None)


@dataclass(frozen=True)
class MaterializeOutputsPass(ModulePass):
    """Give outputs that are inputs, constants or repeats an Identity, so a segment makes them."""

    name = "tsuc-materialize-outputs"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        fn = _main(op)
        if fn is None or not any(is_onnx_op(o) or o.name == "onnxnode.node" for o in fn.body.block.ops):
            return
        ret = fn.body.block.last_op
        assert isinstance(ret, func.ReturnOp)
        seen = set()
        for k, v in enumerate(list(ret.operands)):
            owner = getattr(v, "owner", None)
            if v in seen or v in fn.body.block.args or (owner is not None and getattr(owner, "name", "") == "onnx.Constant"):
                ident = op_class("Identity").create(operands=[v], result_types=[v.type])
                fn.body.block.insert_op_before(ident, ret)
                ret.operands[k] = ident.results[0]
            seen.add(v)


@dataclass(frozen=True)
class ExposeValuesPass(ModulePass):
    """Make every op result a graph output named `<node>#<k>` (for `tsuc verify --all-layers`)."""

    name = "tsuc-expose-values"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        from tsuc.compiler.onnx_export import node_name

        fn = _main(op)
        if fn is None:
            return
        ret = fn.body.block.last_op
        assert isinstance(ret, func.ReturnOp)
        existing = set(ret.operands)
        names = [a.data for a in fn.attributes[OUTPUT_NAMES].data] if OUTPUT_NAMES in fn.attributes else []
        extra, extra_names = [], []
        for o in fn.body.block.ops:
            if is_onnx_op(o) and o.name != "onnx.Constant":
                for k, r in enumerate(o.results):
                    if r not in existing:
                        extra.append(r)
                        extra_names.append(f"{node_name(o)}#{k}")
        new_ret = func.ReturnOp(*(list(ret.operands) + extra))
        fn.body.block.insert_op_before(new_ret, ret)
        ret.detach()
        ret.erase()
        fn.attributes[OUTPUT_NAMES] = ArrayAttr([StringAttr(n) for n in names + extra_names])
        fn.function_type = func.FunctionType.from_lists(list(fn.function_type.inputs.data), [v.type for v in new_ret.operands])
