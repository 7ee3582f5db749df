"""ONNX frontend: opset conversion, external data, input shapes, and error reports."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import tsuc
from tsuc.errors import TsucError


def test_external_data_and_old_opset(tmp_path):
    w = np.arange(64 * 32, dtype=np.float32).reshape(64, 32) / 1000
    graph = helper.make_graph([helper.make_node("Gemm", ["x", "W"], ["y"], transB=1, name="gemm")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])],
                              initializer=[onnx.numpy_helper.from_array(w, "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9)], ir_version=6)
    path = tmp_path / "ext.onnx"
    onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location="ext.bin", size_threshold=0)
    assert (tmp_path / "ext.bin").exists()
    exe = tsuc.compile(str(path), target="cpu")
    x = np.ones((1, 32), np.float32)
    np.testing.assert_allclose(exe(x), x @ w.T, rtol=1e-5)


def test_input_shape_errors(tiny_model):
    with pytest.raises(TsucError, match="--input-shape names nope"):
        tsuc.compile(tiny_model, target="cpu", input_shapes={"nope": [1, 4]})
    with pytest.raises(TsucError, match="dimension 1 is fixed at 4"):
        tsuc.compile(tiny_model, target="cpu", input_shapes={"x": [1, 5]})


def test_every_problem_listed_with_node_names(tmp_path):
    nodes = [helper.make_node("FooBar", ["x"], ["a"], name="first_bad"),
             helper.make_node("Relu", ["a"], ["b"], name="ok"),
             helper.make_node("Concat", ["b", "b"], ["c"], name="second_bad")]  # missing axis
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("c", TensorProto.FLOAT, [4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)
    path = tmp_path / "bad.onnx"
    onnx.save(model, str(path))
    with pytest.raises(TsucError) as err:
        tsuc.compile(str(path), target="cpu")
    message = str(err.value)
    assert "first_bad" in message and "FooBar" in message and "second_bad" in message and "axis" in message
    assert "\n" not in message


def test_torch_module():
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4)).eval()
    x = torch.randn(3, 8)
    exe = tsuc.compile(model, target="cpu", example_inputs=(x,))
    np.testing.assert_allclose(exe(x).numpy(), model(x).detach().numpy(), rtol=1e-4, atol=1e-5)
