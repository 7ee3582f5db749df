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
