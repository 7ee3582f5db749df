"""The `tsuc` dialect: the structure the partitioner gives a model.

`tsuc.segment` groups ops that run on one target into an isolated region, as IREE's dispatch
regions and TVM's BYOC partitions do. Its block arguments are the values the segment reads,
its `tsuc.yield` operands the values it produces; everything outside runs on the host or in
other segments, and each segment becomes one artifact segment.

The segment's `#tsuc.target<"name", {options}>` says which target runs it and with which
resolved options (compare IREE's `#hal.executable.target`). The partition pass writes it; every
lowering pass reads its options from it, so printed IR replays exactly under `tsuc opt`.
Host segments carry `#tsuc.target<"host">`.

    %y = tsuc.segment "tfmbs0" target #tsuc.target<"tfmbs", {w_planes = 2 : i64, ...}> (%x)
           : (tensor<1x64xf32>) -> tensor<1x10xf32> {
    ^bb0(%a: tensor<1x64xf32>):
      ...
      tsuc.yield %r : tensor<1x10xf32>
    }
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from xdsl.dialects.builtin import DictionaryAttr, Float64Type, FloatAttr, IntegerAttr, IntegerType, StringAttr
from xdsl.ir import Attribute, Block, Dialect, ParametrizedAttribute, Region, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    irdl_attr_definition,
    irdl_op_definition,
    prop_def,
    region_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.traits import HasParent, IsolatedFromAbove, IsTerminator
from xdsl.utils.exceptions import VerifyException

HOST = "host"


def _option_attr(value: Any) -> Attribute:
    if isinstance(value, bool):
        return IntegerAttr(int(value), IntegerType(1))
    if isinstance(value, int):
        return IntegerAttr(value, 64)
    if isinstance(value, float):
        return FloatAttr(value, Float64Type())
    if isinstance(value, str):
        return StringAttr(value)
    raise TypeError(f"option value {value!r} has no attribute form")


def _option_value(attr: Attribute) -> Any:
    if isinstance(attr, IntegerAttr):
        width = attr.type.width.data if isinstance(attr.type, IntegerType) else 64
        return bool(attr.value.data) if width == 1 else int(attr.value.data)
    if isinstance(attr, FloatAttr):
        return float(attr.value.data)
    if isinstance(attr, StringAttr):
        return attr.data
    raise VerifyException(f"#tsuc.target options must be integers, floats, booleans or strings, not {attr}")


@irdl_attr_definition
class TargetAttr(ParametrizedAttribute):
    """`#tsuc.target<"tfmbs", {w_planes = 2 : i64, ...}>`: a target and its resolved options."""

    name = "tsuc.target"

    target: StringAttr
    options: DictionaryAttr

    def __init__(self, target: str, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(StringAttr(target), DictionaryAttr({k: _option_attr(v) for k, v in (options or {}).items()}))

    @property
    def data(self) -> str:
        """The target's name (so `segment.target.data` reads as it did when it was a string)."""
        return self.target.data

    def values(self) -> dict[str, Any]:
        return {k: _option_value(v) for k, v in self.options.data.items()}

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            target = parser.parse_str_literal()
            options = DictionaryAttr({})
            if parser.parse_optional_punctuation(",") is not None:
                attr = parser.parse_attribute()
                if not isinstance(attr, DictionaryAttr):
                    parser.raise_error("expected a dictionary of options")
                options = attr
        return [StringAttr(target), options]

    def print_parameters(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            printer.print_string_literal(self.target.data)
            if self.options.data:
                printer.print_string(", ")
                printer.print_attribute(self.options)

    def verify(self) -> None:
        for value in self.options.data.values():
            _option_value(value)


@irdl_op_definition
class SegmentOp(IRDLOperation):
    """A partition of the graph that one target runs as a whole."""

    name = "tsuc.segment"
    sym_name = prop_def(StringAttr)
    target = prop_def(TargetAttr)
    args = var_operand_def()
    outs = var_result_def()
    body = region_def("single_block")
    traits = traits_def(IsolatedFromAbove())
    LOCAL_VERIFY: ClassVar[bool] = True  # verify_ and IsolatedFromAbove read only the op and what it holds (tsuc.compiler.verifier)

    assembly_format = "$sym_name `target` qualified($target) `(` $args `)` attr-dict `:` functional-type($args, $outs) $body"

    def __init__(self, sym_name: str, target: str | TargetAttr, args: list[SSAValue], result_types: list, body: Region):
        if isinstance(target, str):
            target = TargetAttr(target)
        super().__init__(
            properties={"sym_name": StringAttr(sym_name), "target": target},
            operands=[args],
            result_types=[result_types],
            regions=[body],
        )

    @property
    def target_name(self) -> str:
        return self.target.target.data

    def options(self) -> dict[str, Any]:
        """The resolved options of the segment's target, as written by the partition pass."""
        return self.target.values()

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
    LOCAL_VERIFY: ClassVar[bool] = True  # the traits read its parent op, which the verifier's fingerprint holds

    assembly_format = "($values^ `:` type($values))? attr-dict"

    def __init__(self, values: list[SSAValue]):
        super().__init__(operands=[values])


TSUC = Dialect("tsuc", [SegmentOp, YieldOp], [TargetAttr])
