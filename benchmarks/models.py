"""Benchmark models built from the graphs the onnx package ships.

`random_resnet50()` takes `light/light_resnet50.onnx` (a real ResNet-50 graph whose weights
are `ConstantOfShape` fills) and replaces every fill by a random float32 initializer of the
same shape: 25.6 M real parameters, the size IREE and onnxruntime users benchmark with.
"""

from __future__ import annotations

import os

import numpy as np
import onnx
from onnx import numpy_helper

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")


def random_weights_model(src: str, seed: int = 0) -> onnx.ModelProto:
    model = onnx.load(src)
    inits = {t.name: t for t in model.graph.initializer}
    rng = np.random.default_rng(seed)
    kept_nodes = []
    for node in model.graph.node:
        if node.op_type == "ConstantOfShape" and node.input and node.input[0] in inits:
            shape = [int(d) for d in numpy_helper.to_array(inits[node.input[0]])]
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            values = (rng.standard_normal(shape) / np.sqrt(max(fan_in, 1))).astype(np.float32)
            if len(shape) == 1:  # biases and batch-norm vectors: keep variances positive
                values = np.abs(values) + 0.5
            model.graph.initializer.append(numpy_helper.from_array(values, node.output[0]))
        else:
            kept_nodes.append(node)
    del model.graph.node[:]
    model.graph.node.extend(kept_nodes)
    used = {i for n in model.graph.node for i in n.input}
    keep = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)
    data_inputs = [i for i in model.graph.input if i.name not in inits and i.name in used]
    del model.graph.input[:]
    model.graph.input.extend(data_inputs)
    model.ir_version = max(model.ir_version, 7)  # initializers need not be graph inputs from IR 4 on
    return model


def random_resnet50(path: str, seed: int = 0) -> str:
    """Write the random-weight ResNet-50 to `path` (once) and return it."""
    if not os.path.exists(path):
        onnx.save(random_weights_model(os.path.join(LIGHT, "light_resnet50.onnx"), seed), path)
    return path


def parameter_count(path: str) -> int:
    return sum(int(np.prod(t.dims)) for t in onnx.load(path, load_external_data=False).graph.initializer)
