"""Produce the SCALE-Sim v3 reference cycle counts that tests/targets/xla/test_systolic.py holds as data.

SCALE-Sim needs numpy<2, so it runs in a scratch venv, not in tsuc's environment:

    python3 -m venv /tmp/scalesim-venv && /tmp/scalesim-venv/bin/pip install scalesim 'numpy<2'
    /tmp/scalesim-venv/bin/python tests/targets/xla/make_scalesim_reference.py

For every GEMM shape, array size and dataflow it writes a GEMM topology (`Layer, M, N, K,`),
runs `scalesim.scale_sim.scalesim(..., input_type_gemm=True)` and prints the "Total Cycles"
column of COMPUTE_REPORT.csv as a Python literal.
"""

from __future__ import annotations

import csv
import glob
import os
import sys
import tempfile

SHAPES = [(256, 256, 256), (100, 300, 50), (64, 1000, 200), (512, 128, 384), (1, 2048, 1000), (300, 17, 129)]  # (M, N, K)
ARRAYS = [(128, 128), (256, 256)]
DATAFLOWS = ["os", "ws", "is"]

CONFIG = """[general]
run_name = tsuc_ref

[architecture_presets]
ArrayHeight:    {rows}
ArrayWidth:     {cols}
IfmapSramSzkB:    65536
FilterSramSzkB:   65536
OfmapSramSzkB:    65536
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Bandwidth : 10
Dataflow : {df}
MemoryBanks:   1
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""


def total_cycles(m: int, n: int, k: int, rows: int, cols: int, df: str, work: str) -> int:
    from scalesim.scale_sim import scalesim

    cfg, topo, layout = (os.path.join(work, f) for f in ("scale.cfg", "gemm.csv", "layout.csv"))
    with open(cfg, "w") as f:
        f.write(CONFIG.format(rows=rows, cols=cols, df=df))
    with open(topo, "w") as f:
        f.write(f"Layer, M, N, K,\ng0, {m}, {n}, {k},\n")
    with open(layout, "w") as f:
        f.write("Layer name, IFMAP Height Intraline Factor, IFMAP Width Intraline Factor, Filter Height Intraline Factor, "
                "Filter Width Intraline Factor, Channel Intraline Factor, Num Filter Intraline Factor, IFMAP Height Intraline Order, "
                "IFMAP Width Intraline Order, Channel Intraline Order, Filter Height Intraline Order, Filter Width Intraline Order, "
                "Num Filter Intraline Order,\ng0, 1, 1, 1, 1, 1, 1, 0, 1, 2, 0, 1, 2,\n")
    out = os.path.join(work, "out")
    sim = scalesim(save_disk_space=True, verbose=False, config=cfg, topology=topo, layout=layout, input_type_gemm=True)
    sim.run_scale(top_path=out)
    (report,) = glob.glob(os.path.join(out, "*", "COMPUTE_REPORT.csv"))
    with open(report) as f:
        row = next(csv.DictReader(f, skipinitialspace=True))
    return int(row["Total Cycles"])


def main() -> None:
    results = {}
    for rows, cols in ARRAYS:
        for df in DATAFLOWS:
            for m, n, k in SHAPES:
                with tempfile.TemporaryDirectory() as work:
                    results[(m, k, n, rows, cols, df)] = total_cycles(m, n, k, rows, cols, df, work)
                print(f"  ({m}, {k}, {n}, {rows}, {cols}, {df!r}): {results[(m, k, n, rows, cols, df)]},", file=sys.stderr)
    print("SCALESIM_TOTAL_CYCLES = {  # (M, K, N, rows, cols, dataflow): Total Cycles")
    for key, value in results.items():
        print(f"    {key!r}: {value},")
    print("}")


if __name__ == "__main__":
    main()
