"""`hologram-allocate`: give every buffer between kernels a run of classes, by liveness.

The seed's prototype hands out the next class for every buffer and never frees one (96
buffers per executor at most). Here a buffer (segment input, constant, value crossing
kernels) is live from the kernel that writes it (segment inputs and constants: from the
start; constants stay resident for the whole segment, outputs to its end) to the last kernel
that reads it; when a kernel starts, buffers whose last reader came before it return their
classes. A buffer takes ceil(bytes / 12,288) consecutive classes, first fit, so a numpy view
of it is one contiguous array; a buffer smaller than a class takes a run of the class's
256-byte pages instead (best fit, partly used classes first), so small constants and
per-channel vectors share classes; one that finds no room goes to the linear pool (64-byte
aligned, bump-allocated: nothing there is freed or reused, so its size is the sum of what
spilled) and its bytes are counted as spill. The result is in the IR (`ins_at` / `outs_at` on
each kernel, pool figures on the segment) and so in the artifact.

One pool per artifact: the pass allocates the hologram segments in order on one `PagePool`.
A segment's constants stay resident for the artifact's life (the next run needs them); its
other buffers return their classes when it ends, so the next segment reuses them (segments
run one after another). Places are therefore disjoint wherever lifetimes overlap, across
segments too, and the runtime gives all segments one pool. `linear_bytes` on every segment
is the artifact's whole linear pool.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ArrayAttr, IntegerAttr, ModuleOp
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass

from tsuc.dialects import hologram as hg
from tsuc.dialects.tsuc import SegmentOp
from tsuc.runtime.hologram.machine import (
    ALIGN,
    CLASS_BYTES,
    NUM_CLASSES,
    PAGE_BYTES,
    PAGES_PER_CLASS,
)
from tsuc.targets.hologram.lower import hologram_segments

Place = hg.ClassAttr | hg.PagesAttr | hg.LinearAttr


def nbytes(v: SSAValue) -> int:
    n = 4
    for d in v.type.get_shape():
        n *= d
    return n


@dataclass
class Allocation:
    places: dict[SSAValue, Place]
    classes_used: int
    peak_classes: int
    spill_bytes: int
    linear_bytes: int


def allocate_segment(seg: SegmentOp, pool: "PagePool | None" = None, linear_top: int = 0) -> Allocation:
    """Places for one segment's buffers in `pool` (shared by the artifact's segments: the
    constants it holds from earlier segments stay resident), the linear pool continuing at
    `linear_top`. The segment's other buffers are released when it ends."""
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
    resident = set()
    for v in order:
        owner = getattr(v, "owner", None)
        if owner is not None and getattr(owner, "name", "") == "onnx.Constant":
            last[v] = end  # resident weights
            resident.add(v)
    pool = pool if pool is not None else PagePool()
    pool.touched = [False] * NUM_CLASSES
    places: dict[SSAValue, Place] = {}
    holding: dict[SSAValue, Place] = {}
    spill = peak = 0
    for t in range(-1, end):
        for v, place in list(holding.items()):
            if last[v] < t:
                pool.release(place)
                del holding[v]
        for v in [v for v in order if start[v] == t]:
            size = nbytes(v)
            place = pool.take(size)
            if place is None:
                places[v] = hg.LinearAttr(linear_top, size)
                linear_top += -(-size // ALIGN) * ALIGN
                spill += size
                continue
            holding[v] = places[v] = place
        peak = max(peak, pool.busy_classes())
    for v, place in holding.items():  # the segment ends: only its constants keep their classes
        if v not in resident:
            pool.release(place)
    return Allocation(places, pool.classes_touched(), peak, spill, linear_top)


class PagePool:
    """Free pages of the 96 classes: whole classes for big buffers, page runs for small ones."""

    def __init__(self) -> None:
        self.free = [[True] * PAGES_PER_CLASS for _ in range(NUM_CLASSES)]
        self.touched = [False] * NUM_CLASSES

    def take(self, size: int) -> Place | None:
        if size > CLASS_BYTES:
            need = -(-size // CLASS_BYTES)
            run = 0
            for c in range(NUM_CLASSES):
                run = run + 1 if all(self.free[c]) else 0
                if run == need:
                    first = c - need + 1
                    for k in range(first, first + need):
                        self.free[k] = [False] * PAGES_PER_CLASS
                        self.touched[k] = True
                    return hg.ClassAttr(first, need)
            return None
        pages = max(1, -(-size // PAGE_BYTES))
        # best fit: the partly used class with the shortest free run that holds it, else an empty class
        best = None
        for c in range(NUM_CLASSES):
            empty = all(self.free[c])
            for first, length in _runs(self.free[c]):
                if length >= pages:
                    key = (empty, length)
                    if best is None or key < best[0]:
                        best = (key, c, first)
        if best is None:
            return None
        _, c, first = best
        for k in range(first, first + pages):
            self.free[c][k] = False
        self.touched[c] = True
        return hg.PagesAttr(c, first, pages)

    def release(self, place: Place) -> None:
        if isinstance(place, hg.ClassAttr):
            for c in range(place.first.data, place.first.data + place.count.data):
                self.free[c] = [True] * PAGES_PER_CLASS
        elif isinstance(place, hg.PagesAttr):
            for k in range(place.first.data, place.first.data + place.pages.data):
                self.free[place.cls.data][k] = True

    def busy_classes(self) -> int:
        return sum(1 for c in range(NUM_CLASSES) if not all(self.free[c]))

    def classes_touched(self) -> int:
        return sum(self.touched)


def _runs(free: list[bool]):
    start = None
    for k, f in enumerate(free + [False]):
        if f and start is None:
            start = k
        elif not f and start is not None:
            yield start, k - start
            start = None


@dataclass(frozen=True)
class AllocateHologramPass(ModulePass):
    """`hologram-allocate`: classes (or linear-pool spill) for every kernel buffer."""

    name = "hologram-allocate"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        # One pool per artifact: the segments run one after another, so each takes the classes
        # the previous ones released (their constants stay, for the next run); the linear pool
        # is one bump-allocated range for all of them.
        pool = PagePool()
        linear_top = 0
        segments = list(hologram_segments(op))
        for seg in segments:
            alloc = allocate_segment(seg, pool, linear_top)
            linear_top = alloc.linear_bytes
            for kernel in seg.body.block.ops:
                if isinstance(kernel, hg.KernelOp):
                    kernel.attributes["ins_at"] = ArrayAttr([alloc.places[v] for v in kernel.args])
                    kernel.attributes["outs_at"] = ArrayAttr([alloc.places[v] for v in kernel.outs])
            for key, value in (("classes_used", alloc.classes_used), ("peak_classes", alloc.peak_classes),
                               ("spill_bytes", alloc.spill_bytes)):
                seg.attributes[f"hologram.{key}"] = IntegerAttr(value, 64)
        for seg in segments:  # every segment names the artifact's whole linear pool
            seg.attributes["hologram.linear_bytes"] = IntegerAttr(linear_top, 64)
