"""The driver's verification after each pass skips only ops that did not change."""

from __future__ import annotations

import pytest
from xdsl.dialects.arith import ConstantOp
from xdsl.dialects.builtin import IntegerAttr, StringAttr, i64
from xdsl.utils.exceptions import VerifyException

from tsuc.compiler.emit import main_function
from tsuc.compiler.frontends.onnx_import import import_model
from tsuc.compiler.verifier import IncrementalVerifier


def _module(small_cnn):
    module = import_model(small_cnn)
    verifier = IncrementalVerifier()
    verifier.verify(module)
    return module, verifier, list(main_function(module).body.block.ops)


def test_unchanged_ops_are_skipped_the_second_time(small_cnn):
    module, verifier, ops = _module(small_cnn)
    first = verifier.checked
    verifier.verify(module)
    assert verifier.skipped == sum(1 for op in ops if getattr(op, "LOCAL_VERIFY", False))
    assert verifier.checked - first == 3  # module, func, return: never cached


def test_a_changed_attribute_is_verified_again(small_cnn):
    module, verifier, ops = _module(small_cnn)
    conv = next(op for op in ops if op.name == "onnx.Conv")
    conv.attributes["group"] = StringAttr("two")  # group is an INT attribute
    with pytest.raises(VerifyException):
        verifier.verify(module)
    conv.attributes["group"] = IntegerAttr(1, i64)
    verifier.verify(module)


def test_a_changed_operand_is_verified_again(small_cnn):
    module, verifier, ops = _module(small_cnn)
    relu = next(op for op in ops if op.name == "onnx.Relu")
    scalar = ConstantOp(IntegerAttr(1, i64))  # an i64, not a tensor: onnx.Relu refuses it
    relu.parent.insert_op_before(scalar, relu)
    relu.operands = [scalar.result]
    with pytest.raises(VerifyException, match="Relu"):
        verifier.verify(module)


def test_an_op_moved_to_the_end_of_its_block_is_verified_again(small_cnn):
    module, verifier, ops = _module(small_cnn)
    block = main_function(module).body.block
    ret = block.last_op
    ret.detach()
    with pytest.raises(VerifyException, match="terminat"):
        verifier.verify(module)


def test_segments_are_skipped_until_something_inside_changes(small_cnn):
    """A segment (an op with a region) is skipped only while it and every op inside are as
    they were: a yield whose operand no longer matches the segment's result type is caught by
    the segment's own verifier."""
    from tsuc.compiler.driver import lower
    from tsuc.dialects.tsuc import SegmentOp
    from tsuc.targets.registry import resolve_targets

    targets, _ = resolve_targets("cpu", {})
    module, *_ = lower(small_cnn, targets, emit="partitioned")
    verifier = IncrementalVerifier()
    verifier.verify(module)
    before = verifier.checked
    verifier.verify(module)
    assert verifier.checked - before == 3  # only the module, the function and its return
    segment = next(op for op in main_function(module).body.block.ops if isinstance(op, SegmentOp))
    yield_op = segment.body.block.last_op
    other = segment.body.block.args[0]  # the model's input, not the segment's result type
    assert other.type != yield_op.operands[0].type
    yield_op.operands = [other, *yield_op.operands[1:]]
    with pytest.raises(VerifyException, match="must match the segment's results"):
        verifier.verify(module)
