"""Python API: run, call, signatures, profile, torch in/out, and the import boundary."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest

import tsuc
from tsuc.errors import TsucError


def _reference(path, x):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


def test_run_matches_onnxruntime(tiny_model):
    exe = tsuc.compile(tiny_model, target="cpu", input_shapes={"x": [2, 4]})
    x = np.random.default_rng(3).standard_normal((2, 4)).astype(np.float32)
    out = exe.run({"x": x})["y"]
    np.testing.assert_allclose(out, _reference(tiny_model, x), rtol=1e-6)
    np.testing.assert_allclose(exe(x), out)
    assert [s.name for s in exe.inputs] == ["x"] and exe.inputs[0].shape == (2, 4)
    prof = exe.profile()
    assert prof["segments"][0]["kind"] == "onnx" and prof["total"]["host_ms"] > 0


def test_dynamic_batch_kept_when_not_fixed(tiny_model):
    exe = tsuc.compile(tiny_model, target="cpu")
    assert exe.inputs[0].shape == (None, 4)
    for n in (1, 5):
        x = np.ones((n, 4), np.float32)
        assert exe(x).shape == (n, 3)


def test_torch_in_torch_out(tiny_model):
    torch = pytest.importorskip("torch")
    exe = tsuc.compile(tiny_model, target="cpu", input_shapes={"x": [2, 4]})
    x = torch.randn(2, 4)
    y = exe(x)
    assert isinstance(y, torch.Tensor)
    np.testing.assert_allclose(y.numpy(), _reference(tiny_model, x.numpy()), rtol=1e-6)


def test_bad_inputs_are_one_sentence(tiny_model):
    exe = tsuc.compile(tiny_model, target="cpu", input_shapes={"x": [2, 4]})
    with pytest.raises(TsucError, match="input 'x' has shape 3x4, expected 2x4"):
        exe.run({"x": np.ones((3, 4), np.float32)})
    with pytest.raises(TsucError, match="missing"):
        exe.run({})
    with pytest.raises(TsucError, match="unknown input"):
        exe.run({"x": np.ones((2, 4), np.float32), "z": 1})
    with pytest.raises(TsucError, match="unknown run parameter"):
        exe.run({"x": np.ones((2, 4), np.float32)}, sweeps=3)


def test_runtime_does_not_import_the_compiler():
    code = ("import sys, tsuc, tsuc.runtime, tsuc.runtime.host, tsuc.runtime.executors;"
            "import importlib.util as u;"
            "[importlib.import_module(m) for m in ('tsuc.runtime.tfmbs.executor','tsuc.runtime.tsu.executor') if u.find_spec(m)] if (importlib:=__import__('importlib')) else None;"
            "bad=[m for m in sys.modules if m.startswith(('xdsl','tsuc.compiler','tsuc.dialects','tsuc.targets'))];"
            "print(' '.join(bad)); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, f"tsuc.runtime imports the compiler: {proc.stdout} {proc.stderr}"


def test_bernoulli_on_the_host_follows_the_spec(tmp_path):
    """onnxruntime's own Bernoulli is inverted; tsuc's host segments must sample P(1) = p."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Bernoulli", ["p"], ["y"], name="coin")], "g",
                              [helper.make_tensor_value_info("p", TensorProto.FLOAT, [20000])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [20000])])
    path = tmp_path / "coin.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10), str(path))
    exe = tsuc.compile(str(path), target="cpu")
    y = exe.run({"p": np.full(20000, 0.9, np.float32)})["y"]
    assert set(np.unique(y)) <= {0.0, 1.0}
    assert abs(float(y.mean()) - 0.9) < 0.02  # 0.02 is > 9 standard deviations at n = 20000
