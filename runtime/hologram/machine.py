"""The shared description of the Hologram in-cache vector engine (compiler and runtime agree here).

Pool geometry comes from the seed (design/hologram.md): 96 classes x 12,288 B (48 pages of
256 B, 3,072 f32 per class) = 1,179,648 B, meant to stay resident in L2; buffers that do not
fit go to a linear pool. The seed has no cycle model ("100-500 ns per operation" has no
source), so every cost constant below is an option whose help says where its default comes
from: the design card's machine (itself an assumption) unless stated.

Cost of one kernel (`kernel_cost`):
  cycles = launch_cycles
         + sum over ops of vectors(op) * cycles-per-vector(op class)   vectors = ceil(work / lanes)
         + per reduced output log2(lanes) cycles (the final adder tree)
         + linear-pool bytes in and out / linear_bytes_per_cycle
  energy = lane-ops * e_op_pj + linear-pool bytes * e_linear_byte_pj
Lane-ops count one per element per primitive step (softmax = max, sub, exp, sum, div = 5).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

CLASS_BYTES = 12_288
NUM_CLASSES = 96
POOL_BYTES = CLASS_BYTES * NUM_CLASSES  # 1,179,648 B = 1.125 MiB
PAGE_BYTES = 256
PAGES_PER_CLASS = CLASS_BYTES // PAGE_BYTES  # 48
ALIGN = 64

# name: (default, help with source)
MACHINE_OPTIONS: dict[str, tuple[Any, str]] = {
    "vector_lanes": (16, "f32 lanes of the vector engine (assumption, design/hologram.md)"),
    "clock_mhz": (2000.0, "engine clock in MHz (assumption, design/hologram.md)"),
    "cycles_simple": (1, "cycles per vector for add/sub/mul/min/max/abs/neg/relu/clip/fill/move (assumption, design/hologram.md)"),
    "cycles_div": (4, "cycles per vector for div and sqrt (assumption, design/hologram.md)"),
    "cycles_transcendental": (8, "cycles per vector for exp/log/tanh/sigmoid/erf/gelu (assumption, design/hologram.md)"),
    "launch_cycles": (20, "cycles per kernel launch (assumption, design/hologram.md)"),
    "linear_bytes_per_cycle": (32, "linear-pool bytes moved per cycle (assumption, design/hologram.md)"),
    "e_op_pj": (0.5, "energy per lane-op in pJ (assumption, design/hologram.md)"),
    "e_linear_byte_pj": (10.0, "energy per linear-pool byte in pJ (assumption, design/hologram.md)"),
}


@dataclass(frozen=True)
class Machine:
    vector_lanes: int = 16
    clock_mhz: float = 2000.0
    cycles_simple: int = 1
    cycles_div: int = 4
    cycles_transcendental: int = 8
    launch_cycles: int = 20
    linear_bytes_per_cycle: int = 32
    e_op_pj: float = 0.5
    e_linear_byte_pj: float = 10.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Machine:
        return Machine(**{k: type(getattr(Machine, k))(d[k]) for k in MACHINE_OPTIONS if k in d})

    def step_cycles(self, step: str) -> int:
        return {"s": self.cycles_simple, "d": self.cycles_div, "t": self.cycles_transcendental}[step]


# Primitive steps per element by op (s simple, d div/sqrt, t transcendental), the reduction
# trees per output row (`trees`) and the per-row transcendental steps (`row_t`). The cost
# model and the reference interpreter's counters both use this table; the reference
# counts elements and rows from the arrays it actually computes, the model from the shapes.
OP_STEPS: dict[str, str] = {
    "add": "s", "sub": "s", "mul": "s", "min": "s", "max": "s", "div": "d",
    "abs": "s", "neg": "s", "relu": "s", "clip": "s", "fill": "s", "add_scalar": "s", "mul_scalar": "s",
    "sqrt": "d", "exp": "t", "log": "t", "tanh": "t", "sigmoid": "t", "erf": "t", "gelu": "t",
    "softmax": "sstsd", "log_softmax": "ssts",
    "reduce_sum": "s", "reduce_min": "s", "reduce_max": "s", "reduce_mean": "s",
    "gemm": "s", "transpose": "s", "reshape": "",
    "mse_loss": "sss", "cross_entropy_loss": "tss", "binary_cross_entropy_loss": "ttssss",
}
TREES = {"softmax": 2, "log_softmax": 2, "reduce_sum": 1, "reduce_min": 1, "reduce_max": 1, "reduce_mean": 1,
         "mse_loss": 1, "cross_entropy_loss": 1, "binary_cross_entropy_loss": 1}
ROW_T = {"log_softmax": 1}  # one log per row


def op_counts(op: str, work: int, rows: int) -> dict[str, int]:
    """Lane-ops by step kind and tree/row counts of one op over `work` elements and `rows` outputs."""
    steps = OP_STEPS[op]
    counts = {"s": 0, "d": 0, "t": 0}
    for s in steps:
        counts[s] += work
    counts["t"] += ROW_T.get(op, 0) * rows
    counts["trees"] = TREES.get(op, 0) * rows
    return counts


def op_cycles(m: Machine, op: str, work: int, rows: int) -> int:
    """Cycles of one op: per step kind, vectors of `vector_lanes` times that kind's cycles."""
    steps = OP_STEPS[op]
    vectors = -(-work // m.vector_lanes)
    cycles = sum(vectors * m.step_cycles(s) for s in steps)
    cycles += ROW_T.get(op, 0) * rows * m.cycles_transcendental
    cycles += TREES.get(op, 0) * rows * int(math.log2(m.vector_lanes)) if m.vector_lanes > 1 else 0
    return cycles


def kernel_cost(m: Machine, ops: list[dict[str, Any]], linear_bytes: int) -> dict[str, float]:
    """Cycles, lane-ops and energy of one kernel whose ops carry `op`, `work`, `rows`."""
    cycles = m.launch_cycles
    lane_ops = 0
    for o in ops:
        cycles += op_cycles(m, o["op"], o["work"], o["rows"])
        c = op_counts(o["op"], o["work"], o["rows"])
        lane_ops += c["s"] + c["d"] + c["t"]
    cycles += -(-linear_bytes // m.linear_bytes_per_cycle)
    energy_j = (lane_ops * m.e_op_pj + linear_bytes * m.e_linear_byte_pj) * 1e-12
    return {"cycles": cycles, "lane_ops": lane_ops, "linear_bytes": linear_bytes, "energy_j": energy_j}
