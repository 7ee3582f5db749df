"""The fold (option `fold`): BatchNormalization, residual Add and Relu after a fabric layer run in
its host epilogue, so a ResNet block is ONE fabric segment, bit-exact with the reference."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import tsuc
from tsuc.errors import ArtifactError, TsucError

from . import reference as ref
from .models import one_graph_model, rand, resnet_block

EPS = float(np.float32(1e-5))


def _bn(w, k):
    return [w[f"g{k}"], w[f"be{k}"], w[f"m{k}"], w[f"v{k}"]]


def _reference(w, x, down, **opts):
    """The block through the numpy reference: every BN folded, residual and relu on float32."""
    s = 2 if down else 1
    h = ref.relu(ref.conv2d_bn(x, w["w1"], w["b1"], _bn(w, "1"), EPS, strides=(s, s), pads=(1, 1, 1, 1), **opts))
    identity = x
    if down:
        identity = ref.conv2d_bn(x, w["wd"], None, _bn(w, "3"), EPS, strides=(2, 2), **opts)
    h = ref.conv2d_bn(h, w["w2"], None, _bn(w, "2"), EPS, pads=(1, 1, 1, 1), **opts)
    return ref.relu(ref.add(h, identity))


def _segments(exe):
    return [(s["target"], s["kind"]) for s in exe.manifest["segments"]]


def _layers(exe):
    return [e for s in exe.manifest["segments"] if s["kind"] == "tfmbs" for e in s["config"]["layers"]]


BLOCKS = {"identity": {}, "downsample": {"out_channels": 12}, "downsample-sum": {"out_channels": 12, "add": "Sum"}}


@pytest.mark.parametrize("batch", [2, None], ids=["static", "dynamic"])
@pytest.mark.parametrize("block", sorted(BLOCKS))
def test_resnet_block_is_one_fabric_segment_bitexact_with_the_reference(block, batch, tmp_path):
    model, w = resnet_block(**BLOCKS[block], batch=batch)
    down = block.startswith("downsample")
    exe = tsuc.compile(model, target="tfmbs", output=str(tmp_path / "b.tsuc"))
    assert _segments(exe) == [("tfmbs", "tfmbs")]  # no host segment: BN, Add and Relu all folded
    posts = [e.get("post") for e in _layers(exe)]
    if down:  # conv1 (+relu), convd (BN only), conv2 + residual convd + relu
        assert posts == [{"residual": None, "relu": True}, None, {"residual": "L1", "relu": True}]
    else:
        assert posts == [{"residual": None, "relu": True}, {"residual": "arg0", "relu": True}]
    for b in ([2] if batch else [2, 3, 1]):
        x = rand((b, 8, 6, 6), 40 + b)
        expect = _reference(w, x, down)
        y = exe.run({"x": x})["y"]
        np.testing.assert_array_equal(y, expect)
        np.testing.assert_array_equal(exe.run({"x": x}, **{"tfmbs.products": "blas"})["y"], expect)
    # a fresh load replaying the device model frame by frame: the same numbers and a profile
    x = rand((2, 8, 6, 6), 42)
    again = tsuc.load(str(tmp_path / "b.tsuc"))
    np.testing.assert_array_equal(again.run({"x": x}, **{"tfmbs.mode": "replay"})["y"], _reference(w, x, down))
    assert again.profile()["total"]["cycles"] > 0


@pytest.mark.parametrize("block", sorted(BLOCKS))
def test_resnet_block_fused_graph_equals_the_reference(block):
    model, w = resnet_block(**BLOCKS[block], batch=None)
    exe = tsuc.compile(model, target="tfmbs", options={"fuse": True})
    (seg,) = exe.manifest["segments"]
    assert "fused" in seg["config"]
    for b in (2, 1):
        x = rand((b, 8, 6, 6), 50 + b)
        np.testing.assert_array_equal(exe.run({"x": x})["y"], _reference(w, x, block.startswith("downsample")))


def test_a_negative_zero_becomes_positive_as_np_maximum_does():
    """relu(-0.0) is +0.0 in every path (np.maximum and onnxruntime's Max; its Relu keeps -0.0)."""
    w, b = np.zeros((4, 4), np.float32), np.float32([-0.0, 0.0, -1.0, 2.0])
    def gemm(out):  # -1 * (+0) + b: -0.0 where b is
        return helper.make_node("Gemm", ["x", "w", "b"], [out], transB=1, alpha=-1.0)

    x = rand((2, 4), 1)
    h = tsuc.compile(one_graph_model([gemm("y")], {"w": w, "b": b}, [2, 4], [2, 4]), target="tfmbs").run({"x": x})["y"]
    assert np.signbit(h[:, 0]).all()  # the layer alone gives -0.0
    model = one_graph_model([gemm("h"), helper.make_node("Relu", ["h"], ["y"])], {"w": w, "b": b}, [2, 4], [2, 4])
    for opts in ({}, {"fuse": True}):
        y = tsuc.compile(model, target="tfmbs", options=opts).run({"x": x})["y"]
        np.testing.assert_array_equal(y, np.float32([[0, 0, 0, 2]] * 2))
        assert not np.signbit(y).any(), opts


def test_resnet_block_is_close_to_onnxruntime_on_the_float_model():
    """With the weights as the fabric sees them (dequantised trits) and fine activations, the
    artifact follows onnxruntime running the float block: BN, Add and Relu mean what ONNX says."""
    import onnxruntime as ort

    from tsuc.targets.tfmbs.quantize import dequantize_weights, quantize_weights

    for kw in BLOCKS.values():
        model, w = resnet_block(**kw, batch=None)
        deq = onnx.ModelProto.FromString(model.SerializeToString())
        for init in deq.graph.initializer:
            if init.name in ("w1", "w2", "wd"):
                arr = numpy_helper.to_array(init)
                t, s = quantize_weights(arr.reshape(arr.shape[0], -1), "twn", 2)
                init.CopyFrom(numpy_helper.from_array(dequantize_weights(t, s).reshape(arr.shape).astype(np.float32), init.name))
        x = rand((3, 8, 6, 6), 60)
        want = ort.InferenceSession(deq.SerializeToString()).run(None, {"x": x})[0]
        got = tsuc.compile(model, target="tfmbs", options={"act_trits": 9, "w_planes": 2}).run({"x": x})["y"]
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=2e-3 * np.abs(want).max())
        unfolded = tsuc.compile(model, target="tfmbs", options={"act_trits": 9, "w_planes": 2, "fold": False})
        np.testing.assert_allclose(unfolded.run({"x": x})["y"], got, rtol=1e-3, atol=2e-3 * np.abs(want).max())


def test_fold_false_keeps_the_host_segments():
    model, w = resnet_block()
    exe = tsuc.compile(model, target="tfmbs", options={"fold": False})
    assert _segments(exe) == [("tfmbs", "tfmbs"), ("host", "onnx")] * 2
    assert all("post" not in e for e in _layers(exe))
    x = rand((2, 8, 6, 6), 7)
    folded = tsuc.compile(model, target="tfmbs").run({"x": x})["y"]
    np.testing.assert_allclose(exe.run({"x": x})["y"], folded, rtol=1e-4, atol=1e-4 * np.abs(folded).max())


def test_a_batchnorm_whose_conv_output_has_two_uses_stays_on_the_host():
    from tsuc.compiler.driver import lower
    from tsuc.targets.registry import get_target

    g, be, m, v = (np.ones(4, np.float32), np.zeros(4, np.float32), np.zeros(4, np.float32), np.ones(4, np.float32))
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[1, 1], name="conv"),
             helper.make_node("BatchNormalization", ["c", "g", "be", "m", "v"], ["n"], name="bn"),
             helper.make_node("Add", ["n", "c"], ["y"], name="add")]
    model = one_graph_model(nodes, {"w": rand((4, 4, 1, 1), 1), "g": g, "be": be, "m": m, "v": v}, [1, 4, 3, 3], [1, 4, 3, 3])
    exe = tsuc.compile(model, target="tfmbs")
    assert _segments(exe) == [("tfmbs", "tfmbs"), ("host", "onnx")]
    assert "post" not in _layers(exe)[0]
    module, *_ = lower(model, [get_target("tfmbs")], emit="core")
    bn = next(op for op in module.walk() if op.name == "onnx.BatchNormalization")
    assert "other uses" in get_target("tfmbs").unsupported_reason(bn)
    x = rand((1, 4, 3, 3), 2)
    c = ref.conv2d(x, numpy_helper.to_array(model.graph.initializer[0]), None)
    np.testing.assert_allclose(exe.run({"x": x})["y"], c / np.sqrt(np.float32(1 + EPS)) + c, rtol=1e-6, atol=1e-6)


def test_an_add_that_broadcasts_or_adds_a_constant_stays_on_the_host():
    from tsuc.compiler.driver import lower
    from tsuc.targets.registry import get_target

    w = rand((4, 4), 3)
    for other, inits in (("r", {}), ("k", {"k": rand((2, 4), 4)})):
        nodes = [helper.make_node("ReduceMax", ["x"], ["r"], axes=[0], keepdims=1),
                 helper.make_node("Gemm", ["x", "w"], ["h"], transB=1, name="fc"),
                 helper.make_node("Add", ["h", other], ["a"], name="add"),
                 helper.make_node("Relu", ["a"], ["y"], name="relu")]
        model = one_graph_model(nodes, {"w": w, **inits}, [2, 4], [2, 4])
        onnx.checker.check_model(model)
        exe = tsuc.compile(model, target="tfmbs")
        kinds = _segments(exe)
        assert kinds[-2:] == [("tfmbs", "tfmbs"), ("host", "onnx")], kinds  # Add and Relu on the host
        assert "post" not in _layers(exe)[0]
        module, *_ = lower(model, [get_target("tfmbs")], emit="core")
        add = next(op for op in module.walk() if op.name == "onnx.Add")
        why = get_target("tfmbs").unsupported_reason(add)
        assert ("broadcasts" if other == "r" else "constant") in why, why
        x = rand((2, 4), 5)
        h = ref.linear(x, w, None)
        o = x.max(0, keepdims=True) if other == "r" else inits["k"]
        np.testing.assert_array_equal(exe.run({"x": x})["y"], np.maximum(h + o, np.float32(0)))


def test_fold_chain_rules():
    """Relu after Relu, BN after Add, an Add of a layer's output to itself: not a chain."""
    nodes = [helper.make_node("Gemm", ["x", "w"], ["h"], transB=1, name="fc"),
             helper.make_node("Relu", ["h"], ["r1"], name="relu1"),
             helper.make_node("Relu", ["r1"], ["r2"], name="relu2"),
             helper.make_node("Gemm", ["r2", "w"], ["h2"], transB=1, name="fc2"),
             helper.make_node("Add", ["h2", "h2"], ["y"], name="twice")]
    model = one_graph_model(nodes, {"w": rand((4, 4), 6)}, [2, 4], [2, 4])
    exe = tsuc.compile(model, target="tfmbs")
    assert _segments(exe) == [("tfmbs", "tfmbs"), ("host", "onnx"), ("tfmbs", "tfmbs"), ("host", "onnx")]
    assert [e.get("post") for e in _layers(exe)] == [{"residual": None, "relu": True}, None]
    x = rand((2, 4), 7)
    h = ref.relu(ref.linear(x, rand((4, 4), 6), None))
    h2 = ref.linear(h, rand((4, 4), 6), None)
    np.testing.assert_array_equal(exe.run({"x": x})["y"], h2 + h2)


def test_fold_with_the_hologram_target_after_it():
    model, w = resnet_block()
    exe = tsuc.compile(model, target="tfmbs,hologram")
    assert _segments(exe) == [("tfmbs", "tfmbs")]
    x = rand((2, 8, 6, 6), 8)
    np.testing.assert_array_equal(exe.run({"x": x})["y"], _reference(w, x, False))


def test_lowered_ir_shows_the_post_and_no_batchnorm():
    from tsuc.compiler.driver import lower
    from tsuc.targets.registry import get_target

    model, _ = resnet_block(out_channels=12)
    *_, text = lower(model, [get_target("tfmbs")], emit="lowered")
    body = text.split("dialect_resources")[0]
    assert not any(f'"onnx.{op}"' in body or f"onnx.{op} " in body.replace(f"onnx.{op} =", "")
                   for op in ("BatchNormalization", "Add", "Relu"))  # op_counts still name them
    assert text.count("tfmbs.post") == 2 and text.count("{relu}") == 2
    assert ".scales.bn" in text and ".bias.bn" in text  # folded scales and bias: new blob constants


def test_inspect_shows_the_folded_epilogue(tmp_path):
    model, _ = resnet_block(out_channels=12)
    path = tmp_path / "b.tsuc"
    tsuc.compile(model, target="tfmbs", output=str(path))
    out = subprocess.run([sys.executable, "-m", "tsuc.tools.cli", "inspect", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "conv1:" in out.stdout and "| + relu" in out.stdout
    assert "| + residual L1, relu" in out.stdout


def test_artifacts_are_byte_identical_across_compiles(tmp_path):
    model, _ = resnet_block(out_channels=12, batch=None)
    for name in ("a", "b"):
        tsuc.compile(model, target="tfmbs", output=str(tmp_path / f"{name}.tsuc"))
    assert (tmp_path / "a.tsuc").read_bytes() == (tmp_path / "b.tsuc").read_bytes()


def test_verify_all_layers_exposes_intermediates_and_so_folds_nothing(tmp_path):
    from tsuc.compiler.driver import compile_model
    from tsuc.tools.verify import verify_model

    model, _ = resnet_block()
    path = str(tmp_path / "b.onnx")
    onnx.save(model, path)
    exe = compile_model(path, target="tfmbs", expose_all=True)
    assert ("host", "onnx") in _segments(exe) and all("post" not in e for e in _layers(exe))
    report = verify_model(path, "tfmbs", {}, {}, {}, 0, 10.0, 100.0, True)
    assert report.ok, report.failure
    assert "all 6 intermediate tensors match" in report.lines[-1]
    strict = verify_model(path, "tfmbs", {}, {}, {}, 0, 1e-3, 1e-3, True)
    assert not strict.ok and "first divergence at node 'conv1'" in strict.failure


# -- the artifact: version 3, the post checked at load ---------------------------------------------


def _rewrite(src, dst, edit):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "manifest.json":
                m = json.loads(data)
                edit(m)
                data = json.dumps(m).encode()
            zout.writestr(item, data)


@pytest.mark.parametrize("case", ["version2", "later", "unknown", "shape", "malformed"])
def test_a_bad_post_or_an_old_artifact_is_refused_in_one_sentence(case, tmp_path):
    model, _ = resnet_block(out_channels=12)
    x = rand((2, 8, 6, 6), 1)
    if case == "shape":  # two layers of different output shapes
        nodes = [helper.make_node("Gemm", ["x", "w1"], ["h"], transB=1), helper.make_node("Gemm", ["h", "w2"], ["y"], transB=1)]
        model, x = one_graph_model(nodes, {"w1": rand((6, 4), 1), "w2": rand((3, 6), 2)}, [2, 4], [2, 3]), rand((2, 4), 3)
    src = tmp_path / "b.tsuc"
    tsuc.compile(model, target="tfmbs", output=str(src))

    def edit(m):
        cfg = m["segments"][0]["config"]
        layers = cfg["layers"]
        if case == "version2":
            cfg["version"] = 2
        elif case == "later":
            layers[1]["post"] = {"residual": "L2", "relu": False}
        elif case == "unknown":
            layers[2]["post"]["residual"] = "arg7"
        elif case == "shape":
            layers[1]["post"] = {"residual": "L0", "relu": False}
        else:
            layers[2]["post"] = {"residual": "L1"}

    _rewrite(src, tmp_path / "bad.tsuc", edit)
    with pytest.raises(ArtifactError) as err:
        tsuc.load(str(tmp_path / "bad.tsuc")).run({"x": x})
    msg = str(err.value)
    assert "\n" not in msg
    want = {"version2": "config version 2; this runtime reads version 3", "later": "not available before it",
            "unknown": "not available before it", "shape": "of another shape", "malformed": "malformed"}[case]
    assert want in msg, msg


def test_a_residual_of_another_run_time_shape_is_one_sentence():
    """Two dynamic batches that differ at run time: the folded Add refuses, as the host Add would."""
    nodes = [helper.make_node("Gemm", ["x", "w"], ["h"], transB=1, name="fc"),
             helper.make_node("Add", ["h", "z"], ["y"], name="add")]
    w = rand((4, 4), 9)
    graph = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["b", 4]),
                                           helper.make_tensor_value_info("z", onnx.TensorProto.FLOAT, ["b", 4])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["b", 4])],
                              [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    exe = tsuc.compile(model, target="tfmbs")
    assert _segments(exe) == [("tfmbs", "tfmbs")] and _layers(exe)[0]["post"] == {"residual": "arg1", "relu": False}
    x, z = rand((2, 4), 10), rand((2, 4), 11)
    np.testing.assert_array_equal(exe.run({"x": x, "z": z})["y"], ref.add(ref.linear(x, w, None), z))
    with pytest.raises(TsucError, match="adds a residual of shape"):
        exe.run({"x": x, "z": rand((3, 4), 12)})


def test_gemm_batchnorm_relu_on_rank_2_folds_and_a_rank_3_matmul_batchnorm_does_not():
    from .models import batchnorm_params

    w, bias = rand((6, 5), 13), rand((6,), 14)
    bn = batchnorm_params(6, 15)
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"], transB=1, alpha=0.5, name="fc"),
             helper.make_node("BatchNormalization", ["h", "g", "be", "m", "v"], ["n"], epsilon=1e-3, name="bn"),
             helper.make_node("Relu", ["n"], ["y"], name="relu")]
    model = one_graph_model(nodes, {"w": w, "b": bias, **dict(zip(("g", "be", "m", "v"), bn))}, ["b", 5], ["b", 6])
    exe = tsuc.compile(model, target="tfmbs", options={"w_planes": 2})
    assert _segments(exe) == [("tfmbs", "tfmbs")] and _layers(exe)[0]["post"] == {"residual": None, "relu": True}
    x = rand((3, 5), 16)
    from tsuc.targets.tfmbs.quantize import quantize_weights

    trits, scales = quantize_weights(w, "twn", 2)
    scales, folded = ref.fold_batchnorm(scales, bias, *bn, float(np.float32(1e-3)))
    expect = ref.relu(ref.linear_quantized(x, trits, scales, folded, 5, alpha=float(np.float32(0.5))))
    np.testing.assert_array_equal(exe.run({"x": x})["y"], expect)
    # MatMul over [B, T, K]: BatchNormalization's channel axis 1 is T, not the output channels
    w3 = rand((5, 3), 17)
    bn3 = batchnorm_params(4, 18)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
             helper.make_node("BatchNormalization", ["h", "g", "be", "m", "v"], ["y"], name="bn")]
    model = one_graph_model(nodes, {"w": w3, **dict(zip(("g", "be", "m", "v"), bn3))}, [2, 4, 5], [2, 4, 3])
    exe = tsuc.compile(model, target="tfmbs")
    assert _segments(exe) == [("tfmbs", "tfmbs"), ("host", "onnx")]
