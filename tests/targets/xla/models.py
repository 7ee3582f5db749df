"""Small ONNX graphs for the xla tests: one or a few nodes, float inputs, random weights."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

OPSET = 21


def rand(shape, seed=0, scale=1.0, dtype=np.float32):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def graph_model(nodes, inputs: dict, outputs: dict, inits: dict | None = None, opset: int = OPSET):
    """`inputs`/`outputs`: name -> (onnx elem type, shape); `inits`: name -> array (initializers)."""
    graph = helper.make_graph(
        nodes, "m",
        [helper.make_tensor_value_info(k, t, s) for k, (t, s) in inputs.items()],
        [helper.make_tensor_value_info(k, t, s) for k, (t, s) in outputs.items()],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=10)


F = TensorProto.FLOAT
I64 = TensorProto.INT64
BOOL = TensorProto.BOOL
