"""Shared fixtures: the onnx package's model zoo and small models built in memory."""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

ONNX_DATA = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")


@pytest.fixture
def tiny_model(tmp_path):
    """x[1,4] -> MatMul(W) -> Add(b) -> Relu; weights as initializers."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["m"], name="fc/MatMul"),
             helper.make_node("Add", ["m", "b"], ["a"], name="fc/Add"),
             helper.make_node("Relu", ["a"], ["y"], name="relu")]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
                              initializer=[onnx.numpy_helper.from_array(w, "W"), onnx.numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    path = tmp_path / "tiny.onnx"
    onnx.save(model, str(path))
    return str(path)
