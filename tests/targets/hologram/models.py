"""Small ONNX models for the hologram tests, built in memory with onnx.helper."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def make_model(nodes, inputs, outputs, inits=(), opset=21) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "m",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
        initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in inits],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=10)


def residual_chain(blocks: int = 100, rows: int = 64, cols: int = 256, seed: int = 0) -> onnx.ModelProto:
    """6 ops a block: h = h + tanh(h * c + d) * sigmoid(h), per-column constants c, d."""
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    h = "x"
    for k in range(blocks):
        c = (0.5 + 0.1 * rng.standard_normal(cols)).astype(np.float32)
        d = (0.1 * rng.standard_normal(cols)).astype(np.float32)
        inits += [(f"c{k}", c), (f"d{k}", d)]
        nodes += [helper.make_node("Mul", [h, f"c{k}"], [f"a{k}"]), helper.make_node("Add", [f"a{k}", f"d{k}"], [f"b{k}"]),
                  helper.make_node("Tanh", [f"b{k}"], [f"t{k}"]), helper.make_node("Sigmoid", [h], [f"s{k}"]),
                  helper.make_node("Mul", [f"t{k}", f"s{k}"], [f"m{k}"]), helper.make_node("Add", [f"m{k}", h], [f"h{k}"])]
        h = f"h{k}"
    nodes.append(helper.make_node("Identity", [h], ["y"]))
    return make_model(nodes[:-1], [("x", [rows, cols])], [(h, [rows, cols])], inits)
