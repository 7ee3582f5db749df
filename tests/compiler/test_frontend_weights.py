"""The frontend's fast paths keep results: weight stubs through onnx's version converter and
shape inference, weights mapped from the file, and verification that skips unchanged ops."""

from __future__ import annotations

import os

import numpy as np
import onnx
import onnx.shape_inference
import onnx.version_converter
import pytest
from onnx import TensorProto, helper, numpy_helper

import tsuc
from tsuc.compiler.frontends import onnx_import
from tsuc.compiler.frontends.onnx_import import MIN_OPSET, import_model, load_onnx, prepare
from tsuc.errors import TsucError

ONNX_DATA = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")


def _cnn(opset: int, seed: int = 0) -> onnx.ModelProto:
    """Conv(16x8x3x3) + BatchNorm + Relu -> Reshape(by a shape initializer) -> Gemm(1000x512); old ops
    to convert at opset 9 (BatchNormalization, Reshape's shape as an initializer)."""
    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(rng.standard_normal((16, 8, 3, 3)).astype(np.float32), "conv.w"),
             numpy_helper.from_array(np.abs(rng.standard_normal(16)).astype(np.float32) + 0.5, "bn.s"),
             numpy_helper.from_array(rng.standard_normal(16).astype(np.float32), "bn.b"),
             numpy_helper.from_array(rng.standard_normal(16).astype(np.float32), "bn.m"),
             numpy_helper.from_array(np.abs(rng.standard_normal(16)).astype(np.float32) + 0.5, "bn.v"),
             numpy_helper.from_array(np.array([1, 512], np.int64), "shape"),
             numpy_helper.from_array(rng.standard_normal((1000, 512)).astype(np.float32), "fc.w"),
             numpy_helper.from_array(rng.standard_normal(1000).astype(np.float32), "fc.b")]
    nodes = [helper.make_node("Conv", ["x", "conv.w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("BatchNormalization", ["c", "bn.s", "bn.b", "bn.m", "bn.v"], ["n"], name="bn"),
             helper.make_node("Relu", ["n"], ["r"], name="relu"),
             helper.make_node("Reshape", ["r", "shape"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "fc.w", "fc.b"], ["y"], transB=1, name="fc")]
    graph = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 8, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1000])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    return model


def _reference_prepare(model: onnx.ModelProto) -> onnx.ModelProto:
    """What the frontend did before it stripped weights: convert and infer the whole model."""
    converted = onnx.version_converter.convert_version(model, MIN_OPSET)
    return onnx.shape_inference.infer_shapes(converted, data_prop=True)


def _shapes(model: onnx.ModelProto) -> dict[str, str]:
    return {vi.name: vi.type.SerializeToString().hex() for vi in list(model.graph.value_info) + list(model.graph.output)}


def test_stripped_conversion_and_inference_match_the_whole_model():
    model = _cnn(9)
    ours = prepare(model, "m")
    ref = _reference_prepare(model)
    assert [o.version for o in ours.opset_import] == [MIN_OPSET]
    assert [(n.op_type, list(n.input), list(n.output)) for n in ours.graph.node] == \
           [(n.op_type, list(n.input), list(n.output)) for n in ref.graph.node]
    assert _shapes(ours) == _shapes(ref) and _shapes(ours)["f"]  # the Reshape read its (small) shape initializer
    ref_inits = {t.name: numpy_helper.to_array(t) for t in ref.graph.initializer}
    ours_inits = {t.name: numpy_helper.to_array(t) for t in ours.graph.initializer}
    assert ours_inits.keys() == ref_inits.keys()
    for name, value in ref_inits.items():
        np.testing.assert_array_equal(ours_inits[name], value)
    # the caller's model is not touched
    assert model.opset_import[0].version == 9 and len(model.graph.initializer) == 8
    assert all(t.data_location == TensorProto.DEFAULT for t in model.graph.initializer)


def test_large_initializers_travel_as_stubs_and_small_ones_whole(monkeypatch):
    seen = []
    real = onnx.version_converter.convert_version

    def spy(model, target):
        seen.append({t.name: (t.data_location, len(t.raw_data)) for t in model.graph.initializer})
        return real(model, target)

    monkeypatch.setattr(onnx.version_converter, "convert_version", spy)
    prepare(_cnn(9), "m")
    assert len(seen) == 1  # the stripped model converted, no second try
    stubbed = {name for name, (loc, size) in seen[0].items() if loc == TensorProto.EXTERNAL and size == 0}
    assert stubbed == {"conv.w", "fc.w"}  # 1152 and 512000 elements; the rest are under STUB_ELEMENTS


def test_no_version_conversion_at_or_above_min_opset(monkeypatch):
    calls = []
    monkeypatch.setattr(onnx.version_converter, "convert_version", lambda *a: calls.append(a))
    module = import_model(_cnn(MIN_OPSET))
    assert calls == [] and module is not None


def test_a_stub_that_inference_needs_falls_back_to_the_whole_model(monkeypatch):
    """With every initializer a stub, Reshape's shape cannot be read from the stripped model:
    strict inference fails there and the whole model gives the same shapes as before."""
    monkeypatch.setattr(onnx_import, "STUB_ELEMENTS", 1)
    model = _cnn(9)
    assert _shapes(prepare(model, "m")) == _shapes(_reference_prepare(model))


def test_weights_are_views_of_the_mapped_file(tmp_path):
    model = _cnn(MIN_OPSET)
    path = str(tmp_path / "m.onnx")
    onnx.save(model, path)
    light, weights = onnx_import._load_light(path)
    assert set(weights) == {"conv.w", "fc.w"}
    for tensor in model.graph.initializer:
        if tensor.name in weights:
            array = weights[tensor.name]
            assert not array.flags.writeable and not array.flags.owndata
            np.testing.assert_array_equal(array, numpy_helper.to_array(tensor))
    # the stripped model is the one `_split_weights` makes from the loaded file
    assert light.SerializeToString() == onnx_import._split_weights(load_onnx(path))[0].SerializeToString()


def test_mapped_and_ordinary_loads_compile_to_identical_artifacts(tmp_path):
    model = _cnn(9)
    path = str(tmp_path / "m.onnx")
    onnx.save(model, path)
    a, b = str(tmp_path / "a.tsuc"), str(tmp_path / "b.tsuc")
    tsuc.compile(path, target="tfmbs", output=a)
    tsuc.compile(load_onnx(path), target="tfmbs", output=b)  # a ModelProto: no mapping
    with open(a, "rb") as fa, open(b, "rb") as fb:
        da, db = fa.read(), fb.read()
    # the manifests differ in provenance (file name and hash vs "<ModelProto>"); every other member is the same
    import zipfile

    with zipfile.ZipFile(a) as za, zipfile.ZipFile(b) as zb:
        names = [n for n in za.namelist() if n != "manifest.json"]
        assert names == [n for n in zb.namelist() if n != "manifest.json"]
        for n in names:
            assert za.read(n) == zb.read(n), n
    assert da != db


def test_unusual_encodings_fall_back_to_the_ordinary_load(tmp_path):
    """float_data instead of raw_data, a graph field given twice, a truncated file."""
    w = np.arange(2048, dtype=np.float32).reshape(32, 64) / 100
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])],
                              initializer=[helper.make_tensor("W", TensorProto.FLOAT, [32, 64], w.ravel().tolist())])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", MIN_OPSET)])
    path = str(tmp_path / "floats.onnx")
    onnx.save(model, path)
    light, weights = onnx_import._load_light(path)
    assert weights == {}  # no raw_data to map: the tensor stays whole in the model
    np.testing.assert_array_equal(numpy_helper.to_array(light.graph.initializer[0]), w)
    x = np.ones((1, 32), np.float32)
    np.testing.assert_allclose(tsuc.compile(path, target="cpu")(x), x @ w, rtol=1e-6)

    data = open(path, "rb").read()
    twice = str(tmp_path / "twice.onnx")
    with open(twice, "wb") as f:  # protobuf merges a repeated message field; the walker leaves it to protobuf
        f.write(data + onnx.ModelProto(graph=helper.make_graph([], "", [], [])).SerializeToString())
    np.testing.assert_allclose(tsuc.compile(twice, target="cpu")(x), x @ w, rtol=1e-6)

    truncated = str(tmp_path / "truncated.onnx")
    with open(truncated, "wb") as f:
        f.write(data[: len(data) - 100])
    with pytest.raises(TsucError, match="not an ONNX model"):
        tsuc.compile(truncated, target="cpu")


def test_both_loads_import_identically(tmp_path):
    """The printed IR, weights included, of a file read through the mapping and of the same
    model handed over as a ModelProto: a converted model with mapped weights, and a zoo model."""
    from tsuc.compiler.driver import print_ir

    path = str(tmp_path / "cnn.onnx")
    onnx.save(_cnn(9), path)
    mapped = print_ir(import_model(path))
    assert "dialect_resources" in mapped and "conv.w" in mapped
    assert mapped == print_ir(import_model(load_onnx(path)))
    zoo = os.path.join(ONNX_DATA, "light", "light_squeezenet.onnx")
    assert print_ir(import_model(zoo)) == print_ir(import_model(load_onnx(zoo)))
