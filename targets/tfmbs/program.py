"""Reading lowered tfmbs segments back as layers (what allocation and emission walk).

`tfmbs-lower` produces, per layer, one `tfmbs.combine` fed by `act_trits * w_planes`
`tfmbs.gemv`s; each gemv reads a `tfmbs.dma_load` of a `tfmbs.pack` of a constant weight
plane and a `tfmbs.trit_plane` of the layer's `tfmbs.quantize` (through `tfmbs.im2col` for
Conv), and possibly one `tfmbs.post` (the folded residual Add / Relu) reads the combine.
`segment_layers` recovers that structure and checks it, so a hand-written or
half-lowered segment fails with a sentence naming the op instead of a KeyError later.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xdsl.ir import Operation, OpResult, SSAValue

from tsuc.dialects.tfmbs import CombineOp, DmaLoadOp, GemvOp, Im2ColOp, PackOp, PostOp, QuantizeOp, TritPlaneOp
from tsuc.dialects.tsuc import SegmentOp
from tsuc.errors import TsucError


@dataclass
class LoweredLayer:
    combine: CombineOp
    gemvs: list[GemvOp]  # j-major, p-minor
    loads: list[DmaLoadOp]  # per weight plane
    packs: list[PackOp]
    planes: list[TritPlaneOp]  # per trit
    quantize: QuantizeOp
    im2col: Im2ColOp | None
    post: PostOp | None = None  # the folded residual Add / Relu after the combine (option fold)

    @property
    def output(self) -> SSAValue:
        """The layer's output value: the post's result when there is one, else the combine's."""
        return self.post.result if self.post is not None else self.combine.result

    @property
    def name(self) -> str:
        return self.gemvs[0].telemetry.data["layer"].data

    @property
    def act_trits(self) -> int:
        return self.combine.act_trits.value.data

    @property
    def w_planes(self) -> int:
        return self.combine.w_planes.value.data

    @property
    def k(self) -> int:
        return self.gemvs[0].w.type.get_shape()[0]

    @property
    def n(self) -> int:
        return self.gemvs[0].w.type.get_shape()[1]

    @property
    def rows(self) -> int:
        """Input rows of one call; -1 when they are a run-time value."""
        return self.gemvs[0].x.type.get_shape()[0]

    @property
    def planning_rows(self) -> int:
        """The row count allocation plans for: the static rows, or for run-time rows those of
        one unit of the dynamic dimensions (e.g. batch 1)."""
        if self.rows >= 0:
            return self.rows
        shape = self.input.type.get_shape()
        if self.im2col is not None:
            oh, ow = self.im2col.out_hw()
            return oh * ow
        return int(np.prod([max(d, 1) for d in shape[:-1]], dtype=np.int64))

    @property
    def input(self) -> SSAValue:
        return self.quantize.input


def _owner(value: SSAValue, cls: type, what: str, where: Operation):
    op = value.owner if isinstance(value, OpResult) else None
    if not isinstance(op, cls):
        raise TsucError(f"{where.name} in a tfmbs segment expects its {what} from {cls.name}, got {op.name if op else 'a block argument'}")
    return op


def layer_of(combine: CombineOp) -> LoweredLayer:
    J, P = combine.act_trits.value.data, combine.w_planes.value.data
    gemvs = [_owner(a, GemvOp, "accumulators", combine) for a in combine.accs]
    loads = [_owner(g.w, DmaLoadOp, "weights", g) for g in gemvs[:P]]
    planes = [_owner(gemvs[j * P].x, TritPlaneOp, "inputs", gemvs[j * P]) for j in range(J)]
    for j in range(J):
        for p in range(P):
            g = gemvs[j * P + p]
            if g.w is not loads[p].result or g.x is not planes[j].result:
                raise TsucError(f"tfmbs.combine of layer {g.telemetry.data['layer'].data!r} does not read its gemvs in (trit, plane) order")
    for j, tp in enumerate(planes):
        if tp.plane.value.data != j:
            raise TsucError("tfmbs.trit_plane operands of a combine must be planes 0..act_trits-1 in order")
    packs = [_owner(ld.packed, PackOp, "packed weights", ld) for ld in loads]
    src = planes[0].levels
    im2col = src.owner if isinstance(src, OpResult) and isinstance(src.owner, Im2ColOp) else None
    if im2col is not None:
        src = im2col.input
    quantize = _owner(src, QuantizeOp, "levels", planes[0])
    if any(tp.levels is not planes[0].levels for tp in planes) or combine.act_scale is not quantize.scale:
        raise TsucError("the trit planes and scale of a tfmbs.combine must come from one tfmbs.quantize")
    if quantize.act_trits.value.data != J:
        raise TsucError("tfmbs.quantize and tfmbs.combine disagree on act_trits")
    uses = [u.operation for u in combine.result.uses]
    post = uses[0] if len(uses) == 1 and isinstance(uses[0], PostOp) and uses[0].input is combine.result else None
    return LoweredLayer(combine, gemvs, loads, packs, planes, quantize, im2col, post)


def segment_layers(segment: SegmentOp) -> list[LoweredLayer]:
    return [layer_of(op) for op in segment.body.block.ops if isinstance(op, CombineOp)]


def tfmbs_segments(module: Operation) -> list[SegmentOp]:
    return [op for op in module.walk() if isinstance(op, SegmentOp) and op.target_name == "tfmbs"]
