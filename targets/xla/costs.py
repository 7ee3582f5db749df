"""What each hlo op of a segment asks of the matrix unit and the vector unit, for the cycle model.

Computed once at compile time from the lowered segment and stored in the artifact
(`ops.json`); the runtime's cycle model (`tsuc.runtime.xla.systolic`) turns these records into
cycles under the segment's array options. A dot_general is `batch` GEMMs of (M x K)(K x N);
a convolution is `groups` GEMMs through its im2col shape (M = output pixels x batch,
K = input channels per group x kernel window, N = output channels per group). Everything else
is vector work: elements produced, by op class, and bytes read and written.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from xdsl.ir import Operation

from tsuc.compiler.onnx_export import node_name
from tsuc.dialects import hlo
from tsuc.dialects.tsuc import SegmentOp

TRANSCENDENTAL = {"exponential", "log", "sqrt", "rsqrt", "tanh", "logistic", "erf", "cosine", "sine", "power",
                  "log_plus_one", "exponential_minus_one", "divide", "atan2"}
MOVEMENT = {"broadcast_in_dim", "reshape", "transpose", "reverse", "slice", "dynamic_slice", "pad", "concatenate", "gather", "iota", "convert"}


def _bytes(values) -> int:
    total = 0
    for v in values:
        shape = hlo.shape(v)
        width = getattr(hlo.elem(v), "width", None)
        bits = width.data if width is not None else getattr(hlo.elem(v), "bitwidth", 32)
        total += int(np.prod(shape, dtype=np.int64)) * max(1, bits // 8)
    return total


def op_class(op: Operation) -> str:
    short = op.name.split(".", 1)[1]
    if short in ("reduce", "reduce_window"):
        return "reduce"
    if short in TRANSCENDENTAL:
        return "transcendental"
    if short in MOVEMENT:
        return "movement"
    return "elementwise"


def gemm_shape(op: Operation) -> dict[str, int] | None:
    """{"batch", "m", "k", "n"} of a dot_general or convolution (im2col), else None."""
    if isinstance(op, hlo.DotGeneralOp):
        ls, rs = hlo.shape(op.lhs), hlo.shape(op.rhs)
        lb, lc = hlo.ints(op.lhs_batching_dimensions), hlo.ints(op.lhs_contracting_dimensions)
        rb, rc = hlo.ints(op.rhs_batching_dimensions), hlo.ints(op.rhs_contracting_dimensions)
        batch = int(np.prod([ls[d] for d in lb], dtype=np.int64))
        k = int(np.prod([ls[d] for d in lc], dtype=np.int64))
        m = int(np.prod([n for d, n in enumerate(ls) if d not in lb and d not in lc], dtype=np.int64))
        n = int(np.prod([x for d, x in enumerate(rs) if d not in rb and d not in rc], dtype=np.int64))
        return {"batch": batch, "m": m, "k": k, "n": n}
    if isinstance(op, hlo.ConvolutionOp):
        out, w = hlo.shape(op.result), hlo.shape(op.rhs)
        labels = hlo.parse_dim_labels(op.dim_labels.data, len(w))
        assert labels is not None
        (_ro, ri, rsp), (ob, of, osp) = labels[1], labels[2]
        groups = op.feature_group_count.value.data
        m = out[ob] * int(np.prod([out[d] for d in osp], dtype=np.int64))
        k = w[ri] * int(np.prod([w[d] for d in rsp], dtype=np.int64))
        return {"batch": groups, "m": m, "k": k, "n": out[of] // groups}
    return None


def segment_costs(segment: SegmentOp) -> list[dict[str, Any]]:
    """One record per hlo op that does work (constants excluded), in program order."""
    records = []
    for op in segment.body.block.ops:
        if isinstance(op, hlo.ConstantOp) or op.name == "tsuc.yield":
            continue
        rec: dict[str, Any] = {"layer": node_name(op) or op.name, "op": op.name.split(".", 1)[1],
                               "bytes_in": _bytes(op.operands), "bytes_out": _bytes(op.results)}
        gemm = gemm_shape(op)
        if gemm is not None:
            rec.update(kind="gemm", **gemm)
        else:
            rec.update(kind="vector", cls=op_class(op), elements=int(sum(np.prod(hlo.shape(r), dtype=np.int64) for r in op.results)))
            if isinstance(op, (hlo.ReduceOp, hlo.ReduceWindowOp)):
                rec["elements"] = int(np.prod(hlo.shape(op.inputs[0]), dtype=np.int64))
                if isinstance(op, hlo.ReduceWindowOp):
                    rec["elements"] = int(np.prod(hlo.shape(op.results_[0]), dtype=np.int64)) * int(np.prod(hlo.ints(op.window_dimensions)))
        records.append(rec)
    return records
