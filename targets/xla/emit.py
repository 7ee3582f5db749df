"""An xla segment -> artifact members: the HLO text, its weight parameters, and the cost records.

Members under `segments/<name>/`: `hlo.txt` (the `HloModule`), `ops.json` (one record per hlo
op for the cycle model, `costs.py`); weights are shared `.npy` members named in
`config.weights`, in parameter order after the segment's inputs.
"""

from __future__ import annotations

from typing import Any

from tsuc.compiler.emit import EmitContext
from tsuc.dialects.tsuc import SegmentOp
from tsuc.targets.xla.costs import segment_costs
from tsuc.targets.xla.hlo_text import segment_to_hlo
from tsuc.targets.xla.options import segment_options

SYSTOLIC_KEYS = ("rows", "cols", "dataflow", "clock_mhz", "vector_lanes", "ifmap_sram_kb", "filter_sram_kb", "ofmap_sram_kb",
                 "bandwidth_gbps", "energy_mac_pj", "energy_byte_pj")


def emit_xla_segment(segment: SegmentOp, ctx: EmitContext) -> dict[str, Any]:
    module = segment_to_hlo(segment, ctx.blobs)
    ctx.add_text("hlo", module.text)
    weights = [ctx.add_shared_array(handle, arr) for handle, arr in module.weights]
    ctx.add_json("ops", segment_costs(segment))
    options = segment_options(segment, ctx.target)
    return {"kind": "xla", "config": {"weights": weights, "systolic": {k: options[k] for k in SYSTOLIC_KEYS}}}
