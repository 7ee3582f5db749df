"""Partitioning: group target-supported ops into `tsuc.segment`s, everything else into host segments.

Ops are labelled with the first listed target whose `Target.supports(op)` says so and `host`
otherwise; maximal runs of consecutive ops with one label (program order is topological, so
every run can execute as a unit) become one segment each. `onnx.Constant` ops stay outside
and are cloned into each segment that reads them, so a segment sees its weights. A segment's
operands are the outside values it reads, its results the values read after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, ModuleOp, StringAttr
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern, op_type_rewrite_pattern
from xdsl.rewriter import InsertPoint, Rewriter

from tsuc.dialects.tsuc import SegmentOp, TargetAttr, YieldOp
from tsuc.errors import TsucError, UnsupportedError

if TYPE_CHECKING:
    from tsuc.targets.base import Target

HOST = "host"
NOTES = "tsuc.notes"


def _label(op: Operation, targets: Sequence[Target]) -> Target | str | None:
    """The first listed target that runs `op`, `host` if none does, None for ops no segment holds."""
    if op.name == "onnx.Constant" or op.has_trait(_terminator()):
        return None
    for target in targets:
        if target.name != "cpu" and target.supports(op):
            return target
    return HOST


def _terminator():
    from xdsl.traits import IsTerminator

    return IsTerminator


def _reasons(op: Operation, targets: Sequence[Target]) -> str:
    return "; ".join(t.unsupported_reason(op) for t in targets if t.name != "cpu") or "target cpu runs everything on the host"


def check_fallback(fn: func.FuncOp, targets: Sequence[Target], fallback: str) -> None:
    """With `fallback=error`, list every op that no listed target runs in one error."""
    if fallback != "error":
        return
    from tsuc.compiler.onnx_export import node_name

    bad = [f"{node_name(op) or op.name} ({_reasons(op, targets)})" for op in fn.body.block.ops
           if _label(op, targets) == HOST]
    if bad:
        names = ",".join(t.name for t in targets)
        raise UnsupportedError(f"{len(bad)} op(s) cannot run on target {names} (fallback=error): " + "; ".join(bad))


def fallback_notes(fn: func.FuncOp, targets: Sequence[Target]) -> list[str]:
    """A note for every op of a kind a listed target accelerates that still lands on the host."""
    from tsuc.compiler.onnx_export import node_name

    notes = []
    for op in fn.body.block.ops:
        owners = [t for t in targets if op.name in t.accelerates]
        if owners and _label(op, targets) == HOST:
            why = "; ".join(t.unsupported_reason(op) for t in owners)
            notes.append(f"{node_name(op) or op.name} ({op.name.split('.', 1)[-1]}) stays on the host: {why}")
    return notes


def partition_function(fn: func.FuncOp, targets: Sequence[Target]) -> list[SegmentOp]:
    block = fn.body.block
    runs: list[tuple[Target | str, list[Operation]]] = []
    for op in list(block.ops):
        label = _label(op, targets)
        if label is None:
            continue
        if runs and runs[-1][0] == label:
            runs[-1][1].append(op)
        else:
            runs.append((label, [op]))
    # Runs are outlined in program order, so every later user of a run's results is still a
    # top-level op of the block, found by its original position without rescanning the block.
    position = {op: k for k, op in enumerate(block.ops)}
    segments = []
    attrs: dict[int, TargetAttr] = {}  # one (immutable) attribute per target, shared by its segments
    for index, (label, ops) in enumerate(runs):
        attr = attrs.get(id(label))
        if attr is None:
            attr = attrs[id(label)] = TargetAttr(HOST) if label == HOST else TargetAttr(label.name, label.values)  # type: ignore[union-attr]
        segments.append(_outline(block, f"{attr.data}{index}", attr, ops, position))
    return segments


def _outline(block: Block, name: str, label: TargetAttr, ops: list[Operation], position: dict[Operation, int]) -> SegmentOp:
    inside = set(ops)
    defined = {r for op in ops for r in op.results}
    inputs: list[SSAValue] = []
    constants: list[Operation] = []
    seen: set[SSAValue] = set()
    for op in ops:
        for v in op.operands:  # onnx ops hold no regions: subgraphs are blobs
            if v in defined or v in seen:
                continue
            seen.add(v)
            owner = getattr(v, "owner", None)
            if isinstance(owner, Operation) and owner.name == "onnx.Constant":
                constants.append(owner)
            else:
                inputs.append(v)
    outputs = [r for op in ops for r in op.results if any(u.operation not in inside for u in r.uses)]
    body = Block(arg_types=[v.type for v in inputs])
    mapping: dict[SSAValue, SSAValue] = dict(zip(inputs, body.args))
    for const in constants:
        clone = const.clone()
        body.add_op(clone)
        mapping[const.results[0]] = clone.results[0]
    for op in ops:
        op.detach()
        body.add_op(op)
    for old, new in mapping.items():
        for use in list(old.uses):
            if use.operation in inside:
                use.operation.operands[use.index] = new
    body.add_op(YieldOp(outputs))
    seg = SegmentOp(name, label, inputs, [v.type for v in outputs], Region(body))
    # the segment goes before the first user of its outputs (its inputs are all defined by then)
    users = [u.operation for v in outputs for u in v.uses if u.operation.parent_block() is block]
    first = min(users, key=lambda op: position[op]) if users else block.last_op
    Rewriter.insert_op(seg, InsertPoint.before(first))  # type: ignore[arg-type]
    for old, new in zip(outputs, seg.outs):
        for use in list(old.uses):
            user = use.operation
            if user is not body.last_op and user not in inside:
                user.operands[use.index] = new
    return seg


class PartitionMain(RewritePattern):
    def __init__(self, targets: Sequence[Target], fallback: str = "host") -> None:
        self.targets = list(targets)
        self.fallback = fallback
        self.notes: list[str] = []

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: func.FuncOp, rewriter: PatternRewriter) -> None:
        if op.sym_name.data != "main" or any(isinstance(o, SegmentOp) for o in op.body.block.ops):
            return
        check_fallback(op, self.targets, self.fallback)
        self.notes.extend(fallback_notes(op, self.targets))
        partition_function(op, self.targets)
        # constants now only used inside segments are dead outside
        for const in [o for o in op.body.block.ops if o.name == "onnx.Constant"]:
            if not const.results[0].uses:
                const.detach()
                const.erase()


@dataclass(frozen=True)
class PartitionPass(ModulePass):
    """`tsuc-partition{targets="tfmbs{w_planes=2},tsu" fallback=host}`: split `@main` into segments.

    Each op goes to the first listed target that supports it, the rest to host segments; each
    segment records its target and that target's resolved options (`#tsuc.target<...>`), and
    ops of a kind a listed target accelerates that still land on the host get a compile note
    (module attribute `tsuc.notes`) saying why."""

    name = "tsuc-partition"

    targets: str = "cpu"
    fallback: str = "host"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        from tsuc.targets.registry import resolve_targets

        targets, _ = resolve_targets(self.targets)
        if self.fallback not in ("host", "error"):
            raise TsucError(f"tsuc-partition: fallback={self.fallback!r} must be host or error")
        partition_module(op, targets, self.fallback)


def partition_module(module: ModuleOp, targets: Sequence[Target], fallback: str = "host") -> None:
    # Outlining moves ops between blocks, which a pattern walker's worklist cannot follow,
    # so the pattern is applied to each function directly.
    pattern = PartitionMain(targets, fallback)
    for op in list(module.ops):
        if isinstance(op, func.FuncOp):
            pattern.match_and_rewrite(op, PatternRewriter(op))
    if pattern.notes:
        module.attributes[NOTES] = ArrayAttr([StringAttr(n) for n in pattern.notes])
