"""The systolic-array (TPU MXU-like) cycle model: the shared description of the xla target's matrix unit.

GEMM (M x K)(K x N) on an R x C array, SCALE-Sim's analytical model per dataflow:

    dataflow  rows mapped Sr  cols Sc  temporal T   cycles per fold
    os        M               N        K            R + C + T - 2   (operands meet; no preload)
    ws        K               N        M            2R + C + T - 2  (R cycles to load the weights)
    is        K               M        N            2R + C + T - 2  (R cycles to load the inputs)

folds = ceil(Sr / R) * ceil(Sc / C); `compute_cycles = folds * per_fold - 1`, which is exactly
SCALE-Sim v3's COMPUTE_REPORT "Total Cycles" (it counts from cycle 0); tests/targets/xla compares
against numbers produced by SCALE-Sim itself. Utilisation is MACs / (R * C * cycles).

Other ops run on a vector unit, `vector_lanes` elements per cycle, scaled by a per-class cost
(assumptions, stated as such): elementwise 1, data movement 1, reductions 1 per input element,
transcendental 4 (a polynomial or table step per element). Memory: each op's operand and
result bytes cross the memory interface at `bandwidth_gbps` (assumption: no fusion, so an
upper bound on traffic); an op takes max(compute, memory) cycles (they overlap on a double-buffered
machine). Energy: MACs x `energy_mac_pj` + bytes x `energy_byte_pj`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

DATAFLOWS = ("ws", "os", "is")
VECTOR_COST = {"elementwise": 1.0, "movement": 1.0, "reduce": 1.0, "transcendental": 4.0}


@dataclass(frozen=True)
class ArrayConfig:
    rows: int = 128
    cols: int = 128
    dataflow: str = "ws"
    clock_mhz: float = 700.0
    vector_lanes: int = 128
    bandwidth_gbps: float = 34.0
    energy_mac_pj: float = 0.2
    energy_byte_pj: float = 160.0

    @staticmethod
    def from_config(cfg: dict[str, Any]) -> ArrayConfig:
        keys = ArrayConfig.__dataclass_fields__
        return ArrayConfig(**{k: cfg[k] for k in keys if k in cfg})

    @property
    def bytes_per_cycle(self) -> float:
        return self.bandwidth_gbps * 1e9 / (self.clock_mhz * 1e6)


def mapping(m: int, k: int, n: int, dataflow: str) -> tuple[int, int, int]:
    """(Sr, Sc, T) of a GEMM under `dataflow`."""
    if dataflow == "os":
        return m, n, k
    if dataflow == "ws":
        return k, n, m
    if dataflow == "is":
        return k, m, n
    raise ValueError(f"unknown dataflow {dataflow!r}")


def gemm_cycles(m, k, n, rows: int, cols: int, dataflow: str):
    """SCALE-Sim v3 Total Cycles of (M x K)(K x N); numpy arrays broadcast."""
    m, k, n = (np.asarray(v, dtype=np.int64) for v in (m, k, n))
    sr, sc, t = mapping(m, k, n, dataflow)  # type: ignore[arg-type]
    folds = -(-sr // rows) * -(-sc // cols)
    fill = rows + cols + t - 2 if dataflow == "os" else 2 * rows + cols + t - 2
    return folds * fill - 1


def gemm_folds(m, k, n, rows: int, cols: int, dataflow: str):
    sr, sc, _t = mapping(m, k, n, dataflow)
    return -(-sr // rows) * -(-sc // cols)


def profile_ops(records: list[dict[str, Any]], cfg: ArrayConfig) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per-op figures and totals for the cost records of one segment (vectorised over ops)."""
    if not records:
        return [], {"cycles": 0, "compute_cycles": 0, "macs": 0, "bytes": 0, "energy_j": 0.0, "utilisation": 0.0, "time_ms": 0.0}
    is_gemm = np.array([r["kind"] == "gemm" for r in records])
    get = lambda key, default=0: np.array([r.get(key, default) for r in records], dtype=np.int64)
    batch, m, k, n = get("batch", 1), get("m"), get("k"), get("n")
    macs = np.where(is_gemm, batch * m * k * n, 0)
    compute = np.where(is_gemm, batch * gemm_cycles(np.maximum(m, 1), np.maximum(k, 1), np.maximum(n, 1), cfg.rows, cfg.cols, cfg.dataflow), 0)
    cost = np.array([VECTOR_COST.get(r.get("cls", ""), 1.0) for r in records])
    vector = np.where(is_gemm, 0, np.ceil(get("elements") * cost / cfg.vector_lanes)).astype(np.int64)
    nbytes = get("bytes_in") + get("bytes_out")
    memory = np.ceil(nbytes / cfg.bytes_per_cycle).astype(np.int64)
    compute_cycles = compute + vector
    cycles = np.maximum(compute_cycles, memory)
    energy = (macs * cfg.energy_mac_pj + nbytes * cfg.energy_byte_pj) * 1e-12
    util = np.where(compute > 0, macs / np.maximum(compute * cfg.rows * cfg.cols, 1), 0.0)
    per_op = []
    for i, r in enumerate(records):
        entry = {"layer": r["layer"], "op": r["op"], "compute_cycles": int(compute_cycles[i]), "memory_cycles": int(memory[i]),
                 "cycles": int(cycles[i]), "macs": int(macs[i]), "bytes": int(nbytes[i]), "energy_j": float(energy[i])}
        if is_gemm[i]:
            entry.update(gemm={"batch": int(batch[i]), "m": int(m[i]), "k": int(k[i]), "n": int(n[i])},
                         utilisation=float(util[i]))
        per_op.append(entry)
    total_cycles = int(cycles.sum())
    total = {"cycles": total_cycles, "compute_cycles": int(compute_cycles.sum()), "gemm_cycles": int(compute.sum()),
             "vector_cycles": int(vector.sum()), "memory_cycles": int(memory.sum()), "macs": int(macs.sum()),
             "bytes": int(nbytes.sum()), "energy_j": float(energy.sum()),
             "utilisation": float(macs.sum() / max(1, int(compute.sum()) * cfg.rows * cfg.cols)),
             "time_ms": total_cycles / (cfg.clock_mhz * 1e3)}
    return per_op, total
