"""The CLI: each command end to end, and every bad input ends in one line and exit 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest


def tsuc(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tsuc.tools.cli", *args], capture_output=True, text=True, cwd=cwd)


def assert_one_line_error(proc: subprocess.CompletedProcess, needle: str) -> None:
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert needle in lines[0], lines[0]
    assert "Traceback" not in proc.stderr


def test_compile_run_inspect(tiny_model, tmp_path):
    art = str(tmp_path / "t.tsuc")
    proc = tsuc("compile", tiny_model, "--target=cpu", "-o", art, "--input-shape", "x=2x4")
    assert proc.returncode == 0, proc.stderr
    x = np.ones((2, 4), np.float32)
    np.save(tmp_path / "x.npy", x)
    out_dir = tmp_path / "outs"
    proc = tsuc("run", art, "--input", f"x={tmp_path / 'x.npy'}", "--output-dir", str(out_dir), "--profile",
                "--profile-json", str(tmp_path / "p.json"), "--trace", str(tmp_path / "t.json"))
    assert proc.returncode == 0, proc.stderr
    assert (out_dir / "y.npy").exists() and "profile (targets cpu)" in proc.stdout
    assert json.loads((tmp_path / "p.json").read_text())["segments"][0]["kind"] == "onnx"
    assert "traceEvents" in json.loads((tmp_path / "t.json").read_text())
    proc = tsuc("run", art, "--random-inputs", "--seed", "3")
    assert proc.returncode == 0 and "y: float32[2, 3]" in proc.stdout
    proc = tsuc("inspect", art)
    assert proc.returncode == 0 and "host0 [host/onnx]" in proc.stdout
    proc = tsuc("inspect", art, "--json")
    assert json.loads(proc.stdout)["targets"] == [{"name": "cpu", "options": {}}]


def test_emit_stages(tiny_model):
    proc = tsuc("compile", tiny_model, "--emit", "core")
    assert proc.returncode == 0 and '"onnx.MatMul"' in proc.stdout
    proc = tsuc("compile", tiny_model, "--emit", "partitioned")
    assert 'tsuc.segment "host0" target #tsuc.target<"host">' in proc.stdout
    assert_one_line_error(tsuc("compile", tiny_model, "--emit", "nonsense"), "is not a stage")


def test_verify(tiny_model):
    proc = tsuc("verify", tiny_model, "--target", "cpu", "--input-shape", "x=2x4")
    assert proc.returncode == 0 and "match onnxruntime" in proc.stdout
    proc = tsuc("verify", tiny_model, "--target", "cpu", "--input-shape", "x=2x4", "--all-layers")
    assert proc.returncode == 0 and "intermediate tensors match" in proc.stdout


def test_targets_lists_options():
    proc = tsuc("targets")
    assert proc.returncode == 0 and "cpu:" in proc.stdout and "tfmbs.w_planes=1:" in proc.stdout
    assert "fallback=host (one of host, error)" in proc.stdout


def test_random_bytes_as_model(tmp_path):
    bad = tmp_path / "noise.onnx"
    bad.write_bytes(os.urandom(2048))
    assert_one_line_error(tsuc("compile", str(bad)), "not an ONNX model")


def test_truncated_artifact(tiny_model, tmp_path):
    art = tmp_path / "t.tsuc"
    assert tsuc("compile", tiny_model, "-o", str(art)).returncode == 0
    art.write_bytes(art.read_bytes()[:700])
    assert_one_line_error(tsuc("run", str(art), "--random-inputs"), "t.tsuc")


def test_op_the_target_cannot_run(tiny_model):
    assert_one_line_error(tsuc("compile", tiny_model, "--option", "fallback=error"), "cannot run on target cpu")


def test_unknown_op_domain(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Magic", ["x"], ["y"], domain="com.example", name="magic")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("com.example", 1)], ir_version=10)
    path = tmp_path / "custom.onnx"
    onnx.save(model, str(path))
    assert_one_line_error(tsuc("compile", str(path)), "com.example")


def test_bad_options_and_params(tiny_model, tmp_path):
    assert_one_line_error(tsuc("compile", tiny_model, "--option", "nope=1"), "unknown option nope")
    assert_one_line_error(tsuc("compile", tiny_model, "--target", "warp"), "unknown target 'warp'")
    art = tmp_path / "t.tsuc"
    assert tsuc("compile", tiny_model, "-o", str(art)).returncode == 0
    assert_one_line_error(tsuc("run", str(art), "--random-inputs", "--param", "sweeps=10"), "unknown run parameter")
    assert_one_line_error(tsuc("run", str(art), "--input", "x=missing.npy"), "no such file")


def test_opt_reads_stdin_and_reports_parse_errors(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tsuc.tools.cli", "opt", "-", "-p", "onnx-dce"],
                          input='builtin.module {\n func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {\n  %r = "onnx.Relu"(%x) : (tensor<2xf32>) -> tensor<2xf32>\n  func.return %r : tensor<2xf32>\n }\n}\n',
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "onnx.Relu" in proc.stdout
    bad = tmp_path / "bad.mlir"
    bad.write_text("builtin.module { %x = \"onnx.Nope\"() : () -> () }")
    proc = tsuc("opt", str(bad))
    assert proc.returncode == 1 and proc.stderr.startswith("error: ")


def test_xdsl_opt_sees_our_passes():
    proc = subprocess.run(["xdsl-opt", "--help"], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip("xdsl-opt not on PATH")
    from xdsl.universe import Universe

    universe = Universe.get_multiverse()
    assert "tsuc-partition" in universe.all_passes and "onnx" in universe.all_dialects


def test_verify_all_layers_names_the_first_diverging_node(tmp_path):
    """A quantising target diverges from float at its first layer; verify must say which."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("quickstart", os.path.join(os.path.dirname(__file__), "..", "..", "examples", "quickstart.py"))
    quickstart = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quickstart)
    model = quickstart.build_cnn(str(tmp_path / "cnn.onnx"))
    proc = tsuc("verify", model, "--target", "tfmbs", "--input-shape", "image=1x3x32x32", "--all-layers")
    assert_one_line_error(proc, "first divergence at node 'conv1' (Conv)")
    proc = tsuc("verify", model, "--target", "cpu", "--input-shape", "image=1x3x32x32", "--all-layers")
    assert proc.returncode == 0, proc.stderr


def test_layers_left_on_the_host_are_noted(tmp_path):
    """A dynamic batch runs on the fabric; a dynamic spatial size keeps a Conv on the host,
    and the user is told which and why."""
    import importlib.util

    import onnx

    spec = importlib.util.spec_from_file_location("quickstart", os.path.join(os.path.dirname(__file__), "..", "..", "examples", "quickstart.py"))
    quickstart = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quickstart)
    model = quickstart.build_cnn(str(tmp_path / "cnn.onnx"))
    proc = tsuc("compile", model, "--target", "tfmbs", "-o", str(tmp_path / "d.tsuc"))
    assert proc.returncode == 0 and "note:" not in proc.stderr
    m = onnx.load(model)
    for i, name in ((2, "h"), (3, "w")):
        m.graph.input[0].type.tensor_type.shape.dim[i].dim_param = name
    onnx.save(m, str(tmp_path / "spatial.onnx"))
    proc = tsuc("compile", str(tmp_path / "spatial.onnx"), "--target", "tfmbs", "-o", str(tmp_path / "s.tsuc"))
    assert proc.returncode == 0
    assert "note: conv1 (Conv) stays on the host: its input channels or spatial size are not static" in proc.stderr
