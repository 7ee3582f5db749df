"""Turning an allocated hologram segment into artifact members and its manifest entry.

The config holds (version `CONFIG_VERSION`):
- `machine`: the cost-model constants (`tsuc.runtime.hologram.machine.Machine`);
- `values`: every buffer and fused intermediate by id: `shape` and `place` (["class", first,
  count], ["pages", class, first, pages], ["linear", offset, bytes], or null for a value that lives inside one kernel);
  places are in the artifact's one pool, shared by all its hologram segments;
- `inputs` / `outputs`: value ids of the segment's operands and results, in order;
- `constants`: value id -> member name (`.npy`, float32), loaded into their place;
- `kernels`: name, `ins`, `outs` (value ids) and `ops`, each {op, in, out, attrs} in order;
- `stats`: onnx ops, ops_original, ops_canonical, reduction_pct, kernels, classes_used,
  peak_classes, spill_bytes, linear_bytes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from xdsl.dialects.builtin import DenseArrayBase, FloatAttr, IntegerAttr, UnitAttr
from xdsl.ir import SSAValue

from tsuc.compiler.blobs import constant_value
from tsuc.dialects import hologram as hg
from tsuc.dialects.tsuc import SegmentOp
from tsuc.errors import TsucError
from tsuc.runtime.hologram.machine import MACHINE_OPTIONS
from tsuc.targets.hologram.options import segment_options

CONFIG_VERSION = 2  # 2: places are artifact-wide (one pool for all hologram segments)


def _attrs(op: hg.VectorOp) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, attr in op.attributes.items():
        if isinstance(attr, FloatAttr):
            out[key] = float(attr.value.data)
        elif isinstance(attr, IntegerAttr):
            out[key] = int(attr.value.data)
        elif isinstance(attr, DenseArrayBase):
            out[key] = [int(v) for v in attr.get_values()]
        elif isinstance(attr, UnitAttr):
            out[key] = True
    if isinstance(op, hg.ReduceOp):
        out["axes"] = op.reduced_axes()
        out["keepdims"] = op.keepdims is not None
    return out


def emit_hologram_segment(segment: SegmentOp, ctx: Any) -> dict[str, Any]:
    block = segment.body.block
    ids: dict[SSAValue, int] = {}
    values: list[dict[str, Any]] = []

    def vid(v: SSAValue, place: Any = None) -> int:
        if v not in ids:
            ids[v] = len(values)
            values.append({"shape": list(v.type.get_shape()), "place": None})
        if place is not None:
            entry = values[ids[v]]
            if isinstance(place, hg.ClassAttr):
                entry["place"] = ["class", place.first.data, place.count.data]
            elif isinstance(place, hg.PagesAttr):
                entry["place"] = ["pages", place.cls.data, place.first.data, place.pages.data]
            else:
                entry["place"] = ["linear", place.offset.data, place.size.data]
        return ids[v]

    kernels = []
    constants: dict[str, str] = {}
    for op in block.ops:
        if op.name == "onnx.Constant" or op is block.last_op:
            continue
        if not isinstance(op, hg.KernelOp):
            raise TsucError(f"hologram segment {segment.sym_name.data!r} holds {op.name} outside every kernel")
        if op.ins_at is None or op.outs_at is None:
            raise TsucError(f"hologram kernel {op.sym_name.data!r} has no class assignment (run hologram-allocate)")
        ins = [vid(v, p) for v, p in zip(op.args, op.ins_at.data)]
        outs = [vid(v, p) for v, p in zip(op.outs, op.outs_at.data)]
        local = dict(zip(op.body.block.args, ins))
        local.update(zip(op.body.block.last_op.operands, outs))  # type: ignore[union-attr]  # results written in place
        ops = []
        for inner in op.body.block.ops:
            if isinstance(inner, hg.YieldOp):
                continue
            for r in inner.results:
                if r not in local:
                    local[r] = vid(r)
            ops.append({"op": inner.name.split(".", 1)[1], "in": [local[v] for v in inner.operands],
                        "out": local[inner.results[0]], "attrs": _attrs(inner)})
        kernels.append({"name": op.sym_name.data, "ins": ins, "outs": outs, "ops": ops})
        for v in op.args:
            owner = getattr(v, "owner", None)
            if owner is not None and getattr(owner, "name", "") == "onnx.Constant" and str(ids[v]) not in constants:
                array = constant_value(v, ctx.module)
                if array is None:
                    raise TsucError(f"hologram kernel {op.sym_name.data!r} reads a constant with no data in the blob store")
                constants[str(ids[v])] = ctx.add_array(f"c{ids[v]}", np.ascontiguousarray(array, np.float32))
    inputs = [vid(a) for a in block.args]
    outputs = []
    for v in block.last_op.operands:  # type: ignore[union-attr]
        if v not in ids:
            raise TsucError(f"hologram segment {segment.sym_name.data!r} yields a value no kernel writes")
        outputs.append(ids[v])
    opts = segment_options(segment)
    original = int(segment.attributes["hologram.ops_original"].value.data)  # type: ignore[attr-defined]
    canonical = int(segment.attributes["hologram.ops_canonical"].value.data)  # type: ignore[attr-defined]
    stats = {
        "ops_original": original,
        "ops_canonical": canonical,
        "reduction_pct": round(100.0 * (1 - canonical / original), 3) if original else 0.0,
        "kernels": len(kernels),
    }
    for key in ("classes_used", "peak_classes", "spill_bytes", "linear_bytes"):
        stats[key] = int(segment.attributes[f"hologram.{key}"].value.data)  # type: ignore[attr-defined]
    return {
        "kind": "hologram",
        "config": {
            "version": CONFIG_VERSION,
            "machine": {k: opts[k] for k in MACHINE_OPTIONS},
            "values": values,
            "inputs": inputs,
            "outputs": outputs,
            "constants": constants,
            "kernels": kernels,
            "stats": stats,
        },
    }
