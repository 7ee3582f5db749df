"""DLPack inputs without copies, `tsuc run --plot`, `tsuc verify` on every target naming the
first diverging node, and `python -m tsuc`."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import tsuc
from tests.tools.models import relu_mlp
from tsuc.targets.registry import available_targets
from tsuc.tools.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY_GSET = os.path.join(ROOT, "tests", "targets", "tsu", "data", "tiny.txt")


@pytest.fixture
def mlp(tmp_path):
    return relu_mlp(str(tmp_path / "mlp.onnx"), seed=3)


def test_dlpack_input_shares_memory_with_the_torch_tensor(mlp):
    """The executor receives the torch tensor's own buffer: same address, and a write to the
    tensor is seen through the array the executor got."""
    torch = pytest.importorskip("torch")
    exe = tsuc.compile(mlp, target="tfmbs")
    first = exe.executors[0]
    seen = {}
    original = first.run

    def spy(feeds, params):
        seen.update(feeds)
        return original(feeds, params)

    first.run = spy
    x = torch.randn(3, 16)
    out = exe.run({"x": x})
    arr = seen["x"]
    assert arr.__array_interface__["data"][0] == x.data_ptr()
    assert np.shares_memory(arr, x.numpy())
    x[0, 0] = 123.0
    assert arr[0, 0] == 123.0
    assert isinstance(out["y"], torch.Tensor)
    # a non-contiguous tensor is made contiguous (one copy), never misread
    xt = torch.randn(16, 3).t()
    np.testing.assert_array_equal(np.asarray(exe.run({"x": xt})["y"]), np.asarray(exe.run({"x": xt.contiguous().numpy()})["y"]))


def test_run_plot_for_the_fabric_and_the_pbit_machine(mlp, tmp_path):
    runner = CliRunner()
    art = str(tmp_path / "m.tsuc")
    assert runner.invoke(main, ["compile", mlp, "--target", "tfmbs", "-o", art]).exit_code == 0
    png = str(tmp_path / "fabric.png")
    res = runner.invoke(main, ["run", art, "--random-inputs", "--plot", png, "--trace", str(tmp_path / "t.json")])
    assert res.exit_code == 0, res.output
    assert f"wrote the timeline plot to {png}" in res.output
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(png) > 20_000
    art2 = str(tmp_path / "g.tsuc")
    assert runner.invoke(main, ["compile", TINY_GSET, "--target", "tsu", "-o", art2]).exit_code == 0
    png2 = str(tmp_path / "tsu.png")
    res = runner.invoke(main, ["run", art2, "--param", "reads=8", "--param", "sweeps=20", "--plot", png2])
    assert res.exit_code == 0, res.output
    assert os.path.getsize(png2) > 10_000
    res = runner.invoke(main, ["run", art2, "--plot", str(tmp_path / "nowhere" / "x.png")])
    assert res.exit_code == 1 and "does not exist" in res.output


def test_plot_panels_follow_the_trace(mlp):
    """One device panel per simulated device, one row per tile track, a read-energy panel for
    a p-bit segment."""
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from tsuc.tools import plot

    saved = []
    real_savefig = plt.Figure.savefig

    def capture(fig, path, *a, **k):
        saved.append([ax.get_yticks().size for ax in fig.axes])
        return real_savefig(fig, path, *a, **k)

    exe = tsuc.compile(mlp, target="tfmbs", options={"tiles": 3})
    outs = exe.run({"x": np.ones((3, 16), np.float32)})
    plt.Figure.savefig = capture
    try:
        plot.plot_timeline(exe, outs, "/tmp/_tsuc_plot_test.png")
        ising = tsuc.compile(TINY_GSET, target="tsu")
        outs = ising.run({}, reads=4, sweeps=10)
        plot.plot_timeline(ising, outs, "/tmp/_tsuc_plot_test.png")
    finally:
        plt.Figure.savefig = real_savefig
        if os.path.exists("/tmp/_tsuc_plot_test.png"):
            os.unlink("/tmp/_tsuc_plot_test.png")
    assert len(saved[0]) == 2 and saved[0][1] == 3 + 1  # segments; 3 tiles + DMA
    assert len(saved[1]) == 2  # segments; read energies


@pytest.mark.parametrize("target", sorted(set(available_targets()) | {"tfmbs,tsu"}))
def test_verify_on_every_target(mlp, target):
    runner = CliRunner()
    res = runner.invoke(main, ["verify", mlp, "--target", target])
    if "tfmbs" in target:  # quantised: diverges at the first fabric layer, and says so
        assert res.exit_code == 1
        assert "first divergence at node 'fc1' (MatMul)" in res.output
        assert res.output.count("error:") == 1
        loose = runner.invoke(main, ["verify", mlp, "--target", target, "--option", "w_planes=8", "--rtol", "0.5",
                                     "--atol", "0.5"])
        assert loose.exit_code == 0, loose.output
    else:
        assert res.exit_code == 0, res.output
        assert "1 output(s) match onnxruntime" in res.output


def test_python_dash_m_tsuc(mlp, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in [os.path.dirname(ROOT), os.environ.get("PYTHONPATH", "")] if p))
    res = subprocess.run([sys.executable, "-m", "tsuc", "--version"], check=False, env=env, capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.startswith("tsuc, version"), res.stderr
    res = subprocess.run([sys.executable, "-m", "tsuc", "inspect", str(tmp_path / "missing.tsuc")], check=False, env=env,
                         capture_output=True, text=True)
    assert res.returncode == 1 and res.stderr.startswith("error: ")
    res = subprocess.run([sys.executable, "-m", "tsuc", "--help"], check=False, env=env, capture_output=True, text=True)
    assert res.returncode == 0 and "Usage: tsuc" in res.stdout and "sweep" in res.stdout
