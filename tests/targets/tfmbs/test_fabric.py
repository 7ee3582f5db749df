"""The Fabric device model: API, address map, DMA costs, wrap-around (random programs against
the independent oracle are in test_oracle.py)."""

import numpy as np
import pytest

from tsuc.errors import TsucError
from tsuc.runtime.tfmbs import pt5
from tsuc.runtime.tfmbs.fabric import Fabric
from tsuc.runtime.tfmbs.machine import FabricConfig
from tests.targets.tfmbs.fabric_oracle import OracleFabric
from tsuc.runtime.tfmbs.tfd import KERNELS, TFD, exec_hints


def test_long_bias_chain_overflows_int32_only_when_it_must():
    # An all-ones frame adds +depth per frame; with 8-bit accumulators a chain of two
    # 100-deep frames passes 127 and wraps, exactly as the reference does.
    cfg = FabricConfig(acc_bits=8, bank_words=128)
    fab, orc = Fabric(cfg), OracleFabric(bank_words=128, acc_bits=8)
    ones = pt5.words_from_lanes(np.ones((100, 15), np.int8))
    for m in (fab, orc):
        m.load(cfg.broadcast_a_addr(), ones)
        m.load(cfg.broadcast_b_addr(), ones)
    for bias in (False, True):
        tfd = TFD(base_addr=cfg.bank_a_addr(0), frame_len=100, exec_hints=exec_hints(bias_en=bias),
                  input_addr=cfg.bank_b_addr(0))
        fab.submit(tfd)
        orc.submit(tfd.to_row())
        assert fab.acc.tolist() == orc.acc and fab.overflow.tolist() == orc.overflow and fab.cycles == orc.cycles
    assert fab.results(0)[0] == 200 - 256
    assert fab.profile_detailed()["overflow_flags"] == (1 << 15) - 1


def test_results_and_profile_keys():
    fab = Fabric()
    cfg = fab.config
    rng = np.random.default_rng(5)
    w = rng.integers(-1, 2, size=(60, 100)).astype(np.int8)
    x = rng.integers(-1, 2, size=100).astype(np.int8)
    img = pt5.weight_words(w, cfg.tiles)[0]  # [tiles, depth]
    for t in range(cfg.tiles):
        fab.load(cfg.bank_a_addr(t), img[t])
    fab.load(cfg.broadcast_b_addr(), pt5.input_words(x))
    fab.submit(TFD(base_addr=cfg.bank_a_addr(0), frame_len=100, input_addr=cfg.bank_b_addr(0)))
    fab.wait()
    assert fab.is_done()
    out = fab.results(-1)
    assert out.dtype == np.int32 and out.shape == (60,)
    assert np.array_equal(out, w.astype(np.int32) @ x)
    assert np.array_equal(fab.results(2), out[30:45])
    prof = fab.profile()
    assert set(prof) == {"cycles", "utilization", "skips"} and len(prof["skips"]) == 15
    det = fab.profile_detailed()
    assert set(det) == {"cycles", "utilization", "skips", "burst_wait_cycles", "overflow_flags", "active_cycles"}
    dma = 4 * cfg.dma_cycles(100) + cfg.dma_cycles(100)  # four Bank A bursts, one Bank B broadcast
    assert det["burst_wait_cycles"] == dma
    assert det["cycles"] == dma + 100
    assert det["active_cycles"] == [4 * 100] * 15
    assert det["utilization"] == pytest.approx(60 * 100 / (det["cycles"] * 60))
    expect_skips = ((w == 0) | (x[None, :] == 0)).sum(axis=1).reshape(4, 15).sum(axis=0)
    assert det["skips"] == expect_skips.tolist()
    e = fab.energy()
    assert e["energy_j"] == pytest.approx(sum(v for k, v in e.items() if k != "energy_j"))
    assert e["energy_j"] > 0


def test_address_map_is_the_seeds():
    cfg = FabricConfig()
    assert [cfg.bank_a_addr(t) for t in range(4)] == [0x1000, 0x3000, 0x5000, 0x7000]
    assert [cfg.bank_b_addr(t) for t in range(4)] == [0x2000, 0x4000, 0x6000, 0x8000]
    assert cfg.broadcast_a_addr() == 0x9000 and cfg.broadcast_b_addr() == 0xA000
    assert cfg.decode_addr(0x9000) == ("A", [0, 1, 2, 3], 0)
    assert cfg.decode_addr(0x4008) == ("B", [1], 2)


def test_broadcast_writes_every_bank_and_costs_one_burst():
    fab = Fabric(dma_latency=5, dma_words_per_cycle=2)
    words = pt5.words_from_lanes(np.ones((7, 15), np.int8))
    fab.load(0x9000 + 8, words)
    assert all(np.array_equal(fab.bank_a[t, 2:9], words) for t in range(4))
    assert fab.burst_wait_cycles == 5 + 4 and fab.dma_words == 7
    fab.load(0x1000, words.tobytes())  # bytes of little-endian words work too
    assert np.array_equal(fab.bank_a[0, :7], words)


def test_bad_use_raises_one_sentence():
    fab = Fabric()
    with pytest.raises(TsucError, match="outside the SRAM map"):
        fab.load(0xB000, np.zeros(1, np.uint32))
    with pytest.raises(TsucError, match="not word aligned"):
        fab.load(0x1002, np.zeros(1, np.uint32))
    with pytest.raises(TsucError, match="runs past the end"):
        fab.load(0x1FFC, np.zeros(2, np.uint32))
    with pytest.raises(TsucError, match="not a PT-5 code"):
        fab.load(0x1000, np.array([243], np.uint32))
    with pytest.raises(TsucError, match="not modelled"):
        fab.submit(TFD(base_addr=0x1000, frame_len=4, exec_hints=KERNELS["LSTM"]))
    with pytest.raises(TsucError, match="frame_len"):
        fab.submit(TFD(base_addr=0x1000, frame_len=2000))
    with pytest.raises(TsucError, match="not in tile 0's Bank A"):
        fab.submit(TFD(base_addr=0x2000, frame_len=4))
    with pytest.raises(TsucError, match="past the end of Bank A"):
        fab.submit(TFD(base_addr=0x1FF0, frame_len=8))
    with pytest.raises(TsucError, match="tile 7"):
        fab.results(7)
    with pytest.raises(TsucError, match="fabric configuration"):
        Fabric(lanes=16)


def test_nop_frame_does_nothing():
    fab = Fabric()
    fab.submit(TFD(base_addr=0x1000, frame_len=10, exec_hints=KERNELS["NOP"]))
    assert fab.profile()["cycles"] == 0
