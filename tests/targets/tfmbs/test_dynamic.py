"""Run-time leading dimensions: a model exported with a dynamic batch runs on the fabric.

The TFD program is per input row, so a compiled layer runs whatever row count arrives:
every dimension of a MatMul/Gemm input but the last, and the batch of a Conv. What must stay
static (K; a Conv's channels and spatial size) is said in the compile note."""

import numpy as np
import pytest
from click.testing import CliRunner
from onnx import helper

import tsuc
from tests.targets.tfmbs import reference as ref
from tests.targets.tfmbs.models import one_graph_model, rand
from tsuc.tools.cli import main


def _torch_mlp_onnx(path):
    torch = pytest.importorskip("torch")
    import contextlib
    import io

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 24), torch.nn.ReLU(), torch.nn.Linear(24, 12), torch.nn.ReLU(),
                                torch.nn.Linear(12, 5)).eval()
    with contextlib.redirect_stdout(io.StringIO()):
        prog = torch.onnx.export(model, (torch.zeros(2, 16),), dynamo=True, input_names=["x"], output_names=["y"],
                                 dynamic_shapes=({0: torch.export.Dim("batch")},))
        prog.save(path)
    return [(lin.weight.detach().numpy(), lin.bias.detach().numpy()) for lin in model if isinstance(lin, torch.nn.Linear)]


def test_torch_export_with_dynamic_batch_runs_every_gemm_on_the_fabric(tmp_path):
    src, art = str(tmp_path / "m.onnx"), str(tmp_path / "m.tsuc")
    weights = _torch_mlp_onnx(src)
    r = CliRunner().invoke(main, ["compile", src, "--target", "tfmbs", "-o", art, "--option", "act_trits=3"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["inspect", art])
    assert r.exit_code == 0, r.output
    assert r.output.count("| input ?x") == 3, r.output  # three fabric layers, batch a run-time value
    exe = tsuc.load(art)
    assert sum(len(s["config"]["layers"]) for s in exe.manifest["segments"] if s["kind"] == "tfmbs") == 3
    for batch in (1, 5, 2):
        x = np.maximum(rand((batch, 16), batch), 0)
        want = x
        for i, (w, b) in enumerate(weights):
            want = ref.linear(want, w, b, act_trits=3)
            if i < 2:
                want = np.maximum(want, np.float32(0))
        np.testing.assert_array_equal(exe.run({"x": x})["y"], want)
        prof = exe.profile()["segments"]
        rows = [layer["rows"] for s in prof if s["kind"] == "tfmbs" for layer in s["layers"]]
        assert rows == [batch] * 3
    replayed = tsuc.load(art).run({"x": x}, mode="replay")["y"]
    np.testing.assert_array_equal(replayed, want)


def test_conv_with_dynamic_batch(tmp_path):
    w, b = rand((6, 3, 3, 3), 1), rand((6,), 2)
    model = one_graph_model([helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="c")],
                            {"w": w, "b": b}, ["n", 3, 7, 7], ["n", 6, 7, 7])
    exe = tsuc.compile(model, target="tfmbs", output=str(tmp_path / "m.tsuc"), options={"act_trits": 2})
    assert [s["kind"] for s in exe.manifest["segments"]] == ["tfmbs"]
    for batch in (1, 3):
        x = rand((batch, 3, 7, 7), 3 + batch)
        np.testing.assert_array_equal(exe.run({"x": x})["y"], ref.conv2d(x, w, b, pads=(1, 1, 1, 1), act_trits=2))


def test_what_must_stay_static_is_said(tmp_path):
    conv = one_graph_model([helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], name="c")],
                           {"w": rand((4, 2, 3, 3), 1)}, ["n", 2, "h", "w"], ["n", 4, "oh", "ow"])
    exe = tsuc.compile(conv, target="tfmbs", output=str(tmp_path / "c.tsuc"))
    assert [s["kind"] for s in exe.manifest["segments"]] == ["onnx"]
    assert any("spatial size are not static" in n and "only the batch may be dynamic" in n for n in exe.manifest["notes"])


def test_wrong_feature_size_is_one_sentence(tmp_path):
    model = one_graph_model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], {"w": rand((8, 3), 1)},
                            ["b", 8], ["b", 3])
    exe = tsuc.compile(model, target="tfmbs", output=str(tmp_path / "m.tsuc"))
    with pytest.raises(tsuc.TsucError):
        exe.run({"x": rand((2, 9), 2)})
