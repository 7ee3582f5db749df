"""The xla runtime and tools: XLA parses every emitted module, executables are cached per
artifact, the profile reports the systolic model, a missing jaxlib is one sentence,
`--emit=hlo`, devices, determinism."""

from __future__ import annotations

import builtins
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import helper

import tsuc
from tests.compiler.test_conformance import CASES, LIGHT, _case_id
from tests.targets.xla.models import F, graph_model, rand
from tests.targets.xla.test_lowering import CASES as PATTERN_CASES
from tsuc.errors import ArtifactError
from tsuc.runtime.xla import client
from tsuc.runtime.xla.systolic import gemm_cycles

N = helper.make_node


def _hlo_modules(model) -> list[str]:
    from tsuc.compiler.driver import lower
    from tsuc.targets.registry import get_target

    _m, _n, _p, text = lower(model, [get_target("xla")], emit="hlo")
    assert text is not None
    return ["HloModule" + part for part in text.split("HloModule")[1:]]


def test_xla_parses_every_emitted_module_of_the_pytorch_sets_and_pattern_cases():
    count = 0
    for model in CASES + [PATTERN_CASES[k][0] for k in sorted(PATTERN_CASES)]:
        for text in _hlo_modules(model):
            client.parse_hlo(text)  # raises with XLA's message if it rejects the text
            count += 1
    assert count >= len(CASES)


@pytest.mark.slow
@pytest.mark.parametrize("path", LIGHT, ids=[_case_id(p) for p in LIGHT])
def test_xla_parses_the_light_models(path):
    for text in _hlo_modules(path):
        assert "ENTRY main" in text
        client.parse_hlo(text)


def _conv_model():
    return graph_model([N("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], group=2, name="conv1"), N("Relu", ["c"], ["y"], name="relu1")],
                       {"x": (F, [2, 4, 10, 10])}, {"y": (F, None)}, {"w": rand((6, 2, 3, 3), 1), "b": rand((6,), 2)})


def test_profile_reports_the_systolic_model(tmp_path):
    exe = tsuc.compile(_conv_model(), target="xla", options={"rows": 8, "cols": 4, "dataflow": "os"}, output=str(tmp_path / "m.tsuc"))
    exe.run({"x": rand((2, 4, 10, 10), 3)})
    (seg,) = exe.profile()["segments"]
    conv = next(entry for entry in seg["layers"] if entry["op"] == "convolution")
    assert conv["layer"] == "conv1"
    assert conv["gemm"] == {"batch": 2, "m": 2 * 10 * 10, "k": 2 * 3 * 3, "n": 3}
    assert conv["compute_cycles"] == 2 * int(gemm_cycles(200, 18, 3, 8, 4, "os"))
    assert conv["macs"] == 2 * 200 * 18 * 3
    assert seg["array"] == "8x4 os"
    assert seg["cycles"] == sum(entry["cycles"] for entry in seg["layers"]) == exe.profile()["total"]["cycles"]
    assert seg["energy_j"] > 0 and 0 < seg["utilisation"] <= 1


def test_executables_are_compiled_once_per_artifact(tmp_path, monkeypatch):
    """Two xla segments with the same HLO (a host op between them) share one executable."""
    model = graph_model([N("Relu", ["x"], ["a"]), N("Hardmax", ["a"], ["b"]), N("Relu", ["b"], ["y"])],
                        {"x": (F, [3, 5])}, {"y": (F, None)})
    path = str(tmp_path / "m.tsuc")
    tsuc.compile(model, target="xla", output=path)
    calls = []
    real = client.compile_hlo
    monkeypatch.setattr(client, "compile_hlo", lambda text: calls.append(text) or real(text))
    exe = tsuc.load(path)
    assert [s["target"] for s in exe.manifest["segments"]] == ["xla", "host", "xla"]
    assert len(calls) == 1
    x = rand((3, 5), 4)
    h = np.zeros_like(x)
    h[np.arange(3), np.maximum(x, 0).argmax(1)] = 1
    np.testing.assert_array_equal(exe.run({"x": x})["y"], h)


def test_missing_jaxlib_names_the_extra(tmp_path, monkeypatch):
    path = str(tmp_path / "m.tsuc")
    tsuc.compile(_conv_model(), target="xla", output=path)
    real_import = builtins.__import__

    def no_jax(name, *args, **kwargs):
        if name == "jax" or name.startswith("jax."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_jax)
    client._jax.cache_clear()
    try:
        with pytest.raises(ArtifactError, match=r"needs jax and jaxlib 0\.10\.2, which are not installed \(pip install 'tsuc\[xla\]'\)"):
            tsuc.load(path)
    finally:
        monkeypatch.undo()
        client._jax.cache_clear()


def test_cli_emit_hlo_and_run_profile(tmp_path):
    model = str(tmp_path / "m.onnx")
    onnx.save(_conv_model(), model)
    env_cmd = [sys.executable, "-m", "tsuc.tools.cli"]
    out = subprocess.run(env_cmd + ["compile", model, "--target=xla", "--emit=hlo"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("HloModule xla0") and "ENTRY main" in out.stdout and "convolution(" in out.stdout
    assert len(out.stdout) < 3000  # weights are parameters, never literals
    art = str(tmp_path / "m.tsuc")
    assert subprocess.run(env_cmd + ["compile", model, "--target=xla", "-o", art], capture_output=True).returncode == 0
    run = subprocess.run(env_cmd + ["run", art, "--random-inputs", "--profile"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "compute_cycles=" in run.stdout and "[xla/xla]" in run.stdout
    assert "x128 ws array at 700 MHz:" in run.stdout  # the executor's summary line
    trace = str(tmp_path / "t.json")
    assert subprocess.run(env_cmd + ["run", art, "--random-inputs", "--trace", trace], capture_output=True).returncode == 0
    import json

    events = json.load(open(trace))
    events = events["traceEvents"] if isinstance(events, dict) else events
    assert any(e["name"] == "conv1" for e in events)
    inspect = subprocess.run(env_cmd + ["inspect", art], capture_output=True, text=True)
    assert "XLA HLO module with 1 weight parameters" in inspect.stdout


def test_compiles_are_byte_identical(tmp_path):
    a, b = str(tmp_path / "a.tsuc"), str(tmp_path / "b.tsuc")
    tsuc.compile(_conv_model(), target="xla", output=a)
    tsuc.compile(_conv_model(), target="xla", output=b)
    assert open(a, "rb").read() == open(b, "rb").read()


def test_devices_tell_the_truth():
    names = [d.name for d in tsuc.devices()]
    assert names[:3] == ["host", "xla:cpu", "xla:systolic"]
    systolic = tsuc.devices()[2]
    assert systolic.simulated and not systolic.runs_artifacts
    import jax

    from tsuc.runtime.devices import is_tpu_available

    assert is_tpu_available() == bool([d for d in jax.devices() if d.platform == "tpu"])


def test_runtime_xla_does_not_import_the_compiler():
    code = ("import sys, tsuc.runtime.xla.executor, tsuc.runtime.devices;"
            "bad=[m for m in sys.modules if m.startswith(('xdsl','tsuc.compiler','tsuc.dialects','tsuc.targets'))];"
            "print(' '.join(bad)); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
