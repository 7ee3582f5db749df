"""`hologram-allocate`: give every buffer between kernels a run of classes, by liveness.

The seed's prototype hands out the next class for every buffer and never frees one (96
buffers per executor at most). Here a buffer (segment input, constant, value crossing
kernels) is live from the kernel that writes it (segment inputs and constants: from the
start; constants stay resident for the whole segment, outputs to its end) to the last kernel
that reads it; when a kernel starts, buffers whose last reader came before it return their
classes. A buffer takes ceil(bytes / 12,288) consecutive classes, first fit, so a numpy view
of it is one contiguous array; one that finds no run goes to the linear pool (64-byte
aligned, bump-allocated) and its bytes are counted as spill. The result is in the IR
(`ins_at` / `outs_at` on each kernel, pool figures on the segment) and so in the artifact.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ArrayAttr, IntegerAttr, ModuleOp
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass

from tsuc.dialects import hologram as hg
from tsuc.dialects.tsuc import SegmentOp
from tsuc.runtime.hologram.machine import ALIGN, CLASS_BYTES, NUM_CLASSES
from tsuc.targets.hologram.lower import hologram_segments


def nbytes(v: SSAValue) -> int:
    n = 4
    for d in v.type.get_shape():
        n *= d
    return n


@dataclass
class Allocation:
    places: dict[SSAValue, hg.ClassAttr | hg.LinearAttr]
    classes_used: int
    peak_classes: int
    spill_bytes: int
    linear_bytes: int


def allocate_segment(seg: SegmentOp) -> Allocation:
    block = seg.body.block
    kernels = [op for op in block.ops if isinstance(op, hg.KernelOp)]
    end = len(kernels)
    start: dict[SSAValue, int] = {}
    last: dict[SSAValue, int] = {}
    order: list[SSAValue] = []

    def define(v: SSAValue, t: int) -> None:
        if v not in start:
            start[v] = t
            last[v] = t
            order.append(v)

    for a in block.args:
        define(a, -1)
    for k, kernel in enumerate(kernels):
        for v in kernel.args:
            define(v, -1)  # constants and inputs (kernel results are defined below, earlier)
            last[v] = max(last[v], k)
        for r in kernel.outs:
            define(r, k)
    for v in block.last_op.operands:  # type: ignore[union-attr]
        define(v, -1)
        last[v] = end
    for v in order:
        owner = getattr(v, "owner", None)
        if owner is not None and getattr(owner, "name", "") == "onnx.Constant":
            last[v] = end  # resident weights
    free = [True] * NUM_CLASSES
    used = [False] * NUM_CLASSES
    places: dict[SSAValue, hg.ClassAttr | hg.LinearAttr] = {}
    holding: dict[SSAValue, tuple[int, int]] = {}
    linear_top = spill = peak = 0
    for t in range(-1, end):
        for v, (first, count) in list(holding.items()):
            if last[v] < t:
                for c in range(first, first + count):
                    free[c] = True
                del holding[v]
        for v in [v for v in order if start[v] == t]:
            size = nbytes(v)
            need = max(1, -(-size // CLASS_BYTES))
            first = _first_fit(free, need)
            if first is None:
                places[v] = hg.LinearAttr(linear_top, size)
                linear_top += -(-size // ALIGN) * ALIGN
                spill += size
                continue
            for c in range(first, first + need):
                free[c] = False
                used[c] = True
            holding[v] = (first, need)
            places[v] = hg.ClassAttr(first, need)
        peak = max(peak, NUM_CLASSES - sum(free))
    return Allocation(places, sum(used), peak, spill, linear_top)


def _first_fit(free: list[bool], need: int) -> int | None:
    run = 0
    for c, f in enumerate(free):
        run = run + 1 if f else 0
        if run == need:
            return c - need + 1
    return None


@dataclass(frozen=True)
class AllocateHologramPass(ModulePass):
    """`hologram-allocate`: classes (or linear-pool spill) for every kernel buffer."""

    name = "hologram-allocate"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for seg in hologram_segments(op):
            alloc = allocate_segment(seg)
            for kernel in seg.body.block.ops:
                if isinstance(kernel, hg.KernelOp):
                    kernel.attributes["ins_at"] = ArrayAttr([alloc.places[v] for v in kernel.args])
                    kernel.attributes["outs_at"] = ArrayAttr([alloc.places[v] for v in kernel.outs])
            for key, value in (("classes_used", alloc.classes_used), ("peak_classes", alloc.peak_classes),
                               ("spill_bytes", alloc.spill_bytes), ("linear_bytes", alloc.linear_bytes)):
                seg.attributes[f"hologram.{key}"] = IntegerAttr(value, 64)
