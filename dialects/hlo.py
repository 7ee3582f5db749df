"""The `hlo` dialect: a StableHLO-like subset that prints one-to-one as XLA HLO text.

The `xla` target lowers `onnx` ops in its segments to these ops (targets/xla/), and the
emitter (targets/xla/hlo_text.py) prints each segment as an `HloModule ... ENTRY ...` text
that XLA's own parser reads. Every op here has an HLO instruction of the same meaning, so
emission is a printer, not a second lowering:

    %w = hlo.constant dense_resource<conv1_w> : tensor<64x3x7x7xf32>   weights by handle (blob store)
    %y = hlo.convolution %x, %w {dim_labels = "bf01_oi01->bf01", window_strides = array<i64: 2, 2>,
                                 padding_low = ..., padding_high = ..., ...} : (...) -> tensor<...>
    %b = hlo.broadcast_in_dim %bias, dims = [1] : (tensor<64xf32>) -> tensor<1x64x112x112xf32>
    %s = hlo.add %y, %b : tensor<1x64x112x112xf32>
    %m = hlo.reduce_window %s, %init {window_dimensions = ..., ...} ({
    ^bb0(%a: tensor<f32>, %c: tensor<f32>):
      %r = hlo.maximum %a, %c : tensor<f32>
      hlo.return %r : tensor<f32>
    }) : (...) -> tensor<...>

Shapes are static (the target only takes ops whose shapes are), and verifiers check the shape
rules XLA's shape inference applies, so a malformed op fails here with a sentence rather than
in XLA's parser. Weights stay in the blob store: `hlo.constant` holds a `dense_resource`
handle (or a small inline `dense<...>` splat/literal).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects.builtin import (
    I64,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    DenseResourceAttr,
    IntegerAttr,
    IntegerType,
    StringAttr,
    TensorType,
    i1,
    i64,
)
from xdsl.ir import Attribute, Block, Dialect, Operation, Region, SSAValue
from xdsl.irdl import (
    AttrSizedOperandSegments,
    IRDLOperation,
    ParsePropInAttrDict,
    VarConstraint,
    base,
    irdl_op_definition,
    operand_def,
    prop_def,
    region_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import IsTerminator, Pure, SameOperandsAndResultType
from xdsl.utils.exceptions import VerifyException

COMPARE_DIRECTIONS = ("EQ", "NE", "LT", "LE", "GT", "GE")


def dense_i64(values: Sequence[int]) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, [int(v) for v in values])


def ints(attr: DenseArrayBase) -> tuple[int, ...]:
    return tuple(int(v) for v in attr.get_values())


def shape(value: SSAValue | Attribute) -> tuple[int, ...]:
    ty = value.type if isinstance(value, SSAValue) else value
    assert isinstance(ty, TensorType)
    return tuple(ty.get_shape())


def elem(value: SSAValue | Attribute) -> Attribute:
    ty = value.type if isinstance(value, SSAValue) else value
    assert isinstance(ty, TensorType)
    return ty.element_type


def _fail(op: Operation, msg: str) -> None:
    raise VerifyException(f"{op.name}: {msg}")


def _dims_in_range(op: Operation, what: str, dims: Sequence[int], rank: int, unique: bool = True) -> None:
    if any(d < 0 or d >= rank for d in dims):
        _fail(op, f"{what} {list(dims)} out of range for rank {rank}")
    if unique and len(set(dims)) != len(dims):
        _fail(op, f"{what} {list(dims)} repeats a dimension")


# -- constants, shape-free ops -------------------------------------------------------------------


@irdl_op_definition
class ConstantOp(IRDLOperation):
    """A constant tensor: a blob handle (`dense_resource<h>`, weights) or a small inline `dense<...>`."""

    name = "hlo.constant"
    value = prop_def(base(DenseResourceAttr) | base(DenseIntOrFPElementsAttr))
    result = result_def(TensorType)
    traits = traits_def(Pure())

    def __init__(self, value: DenseResourceAttr | DenseIntOrFPElementsAttr):
        super().__init__(properties={"value": value}, result_types=[value.type])

    # `hlo.constant dense_resource<h> : tensor<...>`: the value's own type is the result type,
    # which a declarative format cannot infer, hence a hand-written (two-line) form.
    @classmethod
    def parse(cls, parser: Parser) -> ConstantOp:
        value = parser.parse_attribute()
        if not isinstance(value, (DenseResourceAttr, DenseIntOrFPElementsAttr)):
            parser.raise_error("hlo.constant expects a dense or dense_resource tensor value")
        op = cls(value)
        op.attributes.update(parser.parse_optional_attr_dict())
        return op

    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_attribute(self.value)
        printer.print_op_attributes(self.attributes)

    def verify_(self) -> None:
        if self.value.type != self.result.type:
            _fail(self, f"value type {self.value.type} differs from result type {self.result.type}")


@irdl_op_definition
class IotaOp(IRDLOperation):
    """0, 1, 2, ... along `iota_dimension`, broadcast along the others."""

    name = "hlo.iota"
    iota_dimension = prop_def(IntegerAttr[I64])
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "`dim` `=` $iota_dimension attr-dict `:` type($result)"

    def __init__(self, dim: int, result_type: TensorType):
        super().__init__(properties={"iota_dimension": IntegerAttr(dim, i64)}, result_types=[result_type])

    def verify_(self) -> None:
        _dims_in_range(self, "iota_dimension", [self.iota_dimension.value.data], len(shape(self.result)))


# -- elementwise -----------------------------------------------------------------------------------


class _Unary(IRDLOperation):
    T: ClassVar = VarConstraint("T", base(TensorType))
    operand = operand_def(T)
    result = result_def(T)
    traits = traits_def(Pure(), SameOperandsAndResultType())
    assembly_format = "$operand attr-dict `:` type($result)"

    def __init__(self, operand: SSAValue):
        super().__init__(operands=[operand], result_types=[operand.type])


class _Binary(IRDLOperation):
    T: ClassVar = VarConstraint("T", base(TensorType))
    lhs = operand_def(T)
    rhs = operand_def(T)
    result = result_def(T)
    traits = traits_def(Pure(), SameOperandsAndResultType())
    assembly_format = "$lhs `,` $rhs attr-dict `:` type($result)"

    def __init__(self, lhs: SSAValue, rhs: SSAValue):
        super().__init__(operands=[lhs, rhs], result_types=[lhs.type])


def _unary(op_name: str, doc: str) -> type[IRDLOperation]:
    cls = type(op_name.title().replace("_", "") + "Op", (_Unary,), {"name": f"hlo.{op_name}", "__doc__": doc, "__module__": __name__})
    return irdl_op_definition(cls)


def _binary(op_name: str, doc: str) -> type[IRDLOperation]:
    cls = type(op_name.title().replace("_", "") + "Op", (_Binary,), {"name": f"hlo.{op_name}", "__doc__": doc, "__module__": __name__})
    return irdl_op_definition(cls)


UNARY_OPS = {
    name: _unary(name, f"Elementwise HLO `{name}`.")
    for name in ("abs", "negate", "exponential", "log", "sqrt", "rsqrt", "tanh", "logistic", "erf", "floor", "ceil",
                 "sign", "not", "cosine", "sine", "round_nearest_even", "log_plus_one", "exponential_minus_one")
}
BINARY_OPS = {
    name: _binary(name, f"Elementwise HLO `{name}`.")
    for name in ("add", "subtract", "multiply", "divide", "maximum", "minimum", "power", "remainder", "and", "or",
                 "xor", "atan2")
}
AddOp, MultiplyOp, MaximumOp, MinimumOp = BINARY_OPS["add"], BINARY_OPS["multiply"], BINARY_OPS["maximum"], BINARY_OPS["minimum"]


@irdl_op_definition
class CompareOp(IRDLOperation):
    """Elementwise comparison giving i1 (HLO `pred`); `direction` one of EQ NE LT LE GT GE."""

    name = "hlo.compare"
    direction = prop_def(StringAttr)
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$direction `,` $lhs `,` $rhs attr-dict `:` functional-type(operands, results)"

    def __init__(self, direction: str, lhs: SSAValue, rhs: SSAValue):
        super().__init__(properties={"direction": StringAttr(direction)}, operands=[lhs, rhs],
                         result_types=[TensorType(i1, shape(lhs))])

    def verify_(self) -> None:
        if self.direction.data not in COMPARE_DIRECTIONS:
            _fail(self, f"direction must be one of {', '.join(COMPARE_DIRECTIONS)}, got {self.direction.data}")
        if self.lhs.type != self.rhs.type:
            _fail(self, "operands must have the same type")
        if self.result.type != TensorType(i1, shape(self.lhs)):
            _fail(self, "result must be an i1 tensor of the operands' shape")


@irdl_op_definition
class SelectOp(IRDLOperation):
    """`pred ? on_true : on_false`, elementwise."""

    name = "hlo.select"
    pred = operand_def(TensorType)
    on_true = operand_def(TensorType)
    on_false = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$pred `,` $on_true `,` $on_false attr-dict `:` functional-type(operands, results)"

    def __init__(self, pred: SSAValue, on_true: SSAValue, on_false: SSAValue):
        super().__init__(operands=[pred, on_true, on_false], result_types=[on_true.type])

    def verify_(self) -> None:
        if self.on_true.type != self.on_false.type or self.result.type != self.on_true.type:
            _fail(self, "branches and result must have the same type")
        if elem(self.pred) != i1 or shape(self.pred) != shape(self.result):
            _fail(self, "pred must be an i1 tensor of the result's shape")


@irdl_op_definition
class ClampOp(IRDLOperation):
    """`min(max(operand, min), max)`; bounds have the operand's shape or are scalars (rank 0)."""

    name = "hlo.clamp"
    min = operand_def(TensorType)
    operand = operand_def(TensorType)
    max = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$min `,` $operand `,` $max attr-dict `:` functional-type(operands, results)"

    def __init__(self, lo: SSAValue, operand: SSAValue, hi: SSAValue):
        super().__init__(operands=[lo, operand, hi], result_types=[operand.type])

    def verify_(self) -> None:
        if self.result.type != self.operand.type:
            _fail(self, "result must have the operand's type")
        for bound in (self.min, self.max):
            if elem(bound) != elem(self.operand) or shape(bound) not in ((), shape(self.operand)):
                _fail(self, "bounds must be scalars or have the operand's shape and element type")


@irdl_op_definition
class ConvertOp(IRDLOperation):
    """Element type conversion (HLO `convert`)."""

    name = "hlo.convert"
    operand = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$operand attr-dict `:` functional-type(operands, results)"

    def __init__(self, operand: SSAValue, element_type: Attribute):
        super().__init__(operands=[operand], result_types=[TensorType(element_type, shape(operand))])

    def verify_(self) -> None:
        if shape(self.operand) != shape(self.result):
            _fail(self, "operand and result shapes differ")


# -- shape ops -----------------------------------------------------------------------------------


@irdl_op_definition
class BroadcastInDimOp(IRDLOperation):
    """Operand dimension i becomes result dimension `dims[i]` (size 1 or equal); the rest broadcast."""

    name = "hlo.broadcast_in_dim"
    operand = operand_def(TensorType)
    broadcast_dimensions = prop_def(DenseArrayBase.constr(i64))
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$operand `,` `dims` `=` $broadcast_dimensions attr-dict `:` functional-type(operands, results)"

    def __init__(self, operand: SSAValue, dims: Sequence[int], result_type: TensorType):
        super().__init__(operands=[operand], properties={"broadcast_dimensions": dense_i64(dims)}, result_types=[result_type])

    def verify_(self) -> None:
        dims, src, dst = ints(self.broadcast_dimensions), shape(self.operand), shape(self.result)
        if len(dims) != len(src):
            _fail(self, f"needs one broadcast dimension per operand dimension ({len(src)}), got {len(dims)}")
        _dims_in_range(self, "broadcast dimensions", dims, len(dst))
        if list(dims) != sorted(dims):
            _fail(self, "broadcast dimensions must be increasing")
        for i, d in enumerate(dims):
            if src[i] not in (1, dst[d]):
                _fail(self, f"operand dimension {i} (size {src[i]}) cannot broadcast to result dimension {d} (size {dst[d]})")
        if elem(self.operand) != elem(self.result):
            _fail(self, "element types differ")


@irdl_op_definition
class ReshapeOp(IRDLOperation):
    """Same elements in row-major order, another static shape."""

    name = "hlo.reshape"
    operand = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$operand attr-dict `:` functional-type(operands, results)"

    def __init__(self, operand: SSAValue, result_type: TensorType):
        super().__init__(operands=[operand], result_types=[result_type])

    def verify_(self) -> None:
        if _prod(shape(self.operand)) != _prod(shape(self.result)) or elem(self.operand) != elem(self.result):
            _fail(self, f"cannot reshape {self.operand.type} to {self.result.type}")


@irdl_op_definition
class TransposeOp(IRDLOperation):
    """Result dimension i is operand dimension `permutation[i]`."""

    name = "hlo.transpose"
    operand = operand_def(TensorType)
    permutation = prop_def(DenseArrayBase.constr(i64))
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$operand `,` `dims` `=` $permutation attr-dict `:` functional-type(operands, results)"

    def __init__(self, operand: SSAValue, perm: Sequence[int]):
        src = shape(operand)
        super().__init__(operands=[operand], properties={"permutation": dense_i64(perm)},
                         result_types=[TensorType(elem(operand), [src[p] for p in perm])])

    def verify_(self) -> None:
        perm, src = ints(self.permutation), shape(self.operand)
        if sorted(perm) != list(range(len(src))):
            _fail(self, f"permutation {list(perm)} is not a permutation of {len(src)} dimensions")
        if shape(self.result) != tuple(src[p] for p in perm):
            _fail(self, f"result shape must be {tuple(src[p] for p in perm)}")


@irdl_op_definition
class ReverseOp(IRDLOperation):
    """Reverse the order of elements along `dimensions`."""

    name = "hlo.reverse"
    T: ClassVar = VarConstraint("T", base(TensorType))
    operand = operand_def(T)
    dimensions = prop_def(DenseArrayBase.constr(i64))
    result = result_def(T)
    traits = traits_def(Pure())
    assembly_format = "$operand `,` `dims` `=` $dimensions attr-dict `:` type($result)"

    def __init__(self, operand: SSAValue, dims: Sequence[int]):
        super().__init__(operands=[operand], properties={"dimensions": dense_i64(dims)}, result_types=[operand.type])

    def verify_(self) -> None:
        _dims_in_range(self, "dimensions", ints(self.dimensions), len(shape(self.operand)))


@irdl_op_definition
class SliceOp(IRDLOperation):
    """Static strided slice: [start, limit) with stride, per dimension."""

    name = "hlo.slice"
    operand = operand_def(TensorType)
    start_indices = prop_def(DenseArrayBase.constr(i64))
    limit_indices = prop_def(DenseArrayBase.constr(i64))
    strides = prop_def(DenseArrayBase.constr(i64))
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$operand `[` $start_indices `:` $limit_indices `:` $strides `]` attr-dict `:` functional-type(operands, results)"

    def __init__(self, operand: SSAValue, start: Sequence[int], limit: Sequence[int], strides: Sequence[int]):
        dims = [max(0, -(-(hi - lo) // s)) for lo, hi, s in zip(start, limit, strides)]
        super().__init__(operands=[operand],
                         properties={"start_indices": dense_i64(start), "limit_indices": dense_i64(limit), "strides": dense_i64(strides)},
                         result_types=[TensorType(elem(operand), dims)])

    def verify_(self) -> None:
        src = shape(self.operand)
        lo, hi, st = ints(self.start_indices), ints(self.limit_indices), ints(self.strides)
        if not len(lo) == len(hi) == len(st) == len(src):
            _fail(self, "needs one start, limit and stride per dimension")
        for d, (a, b, s) in enumerate(zip(lo, hi, st)):
            if not (0 <= a <= b <= src[d]) or s < 1:
                _fail(self, f"dimension {d}: slice [{a}:{b}:{s}] is out of bounds for size {src[d]}")
        expect = tuple(-(-(b - a) // s) for a, b, s in zip(lo, hi, st))
        if shape(self.result) != expect:
            _fail(self, f"result shape must be {expect}")


@irdl_op_definition
class DynamicSliceOp(IRDLOperation):
    """A `slice_sizes` window starting at run-time scalar indices (clamped into bounds, as in XLA)."""

    name = "hlo.dynamic_slice"
    operand = operand_def(TensorType)
    start_indices = var_operand_def(TensorType)
    slice_sizes = prop_def(DenseArrayBase.constr(i64))
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$operand `[` $start_indices `]` `sizes` `=` $slice_sizes attr-dict `:` functional-type(operands, results)"

    def __init__(self, operand: SSAValue, starts: Sequence[SSAValue], sizes: Sequence[int]):
        super().__init__(operands=[operand, list(starts)], properties={"slice_sizes": dense_i64(sizes)},
                         result_types=[TensorType(elem(operand), list(sizes))])

    def verify_(self) -> None:
        src, sizes = shape(self.operand), ints(self.slice_sizes)
        if len(self.start_indices) != len(src) or len(sizes) != len(src):
            _fail(self, "needs one start index and one size per dimension")
        if any(shape(s) != () or not isinstance(elem(s), IntegerType) for s in self.start_indices):
            _fail(self, "start indices must be integer scalars")
        if any(not 0 <= n <= d for n, d in zip(sizes, src)) or shape(self.result) != sizes:
            _fail(self, "slice sizes must fit the operand and equal the result shape")


@irdl_op_definition
class PadOp(IRDLOperation):
    """Edge padding (negative crops) and interior padding with a scalar value."""

    name = "hlo.pad"
    operand = operand_def(TensorType)
    padding_value = operand_def(TensorType)
    edge_padding_low = prop_def(DenseArrayBase.constr(i64))
    edge_padding_high = prop_def(DenseArrayBase.constr(i64))
    interior_padding = prop_def(DenseArrayBase.constr(i64))
    result = result_def(TensorType)
    traits = traits_def(Pure())
    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$operand `,` $padding_value attr-dict `:` functional-type(operands, results)"

    def __init__(self, operand: SSAValue, value: SSAValue, low: Sequence[int], high: Sequence[int], interior: Sequence[int] | None = None):
        interior = interior or [0] * len(low)
        dims = [lo + hi + n + max(n - 1, 0) * it for n, lo, hi, it in zip(shape(operand), low, high, interior)]
        super().__init__(operands=[operand, value],
                         properties={"edge_padding_low": dense_i64(low), "edge_padding_high": dense_i64(high),
                                     "interior_padding": dense_i64(interior)},
                         result_types=[TensorType(elem(operand), dims)])

    def verify_(self) -> None:
        src = shape(self.operand)
        lo, hi, it = ints(self.edge_padding_low), ints(self.edge_padding_high), ints(self.interior_padding)
        if not len(lo) == len(hi) == len(it) == len(src):
            _fail(self, "needs low, high and interior padding per dimension")
        if shape(self.padding_value) != () or elem(self.padding_value) != elem(self.operand):
            _fail(self, "padding value must be a scalar of the operand's element type")
        if any(i < 0 for i in it):
            _fail(self, "interior padding must be non-negative")
        expect = tuple(a + b + n + max(n - 1, 0) * i for n, a, b, i in zip(src, lo, hi, it))
        if shape(self.result) != expect or min(expect, default=0) < 0:
            _fail(self, f"result shape must be {expect}")


@irdl_op_definition
class ConcatenateOp(IRDLOperation):
    """Join tensors along `dimension`."""

    name = "hlo.concatenate"
    inputs = var_operand_def(TensorType)
    dimension = prop_def(IntegerAttr[I64])
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "`(` $inputs `)` `dim` `=` $dimension attr-dict `:` functional-type(operands, results)"

    def __init__(self, inputs: Sequence[SSAValue], dim: int):
        first = list(shape(inputs[0]))
        first[dim] = sum(shape(v)[dim] for v in inputs)
        super().__init__(operands=[list(inputs)], properties={"dimension": IntegerAttr(dim, i64)},
                         result_types=[TensorType(elem(inputs[0]), first)])

    def verify_(self) -> None:
        if not self.inputs:
            _fail(self, "needs at least one input")
        dim, ref = self.dimension.value.data, shape(self.inputs[0])
        _dims_in_range(self, "dimension", [dim], len(ref))
        for v in self.inputs:
            s = shape(v)
            if elem(v) != elem(self.inputs[0]) or len(s) != len(ref) or any(a != b for k, (a, b) in enumerate(zip(s, ref)) if k != dim):
                _fail(self, "inputs must agree in element type and every dimension but the concatenated one")
        expect = tuple(sum(shape(v)[dim] for v in self.inputs) if k == dim else n for k, n in enumerate(ref))
        if shape(self.result) != expect:
            _fail(self, f"result shape must be {expect}")


@irdl_op_definition
class GatherOp(IRDLOperation):
    """XLA gather (the subset used by ONNX Gather: one indexed dimension, index_vector_dim last)."""

    name = "hlo.gather"
    operand = operand_def(TensorType)
    start_indices = operand_def(TensorType)
    offset_dims = prop_def(DenseArrayBase.constr(i64))
    collapsed_slice_dims = prop_def(DenseArrayBase.constr(i64))
    start_index_map = prop_def(DenseArrayBase.constr(i64))
    index_vector_dim = prop_def(IntegerAttr[I64])
    slice_sizes = prop_def(DenseArrayBase.constr(i64))
    result = result_def(TensorType)
    traits = traits_def(Pure())
    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$operand `,` $start_indices attr-dict `:` functional-type(operands, results)"

    def verify_(self) -> None:
        src, idx = shape(self.operand), shape(self.start_indices)
        sizes, collapsed, offset = ints(self.slice_sizes), ints(self.collapsed_slice_dims), ints(self.offset_dims)
        smap, ivd = ints(self.start_index_map), self.index_vector_dim.value.data
        if len(sizes) != len(src) or any(not 0 <= s <= d for s, d in zip(sizes, src)):
            _fail(self, "slice sizes must have one entry per operand dimension, within bounds")
        _dims_in_range(self, "collapsed_slice_dims", collapsed, len(src))
        _dims_in_range(self, "start_index_map", smap, len(src))
        if any(sizes[d] != 1 for d in collapsed):
            _fail(self, "collapsed dimensions must have slice size 1")
        if not isinstance(elem(self.start_indices), IntegerType):
            _fail(self, "start indices must be integers")
        batch = [n for k, n in enumerate(idx) if k != ivd]
        index_len = idx[ivd] if ivd < len(idx) else 1
        if index_len != len(smap):
            _fail(self, "index vector length must equal the start_index_map length")
        kept = [s for d, s in enumerate(sizes) if d not in collapsed]
        if len(offset) != len(kept):
            _fail(self, "offset_dims must name one result dimension per uncollapsed slice dimension")
        rank = len(batch) + len(kept)
        _dims_in_range(self, "offset_dims", offset, rank)
        expect, bi, oi = [], iter(batch), iter(kept)
        for d in range(rank):
            expect.append(next(oi) if d in offset else next(bi))
        if shape(self.result) != tuple(expect):
            _fail(self, f"result shape must be {tuple(expect)}")


# -- contractions ----------------------------------------------------------------------------------


@irdl_op_definition
class DotGeneralOp(IRDLOperation):
    """Batched contraction. Result: batch dims, lhs free dims, rhs free dims (XLA's order)."""

    name = "hlo.dot_general"
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    lhs_batching_dimensions = prop_def(DenseArrayBase.constr(i64))
    rhs_batching_dimensions = prop_def(DenseArrayBase.constr(i64))
    lhs_contracting_dimensions = prop_def(DenseArrayBase.constr(i64))
    rhs_contracting_dimensions = prop_def(DenseArrayBase.constr(i64))
    result = result_def(TensorType)
    traits = traits_def(Pure())
    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)"

    def __init__(self, lhs: SSAValue, rhs: SSAValue, lb: Sequence[int], rb: Sequence[int], lc: Sequence[int], rc: Sequence[int]):
        super().__init__(operands=[lhs, rhs],
                         properties={"lhs_batching_dimensions": dense_i64(lb), "rhs_batching_dimensions": dense_i64(rb),
                                     "lhs_contracting_dimensions": dense_i64(lc), "rhs_contracting_dimensions": dense_i64(rc)},
                         result_types=[TensorType(elem(lhs), dot_shape(shape(lhs), shape(rhs), lb, rb, lc, rc))])

    def verify_(self) -> None:
        ls, rs = shape(self.lhs), shape(self.rhs)
        lb, rb = ints(self.lhs_batching_dimensions), ints(self.rhs_batching_dimensions)
        lc, rc = ints(self.lhs_contracting_dimensions), ints(self.rhs_contracting_dimensions)
        if len(lb) != len(rb) or len(lc) != len(rc):
            _fail(self, "lhs and rhs need as many batching and contracting dimensions")
        _dims_in_range(self, "lhs dimensions", lb + lc, len(ls))
        _dims_in_range(self, "rhs dimensions", rb + rc, len(rs))
        for a, b in list(zip(lb, rb)) + list(zip(lc, rc)):
            if ls[a] != rs[b]:
                _fail(self, f"lhs dimension {a} (size {ls[a]}) and rhs dimension {b} (size {rs[b]}) must agree")
        if elem(self.lhs) != elem(self.rhs):
            _fail(self, "operand element types differ")
        expect = dot_shape(ls, rs, lb, rb, lc, rc)
        if shape(self.result) != expect:
            _fail(self, f"result shape must be {expect}")


def dot_shape(ls, rs, lb, rb, lc, rc) -> tuple[int, ...]:
    free_l = [n for d, n in enumerate(ls) if d not in lb and d not in lc]
    free_r = [n for d, n in enumerate(rs) if d not in rb and d not in rc]
    return tuple([ls[d] for d in lb] + free_l + free_r)


def parse_dim_labels(labels: str, rank: int) -> tuple[tuple[int, int, tuple[int, ...]], tuple[int, int, tuple[int, ...]], tuple[int, int, tuple[int, ...]]] | None:
    """`"bf01_oi01->bf01"` -> ((batch, feature, spatial), (out, in, spatial), (batch, feature, spatial)) or None."""
    try:
        lhs, rest = labels.split("_")
        rhs, out = rest.split("->")
    except ValueError:
        return None
    n = rank - 2
    spatial = [str(k) for k in range(n)]
    def parse(s: str, a: str, b: str):
        if len(s) != rank or sorted(s) != sorted([a, b] + spatial):
            return None
        return s.index(a), s.index(b), tuple(s.index(k) for k in spatial)
    parts = parse(lhs, "b", "f"), parse(rhs, "o", "i"), parse(out, "b", "f")
    return None if None in parts else parts  # type: ignore[return-value]


@irdl_op_definition
class ConvolutionOp(IRDLOperation):
    """XLA convolution; `dim_labels` like `bf01_oi01->bf01` names the layouts (ONNX's NCHW/OIHW)."""

    name = "hlo.convolution"
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    dim_labels = prop_def(StringAttr)
    window_strides = prop_def(DenseArrayBase.constr(i64))
    padding_low = prop_def(DenseArrayBase.constr(i64))
    padding_high = prop_def(DenseArrayBase.constr(i64))
    lhs_dilation = prop_def(DenseArrayBase.constr(i64))
    rhs_dilation = prop_def(DenseArrayBase.constr(i64))
    feature_group_count = prop_def(IntegerAttr[I64])
    result = result_def(TensorType)
    traits = traits_def(Pure())
    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)"

    def __init__(self, lhs: SSAValue, rhs: SSAValue, strides, pad_lo, pad_hi, lhs_dil, rhs_dil, groups: int,
                 dim_labels: str = "bf01_oi01->bf01"):
        props = {"dim_labels": StringAttr(dim_labels), "window_strides": dense_i64(strides), "padding_low": dense_i64(pad_lo),
                 "padding_high": dense_i64(pad_hi), "lhs_dilation": dense_i64(lhs_dil), "rhs_dilation": dense_i64(rhs_dil),
                 "feature_group_count": IntegerAttr(groups, i64)}
        out = conv_shape(shape(lhs), shape(rhs), dim_labels, strides, pad_lo, pad_hi, lhs_dil, rhs_dil)
        assert out is not None
        super().__init__(operands=[lhs, rhs], properties=props, result_types=[TensorType(elem(lhs), out)])

    def verify_(self) -> None:
        ls, rs = shape(self.lhs), shape(self.rhs)
        if len(ls) != len(rs) or len(ls) < 3:
            _fail(self, "lhs and rhs must have the same rank, at least 3")
        labels = parse_dim_labels(self.dim_labels.data, len(ls))
        if labels is None:
            _fail(self, f"dim_labels {self.dim_labels.data!r} do not describe rank-{len(ls)} layouts")
        n = len(ls) - 2
        vals = [ints(getattr(self, f)) for f in ("window_strides", "padding_low", "padding_high", "lhs_dilation", "rhs_dilation")]
        if any(len(v) != n for v in vals):
            _fail(self, f"strides, paddings and dilations need {n} entries each")
        if any(s < 1 for s in vals[0] + vals[3] + vals[4]):
            _fail(self, "strides and dilations must be positive")
        (lb, lf, _), (ro, ri, _), _ = labels  # type: ignore[misc]
        g = self.feature_group_count.value.data
        if g < 1 or ls[lf] % g or rs[ro] % g or ls[lf] // g != rs[ri]:
            _fail(self, f"input features {ls[lf]} / {g} groups must equal the kernel's input features {rs[ri]}")
        expect = conv_shape(ls, rs, self.dim_labels.data, *vals)
        if expect is None or min(expect) < 1:
            _fail(self, "the window does not fit the padded input")
        if shape(self.result) != expect:
            _fail(self, f"result shape must be {expect}")


def conv_shape(ls, rs, dim_labels, strides, pad_lo, pad_hi, lhs_dil, rhs_dil) -> tuple[int, ...] | None:
    labels = parse_dim_labels(dim_labels, len(ls))
    if labels is None:
        return None
    (lb, lf, lsp), (ro, _ri, rsp), (ob, of, osp) = labels
    out = [0] * len(ls)
    out[ob], out[of] = ls[lb], rs[ro]
    for k in range(len(ls) - 2):
        size = (ls[lsp[k]] - 1) * lhs_dil[k] + 1 + pad_lo[k] + pad_hi[k]
        window = (rs[rsp[k]] - 1) * rhs_dil[k] + 1
        out[osp[k]] = (size - window) // strides[k] + 1 if size >= window else 0
    return tuple(out)


# -- reductions ------------------------------------------------------------------------------------


@irdl_op_definition
class ReturnOp(IRDLOperation):
    """Ends a reduction body, naming its results."""

    name = "hlo.return"
    values = var_operand_def(TensorType)
    traits = traits_def(IsTerminator())
    assembly_format = "$values attr-dict `:` type($values)"

    def __init__(self, values: Sequence[SSAValue]):
        super().__init__(operands=[list(values)])


def _check_body(op: Operation, body: Region, inputs: Sequence[SSAValue]) -> None:
    block = body.block
    scalars = [TensorType(elem(v), []) for v in inputs]
    if [a.type for a in block.args] != scalars + scalars:
        _fail(op, f"body must take {2 * len(inputs)} scalar arguments (accumulators, then elements)")
    last = block.last_op
    if not isinstance(last, ReturnOp) or [v.type for v in last.values] != scalars:
        _fail(op, "body must end with hlo.return of one scalar per input")


def scalar_body(element_type: Attribute, combiner: type[IRDLOperation]) -> Region:
    """A reduction body `(a, b) -> combiner(a, b)` over scalars of `element_type`."""
    ty = TensorType(element_type, [])
    block = Block(arg_types=[ty, ty])
    r = combiner(block.args[0], block.args[1])  # type: ignore[call-arg]
    block.add_ops([r, ReturnOp([r.results[0]])])
    return Region(block)


@irdl_op_definition
class ReduceOp(IRDLOperation):
    """Reduce `inputs` over `dimensions` with the body, starting from `init_values` (scalars)."""

    name = "hlo.reduce"
    inputs = var_operand_def(TensorType)
    init_values = var_operand_def(TensorType)
    dimensions = prop_def(DenseArrayBase.constr(i64))
    results_ = var_result_def(TensorType)
    body = region_def("single_block")
    traits = traits_def(Pure())
    irdl_options = (ParsePropInAttrDict(), AttrSizedOperandSegments(as_property=True))
    assembly_format = "`(` $inputs `init` `:` $init_values `)` `dims` `=` $dimensions attr-dict `:` `(` type($inputs) `)` `init` `(` type($init_values) `)` `->` `(` type($results_) `)` $body"

    def __init__(self, inputs: Sequence[SSAValue], inits: Sequence[SSAValue], dims: Sequence[int], body: Region):
        src = shape(inputs[0])
        out = [n for d, n in enumerate(src) if d not in dims]
        super().__init__(operands=[list(inputs), list(inits)], properties={"dimensions": dense_i64(dims)},
                         result_types=[[TensorType(elem(v), out) for v in inputs]], regions=[body])

    def verify_(self) -> None:
        if not self.inputs or len(self.inputs) != len(self.init_values):
            _fail(self, "needs one init value per input")
        src, dims = shape(self.inputs[0]), ints(self.dimensions)
        _dims_in_range(self, "dimensions", dims, len(src))
        if any(shape(v) != src for v in self.inputs) or any(shape(i) != () for i in self.init_values):
            _fail(self, "inputs must share a shape and init values must be scalars")
        out = tuple(n for d, n in enumerate(src) if d not in dims)
        if [shape(r) for r in self.results_] != [out] * len(self.inputs):
            _fail(self, f"results must have shape {out}")
        _check_body(self, self.body, self.inputs)


@irdl_op_definition
class ReduceWindowOp(IRDLOperation):
    """Sliding-window reduction (pooling): windows, strides, padding, window dilations per dimension."""

    name = "hlo.reduce_window"
    inputs = var_operand_def(TensorType)
    init_values = var_operand_def(TensorType)
    window_dimensions = prop_def(DenseArrayBase.constr(i64))
    window_strides = prop_def(DenseArrayBase.constr(i64))
    padding_low = prop_def(DenseArrayBase.constr(i64))
    padding_high = prop_def(DenseArrayBase.constr(i64))
    window_dilations = prop_def(DenseArrayBase.constr(i64))
    results_ = var_result_def(TensorType)
    body = region_def("single_block")
    traits = traits_def(Pure())
    irdl_options = (ParsePropInAttrDict(), AttrSizedOperandSegments(as_property=True))
    assembly_format = "`(` $inputs `init` `:` $init_values `)` attr-dict `:` `(` type($inputs) `)` `init` `(` type($init_values) `)` `->` `(` type($results_) `)` $body"

    def __init__(self, inputs: Sequence[SSAValue], inits: Sequence[SSAValue], window, strides, pad_lo, pad_hi, dilations, body: Region):
        out = window_shape(shape(inputs[0]), window, strides, pad_lo, pad_hi, dilations)
        super().__init__(operands=[list(inputs), list(inits)],
                         properties={"window_dimensions": dense_i64(window), "window_strides": dense_i64(strides),
                                     "padding_low": dense_i64(pad_lo), "padding_high": dense_i64(pad_hi),
                                     "window_dilations": dense_i64(dilations)},
                         result_types=[[TensorType(elem(v), out) for v in inputs]], regions=[body])

    def verify_(self) -> None:
        if not self.inputs or len(self.inputs) != len(self.init_values):
            _fail(self, "needs one init value per input")
        src = shape(self.inputs[0])
        vals = [ints(getattr(self, f)) for f in ("window_dimensions", "window_strides", "padding_low", "padding_high", "window_dilations")]
        if any(len(v) != len(src) for v in vals):
            _fail(self, f"window, strides, paddings and dilations need {len(src)} entries each")
        if any(v < 1 for v in vals[0] + vals[1] + vals[4]):
            _fail(self, "window sizes, strides and dilations must be positive")
        out = window_shape(src, *vals)
        if min(out, default=1) < 1:
            _fail(self, "the window does not fit the padded input")
        if [shape(r) for r in self.results_] != [out] * len(self.inputs):
            _fail(self, f"results must have shape {out}")
        _check_body(self, self.body, self.inputs)


def window_shape(src, window, strides, pad_lo, pad_hi, dilations) -> tuple[int, ...]:
    out = []
    for n, w, s, lo, hi, dl in zip(src, window, strides, pad_lo, pad_hi, dilations):
        size, span = n + lo + hi, (w - 1) * dl + 1
        out.append((size - span) // s + 1 if size >= span else 0)
    return tuple(out)


def _prod(dims: Sequence[int]) -> int:
    out = 1
    for d in dims:
        out *= d
    return out


HLO = Dialect(
    "hlo",
    [ConstantOp, IotaOp, *UNARY_OPS.values(), *BINARY_OPS.values(), CompareOp, SelectOp, ClampOp, ConvertOp,
     BroadcastInDimOp, ReshapeOp, TransposeOp, ReverseOp, SliceOp, DynamicSliceOp, PadOp, ConcatenateOp, GatherOp,
     DotGeneralOp, ConvolutionOp, ReturnOp, ReduceOp, ReduceWindowOp],
    [],
)
