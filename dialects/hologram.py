"""The `hologram` dialect: fused vector kernels over the 96-class boundary pool.

The in-cache vector engine of the Hologram seed (see ../shared/design/hologram.md) runs
vector operations on buffers that live in a 1.125 MiB boundary pool of 96 classes of
12,288 B each (larger or excess buffers go to a linear pool). tsuc lowers a segment's
elementwise, activation, normalisation, reduction and small-GEMM work to this dialect:

    %o = hologram.kernel "k0" (%x, %w) {ins_at = [#hologram.class<0, 1>, #hologram.class<1, 2>],
                                        outs_at = [#hologram.class<3, 1>]}
         : (tensor<4x64xf32>, tensor<64x64xf32>) -> tensor<4x64xf32> {
    ^bb0(%a: tensor<4x64xf32>, %b: tensor<64x64xf32>):
      %0 = hologram.gemm %a, %b : tensor<4x64xf32>, tensor<64x64xf32> -> tensor<4x64xf32>
      %1 = hologram.gelu %0 : tensor<4x64xf32>
      hologram.yield %1 : tensor<4x64xf32>
    }

A `hologram.kernel` is one launch of the engine. Its operands are pool buffers (segment
inputs, constants, outputs of earlier kernels), its results the buffers it writes; values
inside its region are fused intermediates that stay in the engine and take no pool space.
`ins_at` / `outs_at` are the class assignment made by `hologram-allocate`: each buffer is a
run of consecutive classes (`#hologram.class<first, count>`), a run of the 256-byte pages of
one class for a buffer smaller than a class (`#hologram.pages<class, first, pages>`; the
seed's classes are 48 such pages) or, when the live set does not fit, a byte range of the
linear pool (`#hologram.linear<offset, bytes>`), counted as spill.

Vector ops work on f32 tensors with numpy broadcasting for the binary ops; every op declares
its cost class (`COST`: simple, div, transcendental, softmax, reduce, gemm, move, view, loss)
which the runtime's cost model prices (`tsuc.runtime.hologram.machine`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseArrayBase,
    Float32Type,
    FloatAttr,
    IntAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
    UnitAttr,
    f32,
    i64,
)
from xdsl.ir import Attribute, Block, Dialect, ParametrizedAttribute, Region, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    VarConstraint,
    attr_def,
    base,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    opt_attr_def,
    prop_def,
    region_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.traits import HasParent, IsolatedFromAbove, IsTerminator, Pure
from xdsl.utils.exceptions import VerifyException

# The boundary pool of the seed (design/hologram.md); the runtime's machine description
# holds the same numbers (tsuc.runtime.hologram.machine), which a test keeps equal.
CLASS_BYTES = 12_288
NUM_CLASSES = 96
PAGE_BYTES = 256
PAGES_PER_CLASS = CLASS_BYTES // PAGE_BYTES  # 48


def _shape(ty: Attribute) -> tuple[int, ...]:
    if not isinstance(ty, TensorType):
        raise VerifyException("hologram ops take ranked tensors")
    return tuple(ty.get_shape())


def _check_f32(op: IRDLOperation) -> None:
    for v in list(op.operands) + list(op.results):
        if not isinstance(v.type, TensorType) or not isinstance(v.type.element_type, Float32Type):
            raise VerifyException(f"{op.name} works on f32 tensors")
        if any(d < 0 for d in v.type.get_shape()):
            raise VerifyException(f"{op.name} needs static shapes")


def broadcast_shapes(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...] | None:
    """numpy's broadcast of two shapes, or None if they do not broadcast."""
    out = []
    for k in range(max(len(a), len(b))):
        x = a[len(a) - 1 - k] if k < len(a) else 1
        y = b[len(b) - 1 - k] if k < len(b) else 1
        if x != y and 1 not in (x, y):
            return None
        out.append(max(x, y) if 1 in (x, y) else x)
    return tuple(reversed(out))


def f32_tensor(shape: Sequence[int]) -> TensorType:
    return TensorType(f32, list(shape))


# -- placement attributes ---------------------------------------------------------------------


@irdl_attr_definition
class ClassAttr(ParametrizedAttribute):
    """A buffer in the boundary pool: `count` consecutive classes from `first`."""

    name = "hologram.class"

    first: IntAttr
    count: IntAttr

    def __init__(self, first: int, count: int) -> None:
        super().__init__(IntAttr(first), IntAttr(count))

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            first = parser.parse_integer()
            parser.parse_punctuation(",")
            count = parser.parse_integer()
        return [IntAttr(first), IntAttr(count)]

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(f"<{self.first.data}, {self.count.data}>")

    def capacity(self) -> int:
        return self.count.data * CLASS_BYTES

    def verify(self) -> None:
        f, c = self.first.data, self.count.data
        if f < 0 or c < 1 or f + c > NUM_CLASSES:
            raise VerifyException(f"#hologram.class<{f}, {c}> is outside the {NUM_CLASSES}-class pool")


@irdl_attr_definition
class LinearAttr(ParametrizedAttribute):
    """A buffer spilled to the linear pool: `bytes` bytes at byte `offset` (64-byte aligned)."""

    name = "hologram.linear"

    offset: IntAttr
    size: IntAttr

    def __init__(self, offset: int, size: int) -> None:
        super().__init__(IntAttr(offset), IntAttr(size))

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            offset = parser.parse_integer()
            parser.parse_punctuation(",")
            size = parser.parse_integer()
        return [IntAttr(offset), IntAttr(size)]

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(f"<{self.offset.data}, {self.size.data}>")

    def capacity(self) -> int:
        return self.size.data

    def verify(self) -> None:
        if self.offset.data < 0 or self.offset.data % 64 or self.size.data < 0:
            raise VerifyException("#hologram.linear needs a non-negative, 64-byte aligned offset and size")


@irdl_attr_definition
class PagesAttr(ParametrizedAttribute):
    """A buffer smaller than a class: `pages` consecutive 256-byte pages of class `cls` from `first`."""

    name = "hologram.pages"

    cls: IntAttr
    first: IntAttr
    pages: IntAttr

    def __init__(self, cls: int, first: int, pages: int) -> None:
        super().__init__(IntAttr(cls), IntAttr(first), IntAttr(pages))

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            values = [parser.parse_integer()]
            for _ in range(2):
                parser.parse_punctuation(",")
                values.append(parser.parse_integer())
        return [IntAttr(v) for v in values]

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(f"<{self.cls.data}, {self.first.data}, {self.pages.data}>")

    def capacity(self) -> int:
        return self.pages.data * PAGE_BYTES

    def verify(self) -> None:
        c, f, n = self.cls.data, self.first.data, self.pages.data
        if not 0 <= c < NUM_CLASSES or f < 0 or n < 1 or f + n > PAGES_PER_CLASS:
            raise VerifyException(f"#hologram.pages<{c}, {f}, {n}> is outside class {c}'s {PAGES_PER_CLASS} pages of the {NUM_CLASSES}-class pool")


PLACES = (ClassAttr, PagesAttr, LinearAttr)


# -- vector ops --------------------------------------------------------------------------------


class VectorOp(IRDLOperation):
    """Base of the vector ops: pure, f32, priced by `COST` per element of `work_elements()`."""

    COST: ClassVar[str] = "simple"

    def work_elements(self) -> int:
        """Elements the engine processes (lane-ops of one kind) for this op."""
        n = 1
        for d in _shape(self.results[0].type):
            n *= d
        return n


class BinaryOp(VectorOp):
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())

    assembly_format = "$lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)"

    def __init__(self, lhs: SSAValue, rhs: SSAValue) -> None:
        shape = broadcast_shapes(_shape(lhs.type), _shape(rhs.type))
        if shape is None:
            raise VerifyException(f"{self.name} operands do not broadcast")
        super().__init__(operands=[lhs, rhs], result_types=[f32_tensor(shape)])

    def verify_(self) -> None:
        _check_f32(self)
        shape = broadcast_shapes(_shape(self.lhs.type), _shape(self.rhs.type))
        if shape is None:
            raise VerifyException(f"{self.name} operand shapes {_shape(self.lhs.type)} and {_shape(self.rhs.type)} do not broadcast")
        if shape != _shape(self.result.type):
            raise VerifyException(f"{self.name} result shape must be the broadcast shape {shape}")


class UnaryOp(VectorOp):
    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    result = result_def(T)
    traits = traits_def(Pure())

    assembly_format = "$input attr-dict `:` type($input)"

    def __init__(self, x: SSAValue) -> None:
        super().__init__(operands=[x], result_types=[x.type])

    def verify_(self) -> None:
        _check_f32(self)
        if self.input.type != self.result.type:
            raise VerifyException(f"{self.name} result type must equal its operand's")


def _binary(op_name: str, cost: str, doc: str) -> type[BinaryOp]:
    cls = type(op_name.title().replace("_", "") + "Op", (BinaryOp,), {"name": f"hologram.{op_name}", "COST": cost, "__doc__": doc,
                                                                            "__annotations__": {"COST": ClassVar[str]}})
    return irdl_op_definition(cls)


def _unary(op_name: str, cost: str, doc: str) -> type[UnaryOp]:
    cls = type(op_name.title().replace("_", "") + "Op", (UnaryOp,), {"name": f"hologram.{op_name}", "COST": cost, "__doc__": doc,
                                                                            "__annotations__": {"COST": ClassVar[str]}})
    return irdl_op_definition(cls)


AddOp = _binary("add", "simple", "c = a + b (broadcasting)")
SubOp = _binary("sub", "simple", "c = a - b (broadcasting)")
MulOp = _binary("mul", "simple", "c = a * b (broadcasting)")
DivOp = _binary("div", "div", "c = a / b (broadcasting)")
MinOp = _binary("min", "simple", "c = min(a, b) (broadcasting)")
MaxOp = _binary("max", "simple", "c = max(a, b) (broadcasting)")

AbsOp = _unary("abs", "simple", "|a|")
NegOp = _unary("neg", "simple", "-a")
ReluOp = _unary("relu", "simple", "max(0, a)")
SqrtOp = _unary("sqrt", "div", "sqrt(a)")
ExpOp = _unary("exp", "transcendental", "exp(a)")
LogOp = _unary("log", "transcendental", "log(a)")
TanhOp = _unary("tanh", "transcendental", "tanh(a)")
SigmoidOp = _unary("sigmoid", "transcendental", "1 / (1 + exp(-a))")
ErfOp = _unary("erf", "transcendental", "erf(a)")
GeluOp = _unary("gelu", "transcendental", "a * (1 + erf(a / sqrt 2)) / 2 (exact GELU)")


class ScalarOp(VectorOp):
    """An op with a compile-time f32 scalar `value`."""

    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    result = result_def(T)
    value = attr_def(FloatAttr)
    traits = traits_def(Pure())

    assembly_format = "$input attr-dict `:` type($input)"

    def __init__(self, x: SSAValue, value: float) -> None:
        super().__init__(operands=[x], result_types=[x.type], attributes={"value": FloatAttr(float(value), f32)})

    def verify_(self) -> None:
        _check_f32(self)
        if self.input.type != self.result.type:
            raise VerifyException(f"{self.name} result type must equal its operand's")

    @property
    def scalar(self) -> float:
        return float(self.value.value.data)


@irdl_op_definition
class AddScalarOp(ScalarOp):
    """a + value"""

    name = "hologram.add_scalar"


@irdl_op_definition
class MulScalarOp(ScalarOp):
    """a * value"""

    name = "hologram.mul_scalar"


@irdl_op_definition
class ClipOp(VectorOp):
    """min(max(a, min), max)"""

    name = "hologram.clip"
    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    result = result_def(T)
    min = attr_def(FloatAttr)
    max = attr_def(FloatAttr)
    traits = traits_def(Pure())

    assembly_format = "$input attr-dict `:` type($input)"

    def __init__(self, x: SSAValue, lo: float, hi: float) -> None:
        super().__init__(operands=[x], result_types=[x.type], attributes={"min": FloatAttr(float(lo), f32), "max": FloatAttr(float(hi), f32)})

    def verify_(self) -> None:
        _check_f32(self)
        if self.input.type != self.result.type:
            raise VerifyException("hologram.clip result type must equal its operand's")
        if self.min.value.data > self.max.value.data:
            raise VerifyException("hologram.clip needs min <= max")


@irdl_op_definition
class FillOp(VectorOp):
    """A buffer filled with one value (what x - x and constant broadcasts become)."""

    name = "hologram.fill"
    result = result_def(TensorType)
    value = attr_def(FloatAttr)
    traits = traits_def(Pure())

    assembly_format = "attr-dict `:` type($result)"

    def __init__(self, value: float, shape: Sequence[int]) -> None:
        super().__init__(result_types=[f32_tensor(shape)], attributes={"value": FloatAttr(float(value), f32)})

    def verify_(self) -> None:
        _check_f32(self)


def _axis(axis: int, rank: int, name: str) -> int:
    if not -rank <= axis < max(rank, 1):
        raise VerifyException(f"{name} axis {axis} is out of range for rank {rank}")
    return axis % max(rank, 1)


class RowOp(VectorOp):
    """softmax / log_softmax along `axis`."""

    COST: ClassVar[str] = "softmax"
    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    result = result_def(T)
    axis = attr_def(IntegerAttr)
    traits = traits_def(Pure())

    assembly_format = "$input attr-dict `:` type($input)"

    def __init__(self, x: SSAValue, axis: int) -> None:
        super().__init__(operands=[x], result_types=[x.type], attributes={"axis": IntegerAttr(axis, i64)})

    def verify_(self) -> None:
        _check_f32(self)
        if self.input.type != self.result.type:
            raise VerifyException(f"{self.name} result type must equal its operand's")
        _axis(self.axis.value.data, len(_shape(self.input.type)), self.name)

    def rows(self) -> int:
        shape = _shape(self.input.type)
        n = 1
        for d in shape:
            n *= d
        return n // max(shape[_axis(self.axis.value.data, len(shape), self.name)], 1) if shape else 1


@irdl_op_definition
class SoftmaxOp(RowOp):
    """exp(a - max) / sum(exp(a - max)) along `axis`."""

    name = "hologram.softmax"


@irdl_op_definition
class LogSoftmaxOp(RowOp):
    """a - max - log(sum(exp(a - max))) along `axis`."""

    name = "hologram.log_softmax"


class ReduceOp(VectorOp):
    """A reduction along `axes` (all axes when empty), keeping them as 1s with `keepdims`."""

    COST: ClassVar[str] = "reduce"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    axes = attr_def(DenseArrayBase)
    keepdims = opt_attr_def(UnitAttr)
    traits = traits_def(Pure())

    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def __init__(self, x: SSAValue, axes: Sequence[int], keepdims: bool) -> None:
        shape = _shape(x.type)
        norm = sorted({a % len(shape) for a in axes}) if axes else list(range(len(shape)))
        out = [1 if k in norm else d for k, d in enumerate(shape)] if keepdims else [d for k, d in enumerate(shape) if k not in norm]
        super().__init__(operands=[x], result_types=[f32_tensor(out)],
                         attributes={"axes": DenseArrayBase.from_list(i64, norm)} | ({"keepdims": UnitAttr()} if keepdims else {}))

    def reduced_axes(self) -> list[int]:
        shape = _shape(self.input.type)
        axes = list(self.axes.get_values())
        return sorted({a % len(shape) for a in axes}) if axes else list(range(len(shape)))

    def work_elements(self) -> int:
        n = 1
        for d in _shape(self.input.type):
            n *= d
        return n

    def verify_(self) -> None:
        _check_f32(self)
        shape = _shape(self.input.type)
        for a in self.axes.get_values():
            _axis(int(a), len(shape), self.name)
        norm = self.reduced_axes()
        if self.keepdims is not None:
            out = tuple(1 if k in norm else d for k, d in enumerate(shape))
        else:
            out = tuple(d for k, d in enumerate(shape) if k not in norm)
        if _shape(self.result.type) != out:
            raise VerifyException(f"{self.name} result shape must be {out} for axes {norm}")


@irdl_op_definition
class ReduceSumOp(ReduceOp):
    """sum along axes"""

    name = "hologram.reduce_sum"


@irdl_op_definition
class ReduceMinOp(ReduceOp):
    """min along axes"""

    name = "hologram.reduce_min"


@irdl_op_definition
class ReduceMaxOp(ReduceOp):
    """max along axes"""

    name = "hologram.reduce_max"


@irdl_op_definition
class ReduceMeanOp(ReduceOp):
    """mean along axes"""

    name = "hologram.reduce_mean"


def matmul_shape(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...] | None:
    """numpy.matmul's result shape (1-D operands promoted and dropped), or None."""
    if not a or not b:
        return None
    a2 = (1, *a) if len(a) == 1 else tuple(a)
    b2 = (*b, 1) if len(b) == 1 else tuple(b)
    if a2[-1] != b2[-2]:
        return None
    batch = broadcast_shapes(a2[:-2], b2[:-2])
    if batch is None:
        return None
    out = (*batch, a2[-2], b2[-1])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return out


@irdl_op_definition
class GemmOp(VectorOp):
    """Row-major a[..., M, K] @ b[..., K, N] (numpy matmul semantics; matvec when b is 1-D).

    The seed's FFI passes (m, n, k) to a core gemm(m, k, n); here the shapes are the types,
    so no argument order can be confused."""

    name = "hologram.gemm"
    COST: ClassVar[str] = "gemm"
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())

    assembly_format = "$lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)"

    def __init__(self, lhs: SSAValue, rhs: SSAValue) -> None:
        shape = matmul_shape(_shape(lhs.type), _shape(rhs.type))
        if shape is None:
            raise VerifyException("hologram.gemm operand shapes do not agree")
        super().__init__(operands=[lhs, rhs], result_types=[f32_tensor(shape)])

    def work_elements(self) -> int:
        """Multiply-accumulates: M * N * K per batch element."""
        k = _shape(self.lhs.type)[-1]
        n = 1
        for d in _shape(self.result.type):
            n *= d
        return n * k

    def verify_(self) -> None:
        _check_f32(self)
        shape = matmul_shape(_shape(self.lhs.type), _shape(self.rhs.type))
        if shape is None:
            raise VerifyException(f"hologram.gemm shapes do not agree: {_shape(self.lhs.type)} @ {_shape(self.rhs.type)} (need [..., M, K] @ [..., K, N])")
        if shape != _shape(self.result.type):
            raise VerifyException(f"hologram.gemm result shape must be {shape}")


@irdl_op_definition
class TransposeOp(VectorOp):
    """Permute axes (a data movement through the engine)."""

    name = "hologram.transpose"
    COST: ClassVar[str] = "move"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    perm = attr_def(DenseArrayBase)
    traits = traits_def(Pure())

    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def __init__(self, x: SSAValue, perm: Sequence[int]) -> None:
        shape = _shape(x.type)
        super().__init__(operands=[x], result_types=[f32_tensor([shape[p] for p in perm])],
                         attributes={"perm": DenseArrayBase.from_list(i64, list(perm))})

    def verify_(self) -> None:
        _check_f32(self)
        perm = [int(p) for p in self.perm.get_values()]
        shape = _shape(self.input.type)
        if sorted(perm) != list(range(len(shape))):
            raise VerifyException(f"hologram.transpose perm {perm} is not a permutation of {len(shape)} axes")
        if _shape(self.result.type) != tuple(shape[p] for p in perm):
            raise VerifyException("hologram.transpose result shape must be the permuted operand shape")


@irdl_op_definition
class ReshapeOp(VectorOp):
    """A new shape over the same row-major elements: no data moves (a view)."""

    name = "hologram.reshape"
    COST: ClassVar[str] = "view"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())

    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def __init__(self, x: SSAValue, shape: Sequence[int]) -> None:
        super().__init__(operands=[x], result_types=[f32_tensor(shape)])

    def verify_(self) -> None:
        _check_f32(self)
        a, b = 1, 1
        for d in _shape(self.input.type):
            a *= d
        for d in _shape(self.result.type):
            b *= d
        if a != b:
            raise VerifyException("hologram.reshape must keep the number of elements")


class LossOp(VectorOp):
    """A loss of predictions against targets of the same shape, as a 0-d tensor."""

    COST: ClassVar[str] = "loss"
    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    target = operand_def(T)
    result = result_def(TensorType)
    traits = traits_def(Pure())

    assembly_format = "$input `,` $target attr-dict `:` type($input) `->` type($result)"

    def __init__(self, x: SSAValue, t: SSAValue) -> None:
        super().__init__(operands=[x, t], result_types=[f32_tensor([])])

    def work_elements(self) -> int:
        n = 1
        for d in _shape(self.input.type):
            n *= d
        return n

    def verify_(self) -> None:
        _check_f32(self)
        if _shape(self.input.type) != _shape(self.target.type):
            raise VerifyException(f"{self.name} predictions and targets must have one shape")
        if _shape(self.result.type) != ():
            raise VerifyException(f"{self.name} result must be a 0-d tensor (the seed's 3-element output rule is gone)")


@irdl_op_definition
class MseLossOp(LossOp):
    """mean((a - t)^2)"""

    name = "hologram.mse_loss"


@irdl_op_definition
class CrossEntropyLossOp(LossOp):
    """-sum(t * log(p)) / rows, p probabilities along the last axis (rows = elements / last dim)."""

    name = "hologram.cross_entropy_loss"


@irdl_op_definition
class BinaryCrossEntropyLossOp(LossOp):
    """-mean(t * log(p) + (1 - t) * log(1 - p))"""

    name = "hologram.binary_cross_entropy_loss"


# -- kernels -----------------------------------------------------------------------------------


@irdl_op_definition
class KernelOp(IRDLOperation):
    """One launch of the vector engine: fused vector ops over pool buffers."""

    name = "hologram.kernel"
    sym_name = prop_def(StringAttr)
    args = var_operand_def(TensorType)
    outs = var_result_def(TensorType)
    ins_at = opt_attr_def(ArrayAttr)
    outs_at = opt_attr_def(ArrayAttr)
    body = region_def("single_block")
    traits = traits_def(IsolatedFromAbove())

    assembly_format = "$sym_name `(` $args `)` attr-dict `:` functional-type($args, $outs) $body"

    def __init__(self, sym_name: str, args: Sequence[SSAValue], result_types: Sequence[Attribute], body: Region) -> None:
        super().__init__(properties={"sym_name": StringAttr(sym_name)}, operands=[list(args)],
                         result_types=[list(result_types)], regions=[body])

    @property
    def block(self) -> Block:
        return self.body.block

    def vector_ops(self) -> list[VectorOp]:
        return [op for op in self.body.block.ops if isinstance(op, VectorOp)]

    def verify_(self) -> None:
        block = self.body.block
        if [a.type for a in block.args] != [a.type for a in self.args]:
            raise VerifyException("hologram.kernel block arguments must match its operands in number and type")
        last = block.last_op
        if not isinstance(last, YieldOp):
            raise VerifyException("hologram.kernel body must end with hologram.yield")
        if [v.type for v in last.values] != [r.type for r in self.outs]:
            raise VerifyException("hologram.yield operands must match the kernel's results in number and type")
        for op in block.ops:
            if not isinstance(op, (VectorOp, YieldOp)):
                raise VerifyException(f"hologram.kernel may hold only hologram vector ops, not {op.name}")
        for key, values in (("ins_at", self.args), ("outs_at", self.outs)):
            places = getattr(self, key)
            if places is None:
                continue
            if len(places.data) != len(values):
                raise VerifyException(f"hologram.kernel {key} must place each of its {len(values)} buffer(s)")
            for place, v in zip(places.data, values):
                if not isinstance(place, PLACES):
                    raise VerifyException(f"hologram.kernel {key} entries must be #hologram.class, #hologram.pages or #hologram.linear")
                need = 4
                for d in _shape(v.type):
                    need *= d
                if place.capacity() < need:
                    raise VerifyException(f"hologram.kernel {key}: a {need}-byte buffer does not fit in {place}")


@irdl_op_definition
class YieldOp(IRDLOperation):
    """Ends a kernel, naming the buffers it writes."""

    name = "hologram.yield"
    values = var_operand_def()
    traits = traits_def(IsTerminator(), HasParent(KernelOp))

    assembly_format = "($values^ `:` type($values))? attr-dict"

    def __init__(self, values: Sequence[SSAValue]) -> None:
        super().__init__(operands=[list(values)])


VECTOR_OPS: tuple[type[VectorOp], ...] = (
    AddOp, SubOp, MulOp, DivOp, MinOp, MaxOp,
    AbsOp, NegOp, ReluOp, SqrtOp, ExpOp, LogOp, TanhOp, SigmoidOp, ErfOp, GeluOp,
    AddScalarOp, MulScalarOp, ClipOp, FillOp,
    SoftmaxOp, LogSoftmaxOp,
    ReduceSumOp, ReduceMinOp, ReduceMaxOp, ReduceMeanOp,
    GemmOp, TransposeOp, ReshapeOp,
    MseLossOp, CrossEntropyLossOp, BinaryCrossEntropyLossOp,
)

HOLOGRAM = Dialect("hologram", [*VECTOR_OPS, KernelOp, YieldOp], [ClassAttr, PagesAttr, LinearAttr])
