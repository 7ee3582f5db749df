"""Whole ONNX nodes (`onnxnode.node`) through partitioning, export and the opset policy."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import tsuc
from tsuc.compiler.driver import lower
from tsuc.targets.registry import get_target


def _gemm_then_if(opset: int = 17) -> onnx.ModelProto:
    """Gemm -> h; an If whose branches read h from the enclosing graph (no input names it)."""
    rng = np.random.default_rng(0)
    then_g = helper.make_graph([helper.make_node("Relu", ["h"], ["t"])], "then", [], [helper.make_tensor_value_info("t", 1, [2, 16])])
    else_g = helper.make_graph([helper.make_node("Neg", ["h"], ["e"])], "else", [], [helper.make_tensor_value_info("e", 1, [2, 16])])
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="fc"),
         helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0), helper.make_node("Greater", ["s", "zero"], ["c"]),
         helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g, name="if"),
         helper.make_node("Identity", ["h"], ["h_out"])],
        "g", [helper.make_tensor_value_info("x", 1, [2, 32])],
        [helper.make_tensor_value_info("y", 1, [2, 16]), helper.make_tensor_value_info("h_out", 1, [2, 16])],
        initializer=[numpy_helper.from_array(rng.standard_normal((32, 16)).astype(np.float32), "w"),
                     numpy_helper.from_array(rng.standard_normal(16).astype(np.float32), "b"),
                     numpy_helper.from_array(np.array(0, np.float32), "zero")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_capture_is_an_operand_in_the_ir():
    _m, _n, _p, text = lower(_gemm_then_if(), [get_target("cpu")], emit="core")
    assert '"onnxnode.node"' in text and 'captures = ["h"]' in text and 'op_type = "If"' in text


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a_subgraph_reads_a_value_a_target_segment_produced(sign):
    """The Gemm runs on tfmbs; the If's branches read its output, so the host segment must
    receive it, renamed inside the branches to the segment's input name."""
    exe = tsuc.compile(_gemm_then_if(), target="tfmbs")
    kinds = [s["target"] for s in exe.manifest["segments"]]
    assert kinds == ["tfmbs", "host"]
    host = exe.manifest["segments"][1]
    assert len(host["inputs"]) == 2  # x and the tfmbs output the branches capture
    x = np.abs(np.random.default_rng(1).standard_normal((2, 32)).astype(np.float32)) * sign
    out = exe.run({"x": x})
    h = out["h_out"]
    np.testing.assert_array_equal(out["y"], np.maximum(h, 0) if sign > 0 else -h)


def _segment_model(exe) -> onnx.ModelProto:
    member = exe.manifest["segments"][-1]["members"]["model"]
    return onnx.load_from_string(exe.artifact.bytes(member))


def test_models_newer_than_21_are_not_converted():
    model = _gemm_then_if(opset=23)
    exe = tsuc.compile(model, target="cpu")
    assert {o.domain: o.version for o in _segment_model(exe).opset_import}[""] == 23


def test_models_older_than_21_are_converted_up():
    exe = tsuc.compile(_gemm_then_if(opset=13), target="cpu")
    assert {o.domain: o.version for o in _segment_model(exe).opset_import}[""] == 21


def test_strings_and_sequences_pass_through_the_host():
    graph = helper.make_graph(
        [helper.make_node("SplitToSequence", ["x"], ["seq"], axis=0),
         helper.make_node("StringConcat", ["words", "words"], ["norm"])],
        "g", [helper.make_tensor_value_info("x", 1, [4, 2]), helper.make_tensor_value_info("words", onnx.TensorProto.STRING, [2])],
        [helper.make_tensor_value_info("norm", onnx.TensorProto.STRING, [2]),
         helper.make_value_info("seq", helper.make_sequence_type_proto(helper.make_tensor_type_proto(1, None)))])
    exe = tsuc.compile(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]), target="cpu")
    assert [o.dtype for o in exe.outputs] == ["tensor(string)", "seq(tensor(float))"]
    x = np.arange(8, dtype=np.float32).reshape(4, 2)
    out = exe.run({"x": x, "words": np.array(["a", "Bc"], dtype=object)})
    assert list(out["norm"]) == ["aa", "BcBc"]
    assert len(out["seq"]) == 4 and np.array_equal(out["seq"][3], x[3:4])
