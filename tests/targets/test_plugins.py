"""Targets and executors are plugins: a toy target from the test tree, found through entry points.

`tests/plugins/` holds a separate "distribution" (`toy_plugin-0.1.dist-info` with its
`entry_points.txt`, and the package `tsuc_toy`); putting that folder on the path is all it
takes for tsuc to list, compile for and run the toy target, with no change to tsuc.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import tsuc
from tsuc.runtime import executors
from tsuc.targets import registry

PLUGINS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "plugins")


@pytest.fixture
def toy_installed(monkeypatch):
    monkeypatch.syspath_prepend(PLUGINS)
    registry.refresh()
    executors.refresh()
    yield
    monkeypatch.undo()
    registry.refresh()
    executors.refresh()


def test_entry_points_list_builtin_targets_and_executors():
    from importlib.metadata import entry_points

    assert {"cpu", "tfmbs", "tsu"} <= {ep.name for ep in entry_points(group="tsuc.targets")}
    assert {"onnx", "tfmbs", "tsu-ising", "tsu-sample"} <= {ep.name for ep in entry_points(group="tsuc.executors")}


def test_toy_plugin_compiles_and_runs(toy_installed, tiny_model, tmp_path):
    assert "toy" in registry.available_targets()
    out = tmp_path / "toy.tsuc"
    exe = tsuc.compile(tiny_model, target="toy", output=str(out), input_shapes={"x": [2, 4]}, options={"lanes": 4})
    assert [(s["target"], s["kind"]) for s in exe.manifest["segments"]] == [("host", "onnx"), ("toy", "toy-relu")]
    assert exe.manifest["targets"] == [{"name": "toy", "options": {"lanes": 4}}]
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    y = exe.run({"x": x}, **{"toy.cycles_per_vector": 3})["y"]
    ref = tsuc.compile(tiny_model, target="cpu", input_shapes={"x": [2, 4]}).run({"x": x})["y"]
    np.testing.assert_array_equal(y, ref)
    prof = exe.profile()
    assert prof["by_target"]["toy"]["cycles"] == 2 * 3  # 6 elements / 4 lanes -> 2 vectors x 3 cycles


def test_toy_plugin_from_the_cli(tiny_model, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([PLUGINS, os.environ.get("PYTHONPATH", "")]))

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "tsuc.tools.cli", *args], capture_output=True, text=True, env=env)

    proc = cli("targets", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["toy"]["options"][0]["name"] == "lanes"
    art = str(tmp_path / "t.tsuc")
    proc = cli("compile", tiny_model, "--target", "toy{lanes=2}", "--input-shape", "x=2x4", "-o", art)
    assert proc.returncode == 0, proc.stderr
    proc = cli("run", art, "--random-inputs", "--param", "cycles_per_vector=2", "--profile")
    assert proc.returncode == 0, proc.stderr
    assert "toy total: segments=1" in proc.stdout and "cycles=6" in proc.stdout


def test_missing_dependency_names_the_extra(toy_installed, monkeypatch):
    import tsuc_toy

    monkeypatch.setattr(tsuc_toy.ToyTarget, "requires", ("a_module_that_is_not_installed",))
    monkeypatch.setattr(tsuc_toy.ToyTarget, "extra", "toy")
    registry.refresh()
    entry = next(e for e in registry.installed_targets() if e.name == "toy")
    assert entry.cls is None and "pip install 'tsuc[toy]'" in entry.problem
    with pytest.raises(tsuc.TsucError, match="needs a_module_that_is_not_installed"):
        tsuc.compile("unused.onnx", target="toy")
