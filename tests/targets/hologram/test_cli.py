"""The hologram target through the CLI, and the runtime without the compiler."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import onnx
from click.testing import CliRunner
from onnx import helper

from tests.targets.hologram.models import make_model
from tsuc.tools.cli import main as cli


def small_model(tmp_path) -> str:
    nodes = [helper.make_node("Mul", ["x", "one"], ["m"]), helper.make_node("Relu", ["m"], ["r"]),
             helper.make_node("Softmax", ["r"], ["y"], axis=-1)]
    path = str(tmp_path / "small.onnx")
    onnx.save(make_model(nodes, [("x", [2, 8])], [("y", [2, 8])], [("one", np.ones(8, np.float32))]), path)
    return path


def test_compile_run_profile_and_targets(tmp_path):
    runner = CliRunner()
    model = small_model(tmp_path)
    out = str(tmp_path / "small.tsuc")
    res = runner.invoke(cli, ["compile", model, "--target", "hologram", "-o", out, "--option", "vector_lanes=32"])
    assert res.exit_code == 0, res.output
    prof = str(tmp_path / "p.json")
    res = runner.invoke(cli, ["run", out, "--random-inputs", "--profile-json", prof, "--output-dir", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    with open(prof) as f:
        seg = json.load(f)["segments"][0]
    assert seg["kernels"] == 1 and seg["ops_original"] == 3 and seg["ops_canonical"] == 2 and seg["reduction_pct"] > 33
    assert seg["cycles"] > 0 and seg["energy_j"] > 0
    res = runner.invoke(cli, ["targets"])
    assert "hologram" in res.output and "vector_lanes" in res.output
    res = runner.invoke(cli, ["compile", model, "--target", "hologram", "--option", "vector_lanes=12"])
    assert res.exit_code == 1 and "power of two" in res.output
    res = runner.invoke(cli, ["compile", model, "--target", "hologram", "--emit", "lowered"])
    assert "hologram.kernel" in res.output and "#hologram.pages<" in res.output


def test_runtime_runs_a_hologram_artifact_without_the_compiler(tmp_path):
    import tsuc

    path = str(tmp_path / "small.tsuc")
    tsuc.compile(small_model(tmp_path), target="hologram", output=path)
    code = ("import sys, numpy as np, tsuc.runtime as r; exe = r.load(sys.argv[1]);"
            "exe.run({'x': np.ones((2, 8), np.float32)});"
            "bad=[m for m in sys.modules if m.startswith(('xdsl','tsuc.compiler','tsuc.dialects','tsuc.targets'))];"
            "print(' '.join(bad)); sys.exit(1 if bad else 0)")
    env = dict(os.environ)
    proc = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
