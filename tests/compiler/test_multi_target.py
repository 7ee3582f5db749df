"""Several targets per compile: preference order, one artifact, the runtime runs every segment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import tsuc
from tsuc.errors import ArtifactError, TsucError


def cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "tsuc.tools.cli", *args], capture_output=True, text=True, input=stdin)


def test_tfmbs_and_tsu_in_one_artifact(sampling_mlp, tmp_path):
    exe = tsuc.compile(sampling_mlp, target="tfmbs,tsu", output=str(tmp_path / "s.tsuc"))
    assert [(s["target"], s["kind"]) for s in exe.manifest["segments"]] == [
        ("tfmbs", "tfmbs"), ("host", "onnx"), ("tsu", "tsu-sample"), ("tfmbs", "tfmbs")]
    assert [t["name"] for t in exe.manifest["targets"]] == ["tfmbs", "tsu"]
    x = np.random.default_rng(0).standard_normal((4, 32)).astype(np.float32)
    a = exe.run({"x": x}, seed=5)["y"]
    prof = exe.profile()
    assert prof["by_target"]["tfmbs"]["cycles"] > 0 and prof["by_target"]["tsu"]["spin_updates"] == 4 * 24
    again = tsuc.load(str(tmp_path / "s.tsuc")).run({"x": x}, **{"tsu.seed": 5})["y"]
    np.testing.assert_array_equal(a, again)  # reproducible from the seed, in another load
    other = exe.run({"x": x}, seed=6)["y"]
    assert not np.array_equal(a, other)


def test_no_sampling_op_gives_identical_outputs(small_cnn):
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 8)).astype(np.float32)
    both = tsuc.compile(small_cnn, target=["tfmbs", "tsu"])
    one = tsuc.compile(small_cnn, target="tfmbs")
    assert {s["target"] for s in both.manifest["segments"]} == {"tfmbs", "host"}
    np.testing.assert_array_equal(both.run({"x": x})["y"], one.run({"x": x})["y"])


@pytest.mark.parametrize("target", ["cpu", "tfmbs", "tsu", "xla", "hologram", "tfmbs,tsu", "tfmbs{w_planes=2 tiles=2},tsu",
                                    "tfmbs,hologram"])
def test_opt_replays_the_driver(small_cnn, tmp_path, target):
    pipeline = cli("compile", small_cnn, "--target", target, "--print-pipeline")
    assert pipeline.returncode == 0, pipeline.stderr
    core = cli("compile", small_cnn, "--target", target, "--emit=core")
    replay = cli("opt", "-", "-p", pipeline.stdout.strip(), stdin=core.stdout)
    lowered = cli("compile", small_cnn, "--target", target, "--emit=lowered")
    assert replay.returncode == 0, replay.stderr
    assert replay.stdout == lowered.stdout
    assert "dialect_resources" in lowered.stdout  # the weights travel with the text


def test_options_are_namespaced_and_checked(small_cnn):
    exe = tsuc.compile(small_cnn, target="tfmbs,tsu", options={"tfmbs.w_planes": 2, "reads": 3})
    opts = {t["name"]: t["options"] for t in exe.manifest["targets"]}
    assert opts["tfmbs"]["w_planes"] == 2 and opts["tsu"]["reads"] == 3
    with pytest.raises(TsucError, match=r"option tsu.beta1=inf must be finite"):
        tsuc.compile(small_cnn, target="tfmbs,tsu", options={"beta1": "inf"})
    with pytest.raises(TsucError, match=r"option tfmbs.w_planes=9 must be at most 8"):
        tsuc.compile(small_cnn, target="tfmbs{w_planes=9}")
    with pytest.raises(TsucError, match=r"option tfmbs.tiles=two is not an integer"):
        tsuc.compile(small_cnn, target="tfmbs", options={"tiles": "two"})
    with pytest.raises(TsucError, match=r"unknown option warp \(known:"):
        tsuc.compile(small_cnn, target="tfmbs,tsu", options={"warp": 1})
    with pytest.raises(TsucError, match=r"'xla' is not one of the listed targets"):
        tsuc.compile(small_cnn, target="tfmbs", options={"xla.rows": 1})
    with pytest.raises(TsucError, match=r"option tfmbs.tiles is given twice"):
        tsuc.compile(small_cnn, target="tfmbs", options={"tiles": 2, "tfmbs.tiles": 3})
    with pytest.raises(TsucError, match="given both in the target spec and as an option"):
        tsuc.compile(small_cnn, target="tfmbs{tiles=2}", options={"tfmbs.tiles": 3})


def test_fallback_error_lists_ops_no_listed_target_runs(small_cnn):
    # relu1 folds into conv1's epilogue (tfmbs option fold); without the fold it is listed too
    with pytest.raises(TsucError, match=r"3 op\(s\) cannot run on target tfmbs,tsu \(fallback=error\): pool1"):
        tsuc.compile(small_cnn, target="tfmbs,tsu", options={"fallback": "error"})
    with pytest.raises(TsucError, match=r"4 op\(s\) cannot run on target tfmbs,tsu \(fallback=error\): relu1 \(Relu folds into a "
                                        r"fabric layer only with the option fold=true"):
        tsuc.compile(small_cnn, target="tfmbs,tsu", options={"fallback": "error", "fold": False})


def test_run_parameters_are_namespaced(sampling_mlp):
    exe = tsuc.compile(sampling_mlp, target="tfmbs,tsu")
    x = np.zeros((4, 32), np.float32)
    exe.run({"x": x}, **{"tfmbs.mode": "replay", "tsu.seed": 1})
    with pytest.raises(TsucError, match="unknown run parameter reads"):
        exe.run({"x": x}, reads=3)  # the artifact has no Ising segment
    with pytest.raises(TsucError, match="parameter tsu.seed=-1 must be at least 0"):
        exe.run({"x": x}, seed=-1)


def test_each_executable_owns_its_fabric(small_cnn, tmp_path):
    path = str(tmp_path / "c.tsuc")
    tsuc.compile(small_cnn, target="tfmbs", output=path)
    a, b = tsuc.load(path), tsuc.load(path)
    x = np.ones((2, 3, 8, 8), np.float32)
    a.run({"x": x}, mode="replay")
    a.run({"x": x}, mode="replay")
    assert a.profile()["by_target"]["tfmbs"]["preload_cycles"] == 0  # weights stayed resident in a's fabric
    b.run({"x": x}, mode="replay")
    assert b.profile()["by_target"]["tfmbs"]["preload_cycles"] > 0  # b's fabric starts empty
    assert a.devices and b.devices and not set(map(id, a.devices.values())) & set(map(id, b.devices.values()))


def test_trace_has_every_segment_in_order(sampling_mlp, tmp_path):
    art = str(tmp_path / "s.tsuc")
    assert cli("compile", sampling_mlp, "--target", "tfmbs,tsu", "-o", art).returncode == 0
    proc = cli("run", art, "--random-inputs", "--trace", str(tmp_path / "t.json"))
    assert proc.returncode == 0, proc.stderr
    events = json.loads((tmp_path / "t.json").read_text())["traceEvents"]
    wall = [e for e in events if e.get("pid") == 1 and e["ph"] == "X"]
    sim = [e for e in events if e.get("pid") == 2 and e["ph"] == "X"]
    names = ["tfmbs0", "host1", "tsu2", "tfmbs3"]
    assert [e["name"] for e in wall] == names and [e["name"] for e in sim] == names
    for seq in (wall, sim):
        for before, after in zip(seq, seq[1:]):
            assert after["ts"] >= before["ts"] + before["dur"] - 1e-6
        assert all(e["dur"] > 0 for e in seq)
    assert any(e["ts"] > 0 for e in wall[1:])
    assert any(e.get("cat") == "tfmbs.frame" for e in events)  # the fabric's own tracks


def test_format_1_is_refused_with_the_version_that_reads_it(tiny_model, tmp_path):
    good = tmp_path / "ok.tsuc"
    tsuc.compile(tiny_model, target="cpu", output=str(good), input_shapes={"x": [2, 4]})
    old = tmp_path / "old.tsuc"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(old, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "manifest.json":
                m = json.loads(data)
                m["format_version"] = 1
                m["compiler_version"] = "0.1.0"
                data = json.dumps(m).encode()
            zout.writestr(info.filename, data)
    with pytest.raises(ArtifactError, match=r"format version 1 \(written by tsuc 0.1.0\).*use tsuc 0.1.x to read it"):
        tsuc.load(str(old))


def test_a_pass_that_breaks_the_ir_is_reported_as_a_compiler_bug(tiny_model, monkeypatch):
    from dataclasses import dataclass

    from xdsl.passes import ModulePass

    from tsuc.compiler import driver, universe
    from tsuc.compiler.frontends.onnx_import import import_model
    from tsuc.dialects.tsuc import SegmentOp

    @dataclass(frozen=True)
    class BreakYield(ModulePass):
        name = "test-break-yield"

        def apply(self, ctx, op):
            seg = next(o for o in op.walk() if isinstance(o, SegmentOp))
            seg.body.block.last_op.operands = []  # the yield no longer matches the results

    monkeypatch.setitem(universe.TSUC_PASSES, "test-break-yield", lambda: BreakYield)

    module = import_model(tiny_model, {"x": [2, 4]})
    ctx = driver.make_context()
    driver.run_passes(ctx, module, driver.CORE_PASSES)
    with pytest.raises(TsucError, match="internal compiler error: pass test-break-yield left invalid IR"):
        driver.run_passes(ctx, module, ['tsuc-partition{targets="cpu"}', "test-break-yield"])


def test_emit_stage_names(small_cnn):
    proc = cli("compile", small_cnn, "--target", "tfmbs,tsu", "--emit", "nonsense")
    assert proc.returncode == 1 and "stages: core, partitioned, lowered, linalg" in proc.stderr
    proc = cli("compile", small_cnn, "--target", "tfmbs", "--emit", "linalg", "--elide-weights")
    assert proc.returncode == 0 and "linalg.matmul" in proc.stdout and "dialect_resources" not in proc.stdout


@pytest.mark.parametrize("option", [[], ["--option", "topology=king"]])
def test_opt_replays_a_problem_compile(option):
    gset = os.path.join(os.path.dirname(os.path.dirname(__file__)), "targets", "tsu", "data", "tiny.txt")
    pipeline = cli("compile", gset, "--target", "tsu", *option, "--print-pipeline").stdout.strip()
    core = cli("compile", gset, "--target", "tsu", *option, "--emit=core")
    replay = cli("opt", "-", "-p", pipeline, stdin=core.stdout)
    assert replay.returncode == 0, replay.stderr
    assert replay.stdout == cli("compile", gset, "--target", "tsu", *option, "--emit=lowered").stdout


def test_fabric_and_hologram_in_one_artifact(small_cnn):
    """Convs and the Gemm on the fabric, the vector work between them on the hologram engine."""
    exe = tsuc.compile(small_cnn, target="tfmbs,hologram")
    targets = [s["target"] for s in exe.manifest["segments"]]
    assert "tfmbs" in targets and "hologram" in targets
    x = np.random.default_rng(2).standard_normal((2, 3, 8, 8)).astype(np.float32)
    y = exe.run({"x": x})["y"]
    np.testing.assert_array_equal(y, tsuc.compile(small_cnn, target="tfmbs,hologram").run({"x": x})["y"])
    prof = exe.profile()
    assert prof["by_target"]["tfmbs"]["cycles"] > 0 and prof["by_target"]["hologram"]["cycles"] > 0
    assert "cycles" not in prof["total"]  # cycles of different clocks are not added up
