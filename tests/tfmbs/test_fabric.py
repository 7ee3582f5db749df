"""The Fabric device model: API, address map, DMA costs, and the fast vector engine held to
the per-cycle reference on random frames (outputs and every counter equal)."""

import numpy as np
import pytest

from tsuc.errors import TsucError
from tsuc.runtime.tfmbs import pt5
from tsuc.runtime.tfmbs.fabric import Fabric
from tsuc.runtime.tfmbs.machine import FabricConfig
from tsuc.runtime.tfmbs.reference_engine import ReferenceEngine
from tsuc.runtime.tfmbs.tfd import KERNELS, TFD, exec_hints


def _random_words(rng, n, density):
    # The first half of a bank is biased towards +1 so BIAS_EN chains over it drift far enough
    # to wrap narrow accumulators; the second half is unbiased.
    lanes = rng.integers(-1, 2, size=(n, 15)) * (rng.random((n, 15)) < density)
    lanes[: n // 2] = np.where(rng.random((n // 2, 15)) < 0.9, 1, lanes[: n // 2])
    return pt5.words_from_lanes(lanes.astype(np.int8))


def _fill(fab, rng):
    cfg = fab.config
    for t in range(cfg.tiles):
        fab.load(cfg.bank_a_addr(t), _random_words(rng, cfg.bank_words, rng.uniform(0.05, 1.0)))
        if rng.random() < 0.5:  # replicated inputs (what the compiler writes) or arbitrary words
            x = rng.integers(-1, 2, size=cfg.bank_words) * (rng.random(cfg.bank_words) < rng.uniform(0.1, 1.0))
            x[: cfg.bank_words // 2] = np.where(rng.random(cfg.bank_words // 2) < 0.9, 1, x[: cfg.bank_words // 2])
            fab.load(cfg.bank_b_addr(t), pt5.input_words(x.astype(np.int8)))
        else:
            fab.load(cfg.bank_b_addr(t), _random_words(rng, cfg.bank_words, rng.uniform(0.1, 1.0)))


def _random_tfd(rng, cfg, max_depth):
    stride = int(rng.choice([1, 1, 1, 2, 3]))
    depth = int(rng.integers(0, min(max_depth, (cfg.bank_words - 1) // stride + 1) + 1))
    a_word = int(rng.integers(0, cfg.bank_words - max(depth - 1, 0) * stride))
    b_word = int(rng.integers(0, cfg.bank_words - depth + 1))
    hot = rng.random() < 0.3  # a BIAS_EN frame over the biased halves: drives chains to wrap
    if hot:
        stride, depth, a_word, b_word = 1, cfg.bank_words // 2, 0, 0
    return TFD(
        base_addr=cfg.bank_a_addr(0, a_word),
        frame_len=depth,
        lane_count=int(rng.integers(0, cfg.lanes + 1)) if rng.random() < 0.3 else cfg.lanes,
        lane_stride=stride,
        exec_hints=exec_hints(bias_en=hot or bool(rng.random() < 0.6), zero_skip=bool(rng.random() < 0.8),
                              quant=int(rng.integers(0, 256))),
        tile_mask=int(rng.integers(1, cfg.all_tiles_mask + 1)),
        input_addr=cfg.bank_b_addr(0, b_word),
        lane_mask=int(rng.integers(0, 1 << 15)) if rng.random() < 0.3 else (1 << 15) - 1,
    )


def _assert_same(fab, ref):
    assert fab.acc.tolist() == ref.acc
    assert fab.active.tolist() == ref.active
    assert fab.skips.tolist() == ref.skips
    assert fab.overflow.tolist() == ref.overflow
    assert fab.compute_cycles == ref.cycles
    assert fab.tile_cycles == ref.tile_cycles


@pytest.mark.parametrize("seed,acc_bits,tiles,lanes,bank", [
    (0, 32, 4, 15, 64), (1, 8, 4, 15, 256), (2, 9, 3, 15, 512), (3, 8, 2, 7, 128), (4, 32, 4, 15, 1024),
])
def test_fast_engine_matches_per_cycle_reference(seed, acc_bits, tiles, lanes, bank):
    rng = np.random.default_rng(seed)
    cfg = FabricConfig(tiles=tiles, lanes=lanes, bank_words=bank, acc_bits=acc_bits)
    fab = Fabric(cfg)
    _fill(fab, rng)
    ref = ReferenceEngine(cfg, fab.bank_a, fab.bank_b)
    max_depth = min(bank, 96)
    overflowed = False
    for _ in range(40):
        tfd = _random_tfd(rng, cfg, max_depth)
        fab.submit(tfd)
        ref.submit(tfd)
        _assert_same(fab, ref)
        overflowed |= bool(fab.overflow.any())
    if acc_bits <= 9:  # the narrow accumulator must actually have wrapped in these chains
        assert overflowed


def test_long_bias_chain_overflows_int32_only_when_it_must():
    # An all-ones frame adds +depth per frame; with 8-bit accumulators a chain of two
    # 100-deep frames passes 127 and wraps, exactly as the reference does.
    cfg = FabricConfig(acc_bits=8, bank_words=128)
    fab = Fabric(cfg)
    ones = pt5.words_from_lanes(np.ones((100, 15), np.int8))
    fab.load(cfg.broadcast_a_addr(), ones)
    fab.load(cfg.broadcast_b_addr(), ones)
    ref = ReferenceEngine(cfg, fab.bank_a, fab.bank_b)
    for bias in (False, True):
        tfd = TFD(base_addr=cfg.bank_a_addr(0), frame_len=100, exec_hints=exec_hints(bias_en=bias),
                  input_addr=cfg.bank_b_addr(0))
        fab.submit(tfd)
        ref.submit(tfd)
        _assert_same(fab, ref)
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
