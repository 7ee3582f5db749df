"""Small models the tools tests share."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def relu_mlp(path: str, seed: int) -> str:
    """x[3,16] -> MatMul(24) -> Relu -> MatMul(5), random weights from `seed`; saved to `path`."""
    rng = np.random.default_rng(seed)
    w1 = (rng.standard_normal((16, 24)) / 4).astype(np.float32)
    w2 = (rng.standard_normal((24, 5)) / 5).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "W1"], ["h"], name="fc1"), helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("MatMul", ["r", "W2"], ["y"], name="fc2")]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 5])],
                              [numpy_helper.from_array(w1, "W1"), numpy_helper.from_array(w2, "W2")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    return path
