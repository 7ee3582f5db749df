"""Partitioning with a target that accelerates some ops: alternating segments, correct glue."""

from __future__ import annotations

from tsuc.compiler.driver import core_passes, make_context, materialize_outputs
from tsuc.compiler.emit import main_function
from tsuc.compiler.frontends.onnx_import import import_model
from tsuc.compiler.passes.partition import partition_module
from tsuc.dialects.tsuc import SegmentOp
from tsuc.targets.base import Target


class ReluOnly(Target):
    name = "relu-only"

    def supports(self, op) -> bool:
        return op.name == "onnx.Relu"


def test_alternating_segments(tiny_model):
    module = import_model(tiny_model, {"x": [2, 4]})
    ctx = make_context()
    for p in core_passes():
        p.apply(ctx, module)
    materialize_outputs(module)
    partition_module(module, ReluOnly.create())
    module.verify()
    segments = [op for op in main_function(module).body.block.ops if isinstance(op, SegmentOp)]
    assert [(s.sym_name.data, s.target.data) for s in segments] == [("host0", "host"), ("relu-only1", "relu-only")]
    host, relu = segments
    assert relu.args[0] is host.outs[0]  # the relu segment reads what the host segment yields
    assert [o.name for o in host.body.block.ops] == ["onnx.Constant", "onnx.Constant", "onnx.MatMul", "onnx.Add", "tsuc.yield"]
    ret = main_function(module).body.block.last_op
    assert ret.operands[0] is relu.outs[0]
