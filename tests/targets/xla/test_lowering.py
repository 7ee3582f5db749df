"""Each onnx -> hlo pattern against onnxruntime, on small graphs that exercise its attributes.

Every case must run wholly on xla (no host segment) and match onnxruntime within
rtol 1e-4 / atol 1e-5 (float32).
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import helper

import tsuc
from tests.targets.xla.models import BOOL, I64, F, graph_model, rand

N = helper.make_node


def _case(nodes, inputs, outputs, inits=None, feeds=None):
    return graph_model(nodes, inputs, outputs, inits), feeds


def _feeds(model, given):
    feeds = dict(given or {})
    for i, vi in enumerate(model.graph.input):
        if vi.name in feeds:
            continue
        shape = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        feeds[vi.name] = rand(shape, seed=10 + i)
    return feeds


X4 = {"x": (F, [2, 4, 9, 9])}
CASES = {
    "conv_groups_dilation_pads": _case([N("Conv", ["x", "w", "b"], ["y"], group=2, dilations=[2, 1], pads=[1, 0, 2, 1], strides=[2, 1])],
                                       X4, {"y": (F, None)}, {"w": rand((6, 2, 3, 3), 1), "b": rand((6,), 2)}),
    "conv_same_upper": _case([N("Conv", ["x", "w"], ["y"], auto_pad="SAME_UPPER", strides=[2, 2])], X4, {"y": (F, None)},
                             {"w": rand((3, 4, 4, 4), 1)}),
    "conv1d": _case([N("Conv", ["x", "w"], ["y"], pads=[1, 1])], {"x": (F, [1, 3, 10])}, {"y": (F, None)}, {"w": rand((5, 3, 3), 1)}),
    "conv_transpose": _case([N("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2], pads=[1, 0, 0, 1], output_padding=[1, 0], group=2)],
                            X4, {"y": (F, None)}, {"w": rand((4, 3, 3, 3), 1), "b": rand((6,), 2)}),
    "conv_transpose_same": _case([N("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], auto_pad="SAME_UPPER")], X4, {"y": (F, None)},
                                 {"w": rand((4, 2, 3, 3), 1)}),
    "gemm_trans_alpha_beta": _case([N("Gemm", ["a", "b", "c"], ["y"], transA=1, transB=1, alpha=0.5, beta=2.0)],
                                   {"a": (F, [4, 3])}, {"y": (F, None)}, {"b": rand((5, 4), 1), "c": rand((5,), 2)}),
    "matmul_batched_broadcast": _case([N("MatMul", ["a", "b"], ["y"])], {"a": (F, [2, 1, 3, 4]), "b": (F, [3, 4, 5])}, {"y": (F, None)}),
    "matmul_vector": _case([N("MatMul", ["a", "b"], ["y"])], {"a": (F, [4]), "b": (F, [2, 4, 3])}, {"y": (F, None)}),
    "batchnorm_runtime_stats": _case([N("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-3)],
                                     {"x": (F, [2, 4, 9, 9]), "s": (F, [4]), "b": (F, [4]), "m": (F, [4])}, {"y": (F, None)},
                                     {"v": np.abs(rand((4,), 3)) + 0.5}),
    "instancenorm": _case([N("InstanceNormalization", ["x", "s", "b"], ["y"])], X4, {"y": (F, None)}, {"s": rand((4,), 1), "b": rand((4,), 2)}),
    "layernorm": _case([N("LayerNormalization", ["x", "s", "b"], ["y"], axis=-2, epsilon=1e-3)], X4, {"y": (F, None)},
                       {"s": rand((9, 9), 1), "b": rand((9, 9), 2)}),
    "lrn": _case([N("LRN", ["x"], ["y"], size=3, alpha=1e-2, beta=0.75, bias=2.0)], X4, {"y": (F, None)}),
    "maxpool_ceil_dilation": _case([N("MaxPool", ["x"], ["y"], kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 1, 0], ceil_mode=1,
                                      dilations=[1, 2])], X4, {"y": (F, None)}),
    "avgpool_ceil_exclude_pad": _case([N("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)],
                                      X4, {"y": (F, None)}),
    "avgpool_include_pad": _case([N("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 0, 0],
                                    count_include_pad=1, ceil_mode=1)], X4, {"y": (F, None)}),
    "global_pools": _case([N("GlobalAveragePool", ["x"], ["a"]), N("GlobalMaxPool", ["x"], ["m"]), N("Add", ["a", "m"], ["y"])],
                          X4, {"y": (F, None)}),
    "softmax_logsoftmax": _case([N("Softmax", ["x"], ["s"], axis=1), N("LogSoftmax", ["x"], ["l"], axis=-1), N("Add", ["s", "l"], ["y"])],
                                X4, {"y": (F, None)}),
    "reductions": _case([N("ReduceMean", ["x", "ax"], ["a"], keepdims=1), N("ReduceMax", ["x", "ax"], ["b"], keepdims=1),
                         N("ReduceL2", ["x", "ax"], ["c"], keepdims=1), N("ReduceLogSumExp", ["x", "ax"], ["d"], keepdims=1),
                         N("Sum", ["a", "b", "c", "d"], ["e"]), N("ReduceSum", ["e"], ["y"], keepdims=0)],
                        X4, {"y": (F, None)}, {"ax": np.array([1, 3], np.int64)}),
    "activations": _case([N("Elu", ["x"], ["a"], alpha=0.7), N("Selu", ["a"], ["b"]), N("HardSigmoid", ["b"], ["c"]),
                          N("Softplus", ["c"], ["d"]), N("Gelu", ["d"], ["e"]), N("Gelu", ["e"], ["f"], approximate="tanh"),
                          N("LeakyRelu", ["f"], ["g"], alpha=0.2), N("Softsign", ["g"], ["h"]), N("HardSwish", ["h"], ["i"]),
                          N("Mish", ["i"], ["j"]), N("Erf", ["j"], ["y"])], X4, {"y": (F, None)}),
    "prelu_clip": _case([N("PRelu", ["x", "s"], ["a"]), N("Clip", ["a", "lo", "hi"], ["y"])], X4, {"y": (F, None)},
                        {"s": rand((4, 1, 1), 1), "lo": np.array(-0.5, np.float32), "hi": np.array(0.7, np.float32)}),
    "where_compare_cast": _case([N("Greater", ["x", "z"], ["p"]), N("Cast", ["p"], ["pf"], to=F), N("Where", ["p", "x", "pf"], ["y"])],
                                X4, {"y": (F, None)}, {"z": np.array(0.1, np.float32)}),
    "gather_runtime_indices": _case([N("Gather", ["x", "i"], ["y"], axis=2)], {"x": (F, [2, 4, 9, 9]), "i": (I64, [2, 3])}, {"y": (F, None)},
                                    feeds={"i": np.array([[0, -1, 3], [8, -9, 2]], np.int64)}),
    "gather_constant_indices": _case([N("Gather", ["e", "i"], ["y"], axis=0)], {"i": (I64, [5])}, {"y": (F, None)}, {"e": rand((10, 6), 1)},
                                     feeds={"i": np.array([0, 9, -1, 3, 3], np.int64)}),
    "slice_steps_split_concat": _case([N("Slice", ["x", "st", "en", "ax", "sp"], ["s"]), N("Split", ["s"], ["a", "b"], axis=1, num_outputs=2),
                                       N("Concat", ["b", "a"], ["y"], axis=3)], X4, {"y": (F, None)},
                                      {"st": np.array([1, 0], np.int64), "en": np.array([100, -1], np.int64),
                                       "ax": np.array([2, 3], np.int64), "sp": np.array([2, 3], np.int64)}),
    "pad_tile_expand": _case([N("Pad", ["x", "p", "v"], ["a"]), N("Tile", ["a", "r"], ["b"]), N("Expand", ["b", "s"], ["y"])],
                             {"x": (F, [1, 2, 3, 3])}, {"y": (F, None)},
                             {"p": np.array([0, 0, 1, -1, 0, 1, 2, 0], np.int64), "v": np.array(1.5, np.float32),
                              "r": np.array([1, 2, 1, 3], np.int64), "s": np.array([3, 1, 1, 1], np.int64)}),
    "pad_reflect_edge_wrap": _case([N("Pad", ["x", "p"], ["a"], mode="reflect"), N("Pad", ["a", "p"], ["b"], mode="edge"),
                                    N("Pad", ["b", "p"], ["y"], mode="wrap")], {"x": (F, [1, 2, 4, 5])}, {"y": (F, None)},
                                   {"p": np.array([0, 1, 2, 1, 0, 0, 3, 2], np.int64)}),
    "transpose_reshape_squeeze": _case([N("Transpose", ["x"], ["a"], perm=[0, 2, 3, 1]), N("Reshape", ["a", "s"], ["b"]),
                                        N("Unsqueeze", ["b", "ax"], ["c"]), N("Squeeze", ["c", "ax"], ["d"]), N("Flatten", ["d"], ["y"], axis=2)],
                                       X4, {"y": (F, None)}, {"s": np.array([2, -1, 4], np.int64), "ax": np.array([1], np.int64)}),
    "arith_broadcast": _case([N("Sub", ["x", "a"], ["s"]), N("Div", ["s", "b"], ["d"]), N("Pow", ["d", "two"], ["p"]),
                              N("Max", ["p", "a"], ["m"]), N("Mean", ["m", "d", "x"], ["y"])],
                             X4, {"y": (F, None)}, {"a": rand((9,), 1), "b": np.abs(rand((4, 1, 1), 2)) + 1, "two": np.array(2.0, np.float32)}),
    "lstm_bidirectional_states": _case([N("LSTM", ["x", "w", "r", "b", "", "h0", "c0"], ["y", "yh", "yc"], hidden_size=5, direction="bidirectional")],
                                       {"x": (F, [6, 2, 3]), "h0": (F, [2, 2, 5]), "c0": (F, [2, 2, 5])},
                                       {"y": (F, None), "yh": (F, None), "yc": (F, None)},
                                       {"w": rand((2, 20, 3), 1, 0.5), "r": rand((2, 20, 5), 2, 0.5), "b": rand((2, 40), 3, 0.5)}),
    "gru_reverse": _case([N("GRU", ["x", "w", "r", "b"], ["y"], hidden_size=4, direction="reverse")], {"x": (F, [5, 2, 3])}, {"y": (F, None)},
                         {"w": rand((1, 12, 3), 1, 0.5), "r": rand((1, 12, 4), 2, 0.5), "b": rand((1, 24), 3, 0.5)}),
    "gru_linear_before_reset": _case([N("GRU", ["x", "w", "r", "b"], ["y", "yh"], hidden_size=4, linear_before_reset=1)],
                                     {"x": (F, [5, 2, 3])}, {"y": (F, None), "yh": (F, None)},
                                     {"w": rand((1, 12, 3), 1, 0.5), "r": rand((1, 12, 4), 2, 0.5), "b": rand((1, 24), 3, 0.5)}),
    "shape_ops_static": _case([N("Shape", ["x"], ["s"]), N("ConstantOfShape", ["s"], ["c"], value=helper.make_tensor("v", F, [1], [0.25])),
                               N("Add", ["x", "c"], ["y"])], X4, {"y": (F, None)}),
    "bool_logic": _case([N("Less", ["x", "z"], ["a"]), N("Not", ["a"], ["b"]), N("Xor", ["a", "b"], ["c"]), N("Cast", ["c"], ["y"], to=F)],
                        X4, {"y": (F, None)}, {"z": np.array(0.0, np.float32)}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_pattern_matches_onnxruntime(name, tmp_path):
    model, given = CASES[name]
    feeds = _feeds(model, given)
    exe = tsuc.compile(model, target="xla", output=str(tmp_path / "m.tsuc"))
    assert exe.manifest["op_stats"]["on_host"] == 0, exe.manifest.get("notes")
    ours = exe.run(feeds)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for out, ref in zip(sess.get_outputs(), sess.run(None, feeds)):
        np.testing.assert_allclose(ours[out.name], ref, rtol=1e-4, atol=1e-5, err_msg=out.name)


def test_unsupported_op_stays_on_host_with_a_note(tmp_path):
    model = graph_model([N("Conv", ["x", "w"], ["c"], name="conv"), N("NonZero", ["c"], ["nz"], name="nonzero"),
                         N("Cast", ["nz"], ["y"], to=F, name="cast")], {"x": (F, [1, 2, 5, 5])},
                        {"y": (F, None)}, {"w": rand((2, 2, 3, 3), 1)})
    exe = tsuc.compile(model, target="xla", output=str(tmp_path / "m.tsuc"))
    assert exe.manifest["op_stats"]["by_target"] == {"host": 2, "xla": 1}
    assert exe.manifest["notes"] == ["nonzero (NonZero) stays on the host: a shape is data-dependent or dynamic",
                                     "cast (Cast) stays on the host: a shape is data-dependent or dynamic"]
    feeds = _feeds(model, None)
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    np.testing.assert_allclose(exe.run(feeds)["y"], ref, rtol=1e-4, atol=1e-5)


def test_dropout_mask_keeps_it_on_host_with_the_reason():
    from tsuc.compiler.driver import lower
    from tsuc.targets.registry import get_target

    model = graph_model([N("Conv", ["x", "w"], ["c"], name="conv"), N("Dropout", ["c"], ["y", "mask"], name="drop")],
                        {"x": (F, [1, 2, 5, 5])}, {"y": (F, None), "mask": (BOOL, None)}, {"w": rand((2, 2, 3, 3), 1)})
    from tsuc.compiler.emit import main_function
    from tsuc.targets.xla.support import xla_support

    module, *_ = lower(model, [get_target("xla")], emit="core")
    reasons = {op.name: xla_support(op) for op in main_function(module).body.block.ops if op.name.startswith("onnx.") and op.name != "onnx.Constant"}
    assert reasons == {"onnx.Conv": None, "onnx.Dropout": "its mask output is read"}


def test_lstm_batch_first_equals_sequence_first(tmp_path):
    """onnxruntime has no layout=1 LSTM; the reference is the layout=0 graph on transposed data."""
    w, r = rand((1, 16, 3), 1, 0.5), rand((1, 16, 4), 2, 0.5)
    x = rand((2, 5, 3), 7)
    batch_first = graph_model([N("LSTM", ["x", "w", "r"], ["y", "yh"], hidden_size=4, layout=1)], {"x": (F, [2, 5, 3])},
                              {"y": (F, None), "yh": (F, None)}, {"w": w, "r": r})
    seq_first = graph_model([N("LSTM", ["x", "w", "r"], ["y", "yh"], hidden_size=4)], {"x": (F, [5, 2, 3])},
                            {"y": (F, None), "yh": (F, None)}, {"w": w, "r": r})
    ours = tsuc.compile(batch_first, target="xla", output=str(tmp_path / "m.tsuc")).run({"x": x})
    y, yh = ort.InferenceSession(seq_first.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x.transpose(1, 0, 2)})
    np.testing.assert_allclose(ours["y"], y.transpose(2, 0, 1, 3), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours["yh"], yh.transpose(1, 0, 2), rtol=1e-4, atol=1e-5)
