"""ONNX -> hologram: numerics against onnxruntime, what lands on the engine, fusion shapes."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import helper

import tsuc
from tsuc.errors import TsucError
from tests.targets.hologram.models import make_model, residual_chain

RNG = np.random.default_rng(0)


def f32(*shape, scale=1.0, positive=False):
    a = RNG.standard_normal(shape).astype(np.float32) * scale
    return np.abs(a) + 0.5 if positive else a


def check(model, feeds, rtol=1e-4, atol=1e-5, **options):
    exe = tsuc.compile(model, target="hologram", options=options or None)
    outs = exe.run(feeds)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    for name, ref in zip(names, sess.run(names, feeds)):
        np.testing.assert_allclose(outs[name], ref, rtol=rtol, atol=atol, err_msg=name)
    return exe


def hologram_profile(exe):
    exe.profile()
    return [s for s in exe.profile()["segments"] if s["kind"] == "hologram"]


def test_elementwise_broadcasting_and_activations():
    nodes = [helper.make_node("Add", ["x", "r"], ["a"]), helper.make_node("Sub", ["a", "c"], ["b"]),
             helper.make_node("Mul", ["b", "col"], ["m"]), helper.make_node("Div", ["m", "p"], ["d"]),
             helper.make_node("Max", ["d", "x"], ["mx"]), helper.make_node("Min", ["mx", "c"], ["mn"]),
             helper.make_node("Abs", ["mn"], ["ab"]), helper.make_node("Neg", ["ab"], ["ng"]),
             helper.make_node("Relu", ["d"], ["re"]), helper.make_node("Sigmoid", ["ng"], ["sg"]),
             helper.make_node("Tanh", ["re"], ["th"]), helper.make_node("Exp", ["th"], ["ex"]),
             helper.make_node("Log", ["ex"], ["lg"]), helper.make_node("Sqrt", ["ex"], ["sq"]),
             helper.make_node("Erf", ["sg"], ["ef"]), helper.make_node("Gelu", ["lg"], ["ge"]),
             helper.make_node("Clip", ["ge", "lo", "hi"], ["cl"]), helper.make_node("LeakyRelu", ["d"], ["lr"], alpha=0.1),
             helper.make_node("Sum", ["cl", "sq", "ef", "lr"], ["y"])]
    model = make_model(nodes, [("x", [4, 8]), ("r", [1, 8])], [("y", [4, 8])],
                       [("c", f32(8)), ("col", f32(4, 1)), ("p", f32(8, positive=True)),
                        ("lo", np.array(-0.5, np.float32)), ("hi", np.array(0.7, np.float32))])
    exe = check(model, {"x": f32(4, 8), "r": f32(1, 8)})
    assert exe.manifest["op_stats"]["on_host"] == 0
    (seg,) = hologram_profile(exe)
    assert seg["kernels"] == 1  # one iteration space, one launch


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_logsoftmax_reductions(axis):
    nodes = [helper.make_node("Softmax", ["x"], ["s"], axis=axis), helper.make_node("LogSoftmax", ["x"], ["l"], axis=axis),
             helper.make_node("ReduceSum", ["s", "ax"], ["rs"], keepdims=1), helper.make_node("ReduceMean", ["l", "ax"], ["rm"], keepdims=0),
             helper.make_node("ReduceMax", ["x"], ["rx"], keepdims=0), helper.make_node("ReduceMin", ["x", "ax"], ["rn"], keepdims=1)]
    model = make_model(nodes, [("x", [3, 5, 7])], [("s", [3, 5, 7]), ("l", [3, 5, 7]), ("rs", None), ("rm", None), ("rx", []), ("rn", None)],
                       [("ax", np.array([axis], np.int64))])
    check(model, {"x": f32(3, 5, 7, scale=3.0)})


def test_layer_and_batch_norm():
    c = 6
    nodes = [helper.make_node("BatchNormalization", ["x", "g", "b", "m", "v"], ["bn"], epsilon=1e-3),
             helper.make_node("Relu", ["bn"], ["r"]),
             helper.make_node("Transpose", ["r"], ["t"], perm=[0, 2, 3, 1]),
             helper.make_node("LayerNormalization", ["t", "lg", "lb"], ["y"], axis=-1, epsilon=1e-5)]
    model = make_model(nodes, [("x", [2, c, 3, 4])], [("y", [2, 3, 4, c])],
                       [("g", f32(c)), ("b", f32(c)), ("m", f32(c)), ("v", f32(c, positive=True)), ("lg", f32(c)), ("lb", f32(c))])
    exe = check(model, {"x": f32(2, c, 3, 4)})
    (seg,) = hologram_profile(exe)
    assert seg["ops_canonical"] < seg["ops_original"]  # sub/div/mul/add of the BN fold to mul/add


def test_matmul_gemm_fit_the_pool_or_stay_on_host():
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["g"], transB=1, alpha=0.5, beta=2.0),
             helper.make_node("Gelu", ["g"], ["h"]), helper.make_node("MatMul", ["h", "w2"], ["y"])]
    model = make_model(nodes, [("x", [4, 16])], [("y", [4, 8])], [("w", f32(32, 16)), ("b", f32(32)), ("w2", f32(32, 8))])
    exe = check(model, {"x": f32(4, 16)})
    assert exe.manifest["op_stats"]["on_host"] == 0
    small = check(model, {"x": f32(4, 16)}, gemm_max_bytes=1024)
    assert small.manifest["op_stats"]["by_target"] == {"host": 2, "hologram": 1}
    assert any("do not fit the pool" in n for n in small.manifest["notes"])


def test_batched_matmul_attention_shape():
    nodes = [helper.make_node("MatMul", ["q", "k"], ["s"]), helper.make_node("Softmax", ["s"], ["p"], axis=-1),
             helper.make_node("MatMul", ["p", "v"], ["y"])]
    model = make_model(nodes, [("q", [2, 4, 8, 16]), ("k", [2, 4, 16, 8]), ("v", [2, 4, 8, 16])], [("y", [2, 4, 8, 16])])
    check(model, {"q": f32(2, 4, 8, 16), "k": f32(2, 4, 16, 8), "v": f32(2, 4, 8, 16)})


def test_residual_chain_600_ops_fuses_into_one_kernel():
    model = residual_chain(blocks=100, rows=8, cols=32)
    exe = check(model, {"x": f32(8, 32)}, rtol=1e-4, atol=1e-4)
    (seg,) = hologram_profile(exe)
    assert seg["ops_original"] == 600 and seg["kernels"] == 1
    assert seg["spill_bytes"] == 0 and seg["classes_used"] <= 96
    unfused = tsuc.compile(model, target="hologram", options={"fuse": False})
    unfused.run({"x": f32(8, 32)})
    (useg,) = hologram_profile(unfused)
    assert useg["kernels"] == 600 and useg["cycles"] > seg["cycles"]


def test_non_float_and_dynamic_ops_stay_on_host():
    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Cast", ["s"], ["sf"], to=1),
             helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Add", ["r", "sf"], ["y"])]
    model = make_model(nodes, [("x", [2, 2])], [("y", [2, 2])])
    exe = check(model, {"x": f32(2, 2)})
    assert exe.manifest["op_stats"]["on_host"] >= 1


def test_fallback_error_lists_host_ops():
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Floor", ["r"], ["y"])]
    model = make_model(nodes, [("x", [2, 2])], [("y", [2, 2])])
    with pytest.raises(TsucError, match="Floor"):
        tsuc.compile(model, target="hologram", options={"fallback": "error"})


def test_softmax_rows_far_apart_and_vector_reductions():
    x = f32(3, 6)
    x[0] += 200.0
    x[2] -= 300.0  # would underflow if shifted by the tensor's max: the per-row path takes over
    nodes = [helper.make_node("Softmax", ["x"], ["s"], axis=-1), helper.make_node("LogSoftmax", ["x"], ["l"], axis=1),
             helper.make_node("ReduceMean", ["v", "ax"], ["m"], keepdims=0), helper.make_node("ReduceSum", ["v", "ax"], ["k"], keepdims=1)]
    model = make_model(nodes, [("x", [3, 6]), ("v", [7])], [("s", [3, 6]), ("l", [3, 6]), ("m", []), ("k", [1])],
                       [("ax", np.array([0], np.int64))])
    check(model, {"x": x, "v": f32(7)})


def test_reductions_over_trailing_and_inner_axes():
    nodes = [helper.make_node("ReduceMean", ["x", "a12"], ["m"], keepdims=1), helper.make_node("ReduceSum", ["x", "a12"], ["s"], keepdims=0),
             helper.make_node("ReduceSum", ["x"], ["t"], keepdims=0), helper.make_node("ReduceMean", ["x", "a1"], ["u"], keepdims=0),
             helper.make_node("GlobalAveragePool", ["x4"], ["g"])]
    model = make_model(nodes, [("x", [2, 3, 4]), ("x4", [2, 3, 4, 5])], [("m", [2, 1, 1]), ("s", [2]), ("t", []), ("u", [2, 4]), ("g", [2, 3, 1, 1])],
                       [("a12", np.array([1, 2], np.int64)), ("a1", np.array([1], np.int64))])
    check(model, {"x": f32(2, 3, 4), "x4": f32(2, 3, 4, 5)})
