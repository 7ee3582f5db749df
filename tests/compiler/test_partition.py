"""Partitioning with a target that accelerates some ops: alternating segments, correct glue."""

from __future__ import annotations

from tsuc.compiler.driver import CORE_PASSES, make_context, run_passes
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
    run_passes(ctx, module, CORE_PASSES)
    partition_module(module, [ReluOnly.create()])
    module.verify()
    segments = [op for op in main_function(module).body.block.ops if isinstance(op, SegmentOp)]
    assert [(s.sym_name.data, s.target.data) for s in segments] == [("host0", "host"), ("relu-only1", "relu-only")]
    host, relu = segments
    assert relu.args[0] is host.outs[0]  # the relu segment reads what the host segment yields
    assert [o.name for o in host.body.block.ops] == ["onnx.Constant", "onnx.Constant", "onnx.MatMul", "onnx.Add", "tsuc.yield"]
    ret = main_function(module).body.block.last_op
    assert ret.operands[0] is relu.outs[0]


class MatMulOrRelu(Target):
    name = "mm-relu"

    def supports(self, op) -> bool:
        return op.name in ("onnx.MatMul", "onnx.Relu")


def _partition(model, targets):
    module = import_model(model, {"x": [2, 4]})
    run_passes(make_context(), module, CORE_PASSES)
    partition_module(module, targets)
    module.verify()
    return [op for op in main_function(module).body.block.ops if isinstance(op, SegmentOp)]


def test_first_listed_target_wins(tiny_model):
    """Each op goes to the first listed target that supports it; the order is the preference."""
    segs = _partition(tiny_model, [ReluOnly.create(), MatMulOrRelu.create()])
    assert [(s.sym_name.data, s.target_name) for s in segs] == [("mm-relu0", "mm-relu"), ("host1", "host"),
                                                                 ("relu-only2", "relu-only")]
    segs = _partition(tiny_model, [MatMulOrRelu.create(), ReluOnly.create()])
    assert [s.target_name for s in segs] == ["mm-relu", "host", "mm-relu"]


def test_segments_carry_target_and_options(tiny_model):
    from tsuc.targets.registry import get_target

    tfmbs = get_target("tfmbs", {"w_planes": "2"})
    segs = _partition(tiny_model, [tfmbs])
    fabric = [s for s in segs if s.target_name == "tfmbs"]
    assert fabric and fabric[0].options()["w_planes"] == 2
    assert fabric[0].options() == tfmbs.values
    assert all(s.options() == {} for s in segs if s.target_name == "host")
