"""The fused executor against the slow reference interpreter; pool, allocation and profile."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from onnx import helper

import tsuc
from tsuc.runtime.hologram.machine import (
    CLASS_BYTES,
    NUM_CLASSES,
    POOL_BYTES,
    Machine,
    kernel_cost,
)
from tsuc.runtime.hologram.reference import run_reference
from tests.targets.hologram.models import make_model, residual_chain

RNG = np.random.default_rng(1)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def every_op_model():
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["a"]),
             helper.make_node("Gelu", ["a"], ["g"]), helper.make_node("Sigmoid", ["g"], ["s"]),
             helper.make_node("Tanh", ["s"], ["t"]), helper.make_node("Erf", ["t"], ["e"]),
             helper.make_node("Mul", ["e", "two"], ["e2"]), helper.make_node("Add", ["e2", "one"], ["e3"]),
             helper.make_node("Abs", ["e3"], ["ab"]), helper.make_node("Sqrt", ["ab"], ["sq"]),
             helper.make_node("Log", ["sq"], ["lg"]), helper.make_node("Exp", ["lg"], ["ex"]),
             helper.make_node("Clip", ["ex", "lo", "hi"], ["cl"]), helper.make_node("Softmax", ["cl"], ["sm"], axis=-1),
             helper.make_node("LogSoftmax", ["a"], ["ls"], axis=0), helper.make_node("Transpose", ["ls"], ["tr"], perm=[1, 0]),
             helper.make_node("ReduceMax", ["tr", "ax"], ["rx"], keepdims=1), helper.make_node("Div", ["tr", "rx"], ["dv"]),
             helper.make_node("LayerNormalization", ["sm", "lg_", "lb"], ["ln"], axis=-1),
             helper.make_node("Reshape", ["ln", "shape"], ["y"])]
    return make_model(nodes, [("x", [6, 12])], [("y", [3, 32]), ("dv", [16, 6])],
                      [("w", f32(12, 16)), ("b", f32(16)), ("two", np.array(2.0, np.float32)), ("one", np.array(1.0, np.float32)),
                       ("lo", np.array(0.1, np.float32)), ("hi", np.array(5.0, np.float32)), ("ax", np.array([1], np.int64)),
                       ("lg_", f32(16)), ("lb", f32(16)), ("shape", np.array([3, 32], np.int64))])


def _segment_and_constants(exe):
    (seg,) = [ex for ex in exe.executors if ex.spec["kind"] == "hologram"]
    constants = {int(k): exe.artifact.array(m) for k, m in seg.spec["config"]["constants"].items()}
    return seg, constants


@pytest.mark.parametrize("fuse", [True, False])
def test_fused_executor_matches_reference_outputs_and_counters(fuse):
    exe = tsuc.compile(every_op_model(), target="hologram", options={"fuse": fuse})
    x = f32(6, 12)
    outs = exe.run({"x": x})
    seg, constants = _segment_and_constants(exe)
    ref, counts = run_reference(seg.spec["config"], constants, [x])
    for name, r in zip(seg.spec["outputs"], ref):
        np.testing.assert_allclose(outs[name], r, rtol=1e-4, atol=1e-5)
    assert seg.op_counters() == counts
    assert counts["ops"] == seg.stats["ops_canonical"]


def test_reference_counters_price_to_the_profile_cycles():
    exe = tsuc.compile(every_op_model(), target="hologram")
    exe.run({"x": f32(6, 12)})
    seg, constants = _segment_and_constants(exe)
    _, counts = run_reference(seg.spec["config"], constants, [f32(6, 12)])
    prof = exe.profile()["segments"][0]
    assert prof["lane_ops"] == counts["s"] + counts["d"] + counts["t"]
    m = seg.machine
    lanes = m.vector_lanes
    floor = m.launch_cycles * prof["kernels"] + (counts["s"] + counts["d"] * m.cycles_div + counts["t"] * m.cycles_transcendental) // lanes
    assert floor <= prof["cycles"] <= floor + prof["kernels"] * 64 + counts["trees"] * 4 + 200
    assert prof["energy_j"] == pytest.approx(prof["lane_ops"] * m.e_op_pj * 1e-12)


def test_cost_model_by_op_class():
    m = Machine(vector_lanes=16, launch_cycles=20)
    add = kernel_cost(m, [{"op": "add", "work": 160, "rows": 0}], 0)
    exp = kernel_cost(m, [{"op": "exp", "work": 160, "rows": 0}], 0)
    red = kernel_cost(m, [{"op": "reduce_sum", "work": 160, "rows": 2}], 64)
    assert add["cycles"] == 20 + 10 and exp["cycles"] == 20 + 80
    assert red["cycles"] == 20 + 10 + 2 * 4 + 2  # vectors + log2(lanes) per output + 64 B / 32 B per cycle
    assert red["energy_j"] == pytest.approx((160 * 0.5 + 64 * 10) * 1e-12)
    assert kernel_cost(m, [{"op": "gemm", "work": 4 * 8 * 16, "rows": 0}], 0)["cycles"] == 20 + 4 * 8 * 16 // 16


def test_pool_is_one_aligned_buffer_and_buffers_are_views():
    exe = tsuc.compile(every_op_model(), target="hologram")
    seg, _ = _segment_and_constants(exe)
    assert seg.pool.memory.ctypes.data % 64 == 0 and seg.pool.memory.nbytes == POOL_BYTES + seg.pool.linear_bytes
    placed = [b for b, v in zip(seg.bufs, seg.values) if v["place"] is not None and b is not None]
    assert placed and all(np.shares_memory(b, seg.pool.memory) for b in placed)


def test_liveness_reuses_classes_beyond_96_buffers():
    # 160 kernels in sequence (fuse=false): 160+ buffers over the segment's life, few live at once
    model = residual_chain(blocks=30, rows=32, cols=96)  # 12 KiB per activation: one class each
    exe = tsuc.compile(model, target="hologram", options={"fuse": False, "canonicalize": False})
    x = f32(32, 96)
    y = exe(x)
    seg, constants = _segment_and_constants(exe)
    assert len(seg.kernels) == 180 and seg.stats["spill_bytes"] == 0
    assert seg.stats["peak_classes"] < NUM_CLASSES
    np.testing.assert_allclose(y, run_reference(seg.spec["config"], constants, [x])[0][0], rtol=1e-4, atol=1e-4)


def test_live_set_larger_than_the_pool_spills_to_the_linear_pool():
    n = 2 * POOL_BYTES // 4 // 3  # each of three live values is 2/3 of the pool
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("MatMul", ["r", "w"], ["m"]),
             helper.make_node("Add", ["m", "r"], ["y"])]
    cols = 64
    model = make_model(nodes, [("x", [n // cols, cols])], [("y", [n // cols, cols])], [("w", f32(cols, cols))])
    exe = tsuc.compile(model, target="hologram", options={"gemm_max_bytes": 1 << 30})
    x = f32(n // cols, cols)
    np.testing.assert_allclose(exe(x), np.maximum(x, 0) @ exe.artifact.array(next(iter(exe.executors[0].spec["config"]["constants"].values()))) + np.maximum(x, 0), rtol=1e-4, atol=1e-4)
    prof = exe.profile()["segments"][0]
    assert prof["spill_bytes"] > 0 and prof["linear_bytes_moved"] > 0


def test_artifact_is_deterministic(tmp_path):
    digests = []
    model = every_op_model()
    for k in range(2):
        path = tmp_path / f"m{k}.tsuc"
        tsuc.compile(model, target="hologram", output=str(path))
        digests.append(hashlib.sha256(path.read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_allocation_is_in_the_ir(tmp_path):
    from tsuc.compiler.driver import lower
    from tsuc.targets.registry import get_target

    _, _, _, text = lower(every_op_model(), [get_target("hologram")], emit="lowered")
    assert "hologram.kernel" in text and "ins_at = [#hologram." in text and "hologram.ops_original" in text
    assert CLASS_BYTES == 12_288


@pytest.mark.parametrize("fuse", [True, False])
def test_scratch_arrays_never_hold_two_live_values(fuse):
    exe = tsuc.compile(every_op_model(), target="hologram", options={"fuse": fuse})
    seg, _ = _segment_and_constants(exe)
    ops = [op for k in seg.kernels for op in k["ops"]]
    defined, last = {}, {}
    for t, op in enumerate(ops):
        for i in op["in"]:
            last[i] = t
        defined[op["out"]] = t
        last.setdefault(op["out"], t)
    scratch = [v for v in defined if seg.values[v]["place"] is None and v not in seg._view_ids]
    for a in scratch:
        for b in scratch:
            if a < b and defined[a] <= last[b] and defined[b] <= last[a]:  # lifetimes overlap
                assert not np.shares_memory(seg.bufs[a], seg.bufs[b]), (a, b)


def test_one_value_under_two_output_names():
    # canonicalisation makes r * 1 the same value as r: both outputs must be written
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Mul", ["r", "one"], ["r1"]),
             helper.make_node("Identity", ["x"], ["i"])]
    model = make_model(nodes, [("x", [3, 4])], [("r", [3, 4]), ("r1", [3, 4]), ("i", [3, 4])], [("one", np.ones(4, np.float32))])
    exe = tsuc.compile(model, target="hologram")
    x = f32(3, 4)
    for _ in range(2):
        outs = exe.run({"x": x})
        np.testing.assert_array_equal(outs["r"], np.maximum(x, 0))
        np.testing.assert_array_equal(outs["r1"], np.maximum(x, 0))
        np.testing.assert_array_equal(outs["i"], x)


def test_erf_gelu_sigmoid_against_the_exact_functions():
    import math

    from tsuc.runtime.hologram import fastmath

    x = np.linspace(-7, 7, 20001).astype(np.float32)
    exact_erf = np.array([math.erf(v) for v in x.astype(np.float64)])
    gelu = 0.5 * x.astype(np.float64) * (1 + np.array([math.erf(v / math.sqrt(2)) for v in x.astype(np.float64)]))
    out = np.empty_like(x)
    assert np.abs(fastmath.erf(x, out) - exact_erf).max() < 5e-7
    assert np.abs(fastmath._erf_numpy(x, np.empty_like(x)) - exact_erf).max() < 1e-6  # the path without numba
    assert np.abs(fastmath.gelu(x, out) - gelu).max() < 2e-6
    assert np.abs(fastmath.sigmoid(x, out) - 1 / (1 + np.exp(-x.astype(np.float64)))).max() < 1e-7
