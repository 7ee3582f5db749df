"""Whole artifacts: the fast path and a frame-by-frame replay on the `Fabric` device model give
identical outputs and identical counters, in every schedule mode (resident, group, frame),
with chained chunks, several groups, odd machine shapes and zero-skip off."""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import tsuc

SKIP_KEYS = {"wall_ms", "start_ms", "mode", "closed_form_agrees"}


def _model(nodes, inits, x_shape, y_shape, extra_outputs=()):
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)]
    outs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in extra_outputs]
    graph = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)], outs,
                              [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _rand(shape, seed, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def _two_heads(rows):
    """Two Gemms on one input in one segment: 12 outputs (20 Bank A words) and 130 (60 words)."""
    return _model([helper.make_node("Gemm", ["x", "w1", "b1"], ["y"], transB=1, name="small"),
                   helper.make_node("Gemm", ["x", "w2"], ["z"], transB=1, name="wide")],
                  {"w1": _rand((12, 20), 1), "b1": _rand((12,), 2), "w2": _rand((130, 20), 3)},
                  [rows, 20], [rows, 12], [("z", [rows, 130])])


CASES = {
    # everything fits: resident, two weight planes, two trits
    "resident": (_model([helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1, name="fc")],
                        {"w": _rand((70, 40), 4), "b": _rand((70,), 5)}, [3, 40], [3, 70]),
                 {"w_planes": 2, "act_trits": 2}, [3, 40]),
    # K = 150 > 64-word banks: chained chunks, inputs reloaded per chunk; three groups; frame mode
    "frame_chunks": (_model([helper.make_node("Gemm", ["x", "w"], ["y"], transB=1, name="wide")],
                            {"w": _rand((130, 150), 6, 0.1)}, [2, 150], [2, 130]),
                     {"bank_words": 64, "act_trits": 2}, [2, 150]),
    # two layers that do not both fit: one resident, one streamed by group
    "mixed": (_two_heads(5), {"bank_words": 64, "act_trits": 2, "dma_latency": 3}, [5, 20]),
    # nothing resident, 2 tiles x 7 lanes, sign activations, convolution with padding
    "conv_small_machine": (_model([helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], pads=[1, 0, 1, 2],
                                                    strides=[2, 1], name="conv")],
                                  {"w": _rand((9, 2, 3, 3), 7), "b": _rand((9,), 8)}, [1, 2, 5, 6], [1, 9, 3, 6]),
                           {"tiles": 2, "lanes": 7, "act_trits": 1, "residency": False}, [1, 2, 5, 6]),
    # zero-skip off, a wider DMA bus, MatMul over a 3-D input
    "matmul_noskip": (_model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], {"w": _rand((24, 33), 9)},
                             [2, 3, 24], [2, 3, 33]),
                      {"zero_skip": False, "dma_words_per_cycle": 2, "act_trits": 2}, [2, 3, 24]),
}


def _profiles(exe):
    return [s for s in exe.profile()["segments"] if s["kind"] == "tfmbs"]


def _strip(p):
    out = {k: v for k, v in p.items() if k not in SKIP_KEYS}
    out["layers"] = [{k: v for k, v in layer.items() if k not in SKIP_KEYS} for layer in p["layers"]]
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_replay_equals_fast_path(name, tmp_path):
    model, options, x_shape = CASES[name]
    path = str(tmp_path / "m.tsuc")
    tsuc.compile(model, target="tfmbs", output=path, options=options)
    fast, slow = tsuc.load(path), tsuc.load(path)
    for call in range(2):  # the first call preloads resident weights, the second does not
        x = _rand(x_shape, 100 + call)
        y_fast = fast.run({"x": x})
        y_slow = slow.run({"x": x}, mode="replay")
        assert set(y_fast) == set(y_slow)
        for k in y_fast:
            np.testing.assert_array_equal(y_fast[k], y_slow[k])
        for pf, ps in zip(_profiles(fast), _profiles(slow)):
            assert ps["closed_form_agrees"] is True
            assert _strip(pf) == _strip(ps)
            if call == 1:
                assert pf["preload_cycles"] == 0
    modes = {layer["mode"] for p in _profiles(fast) for layer in p["layers"]}
    expect = {"resident": {"resident"}, "frame_chunks": {"frame"}, "mixed": {"resident", "group"},
              "conv_small_machine": {"group"}, "matmul_noskip": {"resident"}}[name]
    assert modes == expect
    if name == "matmul_noskip":
        assert _profiles(fast)[0]["skips"] == 0


def test_profile_numbers_are_consistent(tmp_path):
    model, options, x_shape = CASES["mixed"]
    exe = tsuc.compile(model, target="tfmbs", output=str(tmp_path / "m.tsuc"), options=options)
    exe.run({"x": _rand(x_shape, 1)})
    (p,) = _profiles(exe)
    assert p["cycles"] == p["compute_cycles"] + p["burst_wait_cycles"]
    assert p["cycles"] == sum(layer["cycles"] for layer in p["layers"]) + p["preload_cycles"]
    assert 0 < p["utilization"] <= 1
    assert p["active_cycles"] == sum(p["active_cycles_per_lane"]) and p["skips"] == sum(p["skips_per_lane"])
    assert p["energy_j"] > 0 and p["overflow_flags"] == 0
    total = exe.profile()["total"]
    assert total["cycles"] == p["cycles"]
