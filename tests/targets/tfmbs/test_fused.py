"""Fused tfmbs segments: runs of fabric and host segments as one onnxruntime graph.

The fused graph (built at compile time by `tsuc.targets.tfmbs.fuse`) must give the numbers of
the independent reference bit for bit, the same outputs and counters as the unfused artifact
(one session per layer and host segment), keep the per-layer paths (replay, BLAS) working,
and leave the runtime free of ONNX model building.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from onnx import helper

import tsuc
from tsuc.errors import TsucError

from . import reference as ref
from .models import one_graph_model, rand

ADDITIVE = ("cycles", "compute_cycles", "burst_wait_cycles", "active_cycles", "skips", "frames", "dma_words", "dma_bursts",
            "tile_cycles", "preload_cycles")
SKIP_KEYS = {"wall_ms", "start_ms", "host_ms", "mode", "closed_form_agrees", "name", "segments"}


def _compile(model, tmp_path, tag, **options):
    options.setdefault("fuse", True)
    return tsuc.compile(model, target="tfmbs", output=str(tmp_path / f"{tag}.tsuc"), options=options)


def _kinds(exe):
    return [s["kind"] for s in exe.manifest["segments"]]


def _fabric_profile(exe):
    """Every fabric counter of the last run, layer by layer, across segments."""
    layers, totals = [], {}
    for seg in exe.profile()["segments"]:
        if seg["kind"] != "tfmbs":
            continue
        for layer in seg["layers"]:
            layers.append({k: v for k, v in layer.items() if k not in SKIP_KEYS})
        for k in ADDITIVE:
            totals[k] = totals.get(k, 0) + seg[k]
        totals["overflow_flags"] = totals.get("overflow_flags", 0) | seg["overflow_flags"]
        for k in ("skips_per_lane", "active_cycles_per_lane"):
            totals[k] = [a + b for a, b in zip(totals.get(k, [0] * len(seg[k])), seg[k])]
    return layers, totals


def _fused_and_plain(model, x, tmp_path, **options):
    fused = _compile(model, tmp_path, "fused", **options)
    plain = _compile(model, tmp_path, "plain", fuse=False, **options)
    assert _kinds(fused) == ["tfmbs"], _kinds(fused)
    assert len(_kinds(plain)) > 1 or "onnx" not in _kinds(plain)
    y = fused.run({"x": x})["y"]
    y_plain = plain.run({"x": x})["y"]
    np.testing.assert_array_equal(y, y_plain)
    assert _fabric_profile(fused) == _fabric_profile(plain)
    return fused, y


W_CASES = [{}, {"w_planes": 2}, {"w_planes": 3, "act_trits": 3}]


@pytest.mark.parametrize("fold", [True, False], ids=["folded", "host-relu"])
@pytest.mark.parametrize("options", W_CASES)
def test_gemm_relu_gemm_equals_the_reference(options, fold, tmp_path):
    w1, b1, w2 = rand((48, 40), 1), rand((48,), 2), rand((10, 48), 3)
    model = one_graph_model([helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
                             helper.make_node("Relu", ["h"], ["r"]),
                             helper.make_node("Gemm", ["r", "w2"], ["y"], transB=1, alpha=0.75)],
                            {"w1": w1, "b1": b1, "w2": w2}, ["n", 40], ["n", 10])
    opts = {"quant": "twn", "w_planes": options.get("w_planes", 1), "act_trits": options.get("act_trits", 5)}
    for batch in (1, 6):  # a dynamic batch: one graph serves both
        x = rand((batch, 40), 4 + batch)
        _, y = _fused_and_plain(model, x, tmp_path, fold=fold, **options)
        h = np.maximum(ref.gemm(x, w1, b1, trans_b=1, **opts), np.float32(0))  # ReLU-sparse input of the second layer
        assert (h == 0).mean() > 0.2
        np.testing.assert_array_equal(y, ref.gemm(h, w2, None, trans_b=1, alpha=0.75, **opts))


def test_matmul_on_a_3d_input_equals_the_reference(tmp_path):
    w = rand((24, 16), 5)
    model = one_graph_model([helper.make_node("MatMul", ["x", "w"], ["y"])], {"w": w}, [2, 5, 24], [2, 5, 16])
    x = rand((2, 5, 24), 6)
    exe = _compile(model, tmp_path, "mm")
    assert _kinds(exe) == ["tfmbs"]
    np.testing.assert_array_equal(exe.run({"x": x})["y"], ref.matmul(x, w))


@pytest.mark.parametrize("fold", [True, False], ids=["folded", "host-epilogue"])
@pytest.mark.parametrize("options", W_CASES)
def test_residual_conv_block_equals_the_reference(options, fold, tmp_path):
    """Conv -> Relu -> Conv (stride 2 / padded) -> Add(1x1 conv shortcut) -> Relu, dynamic batch
    (folded: the shortcut conv, the later layer, takes the Add with the strided conv as residual)."""
    w1, b1 = rand((6, 4, 3, 3), 11), rand((6,), 12)
    w2 = rand((8, 6, 3, 3), 13)
    ws = rand((8, 4, 1, 1), 14)
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Conv", ["x", "ws"], ["sc"], strides=[2, 2]),
             helper.make_node("Add", ["c2", "sc"], ["s"]),
             helper.make_node("Relu", ["s"], ["y"])]
    model = one_graph_model(nodes, {"w1": w1, "b1": b1, "w2": w2, "ws": ws}, ["n", 4, 9, 9], ["n", 8, 5, 5])
    opts = {"quant": "twn", "w_planes": options.get("w_planes", 1), "act_trits": options.get("act_trits", 5)}
    for batch in (1, 3):
        x = rand((batch, 4, 9, 9), 15 + batch)
        exe, y = _fused_and_plain(model, x, tmp_path, fold=fold, **options)
        r1 = np.maximum(ref.conv2d(x, w1, b1, pads=(1, 1, 1, 1), **opts), np.float32(0))
        c2 = ref.conv2d(r1, w2, None, pads=(1, 1, 1, 1), strides=(2, 2), **opts)
        sc = ref.conv2d(x, ws, None, strides=(2, 2), **opts)
        np.testing.assert_array_equal(y, np.maximum(c2 + sc, np.float32(0)))
    assert len(exe.executors[0].layers) == 3
    posts = [e.get("post") for e in exe.manifest["segments"][0]["config"]["layers"]]
    assert posts == ([{"residual": None, "relu": True}, None, {"residual": "L1", "relu": True}] if fold else [None] * 3)


def test_a_layer_that_overflows_wraps_like_the_reference(tmp_path):
    w = rand((20, 300), 21)
    w[:5] = np.abs(w[:5]) + 1.0  # rows of +1 trits
    model = one_graph_model([helper.make_node("Gemm", ["x", "w"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["y"])],
                            {"w": w}, [4, 300], [4, 20])
    x = rand((4, 300), 22)
    x[:, :200] = 5.0  # level 13 = digits (1, 1, 1) against +1 trits: every 8-bit chain sums past 127
    exe, y = _fused_and_plain(model, x, tmp_path, acc_bits=8, overflow="wrap", act_trits=3)
    expect = np.maximum(ref.linear(x, w, None, act_trits=3, acc_bits=8), np.float32(0))
    np.testing.assert_array_equal(y, expect)
    assert not np.array_equal(expect, np.maximum(ref.linear(x, w, None, act_trits=3), np.float32(0)))  # it did wrap
    assert exe.profile()["segments"][0]["overflow_flags"] != 0


def test_replay_and_blas_and_threads_on_a_fused_segment(tmp_path):
    w, b = rand((12, 30), 31), rand((12,), 32)
    b[3] = -0.0
    model = one_graph_model([helper.make_node("Gemm", ["x", "w", "b"], ["h"], transB=1),
                             helper.make_node("Relu", ["h"], ["r"]),
                             helper.make_node("Gemm", ["r", "w2"], ["y"], transB=1)],
                            {"w": w, "b": b, "w2": rand((5, 12), 33)}, [3, 30], [3, 5])
    path = str(tmp_path / "z.tsuc")
    exe = tsuc.compile(model, target="tfmbs", output=path, options={"fuse": True})
    assert _kinds(exe) == ["tfmbs"]
    x = rand((3, 30), 35)
    y = exe.run({"x": x})["y"]
    fast = _fabric_profile(exe)
    for params in ({"mode": "replay"}, {"products": "blas"}, {"products": "int8", "threads": 1}):
        again = tsuc.load(path)
        np.testing.assert_array_equal(again.run({"x": x}, **params)["y"], y)
        assert _fabric_profile(again) == fast, params


def test_negative_zero_bias_survives(tmp_path):
    w = rand((6, 10), 41)
    b = np.array([-0.0, 0.0, 1.0, -0.0, 2.0, -1.0], np.float32)
    model = one_graph_model([helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)], {"w": w, "b": b}, [2, 10], [2, 6])
    exe = _compile(model, tmp_path, "nz")
    y = exe.run({"x": np.zeros((2, 10), np.float32)})["y"]
    np.testing.assert_array_equal(np.signbit(y), np.signbit(ref.linear(np.zeros((2, 10), np.float32), w, b)))
    plain = _compile(model, tmp_path, "nz_plain", fuse=False).run({"x": np.zeros((2, 10), np.float32)})["y"]
    np.testing.assert_array_equal(np.signbit(y), np.signbit(plain))


def test_the_lazy_profile_records_the_levels_of_the_run(tmp_path):
    w1, w2 = rand((16, 8), 51), rand((4, 16), 52)
    model = one_graph_model([helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
                             helper.make_node("MatMul", ["r", "w2"], ["y"])],
                            {"w1": w1.T.copy(), "w2": w2.T.copy()}, [5, 8], [5, 4])
    exe = _compile(model, tmp_path, "lazy")
    seg = exe.executors[0]
    x = rand((5, 8), 53)
    exe.run({"x": x})
    assert callable(seg._last)  # nothing recorded beyond the inputs until a profile is asked for
    exe.profile()
    recs = seg._last
    q0, s0 = ref.quantize_activations(x, 5)
    np.testing.assert_array_equal(recs[0].levels, q0)
    assert recs[0].act_scale == s0 and recs[0].rows == 5
    h = np.maximum(ref.matmul(x, w1.T.copy()), np.float32(0))
    q1, s1 = ref.quantize_activations(h, 5)
    np.testing.assert_array_equal(recs[1].levels, q1)
    assert recs[1].act_scale == s1


def test_non_finite_activations_are_refused(tmp_path):
    w = rand((6, 10), 61)
    model = one_graph_model([helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)], {"w": w}, [2, 10], [2, 6])
    exe = _compile(model, tmp_path, "nan")
    for bad in (np.nan, np.inf):
        x = rand((2, 10), 62)
        x[1, 3] = bad
        with pytest.raises(TsucError, match="NaN or infinite"):
            exe.run({"x": x})


def test_runs_that_cannot_be_fused_stay_per_layer(tmp_path):
    w = rand((6, 10), 71)
    model = one_graph_model([helper.make_node("Gemm", ["x", "w"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["y"])],
                            {"w": w}, [2, 10], [2, 6])
    cases = ({"act_trits": 1, "fuse": True}, {"act_trits": 7, "fuse": True}, {"fuse": False}, {})  # {}: the default
    for options in cases:
        options = {**options, "fold": False}  # the Relu stays a host segment
        exe = tsuc.compile(model, target="tfmbs", output=str(tmp_path / "nf.tsuc"), options=options)
        assert _kinds(exe) == ["tfmbs", "onnx"], options
        x = rand((2, 10), 72)
        opts = {"act_trits": options.get("act_trits", 5)}
        np.testing.assert_array_equal(exe.run({"x": x})["y"], np.maximum(ref.linear(x, w, None, **opts), np.float32(0)))


def test_the_runtime_builds_no_onnx_model(tmp_path):
    """Loading, running and profiling a fused and an unfused artifact never imports the onnx
    package (graphs come from the artifact; onnxruntime deserialises them)."""
    w1, b1, w2 = rand((12, 4, 3, 3), 81), rand((12,), 82), rand((5, 12), 83)
    model = one_graph_model([helper.make_node("Conv", ["x", "w1", "b1"], ["c"], pads=[1, 1, 1, 1]),
                             helper.make_node("Relu", ["c"], ["r"]),
                             helper.make_node("GlobalAveragePool", ["r"], ["g"]),
                             helper.make_node("Flatten", ["g"], ["f"]),
                             helper.make_node("Gemm", ["f", "w2"], ["y"], transB=1)],
                            {"w1": w1, "b1": b1, "w2": w2}, [2, 4, 6, 6], [2, 5])
    paths = []
    for fuse in (True, False):
        path = str(tmp_path / f"iso{fuse}.tsuc")
        tsuc.compile(model, target="tfmbs", output=path, options={"fuse": fuse})
        paths.append(path)
    code = ("import sys, numpy as np, tsuc\n"
            f"for p in {paths!r}:\n"
            "    exe = tsuc.load(p)\n"
            "    exe.run({'x': np.ones((2, 4, 6, 6), np.float32)}); exe.profile()\n"
            "    exe.run({'x': np.ones((2, 4, 6, 6), np.float32)}, products='int8', threads=1); exe.profile()\n"
            "bad = [m for m in sys.modules if m == 'onnx' or m.startswith(('onnx.', 'xdsl', 'tsuc.compiler', 'tsuc.targets'))]\n"
            "print(' '.join(bad)); sys.exit(1 if bad else 0)\n")
    proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert proc.returncode == 0, f"the runtime imported: {proc.stdout} {proc.stderr}"


def test_host_nodes_keep_their_own_names_apart(tmp_path):
    """Two host segments whose internal tensors share names fuse without clashing."""
    w1, w2, w3 = rand((8, 8), 91), rand((8, 8), 92), rand((3, 8), 93)
    nodes = [helper.make_node("Gemm", ["x", "w1"], ["a"], transB=1),
             helper.make_node("Relu", ["a"], ["a1"]), helper.make_node("Sigmoid", ["a1"], ["a2"]),
             helper.make_node("Gemm", ["a2", "w2"], ["b"], transB=1),
             helper.make_node("Relu", ["b"], ["b1"]), helper.make_node("Sigmoid", ["b1"], ["b2"]),
             helper.make_node("Gemm", ["b2", "w3"], ["y"], transB=1)]
    model = one_graph_model(nodes, {"w1": w1, "w2": w2, "w3": w3}, [4, 8], [4, 3])
    _fused_and_plain(model, rand((4, 8), 94), tmp_path)


def _tie_inputs():
    """Inputs whose quotients x / s are exact half-integers: s = 3 (max|x| = 363 at
    act_trits=5) with x = 3 (k + 1/2); and s = M / 121 with x = +-M / 2 (x / s = 60.5), where
    M = 813.457 makes x * fl(1/s) miss 60.5 by an ulp (a quotient by reciprocal is not enough)."""
    x = (3.0 * (np.arange(128) % 121 - 60 + 0.5)).astype(np.float32).reshape(2, 64)
    x[0, 0] = 363.0
    m = np.float32(813.457)
    y = rand((2, 64), 102, scale=50.0)
    y[0, 0], y[0, 1], y[1, 5] = m, m / np.float32(2), -m / np.float32(2)
    return [x, y]


@pytest.mark.parametrize("fuse", [True, False])
@pytest.mark.parametrize("case", [0, 1])
def test_exact_ties_round_half_to_even(fuse, case, tmp_path):
    w = rand((7, 64), 101)
    model = one_graph_model([helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)], {"w": w}, [2, 64], [2, 7])
    x = _tie_inputs()[case]
    q, s = ref.quantize_activations(x, 5)
    quotient = x.astype(np.float64) / s
    assert np.count_nonzero(quotient - np.floor(quotient) == 0.5) >= 2
    exe = tsuc.compile(model, target="tfmbs", output=str(tmp_path / "tie.tsuc"), options={"fuse": fuse})
    np.testing.assert_array_equal(exe.run({"x": x})["y"], ref.linear(x, w, None))
    exe.profile()
    np.testing.assert_array_equal(exe.executors[0]._records()[0].levels, q)


@pytest.mark.parametrize("case", [0, 1])
def test_the_numpy_fallback_gives_the_same_bits(case, tmp_path, monkeypatch):
    """Without numba the per-layer path takes numpy's passes: same outputs and levels."""
    from tsuc.runtime.tfmbs import kernels

    w = rand((9, 64), 111)
    b = rand((9,), 112)
    model = one_graph_model([helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)], {"w": w, "b": b}, [2, 64], [2, 9])
    x = _tie_inputs()[case]
    path = str(tmp_path / "np.tsuc")
    tsuc.compile(model, target="tfmbs", output=path, options={"w_planes": 2})
    with_numba = tsuc.load(path).run({"x": x})["y"]
    monkeypatch.setattr(kernels, "AVAILABLE", False)
    exe = tsuc.load(path)
    y = exe.run({"x": x})["y"]
    np.testing.assert_array_equal(y, with_numba)
    np.testing.assert_array_equal(y, ref.linear(x, w, b, w_planes=2))
