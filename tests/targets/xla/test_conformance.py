"""Conformance of the xla target: the onnx package's model sets and torch-exported models.

`light/` models get random weights (as the cpu benchmark does: the shipped files fill every
weight with one constant, which hides layout and indexing bugs) and are compared with
onnxruntime on the same file; at least 95% of each model's ops must run on xla.
`pytorch-converted/` and `pytorch-operator/` are compared with their shipped outputs.
"""

from __future__ import annotations

import glob
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import tsuc
from tests.conftest import ONNX_DATA
from tests.compiler.test_conformance import CASES, LIGHT, _case_id, _read_pb

RTOL, ATOL = 1e-3, 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("path", LIGHT, ids=[_case_id(p) for p in LIGHT])
def test_light_models_with_random_weights_match_onnxruntime(path, tmp_path):
    from benchmarks.models import random_weights_model

    model = str(tmp_path / "random.onnx")
    onnx.save(random_weights_model(path), model)
    exe = tsuc.compile(model, target="xla", output=str(tmp_path / "m.tsuc"))
    stats = exe.manifest["op_stats"]
    assert stats["by_target"].get("xla", 0) >= 0.95 * stats["total"], exe.manifest.get("notes")
    rng = np.random.default_rng(0)
    feeds = {s.name: rng.random([d or 1 for d in s.shape], dtype=np.float32) for s in exe.inputs}
    ours = exe.run(feeds)
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    for out, ref in zip(sess.get_outputs(), sess.run(None, feeds)):
        np.testing.assert_allclose(ours[out.name], ref, rtol=RTOL, atol=ATOL, err_msg=out.name)


@pytest.mark.parametrize("path", CASES, ids=[_case_id(p) for p in CASES])
def test_pytorch_cases_match_shipped_outputs(path, tmp_path):
    data_dir = os.path.join(os.path.dirname(path), "test_data_set_0")
    inputs = [_read_pb(p) for p in sorted(glob.glob(os.path.join(data_dir, "input_*.pb")))]
    outputs = [_read_pb(p) for p in sorted(glob.glob(os.path.join(data_dir, "output_*.pb")))]
    exe = tsuc.compile(path, target="xla", output=str(tmp_path / "m.tsuc"))
    ours = exe.run(dict(zip((s.name for s in exe.inputs), inputs)))
    for spec, ref in zip(exe.outputs, outputs):
        np.testing.assert_allclose(ours[spec.name], ref, rtol=RTOL, atol=ATOL, err_msg=spec.name)


def test_pytorch_sets_run_wholly_on_xla():
    """Every op of both sets lowers to hlo."""
    from tsuc.compiler.driver import lower
    from tsuc.compiler.emit import main_function
    from tsuc.targets.registry import get_target
    from tsuc.targets.xla.support import xla_support

    target = get_target("xla")
    left = {}
    for path in CASES:
        module, *_ = lower(path, [target], emit="core")
        for op in main_function(module).body.block.ops:
            if op.name.startswith("onnx.") and op.name != "onnx.Constant" and xla_support(op) is not None:
                left[_case_id(path)] = xla_support(op)
    assert left == {}


_ = ONNX_DATA
