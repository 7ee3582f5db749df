"""The systolic cycle model: SCALE-Sim v3's own numbers, and the slow PE-grid simulator.

`SCALESIM_TOTAL_CYCLES` holds SCALE-Sim v3.0.0's COMPUTE_REPORT.csv "Total Cycles", produced by
`tests/targets/xla/make_scalesim_reference.py` in a scratch venv
(`python3 -m venv /tmp/scalesim-venv && /tmp/scalesim-venv/bin/pip install scalesim 'numpy<2'`,
then `/tmp/scalesim-venv/bin/python tests/targets/xla/make_scalesim_reference.py`), GEMM topologies
(`Layer, M, N, K,`), SRAMs large enough not to matter, default layout. They are data here, not
recomputed: the analytical model must equal them exactly, and so must the step-by-step
simulator (which shares no code with the model) where it is fast enough to run.
"""

from __future__ import annotations

import numpy as np
import pytest

from tsuc.runtime.xla.pe_grid import simulate_gemm
from tsuc.runtime.xla.systolic import ArrayConfig, gemm_cycles, profile_ops

SCALESIM_TOTAL_CYCLES = {  # (M, K, N, rows, cols, dataflow): Total Cycles
    (256, 256, 256, 128, 128, 'os'): 2039,
    (100, 50, 300, 128, 128, 'os'): 911,
    (64, 200, 1000, 128, 128, 'os'): 3631,
    (512, 384, 128, 128, 128, 'os'): 2551,
    (1, 1000, 2048, 128, 128, 'os'): 20063,
    (300, 129, 17, 128, 128, 'os'): 1148,
    (256, 256, 256, 128, 128, 'ws'): 2551,
    (100, 50, 300, 128, 128, 'ws'): 1445,
    (64, 200, 1000, 128, 128, 'ws'): 7135,
    (512, 384, 128, 128, 128, 'ws'): 2681,
    (1, 1000, 2048, 128, 128, 'ws'): 49023,
    (300, 129, 17, 128, 128, 'ws'): 1363,
    (256, 256, 256, 128, 128, 'is'): 2551,
    (100, 50, 300, 128, 128, 'is'): 681,
    (64, 200, 1000, 128, 128, 'is'): 2763,
    (512, 384, 128, 128, 128, 'is'): 6119,
    (1, 1000, 2048, 128, 128, 'is'): 19439,
    (300, 129, 17, 128, 128, 'is'): 2393,
    (256, 256, 256, 256, 256, 'os'): 765,
    (100, 50, 300, 256, 256, 'os'): 1119,
    (64, 200, 1000, 256, 256, 'os'): 2839,
    (512, 384, 128, 256, 256, 'os'): 1787,
    (1, 1000, 2048, 256, 256, 'os'): 12079,
    (300, 129, 17, 256, 256, 'os'): 1277,
    (256, 256, 256, 256, 256, 'ws'): 1021,
    (100, 50, 300, 256, 256, 'ws'): 1731,
    (64, 200, 1000, 256, 256, 'ws'): 3319,
    (512, 384, 128, 256, 256, 'ws'): 2555,
    (1, 1000, 2048, 256, 256, 'ws'): 24543,
    (300, 129, 17, 256, 256, 'ws'): 1065,
    (256, 256, 256, 256, 256, 'is'): 1021,
    (100, 50, 300, 256, 256, 'is'): 1065,
    (64, 200, 1000, 256, 256, 'is'): 1765,
    (512, 384, 128, 256, 256, 'is'): 3575,
    (1, 1000, 2048, 256, 256, 'is'): 11255,
    (300, 129, 17, 256, 256, 'is'): 1565,
}


@pytest.mark.parametrize("key", sorted(SCALESIM_TOTAL_CYCLES), ids=lambda k: "x".join(map(str, k[:5])) + "-" + k[5])
def test_model_equals_scalesim(key):
    m, k, n, rows, cols, df = key
    assert int(gemm_cycles(m, k, n, rows, cols, df)) == SCALESIM_TOTAL_CYCLES[key]


def test_design_page_worked_example():
    assert [int(gemm_cycles(256, 256, 256, 128, 128, df)) for df in ("os", "ws", "is")] == [2039, 2551, 2551]


@pytest.mark.parametrize("key", [(100, 50, 300, 128, 128, df) for df in ("os", "ws", "is")]
                         + [(300, 129, 17, 128, 128, df) for df in ("os", "ws", "is")], ids=lambda k: f"{k[0]}x{k[1]}x{k[2]}-{k[5]}")
def test_pe_grid_equals_scalesim(key):
    m, k, n, rows, cols, df = key
    rng = np.random.default_rng(1)
    a, b = rng.integers(-3, 4, (m, k)), rng.integers(-3, 4, (k, n))
    y, cycles = simulate_gemm(a, b, rows, cols, df)
    assert cycles == SCALESIM_TOTAL_CYCLES[key]
    np.testing.assert_array_equal(y, a @ b)


SMALL = [(1, 1, 1), (5, 7, 3), (9, 4, 11), (3, 12, 2), (8, 8, 8), (13, 5, 6)]
ARRAYS = [(4, 4), (3, 5), (8, 2), (1, 1)]


@pytest.mark.parametrize("df", ["os", "ws", "is"])
@pytest.mark.parametrize("rows,cols", ARRAYS)
def test_pe_grid_matches_numpy_and_formula(df, rows, cols):
    rng = np.random.default_rng(rows * 10 + cols)
    for m, k, n in SMALL:
        a, b = rng.integers(-5, 6, (m, k)), rng.integers(-5, 6, (k, n))
        y, cycles = simulate_gemm(a, b, rows, cols, df)
        np.testing.assert_array_equal(y, a @ b)
        assert cycles == int(gemm_cycles(m, k, n, rows, cols, df)), (m, k, n)


def test_profile_of_records():
    cfg = ArrayConfig(rows=128, cols=128, dataflow="ws", clock_mhz=700.0, vector_lanes=128, bandwidth_gbps=34.0)
    records = [{"layer": "conv", "op": "convolution", "kind": "gemm", "batch": 2, "m": 3136, "k": 576, "n": 32,
                "bytes_in": 1000, "bytes_out": 2000},
               {"layer": "relu", "op": "maximum", "kind": "vector", "cls": "elementwise", "elements": 1000,
                "bytes_in": 8000, "bytes_out": 4000},
               {"layer": "exp", "op": "exponential", "kind": "vector", "cls": "transcendental", "elements": 256,
                "bytes_in": 0, "bytes_out": 0}]
    layers, total = profile_ops(records, cfg)
    gemm = 2 * int(gemm_cycles(3136, 576, 32, 128, 128, "ws"))
    assert layers[0]["compute_cycles"] == gemm and layers[0]["macs"] == 2 * 3136 * 576 * 32
    assert layers[1]["compute_cycles"] == 8  # ceil(1000 / 128)
    assert layers[2]["compute_cycles"] == 8  # 256 * 4 / 128
    bytes_per_cycle = 34e9 / 700e6
    assert layers[1]["memory_cycles"] == int(np.ceil(12000 / bytes_per_cycle))
    assert layers[1]["cycles"] == max(8, layers[1]["memory_cycles"])
    assert total["cycles"] == sum(entry["cycles"] for entry in layers)
    assert 0 < layers[0]["utilisation"] <= 1
    assert total["energy_j"] == pytest.approx((2 * 3136 * 576 * 32 * 0.2 + 15000 * 160.0) * 1e-12)
