"""The compiled kernels (numba block interpreter, softmax, reductions, gemm) against the numpy
steps and the slow reference interpreter; the transcendental forms against the exact functions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from onnx import helper

import tsuc
from tsuc.runtime.hologram import compiled, executor, plan
from tsuc.runtime.hologram.executor import HologramSegment
from tsuc.runtime.hologram.reference import run_reference
from tests.targets.hologram.models import make_model

pytestmark = pytest.mark.skipif(not compiled.HAVE_NUMBA, reason="the compiled kernels need numba (the hologram extra)")
RNG = np.random.default_rng(7)


def f32(*shape, lo=-3.0, hi=3.0):
    return RNG.uniform(lo, hi, shape).astype(np.float32)


def segments(exe):
    return [ex for ex in exe.executors if ex.spec["kind"] == "hologram"]


def three_ways(model, feeds, rtol=1e-5, atol=1e-6):
    """Compiled executor, numpy-step executor and reference interpreter on `feeds`; returns the
    compiled outputs of the (single) hologram segment after checking all three agree."""
    exe = tsuc.compile(model, target="hologram")
    (seg,) = segments(exe)
    cfg = seg.spec["config"]
    constants = {int(k): exe.artifact.array(m) for k, m in cfg["constants"].items()}
    numpy_seg = HologramSegment(seg.spec, exe.artifact, {}, compiled_kernels=False)
    xs = [feeds[n] for n in seg.spec["inputs"]]
    got = seg.run(dict(feeds), {})
    slow = numpy_seg.run(dict(feeds), {})
    ref, counts = run_reference(cfg, constants, xs)
    for name, r in zip(seg.spec["outputs"], ref):
        np.testing.assert_allclose(got[name], r, rtol=rtol, atol=atol, err_msg=name)
        np.testing.assert_allclose(got[name], slow[name], rtol=rtol, atol=atol, err_msg=name)
    assert seg.op_counters() == counts  # the cost model counts the IR's ops, however they run
    again = seg.run(dict(feeds), {})
    for name in got:
        np.testing.assert_array_equal(again[name], got[name])  # bit-identical from run to run
    return seg, got


def test_the_transcendental_forms_against_the_exact_functions():
    x = np.concatenate([np.linspace(-90, 90, 400001), np.linspace(-4, 4, 100001)]).astype(np.float32)
    x64 = x.astype(np.float64)
    with np.errstate(all="ignore"):
        e = compiled.exp_ufunc(x).astype(np.float64)
        want = np.exp(x64)
        finite = (want > 1.2e-38) & (want < 3.4e38)
        assert (np.abs(e - want) / want)[finite].max() < 2e-7  # about 2 ulp (numpy's own: ~2e-7)
        assert np.abs(e - want)[want <= 1.2e-38].max() < 1e-37
        t = compiled.tanh_ufunc(x).astype(np.float64)
        assert np.abs(t - np.tanh(x64)).max() < 5e-7
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 100.0, -200.0], np.float32)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(compiled.exp_ufunc(special), np.array([np.nan, np.inf, 0, 1, 1, np.inf, 0], np.float32))
        np.testing.assert_array_equal(compiled.tanh_ufunc(special), np.array([np.nan, 1, -1, 0, -0.0, 1, -1], np.float32))


ELEMENTWISE_NODES = [
    ("Add", 2), ("Sub", 2), ("Mul", 2), ("Div", 2), ("Min", 2), ("Max", 2), ("Abs", 1), ("Neg", 1), ("Relu", 1),
    ("Sqrt", 1), ("Exp", 1), ("Log", 1), ("Tanh", 1), ("Sigmoid", 1), ("Erf", 1), ("Gelu", 1),
]


@pytest.mark.parametrize("op,arity", ELEMENTWISE_NODES)
def test_every_elementwise_op_compiled(op, arity):
    # odd sizes (1,000 and 1,031 elements: not a multiple of the block) and a broadcast operand
    shape = [8, 125]
    positive = op in ("Sqrt", "Log")
    x = f32(*shape, lo=0.1 if positive else -3.0)
    inits = [("b", f32(125, lo=0.5, hi=2.0))] if arity == 2 else []
    nodes = [helper.make_node(op, ["x", "b"] if arity == 2 else ["x"], ["y"])]
    if arity == 1:  # a second op so the group holds an intermediate in a register
        nodes = [helper.make_node("Abs", ["x"], ["ax"]) if positive else helper.make_node("Neg", ["x"], ["ax"]),
                 helper.make_node(op, ["ax"], ["y"])]
    model = make_model(nodes, [("x", shape)], [("y", shape)], inits)
    three_ways(model, {"x": x}, rtol=2e-6, atol=2e-6)


def test_clip_scalar_ops_and_fill():
    nodes = [helper.make_node("Mul", ["x", "k"], ["a"]), helper.make_node("Add", ["a", "k2"], ["b"]),
             helper.make_node("Clip", ["b", "lo", "hi"], ["y"])]
    model = make_model(nodes, [("x", [1031])], [("y", [1031])],
                       [("k", np.array(1.5, np.float32)), ("k2", np.array(-0.25, np.float32)),
                        ("lo", np.array(-1.0, np.float32)), ("hi", np.array(2.0, np.float32))])
    three_ways(model, {"x": f32(1031)})


@pytest.mark.parametrize("xshape,bshape", [
    ([4, 3, 5], [3, 1]),           # middle axis, broadcast along the last
    ([2, 16, 7, 9], [16, 1, 1]),   # per channel
    ([64, 33], [33]),              # per column, rows not a multiple of anything
    ([5, 1, 7], [1, 6, 1]),        # both sides broadcast: the output is bigger than either
    ([3, 1, 1, 2049], [1]),        # size-1 dimensions, more than two blocks
    ([1], [1]),                    # one element
])
def test_broadcasting_in_the_compiled_loop(xshape, bshape):
    out = list(np.broadcast_shapes(tuple(xshape), tuple(bshape)))
    nodes = [helper.make_node("Mul", ["x", "b"], ["m"]), helper.make_node("Tanh", ["m"], ["t"]),
             helper.make_node("Sub", ["t", "x"], ["y"])]
    model = make_model(nodes, [("x", xshape)], [("y", out)], [("b", f32(*bshape))])
    three_ways(model, {"x": f32(*xshape)})


@pytest.mark.parametrize("axes,shape", [([1], [3, 40, 5]), ([2], [6, 7, 300]), ([0, 1], [4, 5, 6]), ([0, 2], [4, 5, 6])])
@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin"])
def test_reductions(op, axes, shape):
    out = [1 if k in axes else d for k, d in enumerate(shape)]
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node(op, ["r", "ax"], ["y"], keepdims=1)]
    model = make_model(nodes, [("x", shape)], [("y", out)], [("ax", np.array(axes, np.int64))])
    three_ways(model, {"x": f32(*shape)}, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("axis,shape", [(-1, [5, 7, 33]), (1, [5, 7, 33]), (0, [3, 9]), (-1, [1, 1])])
@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_rows(op, axis, shape):
    nodes = [helper.make_node("Mul", ["x", "k"], ["s"]), helper.make_node(op, ["s"], ["y"], axis=axis)]
    model = make_model(nodes, [("x", shape)], [("y", shape)], [("k", np.array(4.0, np.float32))])
    three_ways(model, {"x": f32(*shape)}, rtol=1e-5, atol=1e-6)


def test_softmax_row_that_underflows_against_the_tensor_max_is_redone():
    x = np.zeros((2, 8), np.float32)
    x[0] = 200.0  # the tensor's max; row 1 (all zeros) has exp(-200) = 0 against it
    x[1, 3] = 1.0
    model = make_model([helper.make_node("Softmax", ["x"], ["y"], axis=-1)], [("x", [2, 8])], [("y", [2, 8])])
    _, got = three_ways(model, {"x": x})
    np.testing.assert_allclose(got[next(iter(got))][1], np.exp(x[1] - 1) / np.exp(x[1] - 1).sum(), rtol=1e-6)


@pytest.mark.parametrize("ashape,bshape", [([6, 12], [12, 5]), ([2, 3, 12], [12, 5]), ([2, 3, 4, 6], [2, 3, 6, 5]),
                                           ([4, 6], [3, 6, 5]), ([3, 6], [6]), ([6], [2, 6, 5])])
def test_gemm_shapes(ashape, bshape):
    out = list(np.matmul(np.zeros(ashape), np.zeros(bshape)).shape)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Relu", ["m"], ["y"])]
    model = make_model(nodes, [("x", ashape)], [("y", out)], [("w", f32(*bshape))])
    three_ways(model, {"x": f32(*ashape)}, rtol=1e-5, atol=1e-5)


def test_transposes_and_reshapes_compiled():
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[2, 0, 1]), helper.make_node("Neg", ["t"], ["n"]),
             helper.make_node("Reshape", ["n", "s"], ["r"]), helper.make_node("Transpose", ["r"], ["y"], perm=[1, 0])]
    model = make_model(nodes, [("x", [3, 5, 7])], [("y", [15, 7])], [("s", np.array([7, 15], np.int64))])
    three_ways(model, {"x": f32(3, 5, 7)})


def test_group_split_over_two_threads_gives_the_same_bits(monkeypatch):
    nodes = [helper.make_node("Mul", ["x", "c"], ["a"]), helper.make_node("Sigmoid", ["a"], ["s"]),
             helper.make_node("Add", ["s", "x"], ["y"])]
    shape = [37, 301]  # 11,137 elements: 11 blocks, an uneven split
    model = make_model(nodes, [("x", shape)], [("y", shape)], [("c", f32(301))])
    x = f32(*shape)
    outs = []
    for work in (1, 1 << 62):  # every group split over two threads / none
        monkeypatch.setattr(executor, "PARALLEL_WORK", work)
        monkeypatch.setattr(executor, "_threads", lambda: 2)
        exe = tsuc.compile(model, target="hologram")
        seg = segments(exe)[0]
        assert any(getattr(fn, "__name__", "") == "parallel" for fn in seg.program) == (work == 1)
        outs.append(exe(x))
    np.testing.assert_array_equal(outs[0], outs[1])


def test_register_allocation_never_writes_an_operands_register():
    model = make_model([helper.make_node("Mul", ["x", "x"], ["a"]), helper.make_node("Add", ["a", "x"], ["b"]),
                        helper.make_node("Tanh", ["b"], ["y"])], [("x", [4, 4])], [("y", [4, 4])])
    seg, _ = three_ways(model, {"x": f32(4, 4)})
    (group,) = [st for st in seg.steps if isinstance(st, plan.Group)]
    binary = {compiled.OPCODE[n] for n in ("add", "sub", "mul", "div", "min", "max")}
    for op, dst, a, b in group.code:
        if op in binary:
            assert dst not in (a, b)
        elif op not in (compiled.LOAD, compiled.STORE, compiled.FILL):
            assert dst != a


def test_two_segments_share_one_pool_and_keep_their_constants():
    # Exp (hologram), Conv (host), Mul by a constant (hologram): two segments, one pool
    nodes = [helper.make_node("Mul", ["x", "k1"], ["a"]), helper.make_node("Tanh", ["a"], ["t"]),
             helper.make_node("Conv", ["t", "w"], ["c"]), helper.make_node("Mul", ["c", "k2"], ["m"]),
             helper.make_node("Relu", ["m"], ["y"])]
    model = make_model(nodes, [("x", [1, 2, 6, 6])], [("y", [1, 3, 4, 4])],
                       [("k1", f32(2, 1, 1)), ("w", f32(3, 2, 3, 3)), ("k2", f32(3, 1, 1))])
    exe = tsuc.compile(model, target="hologram")
    segs = segments(exe)
    assert len(segs) == 2 and segs[0].pool is segs[1].pool
    ranges = []
    for seg in segs:
        for vid in seg.spec["config"]["constants"]:
            start, size = seg.pool.byte_range(seg.values[int(vid)]["place"])
            ranges.append((start, start + size))
    ranges.sort()
    assert all(a[1] <= b[0] for a, b in zip(ranges, ranges[1:]))  # constants of both segments disjoint
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for _ in range(3):  # later runs see the constants the first one saw
        x = f32(1, 2, 6, 6)
        np.testing.assert_allclose(exe(x), sess.run(None, {"x": x})[0], rtol=1e-5, atol=1e-5)


def test_empty_tensors_stay_on_the_host_and_an_empty_group_is_skipped():
    nodes = [helper.make_node("Mul", ["x", "b"], ["m"]), helper.make_node("Tanh", ["m"], ["y"])]
    model = make_model(nodes, [("x", [2, 0, 3])], [("y", [2, 0, 3])], [("b", f32(3))])
    exe = tsuc.compile(model, target="hologram")
    assert not segments(exe) and exe(np.zeros((2, 0, 3), np.float32)).shape == (2, 0, 3)
    g = plan.Group([2, 0, 3], ops=[{"op": "neg", "in": [0], "out": 1, "attrs": {}}], produced={1})
    plan.program(g, [{"shape": [2, 0, 3], "place": None}, {"shape": [2, 0, 3], "place": None}], {1})
    assert g.total == 0  # the executor drops such a step ("empty")
