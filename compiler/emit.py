"""From a partitioned module to artifact members and the manifest's segment list.

Values that cross segment boundaries get glue names (graph input names, graph output names,
or `<segment>:<k>`), host segments become ONNX models whose weights are `.npy` members, and
target segments are handed to `Target.emit_segment` with an `EmitContext`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import SSAValue

from tsuc.compiler.artifact_writer import ArtifactBuilder
from tsuc.compiler.blobs import BlobStore, blob_store
from tsuc.compiler.onnx_export import export_block
from tsuc.compiler.passes.op_counts import OP_COUNTS, core_op_counts
from tsuc.compiler.types import numpy_dtype, shape_of
from tsuc.dialects.tsuc import SegmentOp
from tsuc.errors import TsucError
from tsuc.targets.base import Target

from tsuc.compiler.frontends.onnx_import import INPUT_NAMES, OUTPUT_NAMES


@dataclass
class EmitContext:
    """What a target's emitter writes through: members go under `segments/<name>/`."""

    builder: ArtifactBuilder
    module: ModuleOp
    blobs: BlobStore
    segment_name: str
    target: Target | None
    members: dict[str, str] = field(default_factory=dict)

    def _member(self, role: str, suffix: str) -> str:
        return f"segments/{self.segment_name}/{role}{suffix}"

    def add_array(self, role: str, array: np.ndarray) -> str:
        name = self.builder.add_array(self._member(role, ".npy"), array)
        self.members[role] = name
        return name

    def add_text(self, role: str, text: str, suffix: str = ".txt") -> str:
        name = self.builder.add_text(self._member(role, suffix), text)
        self.members[role] = name
        return name

    def add_json(self, role: str, obj: Any) -> str:
        name = self.builder.add_json(self._member(role, ".json"), obj)
        self.members[role] = name
        return name

    def add_bytes(self, role: str, data: bytes, suffix: str = ".bin") -> str:
        name = self.builder.add_bytes(self._member(role, suffix), data)
        self.members[role] = name
        return name

    def add_shared_array(self, key: str, array: np.ndarray) -> str:
        """A weight array stored once however many segments use it."""
        name = f"weights/{key}.npy"
        if name not in self.builder:
            self.builder.add_array(name, array)
        return name


def signature(name: str, ty: Any) -> dict[str, Any]:
    from tsuc.dialects.onnx_node import ValueType

    if isinstance(ty, ValueType):  # an ONNX type numpy does not name: "seq(tensor(float))", "tensor(string)"
        tt = ty.type_proto().tensor_type if ty.type_proto().HasField("tensor_type") else None
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim] if tt is not None and tt.HasField("shape") else None
        return {"name": name, "dtype": ty.desc.data, "shape": dims if dims is not None else []}
    shape = shape_of(ty)
    return {"name": name, "dtype": numpy_dtype(ty.get_element_type()).name, "shape": list(shape) if shape is not None else []}


def main_function(module: ModuleOp) -> func.FuncOp:
    for op in module.ops:
        if isinstance(op, func.FuncOp) and op.sym_name.data == "main":
            return op
    raise TsucError("the module has no func.func @main")


def emit_module(module: ModuleOp, targets: Sequence[Target], builder: ArtifactBuilder) -> dict[str, Any]:
    """Write every segment's members into `builder`; return the manifest's graph fields.

    Each segment is emitted by the listed target its `#tsuc.target<...>` names (host
    segments as ONNX graphs)."""
    by_name = {t.name: t for t in targets}
    fn = main_function(module)
    block = fn.body.block
    store = blob_store(module)
    input_names = [a.data for a in fn.attributes[INPUT_NAMES].data] if INPUT_NAMES in fn.attributes else [f"input{k}" for k in range(len(block.args))]
    output_names = [a.data for a in fn.attributes[OUTPUT_NAMES].data] if OUTPUT_NAMES in fn.attributes else None
    ret = block.last_op
    assert ret is not None
    returned = list(ret.operands)
    if output_names is None:
        output_names = [f"output{k}" for k in range(len(returned))]
    names: dict[SSAValue, str] = dict(zip(block.args, input_names))
    for v, n in zip(returned, output_names):
        if v in names:
            raise TsucError(f"graph output {n!r} is the same tensor as {names[v]!r}; tsuc needs an op between them")
        names[v] = n
    segments: list[dict[str, Any]] = []
    stats: Counter[str] = Counter()
    for op in block.ops:
        if isinstance(op, SegmentOp):
            seg_name = op.sym_name.data
            for k, r in enumerate(op.outs):
                names.setdefault(r, f"{seg_name}:{k}")
            inputs = [names[v] for v in op.args]
            outputs = [names[r] for r in op.outs]
            counts = _op_counts(op)
            label = op.target_name
            stats[label] += sum(counts.values())
            target = by_name.get(label)
            if label != "host" and target is None:
                raise TsucError(f"segment {seg_name} is for target {label}, which is not among the listed targets "
                                f"({', '.join(by_name)})")
            ctx = EmitContext(builder, module, store, seg_name, target)
            if label == "host":
                entry = emit_host_segment(op, inputs, outputs, ctx)
            else:
                entry = target.emit_segment(op, ctx)  # type: ignore[union-attr]
            full = {"name": seg_name, "target": label, "inputs": inputs, "outputs": outputs}
            full.update(entry)
            full.setdefault("members", ctx.members)
            full.setdefault("config", {})
            full["ops"] = counts
            segments.append(full)
        elif op.name in ("onnx.Constant", "func.return"):
            continue
        else:
            raise TsucError(f"op {op.name} was left outside every segment")
    for v, n in zip(returned, output_names):
        if not isinstance(v.owner, SegmentOp) and v not in block.args:  # type: ignore[union-attr]
            raise TsucError(f"graph output {n!r} is not produced by any segment")
    for target in targets:  # e.g. tfmbs fuses runs of fabric and host segments into one graph
        segments = target.finish_segments(segments, builder, list(output_names))
    return {
        "inputs": [signature(n, a.type) for n, a in zip(input_names, block.args)],
        "outputs": [signature(n, v.type) for n, v in zip(output_names, returned)],
        "segments": segments,
        "op_stats": {"total": sum(stats.values()), "by_target": dict(sorted(stats.items())),
                     "on_host": stats.get("host", 0)},
    }


def _op_counts(seg: SegmentOp) -> dict[str, int]:
    """Core ops in the segment as partitioned (recorded by `tsuc-count-ops`), else as it is now."""
    recorded = seg.attributes.get(OP_COUNTS)
    if recorded is not None:
        return {k: v.value.data for k, v in recorded.data.items()}  # type: ignore[attr-defined]
    return core_op_counts(seg)


def emit_host_segment(seg: SegmentOp, inputs: list[str], outputs: list[str], ctx: EmitContext) -> dict[str, Any]:
    block = seg.body.block
    yielded = list(block.last_op.operands)  # type: ignore[union-attr]
    exported = export_block(block, inputs, yielded, outputs, ctx.blobs, external=True, name=seg.sym_name.data)
    ctx.add_bytes("model", exported.model.SerializeToString(), suffix=".onnx")
    initializers = {name: ctx.add_shared_array(name, array) for name, array in exported.external.items()}
    return {"kind": "onnx", "config": {"initializers": initializers}}
