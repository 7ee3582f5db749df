"""The tfmbs compile side: options, supports(), TFD programs, allocation, determinism, storage."""

import numpy as np
import pytest
from onnx import helper

import tsuc
from tsuc.errors import TsucError
from tsuc.runtime.tfmbs.machine import FabricConfig
from tsuc.runtime.tfmbs.schedule import LayerPlan
from tsuc.runtime.tfmbs.tfd import TFD, exec_hints
from tsuc.targets.registry import get_target
from tsuc.targets.tfmbs.allocate import allocate
from tests.targets.tfmbs.models import one_graph_model as _model, rand as _rand  # noqa: E402


def _independent_tfds(plan, cfg):
    """The frame program spelt out loop by loop (what `tfd_table` vectorises)."""
    out = []
    for j in range(plan.act_trits):
        for g, grp in enumerate(plan.groups(cfg)):
            for p in range(plan.w_planes):
                for ci, c in enumerate(plan.chunks(cfg)):
                    out.append(TFD(base_addr=0x1000 + 4 * plan.block_word(g, p, c), frame_len=c.depth, lane_count=cfg.lanes,
                                   exec_hints=exec_hints(bias_en=ci > 0, zero_skip=plan.zero_skip), tile_mask=grp.tile_mask,
                                   input_addr=cfg.bank_b_addr(0, plan.input_word(j, c, cfg)),
                                   lane_mask=(1 << grp.lane_count) - 1).to_row())
    return np.array(out, np.int64)


@pytest.mark.parametrize("mode", ["resident", "group", "frame"])
@pytest.mark.parametrize("n,k,planes", [(120, 2048, 1), (10, 30, 3), (131, 1100, 2), (61, 1024, 1)])
def test_tfd_table_matches_loops(mode, n, k, planes):
    cfg = FabricConfig()
    plan = LayerPlan("l", n, k, planes, 2, mode, 0, zero_skip=mode != "frame")
    np.testing.assert_array_equal(plan.tfd_table(cfg), _independent_tfds(plan, cfg))


def test_groups_tile_masks_and_lane_counts():
    cfg = FabricConfig()
    groups = LayerPlan("l", 130, 8, 1, 1).groups(cfg)
    assert [(g.n0, g.rows, g.tiles, g.lane_count, g.tile_mask) for g in groups] == [
        (0, 60, 4, 15, 0xF), (60, 60, 4, 15, 0xF), (120, 10, 1, 10, 0x1)]


def test_allocation_keeps_what_fits_resident_and_streams_the_rest():
    cfg = FabricConfig(bank_words=64)
    plans = [LayerPlan("a", 12, 20, 1, 1), LayerPlan("b", 130, 20, 1, 1), LayerPlan("c", 10, 30, 2, 1)]
    placed = allocate(plans, [5, 5, 5], cfg)
    assert [p.mode for p in placed] == ["resident", "group", "frame"]
    assert placed[0].a_base == 0 and placed[1].a_base == placed[2].a_base == 20
    everything = allocate(plans[:1], [5], FabricConfig())
    assert everything[0].mode == "resident"
    assert [p.mode for p in allocate(plans[:1], [5], cfg, residency=False)] == ["group"]


def test_options_are_listed_validated_and_applied():
    names = set(get_target("tfmbs").options_class.declared())
    assert {"quant", "w_planes", "act_trits", "encoding", "zero_skip", "residency", "tiles", "lanes", "bank_words",
            "clock_mhz", "dma_words_per_cycle", "dma_latency", "acc_bits"} <= names
    with pytest.raises(TsucError, match="act_trits"):
        get_target("tfmbs", {"act_trits": "0"})
    with pytest.raises(TsucError, match="quant"):
        get_target("tfmbs", {"quant": "binary"})
    with pytest.raises(TsucError, match="lanes"):
        get_target("tfmbs", {"lanes": "16"})
    t = get_target("tfmbs", {"tiles": "2", "clock_mhz": "100"})
    assert t.options.fabric_config().tiles == 2 and t.options.fabric_config().clock_hz == 1e8


def test_unsupported_ops_stay_on_host_or_fail_with_every_reason(tmp_path):
    w = _rand((4, 1, 3, 3), 1)  # depthwise: group = 4
    node = helper.make_node("Conv", ["x", "w"], ["h"], kernel_shape=[3, 3], group=4, name="dw")
    model = _model([node, helper.make_node("MatMul", ["h", "x2"], ["y"], name="dyn")], {"w": w, "x2": _rand((6, 6), 2)},
                   [1, 4, 8, 8], [1, 4, 6, 6])
    exe = tsuc.compile(model, target="tfmbs", output=str(tmp_path / "m.tsuc"), options={"fuse": False})  # the partition as it is
    kinds = [s["kind"] for s in exe.manifest["segments"]]
    assert kinds == ["onnx", "tfmbs"]
    with pytest.raises(TsucError, match="grouped convolutions"):
        tsuc.compile(model, target="tfmbs", output=str(tmp_path / "n.tsuc"), options={"fallback": "error"})


def test_accumulator_width_is_checked_at_compile_time(tmp_path):
    model = _model([helper.make_node("Gemm", ["x", "w"], ["y"], transB=1, name="fc")], {"w": _rand((5, 200), 3)}, [1, 200], [1, 5])
    with pytest.raises(TsucError, match="overflow 8-bit accumulators"):
        tsuc.compile(model, target="tfmbs", output=str(tmp_path / "m.tsuc"), options={"acc_bits": 8})


def test_artifacts_are_deterministic_and_store_1_6_bits_per_weight(tmp_path):
    model = _model([helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1, name="fc")],
                   {"w": _rand((70, 333), 4), "b": _rand((70,), 5)}, [2, 333], [2, 70])
    paths = [str(tmp_path / f"m{i}.tsuc") for i in range(2)]
    for p in paths:
        tsuc.compile(model, target="tfmbs", output=p, options={"w_planes": 2})
    assert open(paths[0], "rb").read() == open(paths[1], "rb").read()
    exe = tsuc.load(paths[0])
    seg = next(s for s in exe.manifest["segments"] if s["kind"] == "tfmbs")
    stream = exe.artifact.array(seg["config"]["layers"][0]["members"]["weights"])
    assert stream.dtype == np.uint8 and stream.size == -(-2 * 70 * 333 // 5)  # 1.6 bit per weight
    assert seg["config"]["encoding"] == "mod3"


def test_offset_encoding_round_trips_through_the_artifact(tmp_path):
    model = _model([helper.make_node("Gemm", ["x", "w"], ["y"], transB=1, name="fc")], {"w": _rand((20, 30), 6)}, [3, 30], [3, 20])
    x = _rand((3, 30), 7)
    a = tsuc.compile(model, target="tfmbs", output=str(tmp_path / "a.tsuc")).run({"x": x})["y"]
    b = tsuc.compile(model, target="tfmbs", output=str(tmp_path / "b.tsuc"), options={"encoding": "offset"}).run({"x": x})["y"]
    np.testing.assert_array_equal(a, b)
