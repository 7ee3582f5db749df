"""tfmbs from the command line: compile, inspect (tile map, SRAM, sparsity), run --profile, --trace."""

import json

import numpy as np
import onnx
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from tsuc.tools.cli import main


def _model(path):
    w = np.random.default_rng(0).standard_normal((70, 40)).astype(np.float32)
    graph = helper.make_graph([helper.make_node("Gemm", ["x", "w"], ["h"], transB=1, name="fc"),
                               helper.make_node("Relu", ["h"], ["y"], name="relu")], "m",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 40])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 70])],
                              [numpy_helper.from_array(w, "w")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_cli_tour(tmp_path):
    src, art, trace = str(tmp_path / "m.onnx"), str(tmp_path / "m.tsuc"), str(tmp_path / "t.json")
    _model(src)
    runner = CliRunner()
    r = runner.invoke(main, ["compile", src, "--target", "tfmbs", "-o", art, "--option", "act_trits=2"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["inspect", art])
    assert r.exit_code == 0, r.output
    assert "fabric: 4 tiles x 15 lanes" in r.output and "Bank A (this segment): 80 resident words per tile" in r.output
    assert "fc: N=70 K=40 w_planes=1 act_trits=2 | resident @ word 0 | 2 group(s) x 1 chunk(s), 4 frames/row, tile masks 0xf,0x1" in r.output
    r = runner.invoke(main, ["run", art, "--random-inputs", "--profile", "--trace", trace])
    assert r.exit_code == 0, r.output
    assert "burst_wait_cycles" in r.output and "utilization" in r.output and "energy_j" in r.output
    data = json.load(open(trace))
    events = data["traceEvents"] if isinstance(data, dict) else data
    frames = [e for e in events if e.get("cat") == "tfmbs.frame"]
    # 2 rows x 2 trits x 2 groups = 8 frames; group 0 spans tiles 0-3, group 1 tile 0
    assert len(frames) == 2 * 2 * (4 + 1)
    assert sorted({e["tid"] for e in frames}) == [0, 1, 2, 3]
    assert any(e.get("cat") == "tfmbs.dma" for e in events)
    r = runner.invoke(main, ["compile", src, "--target", "tfmbs", "--emit", "linalg"])
    assert r.exit_code == 0 and "linalg.matmul" in r.output and "telemetry" in r.output
    r = runner.invoke(main, ["compile", src, "--target", "tfmbs", "--option", "w_planes=9"])
    assert r.exit_code == 1 and "w_planes" in r.output
