"""The `tsuc` dialect: the structure the partitioner gives a model.

`tsuc.segment` groups ops that run on one target into an isolated region, as IREE's dispatch
regions and TVM's BYOC partitions do. Its block arguments are the values the segment reads,
its `tsuc.yield` operands the values it produces; everything outside runs on the host or in
other segments, and each segment becomes one artifact segment.

    %y = tsuc.segment "seg1" target "tfmbs" (%x) : (tensor<1x64xf32>) -> tensor<1x10xf32> {
    ^bb0(%a: tensor<1x64xf32>):
      ...
      tsuc.yield %r : tensor<1x10xf32>
    }
"""

from __future__ import annotations

from xdsl.dialects.builtin import StringAttr
from xdsl.ir import Block, Dialect, Region, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    prop_def,
    region_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.traits import HasParent, IsolatedFromAbove, IsTerminator
from xdsl.utils.exceptions import VerifyException


@irdl_op_definition
class SegmentOp(IRDLOperation):
    """A partition of the graph that one target runs as a whole."""

    name = "tsuc.segment"
    sym_name = prop_def(StringAttr)
    target = prop_def(StringAttr)
    args = var_operand_def()
    outs = var_result_def()
    body = region_def("single_block")
    traits = traits_def(IsolatedFromAbove())

    assembly_format = "$sym_name `target` $target `(` $args `)` attr-dict `:` functional-type($args, $outs) $body"

    def __init__(self, sym_name: str, target: str, args: list[SSAValue], result_types: list, body: Region):
        super().__init__(
            properties={"sym_name": StringAttr(sym_name), "target": StringAttr(target)},
            operands=[args],
            result_types=[result_types],
            regions=[body],
        )

    @property
    def block(self) -> Block:
        return self.body.block

    def verify_(self) -> None:
        block = self.body.block
        if [a.type for a in block.args] != [a.type for a in self.args]:
            raise VerifyException("tsuc.segment block arguments must match its operands in number and type")
        last = block.last_op
        if not isinstance(last, YieldOp):
            raise VerifyException("tsuc.segment body must end with tsuc.yield")
        if [v.type for v in last.values] != [r.type for r in self.outs]:
            raise VerifyException("tsuc.yield operands must match the segment's results in number and type")


@irdl_op_definition
class YieldOp(IRDLOperation):
    """Ends a segment, naming the values it produces."""

    name = "tsuc.yield"
    values = var_operand_def()
    traits = traits_def(IsTerminator(), HasParent(SegmentOp))

    assembly_format = "($values^ `:` type($values))? attr-dict"

    def __init__(self, values: list[SSAValue]):
        super().__init__(operands=[values])


TSUC = Dialect("tsuc", [SegmentOp, YieldOp], [])
