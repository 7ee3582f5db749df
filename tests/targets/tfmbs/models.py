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


def batchnorm_params(c, seed):
    """gamma, beta, mean, var of an inference BatchNormalization over c channels (var > 0)."""
    rng = np.random.default_rng(seed)
    return [(1 + 0.2 * rng.standard_normal(c)).astype(np.float32), (0.1 * rng.standard_normal(c)).astype(np.float32),
            (0.1 * rng.standard_normal(c)).astype(np.float32), (0.5 + np.abs(rng.standard_normal(c))).astype(np.float32)]


def resnet_block(channels=8, out_channels=None, hw=6, batch=2, seed=0, epsilon=1e-5, add="Add"):
    """A ResNet basic block, x[B, C, H, W] -> y: conv3x3 -> BN -> Relu -> conv3x3 -> BN -> Add -> Relu.

    With `out_channels` (different from `channels`) it is a downsample block: the second branch
    is conv1x1 (stride 2) -> BN, the first conv has stride 2, and the Add joins two conv -> BN
    branches. `batch=None` gives a dynamic batch ("b"); `add="Sum"` writes the residual as a
    two-input Sum (as the ONNX model zoo's ResNet-50 does). Returns (model, weights by name)."""
    c, o = channels, out_channels or channels
    down = o != c
    s = 2 if down else 1
    oh = (hw + 2 - 3) // s + 1
    w = {"w1": rand((o, c, 3, 3), seed, 0.3), "b1": rand((o,), seed + 1, 0.1), "w2": rand((o, o, 3, 3), seed + 2, 0.3)}
    for k, name in enumerate(("1", "2", "3")):
        w.update(zip((f"g{name}", f"be{name}", f"m{name}", f"v{name}"), batchnorm_params(o, seed + 10 + k)))
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[s, s], name="conv1"),
        helper.make_node("BatchNormalization", ["c1", "g1", "be1", "m1", "v1"], ["n1"], epsilon=epsilon, name="bn1"),
        helper.make_node("Relu", ["n1"], ["r1"], name="relu1"),
    ]
    identity = "x"
    if down:  # the shortcut branch first, as torch exports it after the main branch's first layers
        w["wd"] = rand((o, c, 1, 1), seed + 3, 0.3)
        nodes += [helper.make_node("Conv", ["x", "wd"], ["cd"], kernel_shape=[1, 1], strides=[2, 2], name="convd"),
                  helper.make_node("BatchNormalization", ["cd", "g3", "be3", "m3", "v3"], ["nd"], epsilon=epsilon, name="bnd")]
        identity = "nd"
    nodes += [
        helper.make_node("Conv", ["r1", "w2"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv2"),
        helper.make_node("BatchNormalization", ["c2", "g2", "be2", "m2", "v2"], ["n2"], epsilon=epsilon, name="bn2"),
        helper.make_node(add, ["n2", identity], ["a"], name="add"),
        helper.make_node("Relu", ["a"], ["y"], name="relu2"),
    ]
    if not down:
        w.pop("g3"), w.pop("be3"), w.pop("m3"), w.pop("v3")
    b = batch if batch is not None else "b"
    return one_graph_model(nodes, w, [b, c, hw, hw], [b, o, oh, oh]), w
