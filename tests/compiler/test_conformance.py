"""Conformance of the cpu target on the model graphs the onnx package ships.

`light/`: real architectures (ResNet-50, DenseNet-121, Inception, ShuffleNet, SqueezeNet,
VGG-19, AlexNet, ZFNet-512) with constant-filled weights; compiled with tsuc and compared on
random inputs with onnxruntime running the original file. `pytorch-converted/` and
`pytorch-operator/`: compared with their shipped input and output `.pb` files.
"""

from __future__ import annotations

import glob
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

import tsuc
from tests.conftest import ONNX_DATA

RTOL, ATOL = 1e-3, 1e-4

LIGHT = sorted(glob.glob(os.path.join(ONNX_DATA, "light", "*.onnx")))
CASES = sorted(glob.glob(os.path.join(ONNX_DATA, "pytorch-converted", "*", "model.onnx"))
               + glob.glob(os.path.join(ONNX_DATA, "pytorch-operator", "*", "model.onnx")))


def _case_id(path: str) -> str:
    return os.path.basename(os.path.dirname(path)) if path.endswith("model.onnx") else os.path.basename(path)[:-5]


def _read_pb(path: str) -> np.ndarray:
    tensor = onnx.TensorProto()
    with open(path, "rb") as f:
        tensor.ParseFromString(f.read())
    return numpy_helper.to_array(tensor)


@pytest.mark.parametrize("path", LIGHT, ids=[_case_id(p) for p in LIGHT])
def test_light_models_match_onnxruntime(path, tmp_path):
    exe = tsuc.compile(path, target="cpu", output=str(tmp_path / "m.tsuc"))
    rng = np.random.default_rng(0)
    feeds = {s.name: rng.random([d or 1 for d in s.shape], dtype=np.float32) for s in exe.inputs}
    ours = exe.run(feeds)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    for name, ref in zip(names, sess.run(None, feeds)):
        np.testing.assert_allclose(ours[name], ref, rtol=RTOL, atol=ATOL, err_msg=name)


@pytest.mark.parametrize("path", CASES, ids=[_case_id(p) for p in CASES])
def test_pytorch_cases_match_shipped_outputs(path, tmp_path):
    data_dir = os.path.join(os.path.dirname(path), "test_data_set_0")
    inputs = [_read_pb(p) for p in sorted(glob.glob(os.path.join(data_dir, "input_*.pb")))]
    outputs = [_read_pb(p) for p in sorted(glob.glob(os.path.join(data_dir, "output_*.pb")))]
    exe = tsuc.compile(path, target="cpu", output=str(tmp_path / "m.tsuc"))
    ours = exe.run(dict(zip((s.name for s in exe.inputs), inputs)))
    assert len(ours) == len(outputs)
    for spec, ref in zip(exe.outputs, outputs):
        np.testing.assert_allclose(ours[spec.name], ref, rtol=RTOL, atol=ATOL, err_msg=spec.name)
