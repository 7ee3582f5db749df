"""`hologram-fuse`: group a segment's vector ops into `hologram.kernel`s, one engine launch each.

A kernel streams over one iteration space (its element count) vector by vector, so every
value inside it lives in the engine for one vector and never reaches the pool. Ops are taken
in program order (topological) and join the most recent kernel when that is legal:
- an elementwise op (unary, binary with broadcasting, scalar, clip, fill, transpose,
  reshape) or a softmax joins when its result has the kernel's element count and the kernel
  is not closed: chains and DAGs of one shape (residual adds included) fuse whole;
- a reduction or a loss joins a kernel over its input's element count and closes it (its
  result is complete only at the end of the stream; another reduction of the same space may
  still join, an op reading a reduction starts a new kernel);
- a gemm starts a kernel (its M x N x K loop nest), whose elementwise epilogue then fuses.
Joining the most recent kernel keeps kernels in a topological order. Values crossing
kernels, segment inputs and constants are the kernels' operands and results: the buffers
`hologram-allocate` places. With the option `fuse=false` each op is its own kernel.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass

from tsuc.dialects import hologram as hg
from tsuc.dialects.tsuc import SegmentOp
from tsuc.targets.hologram.lower import hologram_segments
from tsuc.targets.hologram.options import segment_options


def _elements(v: SSAValue) -> int:
    n = 1
    for d in v.type.get_shape():
        n *= d
    return n


@dataclass
class Group:
    count: int
    ops: list[Operation] = field(default_factory=list)
    closed: bool = False
    tails: set[SSAValue] = field(default_factory=set)


def group_ops(ops: list[Operation], fuse: bool = True) -> list[Group]:
    groups: list[Group] = []
    for op in ops:
        last = groups[-1] if groups and fuse else None
        reads_tail = last is not None and any(v in last.tails for v in op.operands)
        if isinstance(op, hg.GemmOp):
            groups.append(Group(_elements(op.results[0]), [op]))
        elif isinstance(op, (hg.ReduceOp, hg.LossOp)):
            space = _elements(op.operands[0])
            if last is not None and last.count == space and not reads_tail:
                last.ops.append(op)
                last.closed = True
                last.tails.add(op.results[0])
            else:
                groups.append(Group(space, [op], closed=True, tails={op.results[0]}))
        else:
            n = _elements(op.results[0])
            if last is not None and not last.closed and last.count == n:
                last.ops.append(op)
            else:
                groups.append(Group(n, [op]))
    return groups


def outline(seg: SegmentOp, group: Group, name: str) -> hg.KernelOp:
    block = seg.body.block
    inside = set(group.ops)
    defined = {r for op in group.ops for r in op.results}
    inputs: list[SSAValue] = []
    for op in group.ops:
        for v in op.operands:
            if v not in defined and v not in inputs:
                inputs.append(v)
    outputs = [r for op in group.ops for r in op.results if any(u.operation not in inside for u in r.uses)]
    body = Block(arg_types=[v.type for v in inputs])
    mapping = dict(zip(inputs, body.args))
    for op in group.ops:
        op.detach()
        body.add_op(op)
        for k, v in enumerate(op.operands):
            if v in mapping:
                op.operands[k] = mapping[v]
    body.add_op(hg.YieldOp(outputs))
    kernel = hg.KernelOp(name, inputs, [v.type for v in outputs], Region(body))
    block.insert_op_before(kernel, block.last_op)  # type: ignore[arg-type]
    for old, new in zip(outputs, kernel.outs):
        for use in list(old.uses):
            if use.operation is not body.last_op and use.operation not in inside:
                use.operation.operands[use.index] = new
    return kernel


def fuse_segment(seg: SegmentOp, fuse: bool) -> list[hg.KernelOp]:
    ops = [op for op in seg.body.block.ops if isinstance(op, hg.VectorOp)]
    return [outline(seg, g, f"k{i}") for i, g in enumerate(group_ops(ops, fuse))]


@dataclass(frozen=True)
class FuseHologramPass(ModulePass):
    """`hologram-fuse`: vector ops of each hologram segment -> hologram.kernel launches."""

    name = "hologram-fuse"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for seg in hologram_segments(op):
            fuse_segment(seg, bool(segment_options(seg)["fuse"]))

