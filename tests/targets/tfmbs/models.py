"""Small ONNX models for the tfmbs tests: one graph `x -> nodes -> y` with float initializers."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper


def one_graph_model(nodes, inits, x_shape, y_shape):
    graph = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)],
                              [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def rand(shape, seed, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)
