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


@pytest.fixture
def small_cnn(tmp_path):
    """x[2,3,8,8] -> Conv 3x3 -> Relu -> MaxPool 2 -> Flatten -> Gemm(10) -> Sigmoid; random weights."""
    rng = np.random.default_rng(7)
    w = (rng.standard_normal((6, 3, 3, 3)) * 0.3).astype(np.float32)
    cb = rng.standard_normal(6).astype(np.float32) * 0.1
    fw = (rng.standard_normal((10, 6 * 4 * 4)) * 0.1).astype(np.float32)
    fb = rng.standard_normal(10).astype(np.float32) * 0.1
    nodes = [helper.make_node("Conv", ["x", "w", "cb"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("Relu", ["c"], ["r"], name="relu1"),
             helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2], name="pool1"),
             helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["g"], transB=1, name="fc"),
             helper.make_node("Sigmoid", ["g"], ["y"], name="sigmoid")]
    inits = [onnx.numpy_helper.from_array(a, n) for a, n in ((w, "w"), (cb, "cb"), (fw, "fw"), (fb, "fb"))]
    graph = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 10])], initializer=inits)
    path = tmp_path / "cnn.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return str(path)


@pytest.fixture
def sampling_mlp(tmp_path):
    """x[4,32] -> Gemm(24) -> Sigmoid -> Bernoulli -> Gemm(10): a layer of stochastic binary units."""
    rng = np.random.default_rng(3)
    w1 = (rng.standard_normal((24, 32)) * 0.3).astype(np.float32)
    w2 = (rng.standard_normal((10, 24)) * 0.3).astype(np.float32)
    b1, b2 = np.zeros(24, np.float32), (rng.standard_normal(10) * 0.1).astype(np.float32)
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1, name="fc1"),
             helper.make_node("Sigmoid", ["h"], ["p"], name="sigmoid"),
             helper.make_node("Bernoulli", ["p"], ["s"], name="sample"),
             helper.make_node("Gemm", ["s", "w2", "b2"], ["y"], transB=1, name="fc2")]
    inits = [onnx.numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"))]
    graph = helper.make_graph(nodes, "sampler", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 10])], initializer=inits)
    path = tmp_path / "sampler.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return str(path)
